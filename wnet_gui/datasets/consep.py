"""CoNSeP (Graham et al. 2019): 1000×1000 40× colorectal tiles with instance and type maps;
centres are the instances' centroids, types in the four-type scheme of ``typed_truth``."""

from __future__ import annotations

from pathlib import Path

from . import shared_data_dir
from .monuseg import NucleiTile, read_rgb
from .typed_truth import read_consep

CONSEP_MPP = 0.25  # the paper: 40×, about 0.25 µm/px
VALIDATION = ("train_4", "train_11", "train_18", "train_25")  # a few train tiles to select on; test stays untouched


def consep_dir() -> Path:
    return shared_data_dir() / "consep"


def load_split(split: str, root: Path | None = None) -> list[NucleiTile]:
    root = root or consep_dir()
    if split not in ("train", "test", "validation"):
        raise ValueError(f"unknown CoNSeP split {split!r} (train, test, validation: the train tiles {', '.join(VALIDATION)})")
    tiles = []
    folder = root / ("train" if split == "validation" else split)
    for inst in sorted(folder.glob("*_inst.png"), key=lambda p: int(p.stem.split("_")[1])):
        if split == "validation" and inst.name.replace("_inst.png", "") not in VALIDATION:
            continue
        xy, types = read_consep(inst)
        image = read_rgb(inst.with_name(inst.name.replace("_inst.png", ".jpg")))
        tiles.append(NucleiTile(inst.name.replace("_inst.png", ""), image, xy, CONSEP_MPP, types=types))
    return tiles
