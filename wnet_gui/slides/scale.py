"""A slide's scale in one place: the range of microns per pixel we accept and the error for
a slide that states none. Each front end says how to give one (the CLI ``--mpp``, the app
*Image › Set pixel size…*); the message here names only the slide."""

from __future__ import annotations

import math
from pathlib import Path

from ..settings import MPP_HINT, MPP_RANGE


class MppUnknownError(ValueError):
    """The slide does not state its microns per pixel and none was given."""

    def __init__(self, slide: str | Path):
        self.slide = Path(slide).name
        super().__init__(f"{self.slide} does not state its microns per pixel")

    def __reduce__(self):  # rebuilt from the slide's name when it crosses to or from a Dask worker
        return MppUnknownError, (self.slide,)


def out_of_range(value) -> str:
    """What to say of a µm/px outside ``MPP_RANGE`` (the CLI, the engine and the slide alike)."""
    return f"microns per pixel must be from {MPP_RANGE[0]:g} to {MPP_RANGE[1]:g} ({MPP_HINT}), not {value}"


def valid_mpp(value) -> float | None:
    """``value`` as µm/px when it is a finite number in ``MPP_RANGE``, else None (for values
    read from files: a project entry or an autosave may say anything)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and MPP_RANGE[0] <= value <= MPP_RANGE[1] else None


__all__ = ["MPP_HINT", "MPP_RANGE", "MppUnknownError", "out_of_range", "valid_mpp"]
