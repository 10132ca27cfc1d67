import numpy as np
import pytest

from wnet_gui.detection.segmentation_metrics import aggregated_jaccard_index, dice


def test_aji_perfect_and_disjoint():
    truth = np.zeros((20, 20), int)
    truth[2:6, 2:6] = 1
    truth[10:15, 10:15] = 2
    assert aggregated_jaccard_index(truth, truth * 7) == 1.0
    assert aggregated_jaccard_index(truth, np.zeros_like(truth)) == 0.0


def test_aji_hand_computed():
    truth = np.zeros((10, 10), int)
    truth[0:4, 0:4] = 1  # 16 px
    pred = np.zeros((10, 10), int)
    pred[0:4, 0:2] = 5  # 8 px inside nucleus 1
    pred[8:10, 8:10] = 6  # a 4 px false positive
    # C = 8, U = 16 (union of 1 and 5) + 4 (unused prediction) = 20
    assert aggregated_jaccard_index(truth, pred) == pytest.approx(8 / 20)


def test_dice():
    a = np.zeros((4, 4), bool)
    a[:2] = True
    b = np.zeros((4, 4), bool)
    b[:1] = True
    assert dice(a, b) == pytest.approx(2 * 4 / 12)
