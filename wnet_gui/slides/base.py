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

from .scale import out_of_range, valid_mpp


THUMBNAIL_CHUNK = 2048  # level pixels per side of one read while building a thumbnail (16 MiB RGBA)
THUMBNAIL_BUDGET_PX = 256 * 2**20  # level pixels a thumbnail may decode (≈6 s on 2 cores); beyond it, sampled


def _round_up(value: float, step: int) -> int:
    return max(1, math.ceil(value / step)) * step


def _strides(nx: int, ny: int, k: float) -> tuple[int, int]:
    """Read every sx-th cell across and sy-th down so that ``k`` times too many reads
    become few enough, also for very thin slides (297 × 11,700,000 px is one column)."""
    if k <= 1:
        return 1, 1
    if nx <= ny:
        sx = min(nx, math.ceil(math.sqrt(k)))
        return sx, math.ceil(k / sx)
    sy = min(ny, math.ceil(math.sqrt(k)))
    return math.ceil(k / sy), sy


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
        if value is not None and valid_mpp(value) is None:
            raise ValueError(out_of_range(value))
        self._mpp_override = value

    # -- pixels ---------------------------------------------------------------------
    @abstractmethod
    def read_region(self, x: int, y: int, w: int, h: int, level: int = 0) -> np.ndarray:
        """RGB uint8 array (h, w, 3) of the region whose top-left is (x, y) in level-0
        pixels and whose size (w, h) is in pixels of ``level``. Outside the slide is white."""

    def level_tile_size(self, level: int) -> tuple[int, int]:
        """Width and height of the tiles a level is stored in (1, 1 when not tiled)."""
        return 1, 1

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

    def get_thumbnail(self, max_size: int = 1024, exact: bool = False) -> np.ndarray:
        """Whole slide shrunk so its longer side is at most ``max_size`` pixels.

        Read chunk by chunk from the coarsest level that is fine enough, so memory stays
        bounded whatever the slide's size. A slide without a pyramid (a single-level tiled
        TIFF of 65,536² is a 36 kB file) would need all of level 0 decoded: past
        ``THUMBNAIL_BUDGET_PX`` only an even grid of chunks is read and the rest stays grey;
        ``thumbnail_sampled`` says so (the tissue mask then skips nothing, and the viewer
        still draws real tiles when zoomed in).

        A larger thumbnail read before is shrunk rather than the slide read again, unless
        ``exact``: then the pixels are those read at this size, whatever was asked before, so
        that what is computed from them (the tissue mask) is the same in the app, whose viewer
        asks first, and in `wnet detect` (a sampled thumbnail is reused: its mask ignores them)."""
        w, h = self.dimensions
        downsample = max(1.0, max(w, h) / max_size)
        size = (max(1, round(h / downsample)), max(1, round(w / downsample)))
        cached = getattr(self, "_thumbnail", None)
        if cached is not None and max(cached.shape[:2]) >= max_size:
            if not exact or self.thumbnail_sampled or cached.shape[:2] == size:
                return _shrink(cached, max_size)
        level = self.best_level_for_downsample(downsample)
        lw, lh = self.level_dimensions[level]
        if lw * lh <= THUMBNAIL_CHUNK**2:
            thumb = self.read_scaled(0, 0, w, h, downsample)
        else:
            thumb = self._chunked_thumbnail(level, downsample)
        if cached is None or max(thumb.shape[:2]) >= max(cached.shape[:2]):
            self._thumbnail = thumb  # the larger one stays: the viewer's
        return thumb.copy()

    def _chunked_thumbnail(self, level: int, downsample: float) -> np.ndarray:
        """The thumbnail cut into cells that each cover at most one chunk of level pixels;
        each cell read is resized into place. Past the budget only every n-th cell is read
        (the rest stays grey), and a cell wider than a chunk reads its central chunk."""
        w, h = self.dimensions
        ds = self.level_downsamples[level]
        lw, lh = self.level_dimensions[level]
        out_w, out_h = max(1, round(w / downsample)), max(1, round(h / downsample))
        fx, fy = out_w / lw, out_h / lh  # thumbnail pixels per level pixel
        chunk = THUMBNAIL_CHUNK
        cell_w, cell_h = max(1, int(chunk * fx)), max(1, int(chunk * fy))
        ncx, ncy = math.ceil(out_w / cell_w), math.ceil(out_h / cell_h)
        tw, th = self.level_tile_size(level)  # a read decodes whole tiles: count those
        read_per_cell = _round_up(min(chunk, lw, cell_w / fx), tw) * _round_up(min(chunk, lh, cell_h / fy), th)
        sx, sy = _strides(ncx, ncy, ncx * ncy * read_per_cell / THUMBNAIL_BUDGET_PX)
        self.thumbnail_sampled = sx * sy > 1 or cell_w / fx > chunk * 1.01 or cell_h / fy > chunk * 1.01
        out = np.full((out_h, out_w, 3), 200 if self.thumbnail_sampled else 255, np.uint8)  # grey: not read
        for cy in range(0, ncy, sy):
            for cx in range(0, ncx, sx):
                tx0, ty0 = cx * cell_w, cy * cell_h
                tx1, ty1 = min(out_w, tx0 + cell_w), min(out_h, ty0 + cell_h)
                lx0, ly0 = tx0 / fx, ty0 / fy
                rw, rh = min(lw, tx1 / fx) - lx0, min(lh, ty1 / fy) - ly0
                if rw > chunk:  # one thumbnail pixel spans more than a chunk: read its middle
                    lx0, rw = lx0 + (rw - chunk) / 2, chunk
                if rh > chunk:
                    ly0, rh = ly0 + (rh - chunk) / 2, chunk
                pixels = self.read_region(int(lx0 * ds), int(ly0 * ds), max(1, round(rw)), max(1, round(rh)), level)
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
