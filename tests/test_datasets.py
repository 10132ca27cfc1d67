"""Loaders on the full data sets (skipped when ../shared/data is absent)."""

import numpy as np
from scipy import ndimage
from skimage.color import rgb2hed

from wnet_gui.datasets import crchisto, monuseg


def test_monuseg_splits_and_counts(monuseg_root):
    assert len(monuseg.tile_paths("train")) == 30 and len(monuseg.tile_paths("test")) == 10
    fit, val = monuseg.tile_paths("fit"), monuseg.tile_paths("val")
    assert len(fit) == 24 and len(val) == 6 and not set(fit) & set(val)
    tiles = monuseg.load_split("test")
    assert sum(len(t.centres) for t in tiles) == 4758  # the README's count
    t = tiles[0]
    assert t.image.shape == (1000, 1000, 3) and t.instances.max() == len(t.centres)
    # every centroid of a convex-ish nucleus lies on its own instance
    rows, cols = np.round(t.centres[:, 1]).astype(int), np.round(t.centres[:, 0]).astype(int)
    assert (t.instances[rows, cols] > 0).mean() > 0.9


def _mean_offset(tiles, shift):
    offsets = []
    for t in tiles:
        h = rgb2hed(t.image)[..., 0]
        for x, y in t.centres + shift:
            xi, yi = int(round(x)), int(round(y))
            if not (8 <= xi < 492 and 8 <= yi < 492):
                continue
            win = np.clip(h[yi - 6 : yi + 7, xi - 6 : xi + 7] - np.median(h[yi - 6 : yi + 7, xi - 6 : xi + 7]), 0, None)
            if win.sum() > 0:
                cy, cx = ndimage.center_of_mass(win)
                offsets.append((cx - 6 + xi - x, cy - 6 + yi - y))
    return np.linalg.norm(np.mean(offsets, axis=0))


def test_crchisto_centres_are_one_based(crchisto_root):
    tiles = crchisto.load_split("train")[:10]
    assert all(t.image.shape == (500, 500, 3) for t in tiles)
    # the loader's (raw − 1) sits closer to the nuclei's stain centroid than the raw values
    assert _mean_offset(tiles, 0.0) < _mean_offset(tiles, 1.0)
    total = sum(len(t.centres) for split in ("train", "validation", "test") for t in crchisto.load_split(split))
    assert total == 29756
