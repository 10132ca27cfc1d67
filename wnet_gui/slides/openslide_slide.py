"""Whole-slide images through OpenSlide (SVS, NDPI, MRXS, SCN, generic tiled TIFF, ...)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import Slide, SlideError


def _openslide():
    try:
        import openslide  # openslide-bin provides the shared library
    except (ImportError, OSError) as exc:  # pragma: no cover - depends on the install
        raise SlideError("<openslide>", f"OpenSlide is not available: {exc}") from exc
    return openslide


def detect_vendor(path: str | Path) -> str | None:
    """OpenSlide's name for the file's format ('aperio', 'generic-tiff', ...) or None."""
    try:
        return _openslide().OpenSlide.detect_format(str(path))
    except Exception:
        return None


class OpenSlideSlide(Slide):
    """A pyramidal slide read lazily region by region; never decoded whole."""

    def __init__(self, path: str | Path, mpp: float | None = None):
        super().__init__(path, mpp)
        openslide = _openslide()
        try:
            self._osr = openslide.OpenSlide(str(self.path))
        except openslide.OpenSlideError as exc:
            raise SlideError(self.path, f"OpenSlide could not open it: {exc}") from exc
        except Exception as exc:
            raise SlideError(self.path, f"not a slide OpenSlide can open ({type(exc).__name__}: {exc})") from exc
        self.vendor = openslide.OpenSlide.detect_format(str(self.path))

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        return tuple(self._osr.level_dimensions)

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        return tuple(float(d) for d in self._osr.level_downsamples)

    def level_tile_size(self, level: int) -> tuple[int, int]:
        props = self._osr.properties
        try:
            return max(1, int(props[f"openslide.level[{level}].tile-width"])), max(1, int(props[f"openslide.level[{level}].tile-height"]))
        except (KeyError, ValueError):
            return 1, 1

    @property
    def properties(self) -> dict[str, str]:
        return dict(self._osr.properties)

    @property
    def metadata_mpp(self) -> float | None:
        props = self._osr.properties
        for key in ("openslide.mpp-x", "aperio.MPP"):
            try:
                value = float(props[key])
            except (KeyError, ValueError):
                continue
            if 0.01 <= value <= 100:
                return value
        return None

    def read_region(self, x: int, y: int, w: int, h: int, level: int = 0) -> np.ndarray:
        try:
            rgba = np.asarray(self._osr.read_region((int(x), int(y)), int(level), (int(w), int(h))))
        except Exception as exc:
            raise SlideError(self.path, f"reading region ({x}, {y}, {w}, {h}) at level {level} failed: {exc}") from exc
        alpha = rgba[..., 3:4]
        if alpha.min() == 255:
            return np.ascontiguousarray(rgba[..., :3])
        # outside the scanned area OpenSlide returns transparent pixels: show them white
        a = alpha.astype(np.float32) / 255.0
        return (rgba[..., :3] * a + 255.0 * (1.0 - a)).round().astype(np.uint8)

    def close(self) -> None:
        self._osr.close()
