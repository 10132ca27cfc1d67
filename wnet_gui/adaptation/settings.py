"""How an adaptation runs, as data (no torch): the GUI builds these when it starts, the CLI
takes its ``--tune`` choices from here."""

from __future__ import annotations

from dataclasses import dataclass

TUNE_CHOICES = ("auto", "all", "decoders", "stage2", "types", "none")  # none: calibrate the sensitivity and threshold only


@dataclass
class AdaptSettings:
    # which weights learn: all, decoders (encoder frozen), stage2 only, types (the type branch
    # only), none (the weights stay; only the sensitivity and threshold are calibrated: seconds),
    # or auto: decoders for a typing model (its type branch reads the encoder, and
    # training the encoder on one CoNSeP tile took test type accuracy from 0.80 to 0.65), all otherwise
    tune: str = "auto"
    seconds: float = 150.0  # training time budget (the before/after measurement comes on top)
    max_steps: int = 600
    batch: int = 4
    crop: int = 256  # model pixels
    lr: float = 1e-4
    positive_weight: float = 1.0  # extra L1 weight where the target is above 0 (near a reviewed point)
    # weight of the type cross-entropy from the reviewed classes (typing models). Off by default:
    # on CoNSeP, learning the classes of 1–3 reviewed tiles lowered test type accuracy in every
    # set-up measured (0.80 → 0.57–0.76; BENCHMARKS.md); tune="types" turns it on for the branch alone
    type_weight: float = 0.0
    stage1: str = "none"  # stage-1 target: none (learns through stage 2 only) or dots (the paper's radius-2 px discs)
    check_seconds: float = 20.0  # how often the weights are scored on the training part of the regions
    ema_decay: float = 0.0  # > 0: score and keep an exponential moving average of the weights
    calibrate: bool = True  # choose a two-stage model's sensitivity on the training area before training
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.stage1 not in ("none", "dots"):
            raise ValueError(f"stage1 must be none or dots, not {self.stage1!r}")
        if self.tune not in TUNE_CHOICES:
            raise ValueError(f"tune must be one of {', '.join(TUNE_CHOICES)}, not {self.tune!r}")
        if not (self.seconds > 0 and self.max_steps >= 1 and self.batch >= 1 and self.crop >= 32 and 0 < self.lr < 1):
            raise ValueError("adaptation needs a positive time budget, at least one step, a batch ≥ 1, crops ≥ 32 px and 0 < lr < 1")
