"""Scoring a detection model on annotated images: the one path that training validation,
adaptation, ``wnet benchmark-accuracy`` and the scripts share.

A model runs over each image through the slide engine exactly as in use (tiles, margins,
white beyond the image edge), once, at the lowest threshold asked for: a peak's
local-maximum test does not depend on the threshold, so each higher threshold keeps the
peaks scoring above it. Each image is then tallied at every threshold with one-to-one
matching (``detection.typed_metrics``), typed or not, optionally only inside an area.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .detection.metrics import MATCH_RADIUS_UM
from .detection.typed_metrics import TypedTally, typed_tally


@dataclass
class Annotated:
    """An image (or part of one, ``area``) whose true centres are known, at ``mpp``."""

    name: str
    image: np.ndarray  # RGB uint8 (H, W, 3)
    mpp: float
    centres: np.ndarray  # (N, 2) x, y in these pixels
    types: Sequence[str | None] | None = None  # a type per centre (None: untyped)
    area: np.ndarray | None = None  # bool (H, W): score only centres inside; None = everywhere
    group: str = ""  # e.g. the data set, for per-group scores


def annotated(tile, mpp: float | None = None, group: str = "") -> Annotated:
    """An ``Annotated`` from a data set's ``NucleiTile`` (``mpp``: only when its pixels were
    resampled to a scale other than ``tile.mpp``)."""
    return Annotated(tile.name, tile.image, mpp or tile.mpp, tile.centres, getattr(tile, "types", None), group=group)


def detect_all(predictor, images: Sequence[Annotated], threshold: float | None = None, device: str | None = None) -> list:
    """One ``DetectionRun`` per image, each at ``threshold`` (None: the card's)."""
    from .engine.detect import DetectOptions, run_detection
    from .slides import ArraySlide

    options = DetectOptions(skip_background=False, device=device or predictor.device.type, threshold=threshold)
    return [run_detection(ArraySlide(a.name, a.image, a.mpp), predictor.card, options=options, predictor=predictor) for a in images]


def _inside(area: np.ndarray | None, xy: np.ndarray) -> np.ndarray:
    if area is None:
        return np.ones(len(xy), bool)
    if len(xy) == 0:
        return np.zeros(0, bool)
    h, w = area.shape
    c = np.clip(np.floor(xy).astype(int), 0, [w - 1, h - 1])
    return area[c[:, 1], c[:, 0]]


def tally_runs(runs: Sequence, images: Sequence[Annotated], thresholds: Sequence[float],
               radius_px: Callable[[Annotated], float] | None = None) -> dict[float, list[TypedTally]]:
    """Per threshold, one ``TypedTally`` per image: detections scoring above the threshold
    matched one-to-one within ``radius_px(image)`` (default 3 µm), with the types of both
    sides where they have them (an image without ``types`` scores detection only)."""
    radius_px = radius_px or (lambda a: MATCH_RADIUS_UM / a.mpp)
    out: dict[float, list[TypedTally]] = {float(t): [] for t in thresholds}
    for run, a in zip(runs, images):
        in_truth = _inside(a.area, a.centres)
        truth = np.asarray(a.centres, np.float64).reshape(-1, 2)[in_truth]
        truth_types = [k for k, i in zip(a.types or [None] * len(in_truth), in_truth) if i]
        keep = _inside(a.area, run.centres)
        found, scores = run.centres[keep], run.scores[keep]
        found_types = np.array(run.types or [None] * len(run.centres), object)[keep]
        for t in out:
            over = scores > t
            out[t].append(typed_tally(found[over], list(found_types[over]), truth, truth_types, radius_px(a)))
    return out


def pooled_tally(tallies: Sequence[TypedTally]) -> TypedTally:
    """Counts summed over images (the data set's score), then every metric from the sums."""
    return sum(tallies, TypedTally())


def recall_by_type(tally: TypedTally) -> dict[str, float]:
    """Detection recall of each true type (a truth counts as found when matched, whatever
    type the prediction has)."""
    found: dict[str, int] = {}
    for (t, _), n in tally.pairs.items():
        if t is not None:
            found[t] = found.get(t, 0) + n
    types = sorted(set(found) | set(tally.unmatched_truth))
    return {t: found.get(t, 0) / (found.get(t, 0) + tally.unmatched_truth[t]) for t in types}
