"""NuClick's input: a patch centred on each click plus inclusion and exclusion maps.

The patch is read so the click sits at its centre pixel even at the slide's edge (outside
is white, never a shifted crop). Inclusion = 1 at the click; exclusion = 1 at every other
click that falls inside the patch. RGB is scaled to [0, 1] with no mean/std, as in NuClick.
"""

from __future__ import annotations

import numpy as np

from ..slides import Slide


def click_maps(size: int, others_uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inclusion and exclusion maps (size×size float32) for a click at the centre and
    other clicks at patch coordinates ``others_uv`` (column, row; may fall outside)."""
    inclusion = np.zeros((size, size), np.float32)
    inclusion[size // 2, size // 2] = 1.0
    exclusion = np.zeros((size, size), np.float32)
    if len(others_uv):
        uv = np.round(np.asarray(others_uv, np.float64)).astype(int)
        inside = (uv[:, 0] >= 0) & (uv[:, 0] < size) & (uv[:, 1] >= 0) & (uv[:, 1] < size)
        uv = uv[inside]
        exclusion[uv[:, 1], uv[:, 0]] = 1.0
        exclusion[size // 2, size // 2] = 0.0  # a duplicate of the click itself is not 'other'
    return inclusion, exclusion


def stack_input(rgb: np.ndarray, inclusion: np.ndarray, exclusion: np.ndarray) -> np.ndarray:
    """(5, H, W) float32: R, G, B in [0, 1], inclusion, exclusion."""
    return np.concatenate([rgb.transpose(2, 0, 1).astype(np.float32) / 255.0, inclusion[None], exclusion[None]], axis=0)


def patch_origin(click_xy: np.ndarray, size: int, downsample: float) -> np.ndarray:
    """Level-0 position of patch pixel (0, 0)'s centre for a click at the centre pixel."""
    return np.asarray(click_xy, np.float64) - (size // 2) * downsample


def build_inputs(slide: Slide, clicks: np.ndarray, all_points: np.ndarray, size: int, downsample: float) -> tuple[np.ndarray, np.ndarray]:
    """NuClick inputs (N, 5, size, size) for level-0 ``clicks``; ``all_points`` are every
    point on the slide near them (the exclusion candidates). Returns inputs and the
    level-0 origin of each patch."""
    clicks = np.asarray(clicks, np.float64).reshape(-1, 2)
    all_points = np.asarray(all_points, np.float64).reshape(-1, 2)
    read = int(round(size * downsample))
    inputs = np.zeros((len(clicks), 5, size, size), np.float32)
    origins = np.zeros((len(clicks), 2))
    for i, click in enumerate(clicks):
        ideal = patch_origin(click, size, downsample)
        # level-0 pixel i has its centre at i; output pixel u covers [x0 + u·ds, x0 + (u+1)·ds)
        x0, y0 = (int(round(c - 0.5 * downsample + 0.5)) for c in ideal)
        rgb = slide.read_scaled(x0, y0, read, read, downsample, (size, size))
        origin = np.array([x0 + 0.5 * downsample - 0.5, y0 + 0.5 * downsample - 0.5])
        origins[i] = origin
        others = all_points[np.any(all_points != click, axis=1)]
        others_uv = (others - origin) / downsample
        inclusion, exclusion = click_maps(size, others_uv)
        inputs[i] = stack_input(rgb, inclusion, exclusion)
    return inputs, origins
