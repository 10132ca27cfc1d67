"""The annotated data sets used to train and evaluate, behind one registry.

``load(name, split)`` is the only way in: ``split`` is an official split (``train``,
``test``) or one of our halves of the official training data, ``fit`` (learned from) and
``val`` (selected on), so that model selection never touches a test split. CRCHisto ships
its own validation images (they are its ``val``); MoNuSeg's ``val`` is every fifth
training tile; CoNSeP's is four named training tiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..settings import shared_data_dir

if TYPE_CHECKING:
    from .tiles import NucleiTile

SPLITS = ("train", "test", "fit", "val")
__all__ = ["NAMES", "REPORTED_RADII", "ReportedRadius", "SPLITS", "load", "shared_data_dir"]


@dataclass(frozen=True)
class ReportedRadius:
    """A matching radius a data set's papers report at: ``unit`` 'um', 'px' (the image's own
    pixels) or 'px40' (pixels at 40×, 0.25 µm/px)."""

    label: str
    value: float
    unit: str

    def pixels(self, mpp: float) -> float:
        """The radius in pixels of an image at ``mpp``."""
        return {"px": self.value, "px40": self.value * 0.25 / mpp, "um": self.value / mpp}[self.unit]


# the radii each set is reported at: the paper's 5 px at 40× and the field's 3 µm (MoNuSeg);
# CRCHisto's published 6 px at 20× (= 3 µm at its 0.5 µm/px); HoVer-Net's 12 px at 40× (CoNSeP)
REPORTED_RADII: dict[str, tuple[ReportedRadius, ...]] = {
    "monuseg": (ReportedRadius("r=5px@40x", 5.0, "px40"), ReportedRadius("r=3um", 3.0, "um")),
    "crchisto": (ReportedRadius("r=6px@20x", 6.0, "px"),),
    "consep": (ReportedRadius("r=12px@40x", 12.0, "px40"),),
}
NAMES = tuple(REPORTED_RADII)


def load(name: str, split: str, typed: bool = False) -> list["NucleiTile"]:
    """Every image of data set ``name``'s ``split`` with its true centres (and, with
    ``typed``, each centre's type where the set has them). A split with no image is an error
    that says where it looked, never an empty benchmark or training run."""
    if name not in NAMES:
        raise ValueError(f"unknown dataset {name!r} ({', '.join(NAMES)})")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} ({', '.join(SPLITS)})")
    if name == "monuseg":
        from . import monuseg

        tiles = monuseg.load_split(split)
    elif name == "crchisto":
        from . import crchisto

        tiles = crchisto.load_split({"fit": "train", "val": "validation"}.get(split, split), typed=typed)
    else:
        from . import consep

        tiles = consep.load_split(split)
    if not tiles:
        raise FileNotFoundError(f"no {name} images for the {split!r} split under {shared_data_dir() / name}; "
                                "set WNET_DATA to the folder that holds monuseg/, crchisto/ and consep/")
    return tiles
