"""Builders shared by tests: pyramidal TIFFs from the bundled sample, tiny models."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import tifffile

from wnet_gui.slides.image_slide import load_rgb

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_TIFF = ROOT / "resources" / "samples" / "monuseg_TCGA-2Z-A9J9_crop.tif"
SAMPLE_TIFF_2 = ROOT / "resources" / "samples" / "monuseg_TCGA-AC-A2FO_crop.tif"


def sample_mosaic() -> np.ndarray:
    """1024×1024 40× tissue: the two samples and their mirror images."""
    a, b = load_rgb(SAMPLE_TIFF)[0], load_rgb(SAMPLE_TIFF_2)[0]
    return np.concatenate([np.concatenate([a, b], axis=1), np.concatenate([b[::-1], a[:, ::-1]], axis=1)], axis=0)


def write_pyramidal_tiff(path: Path, image: np.ndarray, mpp: float | None = 0.25, levels: int = 3, tile: int = 256) -> Path:
    """A tiled, pyramidal, zlib-compressed TIFF (one IFD per level) that OpenSlide's
    generic-tiff driver opens."""
    kwargs = {}
    with tifffile.TiffWriter(path) as tif:
        level = image
        for i in range(levels):
            if mpp is not None:
                ppcm = 1e4 / (mpp * 2**i)
                kwargs = {"resolution": (ppcm, ppcm), "resolutionunit": "CENTIMETER"}
            tif.write(level, tile=(tile, tile), compression="zlib", photometric="rgb", subfiletype=0 if i == 0 else 1, **kwargs)
            level = cv2.resize(level, (level.shape[1] // 2, level.shape[0] // 2), interpolation=cv2.INTER_AREA)
    return path


def write_tiff(path: Path, image: np.ndarray, mpp: float) -> Path:
    ppcm = 1e4 / mpp
    tifffile.imwrite(path, image, photometric="rgb", resolution=(ppcm, ppcm), resolutionunit="CENTIMETER")
    return path
