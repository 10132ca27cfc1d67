"""CRCHisto (Sirinukunwattana et al. 2016): 500×500 20× colorectal images with centres only.

The ``detection`` arrays are MATLAB's 1-based (x, y); we subtract 1 so that centres are in
the same 0-based pixel convention as everything else. Checked against the images (test
``test_crchisto_centres_are_one_based``): over 4,298 nuclei of 20 training images the
haematoxylin centroid lies on average (−0.69, −0.44) px from the raw value, so the raw − 1
(residual 0.64 px) fits better than the raw value (0.82 px)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..settings import shared_data_dir
from .tiles import NucleiTile, read_rgb

CRCHISTO_MPP = 0.55


def crchisto_dir() -> Path:
    return shared_data_dir() / "crchisto"


def load_image(bmp: str | Path, typed: bool = False) -> NucleiTile:
    """An image and its centres; with ``typed`` also each centre's type (None: untyped)."""
    from scipy.io import loadmat

    bmp = Path(bmp)
    if typed:
        from .typed_truth import read_crchisto

        centres, types = read_crchisto(bmp.with_name(bmp.stem + "_detection.mat"))
        return NucleiTile(bmp.stem, read_rgb(bmp), centres, CRCHISTO_MPP, types=types)
    mat = loadmat(str(bmp.with_name(bmp.stem + "_detection.mat")))
    centres = np.asarray(mat["detection"], dtype=np.float64).reshape(-1, 2) - 1.0
    return NucleiTile(bmp.stem, read_rgb(bmp), centres, CRCHISTO_MPP)


def load_split(split: str, root: Path | None = None, typed: bool = False) -> list[NucleiTile]:
    root = root or crchisto_dir()
    if split not in ("train", "validation", "test"):
        raise ValueError(f"unknown CRCHisto split {split!r} (train, validation, test)")
    paths = sorted((root / split).glob("*.bmp"), key=lambda p: int(p.stem[3:]))
    return [load_image(p, typed) for p in paths]
