"""Writing images as pyramidal tiled TIFFs that OpenSlide (and QuPath) open.

Used to turn a large in-memory region into a slide for benchmarks and tests, and to
hand a stitched region to another tool without losing its microns per pixel."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_pyramidal_tiff(path: str | Path, image: np.ndarray, mpp: float | None = 0.25, levels: int = 3, tile: int = 256) -> Path:
    """A tiled, pyramidal, zlib-compressed TIFF (one IFD per level, each half the last)
    with its resolution tags set from ``mpp``: OpenSlide's generic-tiff driver opens it."""
    import tifffile

    path = Path(path)
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
