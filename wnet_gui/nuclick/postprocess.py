"""From NuClick's probability map to one clean nucleus outline.

Threshold, drop specks (< 10 px), fill small holes (< 30 px), keep only the component under
the click (or the nearest one within a few pixels), then trace and simplify its outline.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage


def clean_mask(prob: np.ndarray, click_uv: tuple[int, int], threshold: float = 0.5, min_size: int = 10,
               max_hole: int = 30, snap: float = 4.0) -> np.ndarray:
    """Boolean mask of the clicked nucleus only (empty if nothing is near the click)."""
    mask = prob >= threshold
    labels, n = ndimage.label(mask)
    if n == 0:
        return np.zeros_like(mask)
    sizes = np.bincount(labels.ravel())
    u, v = click_uv
    target = labels[v, u]
    if target == 0 or sizes[target] < min_size:
        # the click fell just outside the mask: take the closest sizeable component
        dist, (rows, cols) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
        if dist[v, u] > snap:
            return np.zeros_like(mask)
        target = labels[rows[v, u], cols[v, u]]
        if sizes[target] < min_size:
            return np.zeros_like(mask)
    nucleus = labels == target
    holes = ndimage.binary_fill_holes(nucleus) & ~nucleus
    if holes.any():
        hole_labels, _ = ndimage.label(holes)
        hole_sizes = np.bincount(hole_labels.ravel())
        small = hole_sizes < max_hole
        small[0] = False
        nucleus |= small[hole_labels]
    return nucleus


def mask_to_polygon(mask: np.ndarray, tolerance: float = 0.5) -> np.ndarray | None:
    """Outer outline (M, 2) x, y in mask pixels (pixel centres), simplified and valid (never
    crossing or touching itself: QuPath splits such a ring into parts and keeps the largest
    after a round trip); None if empty."""
    if not mask.any():
        return None
    contours, _ = cv2.findContours(_bridged(mask).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)[:, 0, :].astype(np.float64)
    if len(contour) < 3:
        return None
    return valid_outline(contour, tolerance)


def _bridged(mask: np.ndarray) -> np.ndarray:
    """Lobes that meet only at a pixel's corner would be traced as joined by a line of no width:
    each such joint gets the two pixels beside it, a 2×2 body the outline can go round."""
    m = mask.astype(bool).copy()
    a, b, c, d = m[:-1, :-1], m[:-1, 1:], m[1:, :-1], m[1:, 1:]  # top-left, top-right, bottom-left, bottom-right
    joint = (a & d & ~b & ~c) | (b & c & ~a & ~d)
    if joint.any():
        m[:-1, :-1] |= joint
        m[:-1, 1:] |= joint
        m[1:, :-1] |= joint
        m[1:, 1:] |= joint
    return m


def valid_outline(ring: np.ndarray, tolerance: float = 0.0) -> np.ndarray | None:
    """``ring`` as one simple polygon: a pixel trace that runs out along a one-pixel spur and
    back is self-touching; the spur is dropped (the largest valid part is kept). Optionally simplified
    (``tolerance`` px), validity kept."""
    from shapely import make_valid
    from shapely.geometry import Polygon

    poly = Polygon(ring)
    if not poly.is_valid:
        parts = [g for g in _polygons_in(make_valid(poly)) if g.area > 0]
        if not parts:
            return None
        poly = max(parts, key=lambda g: g.area)
    if tolerance > 0:
        simpler = poly.simplify(tolerance, preserve_topology=True)
        poly = simpler if simpler.geom_type == "Polygon" and simpler.is_valid and simpler.area > 0 else poly
    if poly.is_empty or poly.geom_type != "Polygon" or poly.area <= 0 or not poly.is_valid:
        return None
    return np.asarray(poly.exterior.coords)[:-1]


def _polygons_in(geometry) -> list:
    """Every Polygon inside a (possibly nested) collection, as make_valid returns them."""
    if geometry.geom_type == "Polygon":
        return [geometry]
    return [p for g in getattr(geometry, "geoms", []) for p in _polygons_in(g)]


def clip_to_slide(polygon: np.ndarray, width: float, height: float) -> np.ndarray | None:
    """The part of a level-0 outline inside the slide (0…width, 0…height). NuClick's patch
    reaches past the slide's edge (read as white) and a mask can spill a pixel into it; an
    outline along the left border then zig-zagged between x = 0 and x = −1."""
    if polygon.min() >= 0 and polygon[:, 0].max() <= width and polygon[:, 1].max() <= height:
        return polygon
    from shapely.geometry import Polygon, box

    shape = Polygon(polygon).buffer(0).intersection(box(0, 0, width, height))
    if shape.is_empty:
        return None
    if shape.geom_type != "Polygon":
        parts = [g for g in getattr(shape, "geoms", []) if g.geom_type == "Polygon"]
        if not parts:
            return None
        shape = max(parts, key=lambda g: g.area)
    shape = shape.simplify(1e-6)  # drop the vertices the cut left on a straight edge
    coords = np.asarray(shape.exterior.coords)[:-1]
    return coords if len(coords) >= 3 and shape.area > 0 else None
