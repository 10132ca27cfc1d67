"""Training configuration, read from a JSON file so a run can be repeated exactly."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .augment import APPEARANCE_LEVELS

AMP_MODES = ("none", "bf16")
# what the network is taught: the data sets' labels, or the initial model's own outputs on the
# clean crop, erased where artefacts were painted (learning without forgetting: only the
# artefacts are new, so the labs it already serves cannot drift)
TARGETS = ("labels", "teacher")
# validation score: pooled F1, the mean of each dataset's F1, or (typing models) that mean averaged with the weighted type F1
SELECTIONS = ("pooled", "macro", "typed")


@dataclass
class TrainConfig:
    name: str
    architecture: dict[str, Any]
    mpp: float = 0.5
    pretrained_lite: int | None = 0  # ImageNet EfficientNet-Lite variant for stage 1, or None
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    datasets: list[str] = field(default_factory=lambda: ["monuseg"])
    dataset_shares: dict[str, float] | None = None  # share of crops per dataset; None: equal
    selection: str = "pooled"  # validation score: "pooled" F1, "macro" (mean of each dataset's F1), or "typed" (macro and weighted type F1, averaged)
    stage1_target: str = "nucleus"  # 'nucleus' (mask from outlines) or 'dots' (radius 2 px)
    density_radius_um: float = 2.5
    density_alpha: float = 3.0
    loss_alpha: float = 1.0  # weight of the density L1 term (eq. 5)
    type_weight: float = 1.0  # weight of the type cross-entropy (typing models: architecture.types)
    type_radius_um: float = 3.0  # typed disk around each typed centre that the type loss sees
    crop: int = 256
    scale_jitter: float = 0.0  # crops resampled by up to ±this fraction (0.15: 0.87–1.15×)
    targets: str = "labels"  # 'labels', or 'teacher': the init_weights model's outputs on the clean crop, zero on artefacts
    freeze_batchnorm: bool = False  # BatchNorm keeps its running statistics (crops unlike the data it was fitted on do not move them)
    artefacts: float = 0.0  # share of crops with synthetic pigment, dust, ink or bare glass painted where no nucleus is
    appearance: str = "light"  # image augmentation: 'light' (HED ±5 %), 'lab' (+defocus, hue, JPEG, HED ±15 %)
    batch: int = 8
    lr: float = 1e-4
    min_lr: float = 1e-8
    plateau_patience: int = 6  # validations without improvement before the LR halves
    steps: int = 20000
    val_every: int = 100  # steps; the paper validates every 10 % of an epoch
    checkpoint_minutes: float = 3.0
    threads: int = 2
    seed: int = 0
    device: str = "auto"
    amp: str = "none"  # "bf16": autocast, channels-last (2.6x faster steps on an AVX-512-BF16 CPU)
    ema_decay: float = 0.0  # > 0: validate and keep an exponential moving average of the weights
    keep_validated: bool = False  # keep the weights of every validation (step-N.pt): stop at a step a rule picks afterwards
    init_weights: str | None = None  # fine-tune from a run's best.pt/last.pt or a model card (.json)
    init_parts: list[str] | None = None  # only these submodules (e.g. ["stage2"]) from init_weights
    train_parts: list[str] | None = None  # only these submodules learn (e.g. ["type_branch"]); None: all
    stage1_offset_jitter: float = 0.0  # > 0: each batch's stage-1 logits shifted by U(-j, j) before stage 2 (a W-Net's
    # stage 2 taught to find the same centres however bright or faint stage 1 draws a lab's nuclei)
    val_thresholds: tuple[float, ...] = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
    min_distance_um: float = 2.0
    tile_size: int = 512
    margin: int = 32

    def __post_init__(self) -> None:
        """Reject a mistyped choice when the file is read, not after the first 100 steps."""
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp must be one of {AMP_MODES}, not {self.amp!r}")
        if self.appearance not in APPEARANCE_LEVELS:
            raise ValueError(f"appearance must be one of {APPEARANCE_LEVELS}, not {self.appearance!r}")
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, not {self.selection!r}")
        if not 0.0 <= self.scale_jitter < 0.5:
            raise ValueError(f"scale_jitter must be in [0, 0.5), not {self.scale_jitter!r}")
        if self.targets not in TARGETS:
            raise ValueError(f"targets must be one of {TARGETS}, not {self.targets!r}")
        if self.targets == "teacher" and not (self.init_weights and self.artefacts > 0):
            raise ValueError("targets 'teacher' needs init_weights (the teacher) and artefacts > 0 (what it is not to see)")
        if not 0.0 <= self.artefacts <= 1.0:
            raise ValueError(f"artefacts must be a share in [0, 1], not {self.artefacts!r}")
        if not 0.0 <= self.stage1_offset_jitter <= 4.0:
            raise ValueError(f"stage1_offset_jitter must be in [0, 4] (logits), not {self.stage1_offset_jitter!r}")
        if self.stage1_offset_jitter and self.architecture.get("kind") != "wnet":
            raise ValueError("stage1_offset_jitter needs a two-stage W-Net (architecture kind 'wnet')")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), not {self.ema_decay!r}")

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        data = json.loads(Path(path).read_text())
        # older files carry "channels_last"; the layout now follows the precision (engine.device)
        data.pop("channels_last", None)
        for key in ("mean", "std", "val_thresholds"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
