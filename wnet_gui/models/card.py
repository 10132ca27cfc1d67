"""Model cards: everything the engine needs to run a model, and what it was measured to do.

A card is a JSON file beside its weights. The engine reads architecture, scale
(microns per pixel), input normalisation, tile geometry and peak-finding settings from it
and nothing else; the measured accuracy and speed are there for the user to choose by.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING

from . import card_schema
from .spec import ArchitectureSpec

if TYPE_CHECKING:  # torch is imported where a network is built or loaded, never to read a card
    import torch
    from torch import nn
from .errors import ModelError

MAX_CARD_BYTES = 8 << 20  # a card is a few kB; 8 MiB leaves room for long training notes


@dataclass
class PeakSettings:
    threshold: float = 0.3
    min_distance_um: float = 2.0  # peaks closer than this are one nucleus
    subpixel: bool = True
    # Stage-1 logit offset before stage 2 (W-Net only), like Cellpose's cellprob_threshold with
    # the sign turned: > 0 calls nuclei whose stage-1 evidence is faint (a new lab's stain can
    # halve it, and stage 2 then gates them out whatever the peak threshold), < 0 fewer.
    sensitivity: float = 0.0


class CardFile:
    """A JSON card beside sha256-verified weights. Subclasses (dataclasses with ``name``,
    ``weights``, ``sha256``, ``display_name`` and ``path``) say how to build their network."""

    kind = "model"  # for messages: "model card …", "NuClick card …"
    schema = staticmethod(card_schema.detection_card)  # rules checked on every card read from a file

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("path")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: Path | None = None):
        try:
            return cls(**d, path=path)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"invalid {cls.kind} card{f' {path}' if path else ''}: {_describe(exc)}") from exc

    @classmethod
    def load(cls, path: str | Path):
        """Read and check a card; nothing it names is opened until it passed ``schema``."""
        path = Path(path)
        if not path.exists():
            raise ModelError(f"{cls.kind} card {path} does not exist")
        if not path.is_file():
            raise ModelError(f"{cls.kind} card {path} is not a file")
        if path.stat().st_size > MAX_CARD_BYTES:
            raise ModelError(f"{cls.kind} card {path} is larger than {MAX_CARD_BYTES >> 20} MiB; a card is a few kB of JSON")
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: JSON errors, 4,300-digit ints
            raise ModelError(f"{cls.kind} card {path} is not valid JSON: {str(exc)[:200]}") from exc
        if not isinstance(data, dict):
            raise ModelError(f"{cls.kind} card {path} is not a JSON object")
        try:
            cls.schema(data)
        except card_schema.CardSchemaError as exc:
            raise ModelError(f"invalid {cls.kind} card {path}: {exc}") from exc
        return cls.from_dict(data, path=path)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        tmp.replace(path)
        self.path = path

    @property
    def weights_path(self) -> Path:
        """The weights file, which must lie in the card's own folder (no links out of it)."""
        if self.path is None:
            raise ModelError(f"{self.kind} card '{self.name}' has no location, so its weights cannot be found")
        try:
            card_schema.weights_name(self.weights)
        except card_schema.CardSchemaError as exc:
            raise ModelError(f"{self.kind} card {self.path}: {exc}") from exc
        path = self.path.parent / self.weights
        if path.exists() and path.resolve().parent != self.path.parent.resolve():
            raise ModelError(f"{self.kind} card {self.path}: weights {self.weights} link outside the card's folder")
        return path

    @property
    def title(self) -> str:
        return self.display_name or self.name

    def build(self) -> nn.Module:
        raise NotImplementedError

    def load_model(self, device: torch.device | str = "cpu") -> nn.Module:
        """Build the network and load its weights after checking their sha256."""
        state = load_verified_state_dict(self.weights_path, self.sha256)
        model = self.build()
        try:
            model.load_state_dict({k: v.float() for k, v in state.items()})
        except RuntimeError as exc:
            raise ModelError(f"weights {self.weights_path.name} do not fit the {self.kind} card's network: {str(exc)[:300]}") from exc
        return model.to(device).eval()

    def export(self, model: nn.Module, directory: str | Path, half: bool = True):
        """Write ``model``'s weights (fp16 by default: half the size, same accuracy) and this
        card, with the weights' sha256, into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        import torch

        state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
        self.weights = f"{self.name}.pt"
        torch.save(state, directory / self.weights)
        self.sha256 = file_sha256(directory / self.weights)
        self.save(directory / f"{self.name}.json")
        return self


@dataclass
class ModelCard(CardFile):
    name: str
    architecture: ArchitectureSpec
    mpp: float  # microns per pixel the model sees
    weights: str = ""  # file name beside the card
    sha256: str = ""
    display_name: str = ""
    description: str = ""
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    tile_size: int = 512  # model-resolution pixels per inference tile, margins included
    margin: int = 32  # context on each side that is predicted but not kept
    peaks: PeakSettings = field(default_factory=PeakSettings)
    density_radius_um: float = 3.0  # d of eq. (1), in microns
    density_alpha: float = 3.0  # α of eq. (1)
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    throughput: dict[str, Any] = field(default_factory=dict)
    licence: str = ""
    type_colors: dict[str, list[int]] = field(default_factory=dict)  # a typing model's class colours (RGB)
    type_labels: dict[str, dict[str, str]] = field(default_factory=dict)  # data set → its label → our type
    path: Path | None = field(default=None, compare=False, repr=False)

    # -- (de)serialisation ----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["architecture"] = self.architecture.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: Path | None = None) -> "ModelCard":
        d = dict(d)
        try:
            d["architecture"] = ArchitectureSpec.from_dict(d["architecture"])
            d["peaks"] = PeakSettings(**d.get("peaks", {}))
            d["mean"] = tuple(d.get("mean", (0.5, 0.5, 0.5)))
            d["std"] = tuple(d.get("std", (0.5, 0.5, 0.5)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"invalid model card{f' {path}' if path else ''}: {_describe(exc)}") from exc
        return super().from_dict(d, path)

    def build(self) -> nn.Module:
        from .architectures import build_model

        return build_model(self.architecture)


def _describe(exc: Exception) -> str:
    """'missing 'architecture'' rather than a bare "'architecture'" from a KeyError."""
    if isinstance(exc, KeyError):
        return f"missing {exc}"
    if isinstance(exc, TypeError) and "unexpected keyword argument" in str(exc):
        return f"unknown field {str(exc).split('argument')[-1].strip()}"
    return str(exc)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_verified_state_dict(path: Path, sha256: str) -> dict[str, torch.Tensor]:
    """A state dict from ``path`` if its sha256 matches; tampered or missing → ModelError."""
    if not path.exists():
        raise ModelError(f"model weights {path} are missing")
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise ModelError(f"model weights {path} are not a regular file")
    if info.st_size > card_schema.MAX_WEIGHTS_BYTES:
        raise ModelError(f"model weights {path} are {info.st_size / 2**30:.1f} GiB, more than the {card_schema.MAX_WEIGHTS_BYTES >> 30} GiB allowed")
    if not sha256:
        raise ModelError(f"model card for {path.name} states no sha256; refusing unverified weights")
    actual = file_sha256(path)
    if actual != sha256:
        raise ModelError(f"model weights {path.name} fail their checksum (expected {sha256[:12]}…, got {actual[:12]}…): the file is corrupt or was changed")
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"model weights {path.name} cannot be loaded: {exc}") from exc
