"""NuClick's model card: scale, patch size, width, threshold and verified weights."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..models.card import ModelError, file_sha256, load_verified_state_dict
from .network import NuClickNet


@dataclass
class NuClickCard:
    name: str = "nuclick"
    mpp: float = 0.25
    patch_size: int = 128
    width: int = 16
    threshold: float = 0.5
    weights: str = ""
    sha256: str = ""
    display_name: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    licence: str = ""
    path: Path | None = field(default=None, compare=False, repr=False)

    @classmethod
    def load(cls, path: str | Path) -> "NuClickCard":
        path = Path(path)
        if not path.exists():
            raise ModelError(f"NuClick card {path} does not exist")
        try:
            return cls(**json.loads(path.read_text()), path=path)
        except (json.JSONDecodeError, TypeError) as exc:
            raise ModelError(f"invalid NuClick card {path}: {exc}") from exc

    def save(self, path: str | Path) -> None:
        path = Path(path)
        d = asdict(self)
        d.pop("path")
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(d, indent=2) + "\n")
        tmp.replace(path)
        self.path = path

    @property
    def weights_path(self) -> Path:
        if self.path is None:
            raise ModelError("NuClick card has no location")
        return self.path.parent / self.weights

    def build(self) -> NuClickNet:
        return NuClickNet(self.width)

    def load_model(self, device: torch.device | str = "cpu") -> NuClickNet:
        state = load_verified_state_dict(self.weights_path, self.sha256)
        model = self.build()
        try:
            model.load_state_dict({k: v.float() for k, v in state.items()})
        except RuntimeError as exc:
            raise ModelError(f"weights {self.weights_path.name} do not fit NuClick width {self.width}") from exc
        return model.to(device).eval()

    def export(self, model: NuClickNet, directory: str | Path) -> "NuClickCard":
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.weights = f"{self.name}.pt"
        torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}, directory / self.weights)
        self.sha256 = file_sha256(directory / self.weights)
        self.save(directory / f"{self.name}.json")
        return self


def resolve_nuclick_card(name_or_path: str = "nuclick") -> NuClickCard:
    from ..models.zoo import zoo_dir

    path = Path(name_or_path)
    if path.suffix == ".json" or path.exists():
        return NuClickCard.load(path)
    return NuClickCard.load(zoo_dir() / f"{name_or_path}.json")
