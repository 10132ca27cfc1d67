"""Which CoNSeP nuclei a model misses (issue 17, part 3): pooled test F1 at growing matching
radii (is it placement?) and recall by the area of the truth outline (is it size?).

    python scripts/consep_misses.py accurate [--sensitivity 1.5]
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--sensitivity", type=float)
    args = ap.parse_args()

    from wnet_gui import datasets
    from wnet_gui.datasets.consep import consep_dir
    from wnet_gui.detection.metrics import match_points
    from wnet_gui.engine.predict import DensityPredictor
    from wnet_gui.evaluation import annotated, detect_all, pooled_tally, tally_runs
    from wnet_gui.models.zoo import resolve_card

    card = resolve_card(args.model)
    predictor = DensityPredictor.from_card(card)
    if args.sensitivity is not None:
        predictor = predictor.with_sensitivity(args.sensitivity)
    radii = (12, 18, 24, 36)
    tiles = datasets.load("consep", "test")
    images = [annotated(t) for t in tiles]
    runs = detect_all(predictor, images)
    for r in radii:
        c = pooled_tally(tally_runs(runs, images, (-1.0,), lambda a: r)[-1.0]).detection
        print(f"radius {r:2d} px: P {c.precision:.3f} R {c.recall:.3f} F1 {c.f1:.3f}")
    areas, found = [], []
    for tile, run in zip(tiles, runs):
        inst = cv2.imread(str(consep_dir() / "test" / f"{tile.name}_inst.png"), cv2.IMREAD_UNCHANGED)  # 16-bit labels
        size = np.bincount(inst.ravel().astype(np.int64))
        # the outline under each centroid (read_consep's centroids, in instance order)
        x = np.clip(np.round(tile.centres[:, 0]).astype(int), 0, inst.shape[1] - 1)
        y = np.clip(np.round(tile.centres[:, 1]).astype(int), 0, inst.shape[0] - 1)
        areas += list(size[inst[y, x]] * tile.mpp ** 2)
        hit = np.zeros(len(tile.centres), bool)
        hit[match_points(run.centres, tile.centres, 12)[1]] = True
        found += list(hit)
    areas, found = np.array(areas), np.array(found)
    for lo, hi in ((0, 15), (15, 30), (30, 50), (50, 80), (80, np.inf)):
        sel = (areas >= lo) & (areas < hi)
        print(f"outline {lo:g}–{hi:g} µm²: {sel.sum():5d} nuclei, recall {found[sel].mean():.3f}")


if __name__ == "__main__":
    main()
