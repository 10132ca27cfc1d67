"""How a region of a slide is cut into overlapping model tiles.

Each tile is read with a context margin on every side but owns only its core; a centre
found in the margin belongs to the neighbour whose core holds it. Cores tile the region
exactly (half-open rectangles), so nothing is doubled or lost at seams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property


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


@dataclass(frozen=True)
class Tile:
    index: int
    core: Rect  # level-0 area whose centres this tile reports
    read_x: int  # level-0 top-left of the pixels read (core minus margin, rounded)
    read_y: int
    read_size: int  # level-0 side of the square read
    size: int  # model pixels per side (the read square resampled)

    def to_level0(self, u: float, v: float) -> tuple[float, float]:
        """Model-pixel (column u, row v) in this tile → level-0 (x, y)."""
        s = self.read_size / self.size
        return self.read_x + (u + 0.5) * s - 0.5, self.read_y + (v + 0.5) * s - 0.5


def fitted_tile_size(region: Rect, downsample: float, tile_size: int, margin: int, multiple: int = 32) -> int:
    """The smallest tile (a multiple of ``multiple``, at most ``tile_size``) that covers
    ``region`` with as many tiles as ``tile_size`` would need.

    A 1,024-px region in 448-px cores needs 3 tiles but 1,344 px of them: a third of the
    work on white padding. Shrinking every tile to 416 px (352-px cores) covers it in the
    same 3 tiles with 3 % to spare. Whole slides barely change; the GUI's "current view"
    runs gain the most."""
    core = tile_size - 2 * margin
    w, h = region.w / downsample, region.h / downsample  # in model pixels
    nx, ny = max(1, math.ceil(w / core)), max(1, math.ceil(h / core))
    needed = max(w / nx, h / ny) + 2 * margin
    return min(tile_size, max(multiple, math.ceil(needed / multiple) * multiple))


def plan_tiles(region: Rect, downsample: float, tile_size: int, margin: int) -> list[Tile]:
    """Tiles of ``tile_size`` model pixels (``margin`` of them context per side) covering
    ``region``; ``downsample`` = model mpp / slide mpp."""
    if tile_size <= 2 * margin:
        raise ValueError(f"tile size {tile_size} leaves no core after margins of {margin}")
    core = (tile_size - 2 * margin) * downsample
    read_size = int(round(tile_size * downsample))
    nx, ny = max(1, math.ceil(region.w / core)), max(1, math.ceil(region.h / core))
    tiles = []
    for j in range(ny):
        for i in range(nx):
            cx, cy = region.x + i * core, region.y + j * core
            core_rect = Rect(cx, cy, min(core, region.x1 - cx), min(core, region.y1 - cy))
            tiles.append(Tile(len(tiles), core_rect, int(round(cx - margin * downsample)), int(round(cy - margin * downsample)), read_size, tile_size))
    return tiles
