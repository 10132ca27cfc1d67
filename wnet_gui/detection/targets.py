"""Training targets of the W-Net paper (Mao et al., §IV-A).

Stage 1 learns a binary nucleus mask; stage 2 learns a centre density map that is 1 at a
centre and decays to 0 at distance d (eq. 1). The seed's typeset formula misplaces the −1;
the form used here, (e^{α(1−D/d)} − 1)/(e^α − 1), is the one with M(0)=1 and M(d)=0.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _distance_to_nearest_centre(shape: tuple[int, int], centres: np.ndarray) -> np.ndarray:
    """Euclidean distance from every pixel to the nearest centre (rounded to a pixel)."""
    seeds = np.ones(shape, dtype=bool)
    centres = np.asarray(centres, dtype=float).reshape(-1, 2)
    if len(centres):
        cols = np.clip(np.round(centres[:, 0]).astype(int), 0, shape[1] - 1)
        rows = np.clip(np.round(centres[:, 1]).astype(int), 0, shape[0] - 1)
        inside = (centres[:, 0] > -0.5) & (centres[:, 0] < shape[1] - 0.5) & (centres[:, 1] > -0.5) & (centres[:, 1] < shape[0] - 0.5)
        seeds[rows[inside], cols[inside]] = False
    if seeds.all():
        return np.full(shape, np.inf, dtype=np.float32)
    return ndimage.distance_transform_edt(seeds).astype(np.float32)


def dot_mask(shape: tuple[int, int], centres: np.ndarray, radius: float = 2.0) -> np.ndarray:
    """Solid discs of ``radius`` pixels at each (x, y) centre, as float32 0/1."""
    return (_distance_to_nearest_centre(shape, centres) <= radius).astype(np.float32)


def density_value(distance: np.ndarray | float, d: float, alpha: float) -> np.ndarray:
    """Eq. (1): (e^{α(1−D/d)} − 1)/(e^α − 1) for D ≤ d, else 0."""
    distance = np.asarray(distance, dtype=np.float64)
    value = np.expm1(alpha * (1.0 - distance / d)) / np.expm1(alpha)
    return np.where(distance <= d, value, 0.0).astype(np.float32)


def density_map(shape: tuple[int, int], centres: np.ndarray, d: float = 6.0, alpha: float = 3.0) -> np.ndarray:
    """Centre density map: eq. (1) of the distance to the nearest centre."""
    return density_value(_distance_to_nearest_centre(shape, centres), d, alpha)


def type_target(shape: tuple[int, int], centres: np.ndarray, type_index: np.ndarray, radius: float) -> np.ndarray:
    """int8 (H, W): the type index (0…K−1) in a disk of ``radius`` around each typed centre,
    −1 elsewhere and around untyped centres (ignored by the loss: CRCHisto leaves 7,312
    centres untyped; a guess there would teach the model the annotators' silence)."""
    import cv2

    out = np.full(shape, -1, np.int8)
    r = max(1, int(round(radius)))
    for (x, y), k in zip(np.asarray(centres, np.float64).reshape(-1, 2), type_index):
        if k >= 0:
            cv2.circle(out, (int(round(x)), int(round(y))), r, int(k), thickness=-1)
    return out
