"""The NuCLS sample (Amgad et al., GigaScience 2022; breast cancer, TCGA; CC0 1.0): 15 fields of
256 × 256 px, each nucleus a line ``x,y,class`` of its CSV. A lab and a class scheme none of the
detection sets use, for measuring classes taught from a few labelled nuclei — not a detection
benchmark (too small), so it is read here and not in the ``load`` registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..settings import shared_data_dir
from .tiles import NucleiTile, read_rgb

CLASSES = ("tumor_any", "nonTIL_stromal", "sTIL", "other_nucleus")  # the dataset's names for codes 0-3
NUCLS_MPP = 0.2  # not stated with the files: nucleus sizes say about 0.2 µm/px (README)


def nucls_dir() -> Path:
    return shared_data_dir() / "nucls-sample"


def load_split(split: str, root: Path | None = None) -> list[NucleiTile]:
    """The sample's ``train`` (10) or ``test`` (5) fields, each centre with its class name."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown NuCLS sample split {split!r} (train, test)")
    folder = (root or nucls_dir()) / split
    tiles = []
    for png in sorted(folder.glob("*.png"), key=lambda p: int(p.stem.rsplit("_", 1)[-1])):
        rows = np.loadtxt(png.with_suffix(".csv"), delimiter=",", ndmin=2)
        codes = rows[:, 2].astype(int) if len(rows) else np.zeros(0, int)
        if len(codes) and (codes.min() < 0 or codes.max() >= len(CLASSES)):
            raise ValueError(f"{png.with_suffix('.csv')}: class codes outside 0-{len(CLASSES) - 1}")
        tiles.append(NucleiTile(png.stem, read_rgb(png), rows[:, :2].astype(np.float64).reshape(-1, 2), NUCLS_MPP,
                                types=[CLASSES[c] for c in codes]))
    if not tiles:
        raise FileNotFoundError(f"no NuCLS sample images under {folder}")
    return tiles
