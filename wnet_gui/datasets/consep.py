"""CoNSeP (Graham et al. 2019): 1000×1000 40× colorectal tiles with instance and type maps;
centres are the instances' centroids, types in the four-type scheme of ``typed_truth``."""

from __future__ import annotations

from pathlib import Path

from ..settings import shared_data_dir
from .tiles import NucleiTile, read_rgb
from .typed_truth import read_consep

CONSEP_MPP = 0.25  # the paper: 40×, about 0.25 µm/px
VALIDATION = ("train_4", "train_11", "train_18", "train_25")  # a few train tiles to select on; test stays untouched


def consep_dir() -> Path:
    return shared_data_dir() / "consep"


def load_split(split: str, root: Path | None = None) -> list[NucleiTile]:
    """The official ``train``/``test`` tiles, or our halves of train: ``val`` (the four
    ``VALIDATION`` tiles, selected on) and ``fit`` (the rest, learned from)."""
    root = root or consep_dir()
    if split not in ("train", "test", "fit", "val"):
        raise ValueError(f"unknown CoNSeP split {split!r} (train, test; fit and val: train without and with {', '.join(VALIDATION)})")
    tiles = []
    folder = root / ("test" if split == "test" else "train")
    for inst in sorted(folder.glob("*_inst.png"), key=lambda p: int(p.stem.split("_")[1])):
        name = inst.name.replace("_inst.png", "")
        if split in ("fit", "val") and (name in VALIDATION) != (split == "val"):
            continue
        xy, types = read_consep(inst)
        image = read_rgb(inst.with_name(name + ".jpg"))
        tiles.append(NucleiTile(name, image, xy, CONSEP_MPP, types=types))
    return tiles
