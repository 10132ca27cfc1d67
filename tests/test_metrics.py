import itertools

import numpy as np
import pytest

from wnet_gui.detection.metrics import DetectionCounts, count_matches, match_points, pooled, radius_in_pixels


def test_hand_made_case_that_greedy_cut_after_assignment_gets_wrong():
    truth = np.array([[100, 100], [200, 200], [300, 300]])
    pred = np.array([[101, 101], [201, 201], [50, 50]])
    c = count_matches(pred, truth, 5)
    assert (c.tp, c.fp, c.fn) == (2, 1, 1)


def test_one_to_one_two_predictions_one_truth():
    c = count_matches(np.array([[0, 0], [1, 0]]), np.array([[0.5, 0]]), 3)
    assert (c.tp, c.fp, c.fn) == (1, 1, 0)


def test_optimal_not_greedy_chain():
    # greedy nearest-first pairs p0-t1 (d=1) and leaves t0 unmatched; optimal finds 2 pairs
    truth = np.array([[0.0, 0.0], [4.0, 0.0]])
    pred = np.array([[3.0, 0.0], [7.5, 0.0]])
    c = count_matches(pred, truth, 3.6)
    assert c.tp == 2


def test_radius_is_inclusive_and_exact_duplicates_match():
    assert count_matches(np.array([[5.0, 0]]), np.array([[0.0, 0]]), 5).tp == 1
    assert count_matches(np.array([[5.01, 0]]), np.array([[0.0, 0]]), 5).tp == 0
    assert count_matches(np.array([[3.0, 3.0]]), np.array([[3.0, 3.0]]), 1).tp == 1


def test_empty_inputs():
    assert count_matches(np.zeros((0, 2)), np.array([[1, 1]]), 5) == DetectionCounts(0, 0, 1)
    assert count_matches(np.array([[1, 1]]), np.zeros((0, 2)), 5) == DetectionCounts(0, 1, 0)
    assert count_matches(np.zeros((0, 2)), np.zeros((0, 2)), 5).f1 == 0.0


def _brute_force_tp(pred, truth, r):
    """Maximum one-to-one matching by trying every assignment (tiny inputs only)."""
    best = 0
    n_p, n_t = len(pred), len(truth)
    for perm in itertools.permutations(range(max(n_p, n_t)), n_p):
        tp = sum(1 for i, j in enumerate(perm) if j < n_t and np.hypot(*(pred[i] - truth[j])) <= r)
        best = max(best, tp)
    return best


def test_against_brute_force_on_random_points():
    rng = np.random.default_rng(0)
    for _ in range(150):
        n_p, n_t = rng.integers(0, 6), rng.integers(0, 6)
        pred = rng.uniform(0, 20, (n_p, 2))
        truth = rng.uniform(0, 20, (n_t, 2))
        r = rng.uniform(1, 8)
        assert count_matches(pred, truth, r).tp == _brute_force_tp(pred, truth, r)


def test_matches_are_within_radius_and_unique():
    rng = np.random.default_rng(1)
    pred, truth = rng.uniform(0, 500, (800, 2)), rng.uniform(0, 500, (700, 2))
    pi, ti = match_points(pred, truth, 6)
    assert len(set(pi)) == len(pi) and len(set(ti)) == len(ti)
    assert np.all(np.hypot(*(pred[pi] - truth[ti]).T) <= 6)


def test_pooled_sums_counts_not_f1():
    total = pooled([DetectionCounts(9, 1, 0), DetectionCounts(0, 0, 10)])
    assert (total.tp, total.fp, total.fn) == (9, 1, 10)
    assert total.precision == pytest.approx(0.9)
    assert total.recall == pytest.approx(9 / 19)
    assert total.f1 == pytest.approx(2 * 0.9 * (9 / 19) / (0.9 + 9 / 19))


def test_radius_units():
    assert radius_in_pixels(3, "um", 0.25) == 12
    assert radius_in_pixels(5, "px", None) == 5
    with pytest.raises(ValueError):
        radius_in_pixels(3, "um", None)
