"""What describes a nucleus to a taught classifier: stage 1's encoder levels read at its centre
(bilinear, each level's channels) and the deepest level averaged over about 60 µm around it
(the tissue it sits in: a gland, stroma, a lymphoid aggregate). They come from the detection
pass itself (``iter_detections(levels=True)``), so classing costs no second pass over a slide."""

from __future__ import annotations

import threading
from typing import Iterator

import numpy as np
from scipy.ndimage import map_coordinates, uniform_filter

from ..engine.detect import DetectOptions, TileResult, iter_detections
from ..geometry import Rect
from ..engine.tiling import Tile

CONTEXT_UM = 60.0  # the neighbourhood averaged around a nucleus
FEATURE_KIND = "stage1-levels-at-centre+context-60um"


def tile_uv(tile: Tile, xy: np.ndarray) -> np.ndarray:
    """Level-0 (x, y) → model pixels (u, v) of ``tile`` (the inverse of ``Tile.to_level0``)."""
    s = tile.read_size / tile.size
    return np.stack([(xy[:, 0] + 0.5 - tile.read_x) / s - 0.5, (xy[:, 1] + 0.5 - tile.read_y) / s - 0.5], axis=1)


def sample_levels(levels: list[np.ndarray], tile_size: int, uv: np.ndarray, mpp: float) -> np.ndarray:
    """(N, D) float32: every level at (u, v) in model pixels, and the deepest one averaged over
    ``CONTEXT_UM``."""
    if len(uv) == 0:
        return np.zeros((0, feature_size(levels)), np.float32)
    parts = []
    for f in levels:
        stride = tile_size / f.shape[-1]
        rows, cols = (uv[:, 1] + 0.5) / stride - 0.5, (uv[:, 0] + 0.5) / stride - 0.5
        parts.append(np.stack([map_coordinates(c, [rows, cols], order=1, mode="nearest") for c in f], axis=1))
    deepest = levels[-1]
    stride = tile_size / deepest.shape[-1]
    cells = max(1, int(round(CONTEXT_UM / (mpp * stride))) | 1)
    context = uniform_filter(deepest, size=(1, cells, cells), mode="nearest")
    rows, cols = (uv[:, 1] + 0.5) / stride - 0.5, (uv[:, 0] + 0.5) / stride - 0.5
    parts.append(np.stack([map_coordinates(c, [rows, cols], order=1, mode="nearest") for c in context], axis=1))
    return np.concatenate(parts, axis=1).astype(np.float32)


def feature_size(levels: list[np.ndarray]) -> int:
    return sum(f.shape[0] for f in levels) + levels[-1].shape[0]


def of_tile(result: TileResult, mpp: float, xy: np.ndarray | None = None) -> np.ndarray:
    """Features of the tile's centres (or of the level-0 points ``xy`` in its core)."""
    points = result.centres if xy is None else xy
    return sample_levels(result.levels, result.tile.size, tile_uv(result.tile, points), mpp)


def at_points(slide, card, xy: np.ndarray, options: DetectOptions | None = None, cancel: threading.Event | None = None,
              cell: int = 4096) -> np.ndarray:
    """Features at given level-0 points (the nuclei a pathologist labelled): the detection pass
    is run only over the areas holding them (one region per ``cell``-px square that has some),
    each point read in the tile whose core holds it. (N, D) in the points' order."""
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    out: np.ndarray | None = None
    options = options or DetectOptions()
    keys = np.floor(xy / cell).astype(np.int64)
    for key in np.unique(keys, axis=0):
        members = np.flatnonzero((keys == key).all(axis=1))
        pts = xy[members]
        x0, y0 = np.floor(pts.min(axis=0)) - 2
        x1, y1 = np.ceil(pts.max(axis=0)) + 3
        for result in _with_levels(slide, card, Rect(float(x0), float(y0), float(x1 - x0), float(y1 - y0)), options, cancel):
            core = result.tile.core
            inside = (pts[:, 0] >= core.x) & (pts[:, 0] < core.x1) & (pts[:, 1] >= core.y) & (pts[:, 1] < core.y1)
            if not inside.any() or result.levels is None:
                continue
            feats = of_tile(result, card.mpp, pts[inside])
            if out is None:
                out = np.zeros((len(xy), feats.shape[1]), np.float32)
            out[members[inside]] = feats
    if out is None:
        raise ValueError("none of the points lies on the slide's tissue")
    return out


def _with_levels(slide, card, region: Rect, options: DetectOptions, cancel) -> Iterator[TileResult]:
    quiet = DetectOptions(**{**options.__dict__, "skip_background": False})  # a labelled nucleus is tissue, whatever the mask says
    yield from iter_detections(slide, card, region, quiet, cancel, levels=True)
