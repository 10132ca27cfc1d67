"""Instance segmentation metrics: per-nucleus Dice and the Aggregated Jaccard Index (AJI,
Kumar et al. 2017), computed from label images with one contingency table."""

from __future__ import annotations

import numpy as np


def _contingency(truth: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Overlap areas of every (truth label, pred label) pair, plus each label's area."""
    t = truth.ravel().astype(np.int64)
    p = pred.ravel().astype(np.int64)
    t_ids, t_inv = np.unique(t, return_inverse=True)
    p_ids, p_inv = np.unique(p, return_inverse=True)
    table = np.zeros((len(t_ids), len(p_ids)), np.int64)
    np.add.at(table, (t_inv, p_inv), 1)
    return table, t_ids, p_ids, table.sum(axis=1), table.sum(axis=0)


def aggregated_jaccard_index(truth: np.ndarray, pred: np.ndarray) -> float:
    """AJI of two instance label images (0 = background)."""
    table, t_ids, p_ids, t_area, p_area = _contingency(truth, pred)
    t_fg = t_ids > 0
    p_fg = p_ids > 0
    if not t_fg.any():
        return 1.0 if not p_fg.any() else 0.0
    inter = table[np.ix_(t_fg, p_fg)].astype(np.float64)
    union = t_area[t_fg][:, None] + p_area[p_fg][None, :] - inter
    iou = np.where(union > 0, inter / np.maximum(union, 1), 0)
    c = u = 0.0
    used = np.zeros(p_fg.sum(), bool)
    for i in range(inter.shape[0]):
        if inter.shape[1] and iou[i].max() > 0:
            j = int(np.argmax(iou[i]))
            c += inter[i, j]
            u += union[i, j]
            used[j] = True
        else:
            u += t_area[t_fg][i]
    u += p_area[p_fg][~used].sum()
    return float(c / u) if u else 0.0


def dice(a: np.ndarray, b: np.ndarray) -> float:
    s = int(a.sum()) + int(b.sum())
    return 2.0 * float(np.logical_and(a, b).sum()) / s if s else 1.0
