"""Nucleus centres as the local maxima of a predicted density map.

A peak is a pixel above the threshold that is the maximum of its (2·min_distance+1)²
window — the rule of ``skimage.feature.peak_local_max`` (``p_norm=inf``), which we used
before: its spacing step is a Python loop over candidates that cost 12 ms of a 20 ms call
per tile. Here one grey dilation (OpenCV's, 20× faster than ``scipy.ndimage.maximum_filter``
and equal to it, the border included) finds the candidates in float32
(``tests/test_targets_and_peaks.py`` checks against skimage). Two candidates
closer than the window can only be equal values — a plateau, common in bf16 output — so
ties are settled among the candidates alone (a KD-tree over a few hundred points, not a
second pass over the map): the later one in row-major order wins, deterministically.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import cKDTree


def find_centres(
    density: np.ndarray,
    threshold: float = 0.3,
    min_distance: int = 3,
    subpixel: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of ``density`` (H, W) above ``threshold`` at least ``min_distance`` px apart.

    Returns (centres as float (N, 2) x, y in the map's pixels, row-major order; scores (N,)).
    With ``subpixel`` each peak moves to the intensity-weighted centroid of its 3×3
    neighbourhood, which halves the localisation error of a coarse (20×) map."""
    density = np.asarray(density, dtype=np.float32)
    md = max(1, int(min_distance))
    # dilation's default border ignores pixels beyond the edge, like a −inf constant
    local_max = cv2.dilate(density, np.ones((2 * md + 1, 2 * md + 1), np.uint8))
    rc = np.argwhere((density == local_max) & (density > threshold))  # row-major: deterministic
    if len(rc) > 1:
        rc = rc[_last_of_ties(rc, md)]
    if len(rc) == 0:
        return np.zeros((0, 2), np.float64), np.zeros((0,), np.float32)
    scores = density[rc[:, 0], rc[:, 1]]
    xy = rc[:, ::-1].astype(np.float64)
    if subpixel:
        xy = _refine(density, rc, xy)
    return xy, scores


def _last_of_ties(rc: np.ndarray, md: int) -> np.ndarray:
    """Keep a candidate unless a later one (row-major) lies within ``md`` px (Chebyshev)."""
    pairs = cKDTree(rc).query_pairs(r=md, p=np.inf, output_type="ndarray")
    keep = np.ones(len(rc), dtype=bool)
    keep[pairs.min(axis=1)] = False  # rc is sorted, so the smaller index is the earlier pixel
    return keep


def _refine(density: np.ndarray, rc: np.ndarray, xy: np.ndarray) -> np.ndarray:
    h, w = density.shape
    padded = np.pad(density, 1, mode="constant")
    offsets = np.array([-1, 0, 1], dtype=np.float64)
    r, c = rc[:, 0] + 1, rc[:, 1] + 1
    windows = np.stack([padded[r + dr, c + dc] for dr in (-1, 0, 1) for dc in (-1, 0, 1)], axis=1).reshape(-1, 3, 3)
    windows = np.clip(windows, 0, None).astype(np.float64)
    total = windows.sum(axis=(1, 2))
    total[total == 0] = 1.0
    dx = (windows.sum(axis=1) * offsets).sum(axis=1) / total
    dy = (windows.sum(axis=2) * offsets).sum(axis=1) / total
    out = xy.copy()
    out[:, 0] = np.clip(out[:, 0] + dx, 0, w - 1)
    out[:, 1] = np.clip(out[:, 1] + dy, 0, h - 1)
    return out
