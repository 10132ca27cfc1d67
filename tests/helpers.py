"""Builders shared by tests: pyramidal TIFFs from the bundled sample, tiny models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from wnet_gui.slides.image_slide import load_rgb
from wnet_gui.slides.writer import write_pyramidal_tiff  # noqa: F401  (re-exported for the tests)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_TIFF = ROOT / "resources" / "samples" / "monuseg_TCGA-2Z-A9J9_crop.tif"
SAMPLE_TIFF_2 = ROOT / "resources" / "samples" / "monuseg_TCGA-AC-A2FO_crop.tif"


def sample_mosaic() -> np.ndarray:
    """1024×1024 40× tissue: the two samples and their mirror images."""
    a, b = load_rgb(SAMPLE_TIFF)[0], load_rgb(SAMPLE_TIFF_2)[0]
    return np.concatenate([np.concatenate([a, b], axis=1), np.concatenate([b[::-1], a[:, ::-1]], axis=1)], axis=0)


def write_tiff(path: Path, image: np.ndarray, mpp: float) -> Path:
    ppcm = 1e4 / mpp
    tifffile.imwrite(path, image, photometric="rgb", resolution=(ppcm, ppcm), resolutionunit="CENTIMETER")
    return path
