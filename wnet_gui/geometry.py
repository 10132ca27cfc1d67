"""Plane geometry in level-0 pixels, at the ground floor: the store, the engine, projects
and the GUI all describe regions with these, and import nothing above them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Rect:
    """Axis-aligned rectangle in level-0 pixels (x, y top-left; w, h size)."""

    x: float
    y: float
    w: float
    h: float

    @property
    def x1(self) -> float:
        return self.x + self.w

    @property
    def y1(self) -> float:
        return self.y + self.h

    def intersect(self, other: "Rect") -> "Rect | None":
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.x1, other.x1), min(self.y1, other.y1)
        return Rect(x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None

    @classmethod
    def parse(cls, text: str) -> "Rect":
        """'x,y,w,h' as typed on the command line."""
        try:
            x, y, w, h = (float(v) for v in text.split(","))
        except ValueError as exc:
            raise ValueError(f"region must be x,y,w,h in level-0 pixels, not {text!r}") from exc
        if not all(math.isfinite(v) for v in (x, y, w, h)):
            raise ValueError(f"region {text!r} has a value that is not a finite number")
        if w <= 0 or h <= 0:
            raise ValueError(f"region {text!r} has no area")
        return cls(x, y, w, h)


@dataclass(frozen=True)
class PolygonRegion:
    """A drawn or imported region outline, (x, y) vertices in level-0 pixels.

    The engine plans tiles over its bounding box, never reads a tile whose core misses the
    outline, and keeps only the centres inside it — what a pathologist expects from an
    annotation drawn around a tumour in QuPath."""

    vertices: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for xy in self.vertices for v in xy):
            raise ValueError("a region outline has a vertex that is not a finite number")
        if len(self.vertices) < 3 or self._shape.area <= 0:
            raise ValueError("a region outline needs at least three vertices enclosing an area")

    @classmethod
    def from_array(cls, xy) -> "PolygonRegion":
        return cls(tuple((float(x), float(y)) for x, y in xy))

    @cached_property
    def _shape(self):
        import shapely

        return shapely.make_valid(shapely.Polygon(self.vertices))

    @property
    def bounds(self) -> Rect:
        x0, y0, x1, y1 = self._shape.bounds
        return Rect(x0, y0, x1 - x0, y1 - y0)

    def overlaps(self, rect: Rect) -> bool:
        import shapely

        return bool(self._shape.intersects(shapely.box(rect.x, rect.y, rect.x1, rect.y1)))

    def contains(self, x, y):
        """Boolean mask of the points (x, y arrays) inside the outline (its edge included)."""
        import shapely

        return shapely.intersects_xy(self._shape, x, y)


def polygon_area(pts: np.ndarray) -> float:
    """Area enclosed by a ring of (x, y) vertices (shoelace; either orientation)."""
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
