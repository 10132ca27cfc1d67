"""NuClick's model card: scale, patch size, width, threshold and verified weights."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..models import card_schema
from ..models.card import CardFile

if TYPE_CHECKING:
    from .network import NuClickNet


@dataclass
class NuClickCard(CardFile):
    kind: ClassVar[str] = "NuClick"
    schema: ClassVar = staticmethod(card_schema.nuclick_card)

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

    def build(self) -> NuClickNet:
        from .network import NuClickNet

        return NuClickNet(self.width)


def resolve_nuclick_card(name_or_path: str = "nuclick") -> NuClickCard:
    from ..models.zoo import zoo_dir

    path = Path(name_or_path)
    if path.suffix == ".json" or (path.is_file() and not (zoo_dir() / f"{name_or_path}.json").exists()):
        return NuClickCard.load(path)
    return NuClickCard.load(zoo_dir() / f"{name_or_path}.json")  # a folder called 'nuclick' does not hide it
