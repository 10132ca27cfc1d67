import numpy as np
import pytest

from wnet_gui.detection.peaks import find_centres
from wnet_gui.detection.targets import density_map, density_value, dot_mask


def test_density_values_at_centre_half_and_edge():
    d, alpha = 8.0, 3.0
    assert density_value(0.0, d, alpha) == pytest.approx(1.0)
    assert density_value(d / 2, d, alpha) == pytest.approx((np.exp(alpha / 2) - 1) / (np.exp(alpha) - 1))
    assert density_value(d, d, alpha) == pytest.approx(0.0, abs=1e-7)
    assert density_value(d + 0.5, d, alpha) == 0.0


def test_density_map_is_peaked_at_centres_and_zero_far_away():
    m = density_map((40, 60), np.array([[10, 20], [45, 15]]), d=6, alpha=3)
    assert m[20, 10] == pytest.approx(1.0) and m[15, 45] == pytest.approx(1.0)
    assert m[20, 13] == pytest.approx(float(density_value(3.0, 6, 3)))
    assert m[0, 30] == 0.0
    assert m.max() <= 1.0 and m.min() >= 0.0


def test_dot_mask_radius_two():
    m = dot_mask((20, 20), np.array([[10, 10]]), radius=2)
    assert m.sum() == 13  # the digital disc of radius 2
    assert m[10, 12] == 1 and m[10, 13] == 0 and m[11, 12] == 0


def test_empty_centres_give_empty_maps():
    assert density_map((8, 8), np.zeros((0, 2))).sum() == 0
    assert dot_mask((8, 8), np.zeros((0, 2))).sum() == 0


def test_peaks_recover_centres_with_threshold_and_spacing():
    truth = np.array([[10, 10], [30, 12], [20, 35]], float)
    m = density_map((50, 50), truth, d=6, alpha=3)
    xy, scores = find_centres(m, threshold=0.5, min_distance=3)
    assert len(xy) == 3
    assert np.allclose(sorted(map(tuple, xy)), sorted(map(tuple, truth)))
    assert np.all(scores == pytest.approx(1.0))
    assert len(find_centres(m * 0.4, threshold=0.5)[0]) == 0


def test_subpixel_refinement_moves_towards_true_centre():
    yy, xx = np.mgrid[0:30, 0:30]
    m = np.exp(-((xx - 12.4) ** 2 + (yy - 15.0) ** 2) / 8.0)
    coarse, _ = find_centres(m, threshold=0.3)
    fine, _ = find_centres(m, threshold=0.3, subpixel=True)
    assert abs(fine[0, 0] - 12.4) < abs(coarse[0, 0] - 12.4)


@pytest.mark.parametrize("seed", range(6))
def test_peaks_match_skimage_peak_local_max(seed):
    """Our max-filter peaks are exactly skimage's on maps without ties."""
    from scipy.ndimage import gaussian_filter
    from skimage.feature import peak_local_max

    rng = np.random.default_rng(seed)
    m = gaussian_filter(rng.random((160, 150)), 1.5 + seed % 3).astype(np.float32)
    m = (m - m.min()) / (m.max() - m.min())
    md = 1 + seed % 4
    ref = peak_local_max(m, min_distance=md, threshold_abs=0.4, exclude_border=False)
    ref = ref[np.lexsort((ref[:, 1], ref[:, 0]))]
    xy, scores = find_centres(m, threshold=0.4, min_distance=md)
    assert len(ref) > 5
    assert np.array_equal(xy.astype(int), ref[:, ::-1])
    assert np.array_equal(scores, m[ref[:, 0], ref[:, 1]])


def test_a_plateau_gives_one_peak_not_many():
    m = np.zeros((40, 40), np.float32)
    m[10:13, 10:13] = 0.8  # a flat 3×3 top, as bf16 output often has
    m[30, 30] = 0.9
    xy, _ = find_centres(m, threshold=0.5, min_distance=3)
    assert len(xy) == 2
    assert 10 <= xy[0, 0] <= 12 and 10 <= xy[0, 1] <= 12
    assert np.array_equal(find_centres(m, 0.5, 3)[0], xy)  # deterministic
