"""Plain images (PNG, JPEG, BMP, stripped or LZW TIFF) as a one-level slide.

Plain tiles are small enough to decode once; a pyramid of halvings is built lazily so
thumbnails and zoomed-out views of a large plain image stay cheap.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .base import Slide, SlideError

PLAIN_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}

_RESOLUTION_UNIT_MICRONS = {2: 25400.0, 3: 10000.0}  # inch, centimetre


MAX_PLAIN_PIXELS = 2**28  # 268 Mpx (800 MB as RGB): a plain image is decoded whole, so no larger


def _check_size(path: Path, width: int, height: int) -> None:
    """Refuse, from the header alone, an image too large to decode in memory."""
    if width <= 0 or height <= 0:
        raise SlideError(path, f"image has no pixels ({width}×{height})")
    if width * height > MAX_PLAIN_PIXELS:
        raise SlideError(path, f"{width}×{height} px is too large for a plain (non-pyramidal) image; convert it to a "
                               "tiled pyramidal TIFF (e.g. vips tiffsave --tile --pyramid) and open that")


def _read_tiff(path: Path) -> tuple[np.ndarray, float | None]:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        _check_size(path, int(page.imagewidth), int(page.imagelength))
        image = page.asarray()
        mpp = _tiff_mpp(page)
    return image, mpp


def _tiff_mpp(page) -> float | None:
    tags = page.tags
    if "XResolution" not in tags or "ResolutionUnit" not in tags:
        return None
    unit = int(tags["ResolutionUnit"].value)
    num, den = tags["XResolution"].value
    if unit not in _RESOLUTION_UNIT_MICRONS or num == 0:
        return None
    mpp = _RESOLUTION_UNIT_MICRONS[unit] * den / num
    return mpp if 0.01 <= mpp <= 100 else None  # 72 dpi defaults are not microscopy


def _to_rgb_uint8(image: np.ndarray, path: Path) -> np.ndarray:
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.dtype != np.uint8:
        raise SlideError(path, f"unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise SlideError(path, f"unsupported image shape {image.shape}")
    if image.shape[2] == 4:  # composite transparency on white, as OpenSlide readers do
        alpha = image[..., 3:4].astype(np.float32) / 255.0
        image = (image[..., :3] * alpha + 255.0 * (1 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(image)


def load_rgb(path: str | Path) -> tuple[np.ndarray, float | None]:
    """Decode a plain image to RGB uint8 plus the mpp its metadata gives (TIFF only)."""
    path = Path(path)
    if not path.exists():
        raise SlideError(path, "file does not exist")
    mpp = None
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            image, mpp = _read_tiff(path)
        else:
            from PIL import Image  # reads the header only: the size is known before decoding

            Image.MAX_IMAGE_PIXELS = None  # our own limit applies, with our own message
            try:
                with Image.open(path) as header:
                    _check_size(path, *header.size)
            except SlideError:
                raise
            except Exception:
                pass  # a format Pillow does not know: OpenCV decides below
            data = np.fromfile(path, dtype=np.uint8)
            image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
            if image is None:
                raise SlideError(path, "not a readable image (corrupt or unsupported format)")
            if image.ndim == 3:
                code = cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
                image = cv2.cvtColor(image, code)
    except SlideError:
        raise
    except Exception as exc:  # tifffile/imagecodecs raise many types on bad input
        raise SlideError(path, f"not a readable image ({type(exc).__name__}: {exc})") from exc
    return _to_rgb_uint8(image, path), mpp


class ImageSlide(Slide):
    """A plain image held in memory, exposed as a one-level slide."""

    def __init__(self, path: str | Path, mpp: float | None = None):
        super().__init__(path, mpp)
        self._image, self._metadata_mpp = load_rgb(self.path)
        self._pyramid: list[np.ndarray] = [self._image]

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        h, w = self._image.shape[:2]
        return ((w, h),)

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        return (1.0,)

    @property
    def metadata_mpp(self) -> float | None:
        return self._metadata_mpp

    def read_region(self, x: int, y: int, w: int, h: int, level: int = 0) -> np.ndarray:
        if level != 0:
            raise ValueError(f"{self.path.name} has one level; asked for level {level}")
        out = np.full((h, w, 3), 255, dtype=np.uint8)
        H, W = self._image.shape[:2]
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
        if x1 > x0 and y1 > y0:
            out[y0 - y : y1 - y, x0 - x : x1 - x] = self._image[y0:y1, x0:x1]
        return out

    def get_thumbnail(self, max_size: int = 1024, exact: bool = False) -> np.ndarray:
        """Always ``exact``: the same halvings of the image whatever was asked before."""
        level = 0  # halvings are cached so repeated thumbnails of a large image are cheap
        while max(self._pyramid[level].shape[:2]) > 2 * max_size:
            if level + 1 == len(self._pyramid):
                prev = self._pyramid[level]
                half = (max(1, prev.shape[1] // 2), max(1, prev.shape[0] // 2))  # a 1×5000 strip stays 1 px high
                self._pyramid.append(cv2.resize(prev, half, interpolation=cv2.INTER_AREA))
            level += 1
        image = self._pyramid[level]
        scale = max_size / max(image.shape[:2])
        if scale < 1:
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        return image.copy()


class ArraySlide(ImageSlide):
    """An RGB array already in memory, as a slide: run the engine on a tile from another
    tool, in training validation and in benchmarks, without a temporary file."""

    def __init__(self, name: str, image: np.ndarray, mpp: float | None):
        self.path = Path(name)
        self._mpp_override = mpp
        self._image = np.ascontiguousarray(image)
        self._metadata_mpp = None
        self._pyramid = [self._image]

