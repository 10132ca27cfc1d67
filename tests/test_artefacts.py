"""Synthetic artefacts: painted only where the targets hold no nucleus, and really painted."""

import numpy as np
import pytest

from wnet_gui.detection.targets import density_map
from wnet_gui.training.artefacts import free_space, paint_artefacts
from wnet_gui.training.config import TrainConfig
from wnet_gui.training.data import CropSampler, PreparedTile


def test_free_space_keeps_clear_of_every_nucleus():
    centres = np.array([[20.0, 20.0], [60.0, 40.0]])
    density = density_map((80, 80), centres, d=10, alpha=3.0)
    free = free_space(density, np.zeros((80, 80), np.float32), keep_um=2.5, mpp=0.25)  # 10 px beyond the density's 10
    yy, xx = np.mgrid[:80, :80]
    nearest = np.min([np.hypot(xx - x, yy - y) for x, y in centres], axis=0)
    assert not free[nearest <= 19].any()
    assert free[nearest >= 22].all()


def test_paint_changes_only_free_pixels_and_reports_them():
    rng = np.random.default_rng(0)
    image = np.full((320, 320, 3), (220, 170, 210), np.uint8)  # eosin pink
    free = np.ones((320, 320), bool)
    free[:, :160] = False  # the left half holds nuclei
    painted_any = 0
    for _ in range(20):
        painted, coverage = paint_artefacts(image, free, 0.25, rng)
        changed = np.abs(painted.astype(int) - image).max(axis=2) > 0
        assert not changed[:, :160].any()
        assert np.array_equal(coverage, np.abs(painted.astype(int) - image).max(axis=2) > 24)
        painted_any += int(coverage.sum() > 0)
    assert painted_any >= 15  # almost every call leaves something that is not tissue


def test_artefacts_are_dark_or_glass_never_haematoxylin_blue():
    rng = np.random.default_rng(1)
    image = np.full((400, 400, 3), (230, 180, 220), np.uint8)
    painted, coverage = paint_artefacts(image, np.ones((400, 400), bool), 0.25, rng, count=(8, 9))
    pixels = painted[coverage].astype(int)
    dark = pixels.sum(axis=1) < 300
    assert dark.any()
    # pigment is brown to black: its blue never stands well above its red, as haematoxylin's does
    assert np.mean(pixels[dark][:, 2] - pixels[dark][:, 0] > 30) < 0.1


def test_sampler_paints_the_configured_share_of_crops():
    image = np.full((256, 256, 3), (220, 170, 210), np.uint8)
    empty = np.zeros((256, 256), np.float32)
    tile = PreparedTile("t", image, np.zeros((0, 2)), empty, empty)
    for share, low, high in ((0.0, 0, 0), (0.5, 25, 75), (1.0, 90, 100)):
        sampler = CropSampler([tile], 128, seed=3, stain_jitter=False, artefacts=share, mpp=0.25)
        painted = sum(int((sampler.sample()[0] != image[:128, :128]).any()) for _ in range(100))
        assert low <= painted <= high


def test_config_refuses_a_share_outside_0_1():
    with pytest.raises(ValueError, match="artefacts"):
        TrainConfig(name="x", architecture={}, artefacts=1.5)
