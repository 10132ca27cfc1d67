"""The one interface every slide reader implements.

Coordinates are always level-0 pixels (x right, y down), as in OpenSlide and QuPath, so
that annotations never depend on the level they were made at.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from pathlib import Path

import cv2
import numpy as np


THUMBNAIL_CHUNK = 2048  # level pixels per side of one read while building a thumbnail (16 MiB RGBA)
THUMBNAIL_BUDGET_PX = 256 * 2**20  # level pixels a thumbnail may decode (≈6 s on 2 cores); beyond it, sampled


def _shrink(image: np.ndarray, max_size: int) -> np.ndarray:
    scale = max_size / max(image.shape[:2])
    if scale >= 1:
        return image.copy()
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


class SlideError(Exception):
    """A slide could not be opened or read; names the file and the reason."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"Cannot read slide '{self.path}': {reason}")


class Slide(ABC):
    """A multi-resolution RGB image addressed in level-0 pixels."""

    thumbnail_sampled = False  # True when the thumbnail was built from a grid of samples

    def __init__(self, path: str | Path, mpp: float | None = None):
        self.path = Path(path)
        self._mpp_override = mpp

    # -- geometry -------------------------------------------------------------------
    @property
    @abstractmethod
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        """(width, height) of each level, level 0 first."""

    @property
    @abstractmethod
    def level_downsamples(self) -> tuple[float, ...]:
        """Downsample factor of each level relative to level 0."""

    @property
    def dimensions(self) -> tuple[int, int]:
        return self.level_dimensions[0]

    @property
    def level_count(self) -> int:
        return len(self.level_dimensions)

    # -- physical scale -------------------------------------------------------------
    @property
    def metadata_mpp(self) -> float | None:
        """Microns per level-0 pixel read from the file, or None when it does not say."""
        return None

    @property
    def mpp(self) -> float | None:
        """Microns per level-0 pixel: the user's override if given, else the file's."""
        return self._mpp_override if self._mpp_override is not None else self.metadata_mpp

    @mpp.setter
    def mpp(self, value: float | None) -> None:
        if value is not None and not (0.01 <= value <= 100):
            raise ValueError(f"microns per pixel {value} is not plausible (0.01..100)")
        self._mpp_override = value

    # -- pixels ---------------------------------------------------------------------
    @abstractmethod
    def read_region(self, x: int, y: int, w: int, h: int, level: int = 0) -> np.ndarray:
        """RGB uint8 array (h, w, 3) of the region whose top-left is (x, y) in level-0
        pixels and whose size (w, h) is in pixels of ``level``. Outside the slide is white."""

    def best_level_for_downsample(self, downsample: float) -> int:
        """The finest level that is not finer than needed (OpenSlide's rule, with a
        small tolerance so 2.0001 counts as 2)."""
        best = 0
        for i, d in enumerate(self.level_downsamples):
            if d <= downsample * 1.001:
                best = i
        return best

    def read_scaled(
        self, x: int, y: int, w: int, h: int, downsample: float, out_size: tuple[int, int] | None = None
    ) -> np.ndarray:
        """Region (x, y, w, h) in level-0 pixels resampled by ``downsample`` (>1 shrinks),
        or to exactly ``out_size`` (width, height) when given.

        Reads the nearest finer level and resizes with area interpolation, the way a
        model trained at a given mpp expects its input."""
        level = self.best_level_for_downsample(downsample)
        ds = self.level_downsamples[level]
        lw = max(1, int(round(w / ds)))
        lh = max(1, int(round(h / ds)))
        region = self.read_region(x, y, lw, lh, level)
        if out_size is not None:
            out_w, out_h = out_size
        else:
            out_w = max(1, int(round(w / downsample)))
            out_h = max(1, int(round(h / downsample)))
        if (out_w, out_h) != (lw, lh):
            interp = cv2.INTER_AREA if out_w < lw else cv2.INTER_LINEAR
            region = cv2.resize(region, (out_w, out_h), interpolation=interp)
        return region

    def get_thumbnail(self, max_size: int = 1024) -> np.ndarray:
        """Whole slide shrunk so its longer side is at most ``max_size`` pixels.

        Read chunk by chunk from the coarsest level that is fine enough, so memory stays
        bounded whatever the slide's size. A slide without a pyramid (a single-level tiled
        TIFF of 65,536² is a 36 kB file) would need all of level 0 decoded: past
        ``THUMBNAIL_BUDGET_PX`` only an even grid of chunks is read and the rest stays grey;
        ``thumbnail_sampled`` says so (the tissue mask then skips nothing, and the viewer
        still draws real tiles when zoomed in)."""
        cached = getattr(self, "_thumbnail", None)
        if cached is not None and max(cached.shape[:2]) >= max_size:
            return _shrink(cached, max_size)
        w, h = self.dimensions
        downsample = max(1.0, max(w, h) / max_size)
        level = self.best_level_for_downsample(downsample)
        lw, lh = self.level_dimensions[level]
        if lw * lh <= THUMBNAIL_CHUNK**2:
            thumb = self.read_scaled(0, 0, w, h, downsample)
        else:
            thumb = self._chunked_thumbnail(level, downsample)
        self._thumbnail = thumb
        return thumb.copy()

    def _chunked_thumbnail(self, level: int, downsample: float) -> np.ndarray:
        w, h = self.dimensions
        ds = self.level_downsamples[level]
        lw, lh = self.level_dimensions[level]
        out_w, out_h = max(1, round(w / downsample)), max(1, round(h / downsample))
        fx, fy = out_w / lw, out_h / lh  # thumbnail pixels per level pixel
        step = max(1, round(1 / fx))  # chunks of a whole number of steps land on whole thumbnail pixels
        chunk = max(step, THUMBNAIL_CHUNK // step * step)
        stride = max(1, math.ceil(math.sqrt(lw * lh / THUMBNAIL_BUDGET_PX)))  # read every stride-th chunk
        self.thumbnail_sampled = stride > 1
        out = np.full((out_h, out_w, 3), 200 if self.thumbnail_sampled else 255, np.uint8)  # grey: not read
        for cy in range(0, math.ceil(lh / chunk), stride):
            for cx in range(0, math.ceil(lw / chunk), stride):
                x0, y0 = cx * chunk, cy * chunk
                pixels = self.read_region(int(x0 * ds), int(y0 * ds), min(chunk, lw - x0), min(chunk, lh - y0), level)
                bx1, by1 = min(lw, x0 + chunk), min(lh, y0 + chunk)
                tx0, ty0, tx1, ty1 = round(x0 * fx), round(y0 * fy), round(bx1 * fx), round(by1 * fy)
                if tx1 > tx0 and ty1 > ty0:
                    out[ty0:ty1, tx0:tx1] = cv2.resize(pixels, (tx1 - tx0, ty1 - ty0), interpolation=cv2.INTER_AREA)
        return out

    def close(self) -> None:  # noqa: B027 - optional for readers that hold no handle
        """Release file handles."""

    def __enter__(self) -> "Slide":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        w, h = self.dimensions
        return f"{type(self).__name__}('{self.path.name}', {w}x{h}, levels={self.level_count}, mpp={self.mpp})"
