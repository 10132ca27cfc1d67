"""Nucleus type metrics on top of one-to-one detection matching, pooled over images.

Types are strings; ``None`` (or "Nucleus") means untyped. Definitions:

- per type c, as a pathologist counts: a prediction of type c is right (TP_c) only when
  matched to a truth nucleus of type c; it is wrong (FP_c) when unmatched or matched to a
  truth of another type; a truth of type c not matched to a prediction of type c is FN_c. A
  match to an *untyped* truth centre counts neither way (CRCHisto leaves 7,312 centres
  untyped because the annotators could not tell).
- type accuracy and weighted F1 over the matched pairs whose truth is typed (the weighted
  F1 weighs each type's F1 by its number of truth nuclei, as SC-CNN's paper reports it).
- HoVer-Net's F_c (Graham et al. 2019, eq. 9): 2(TP_c+TN_c) / (2(TP_c+TN_c) + 2FP_c + 2FN_c
  + FP_d,c + FN_d,c), where TP/TN/FP/FN of "is type c" are counted — as in HoVer-Net's own
  ``compute_stats.py``, which produced the paper's numbers — over the matched pairs in which
  the truth *or* the prediction is c (so TN_c is always 0: pairs of two other types do not
  count), and FP_d/FN_d are the unmatched predictions and truths of type c.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .metrics import DetectionCounts, match_points

UNTYPED = (None, "", "Nucleus")


def _t(value) -> str | None:
    return None if value in UNTYPED else str(value)


@dataclass
class TypedTally:
    """Everything the metrics need, summed over images."""

    detection: DetectionCounts = field(default_factory=lambda: DetectionCounts(0, 0, 0))
    pairs: Counter = field(default_factory=Counter)  # (truth type, pred type) of matched pairs
    unmatched_pred: Counter = field(default_factory=Counter)  # pred type → count
    unmatched_truth: Counter = field(default_factory=Counter)  # truth type → count

    def __add__(self, other: "TypedTally") -> "TypedTally":
        return TypedTally(self.detection + other.detection, self.pairs + other.pairs,
                          self.unmatched_pred + other.unmatched_pred, self.unmatched_truth + other.unmatched_truth)

    @property
    def types(self) -> list[str]:
        seen = {t for pair in self.pairs for t in pair} | set(self.unmatched_pred) | set(self.unmatched_truth)
        return sorted(t for t in seen if t is not None)

    def per_type(self, c: str) -> DetectionCounts:
        tp = self.pairs[(c, c)]
        fp = sum(n for (t, p), n in self.pairs.items() if p == c and t is not None and t != c) + self.unmatched_pred[c]
        fn = sum(n for (t, p), n in self.pairs.items() if t == c and p != c) + self.unmatched_truth[c]
        return DetectionCounts(tp, fp, fn)

    def typed_pairs(self) -> list[tuple[str, str | None]]:
        return [(t, p) for (t, p), n in self.pairs.items() if t is not None for _ in range(n)]

    def accuracy(self) -> float:
        pairs = self.typed_pairs()
        return sum(t == p for t, p in pairs) / len(pairs) if pairs else 0.0

    def weighted_f1(self) -> float:
        """F1 of each truth type over the matched typed pairs, weighted by its support."""
        pairs = self.typed_pairs()
        if not pairs:
            return 0.0
        support = Counter(t for t, _ in pairs)
        total = 0.0
        for c, n in support.items():
            tp = sum(1 for t, p in pairs if t == c and p == c)
            fp = sum(1 for t, p in pairs if t != c and p == c)
            fn = n - tp
            total += n * (2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
        return total / len(pairs)

    def fc(self, c: str) -> float:
        """HoVer-Net's F_c (see the module's doc): pairs of two other types are not counted."""
        tp = self.pairs[(c, c)]
        fp = sum(n for (t, p), n in self.pairs.items() if t is not None and t != c and p == c)
        fn = sum(n for (t, p), n in self.pairs.items() if t == c and p != c)
        fp_d, fn_d = self.unmatched_pred[c], self.unmatched_truth[c]
        denom = 2 * tp + 2 * fp + 2 * fn + fp_d + fn_d
        return 2 * tp / denom if denom else 0.0

    def report(self) -> dict:
        types = self.types
        out = {"detection": self.detection.as_dict(), "type_accuracy": self.accuracy(), "weighted_f1": self.weighted_f1(),
               "per_type": {c: self.per_type(c).as_dict() for c in types}, "fc": {c: self.fc(c) for c in types}}
        out["mean_fc"] = float(np.mean(list(out["fc"].values()))) if types else 0.0
        return out


def typed_tally(pred_xy: np.ndarray, pred_types: list, truth_xy: np.ndarray, truth_types: list, radius: float) -> TypedTally:
    """Match one image's predictions to its truth within ``radius`` and tally the types."""
    pred_xy = np.asarray(pred_xy, np.float64).reshape(-1, 2)
    truth_xy = np.asarray(truth_xy, np.float64).reshape(-1, 2)
    pi, ti = match_points(pred_xy, truth_xy, radius)
    pt = [_t(v) for v in pred_types]
    tt = [_t(v) for v in truth_types]
    tally = TypedTally(DetectionCounts(len(pi), len(pred_xy) - len(pi), len(truth_xy) - len(pi)))
    tally.pairs.update((tt[t], pt[p]) for p, t in zip(pi.tolist(), ti.tolist()))
    mp, mt = set(pi.tolist()), set(ti.tolist())
    tally.unmatched_pred.update(pt[i] for i in range(len(pt)) if i not in mp and pt[i] is not None)
    tally.unmatched_truth.update(tt[i] for i in range(len(tt)) if i not in mt and tt[i] is not None)
    return tally
