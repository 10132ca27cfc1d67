"""How a region of a slide is cut into overlapping model tiles.

Each tile is read with a context margin on every side but owns only its core; a centre
found in the margin belongs to the neighbour whose core holds it. Cores tile the region
exactly (half-open rectangles), so nothing is doubled or lost at seams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..geometry import Rect


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
