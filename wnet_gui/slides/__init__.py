"""Slide access: one ``Slide`` interface over OpenSlide formats and plain images."""

from __future__ import annotations

from pathlib import Path

from .base import Slide, SlideError
from .image_slide import PLAIN_SUFFIXES, ArraySlide, ImageSlide
from .openslide_slide import OpenSlideSlide, detect_vendor

__all__ = ["Slide", "SlideError", "ArraySlide", "ImageSlide", "OpenSlideSlide", "open_slide", "SLIDE_SUFFIXES"]

SLIDE_SUFFIXES = PLAIN_SUFFIXES | {".svs", ".ndpi", ".mrxs", ".scn", ".vms", ".vmu", ".svslide", ".bif", ".dcm"}


def open_slide(path: str | Path, mpp: float | None = None) -> Slide:
    """Open ``path`` with OpenSlide when it recognises the format, else as a plain image.

    ``mpp`` overrides the microns per pixel stored in the file. Raises ``SlideError``
    naming the file and the reason for anything unreadable."""
    path = Path(path)
    if not path.exists():
        raise SlideError(path, "file does not exist")
    if path.is_dir():
        raise SlideError(path, "is a folder, not a slide file")
    if path.stat().st_size == 0:
        raise SlideError(path, "file is empty")
    vendor = detect_vendor(path)
    if vendor is not None:
        return OpenSlideSlide(path, mpp)
    if path.suffix.lower() in PLAIN_SUFFIXES:
        return ImageSlide(path, mpp)
    raise SlideError(path, f"not a format OpenSlide recognises, nor a plain image ({', '.join(sorted(PLAIN_SUFFIXES))})")
