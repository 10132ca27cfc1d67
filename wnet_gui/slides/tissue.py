"""Which parts of a slide hold tissue, from a thumbnail, so background tiles are skipped and
points out on the glass (dust, specks) are not taken for nuclei."""

from __future__ import annotations

import cv2
import numpy as np
from skimage.filters import threshold_otsu
from skimage.morphology import remove_small_objects

from .base import Slide

UNIFORM_RANGE = 6  # grey levels: an image whose every pixel lies within this of the others is empty glass or fill


def tissue_mask_from_rgb(rgb: np.ndarray, min_object_fraction: float = 1e-4) -> np.ndarray:
    """Boolean tissue mask: saturated or dark pixels, Otsu on saturation clamped to
    [0.04, 0.10] so an image that is all tissue is not split into 'tissue' and 'not'."""
    if rgb.size and int(rgb.max()) - int(rgb.min()) <= UNIFORM_RANGE:
        return np.zeros(rgb.shape[:2], bool)  # one flat colour everywhere (glass, a fill): no tissue, however dark
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    sat = hsv[..., 1].astype(np.float32) / 255.0
    val = hsv[..., 2].astype(np.float32) / 255.0
    t = float(threshold_otsu(sat)) if sat.max() > sat.min() else 0.07
    t = min(max(t, 0.04), 0.10)
    mask = (sat > t) | (val < 0.55)
    mask &= val > 0.05  # black scanner borders are not tissue
    return _cleaned(mask, min_object_fraction)


def _cleaned(mask: np.ndarray, min_object_fraction: float) -> np.ndarray:
    """Specks smaller than ``min_object_fraction`` of the image removed, pale gaps inside tissue
    (lumen, fat) closed a little, then grown by a pixel so tiles at the tissue edge are kept."""
    min_size = max(4, int(min_object_fraction * mask.size))
    mask = remove_small_objects(mask, max_size=min_size) if _has_max_size() else remove_small_objects(mask, min_size=min_size)
    closed = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    return cv2.dilate(closed, np.ones((3, 3), np.uint8)).astype(bool)


STAIN_CHROMA = 0.11  # optical-density chroma that counts as stained: the largest (0.01 steps) leaving every
# true training nucleus of MoNuSeg, CRCHisto and CoNSeP within 4 µm of the stained mask (scripts/tissue_check_cost.py)
STAINED_SHARE = 0.5  # a slide whose stained mask covers less of its tissue mask than this is not judged by colour


def stained_mask_from_rgb(rgb: np.ndarray, min_chroma: float = STAIN_CHROMA, min_object_fraction: float = 1e-4) -> np.ndarray:
    """Boolean mask of stained tissue: pixels that absorb light (optical density summed over
    R, G, B above 0.2) *and* absorb it unevenly across the three (H&E's pink and purple), with
    the tissue mask's clean-up. Black and grey debris, pigment clumps and dust absorb all three
    alike, so they are dark without being stained; a saturated haematoxylin nucleus is still
    chromatic, and it sits in pink tissue anyway."""
    od = -np.log((rgb.astype(np.float32) + 1.0) / 256.0)
    total = od.sum(axis=-1)
    chroma = (od.max(axis=-1) - od.min(axis=-1)) / np.maximum(total, 1e-3)
    return _cleaned((total > 0.2) & (chroma > min_chroma), min_object_fraction)


def _has_max_size() -> bool:
    import inspect

    return "max_size" in inspect.signature(remove_small_objects).parameters


class TissueMask:
    """A tissue mask over a whole slide, queried with level-0 rectangles."""

    def __init__(self, slide: Slide, max_size: int = 2048):
        self._distance: np.ndarray | None = None
        thumb = slide.get_thumbnail(max_size, exact=True)  # the same mask whatever the viewer read first
        # a sampled thumbnail has not seen most of the slide: skip nothing rather than miss tissue
        self.mask = np.ones(thumb.shape[:2], bool) if slide.thumbnail_sampled else tissue_mask_from_rgb(thumb)
        self.stained = self._stained(thumb, slide.thumbnail_sampled)
        self._everywhere = bool(self.mask.all() and self.stained.all())
        w, h = slide.dimensions
        self.scale_x = thumb.shape[1] / w
        self.scale_y = thumb.shape[0] / h

    def _stained(self, thumb: np.ndarray, sampled: bool) -> np.ndarray:
        """Where points may lie: the stained part of the tissue, or the whole tissue mask when
        colour cannot be trusted (a sampled thumbnail; a stain that leaves most tissue grey)."""
        if sampled:
            return self.mask
        stained = stained_mask_from_rgb(thumb)
        tissue = int(self.mask.sum())
        return stained if tissue and stained.sum() >= STAINED_SHARE * tissue else self.mask

    def fraction(self, x: float, y: float, w: float, h: float) -> float:
        """Share of the level-0 rectangle covered by tissue (0 outside the slide)."""
        x0 = int(np.floor(x * self.scale_x))
        y0 = int(np.floor(y * self.scale_y))
        x1 = int(np.ceil((x + w) * self.scale_x))
        y1 = int(np.ceil((y + h) * self.scale_y))
        H, W = self.mask.shape
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(max(x1, x0 + 1), W), min(max(y1, y0 + 1), H)
        if x1 <= x0 or y1 <= y0:
            return 0.0
        return float(self.mask[y0:y1, x0:x1].mean())

    def has_tissue(self, x: float, y: float, w: float, h: float) -> bool:
        return self.fraction(x, y, w, h) > 0

    def near(self, xy: np.ndarray, within: float) -> np.ndarray:
        """Whether each level-0 point (x, y) lies within ``within`` level-0 pixels both of the
        tissue mask (not out on the glass, by a speck of dust or ink) and of stained tissue
        (``stained``: not on a clump of grey-black debris or pigment lying on the glass)."""
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        if self._everywhere or not len(xy):
            return np.ones(len(xy), bool)
        if self._distance is None:  # mask pixels to the nearest tissue / stained pixel, once
            masks = (self.mask,) if self.stained is self.mask else (self.mask, self.stained)
            self._distance = np.max([cv2.distanceTransform((~m).astype(np.uint8), cv2.DIST_L2, 5) for m in masks], axis=0)
        H, W = self.mask.shape
        cols = np.clip(np.floor(xy[:, 0] * self.scale_x).astype(int), 0, W - 1)
        rows = np.clip(np.floor(xy[:, 1] * self.scale_y).astype(int), 0, H - 1)
        return self._distance[rows, cols] <= within * min(self.scale_x, self.scale_y)
