"""Taught classes on CoNSeP, through the product's own path (issue 28).

The true nuclei of k random train tiles (several draws) stand for what a pathologist labelled:
their features are read by ``classify.features.at_points``, a head is taught
(``classify.teach``: the same training and 5-fold cross-validation as `wnet classes train`), and
the 14 test tiles' detected nuclei are classed from the encoder levels of the detection pass
(``run_detection(classifier=…)``; computed once and reused for every draw). Matched at 12 px;
prints type accuracy, weighted F1 and HoVer-Net's F_c, and the times.

    python scripts/bench_taught_classes.py --tiles 1 3 10 --draws 3 [--model accurate]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from wnet_gui.classify.card import ClassifierCard
from wnet_gui.classify.features import at_points, of_tile
from wnet_gui.classify.head import cross_validated_accuracy, train
from wnet_gui import datasets
from wnet_gui.datasets.consep import consep_dir
from wnet_gui.detection.typed_metrics import typed_tally
from wnet_gui.engine.detect import DetectOptions, iter_detections
from wnet_gui.models.zoo import resolve_card
from wnet_gui.slides import open_slide

CLASSES = ("Epithelial", "Inflammatory", "Stromal", "Other")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiles", type=int, nargs="+", default=[1, 3, 10])
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--model", default="accurate")
    args = ap.parse_args()
    detector = resolve_card(args.model)
    options = DetectOptions(device="cpu", mpp=0.25)
    root = consep_dir()
    train_tiles, test_tiles = datasets.load("consep", "train"), datasets.load("consep", "test")

    t = time.perf_counter()
    train_feats = {}
    for tile in train_tiles:
        keep = [i for i, c in enumerate(tile.types) if c in CLASSES]
        slide = open_slide(root / "train" / f"{tile.name}.jpg", mpp=0.25)
        train_feats[tile.name] = (at_points(slide, detector, tile.centres[keep], options), np.array([CLASSES.index(tile.types[i]) for i in keep]))
        slide.close()
    n_train = sum(len(y) for _, y in train_feats.values())
    print(f"features of {n_train:,} labelled train nuclei: {time.perf_counter() - t:.0f} s ({(time.perf_counter() - t) / n_train * 1000:.1f} ms each)")

    t = time.perf_counter()
    detected = []
    for tile in test_tiles:
        slide = open_slide(root / "test" / f"{tile.name}.jpg", mpp=0.25)
        xy, feats = [], []
        for result in iter_detections(slide, detector, None, options, levels=True):
            if result.levels is not None and len(result.centres):
                xy.append(result.centres)
                feats.append(of_tile(result, detector.mpp))
        slide.close()
        detected.append((tile, np.concatenate(xy), np.concatenate(feats)))
    seconds = time.perf_counter() - t
    n_det = sum(len(f) for _, _, f in detected)
    print(f"test: {n_det:,} detected nuclei on {len(test_tiles)} tiles, detection with levels {seconds:.0f} s")

    rng = np.random.default_rng(0)
    names = sorted(train_feats)
    print("\n| labelled tiles | draw | labelled nuclei | cross-validated | test type accuracy | weighted F1 | mean F_c "
          "| F_c epi / infl / strom / other | train s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for k in args.tiles:
        for draw in range(args.draws):
            chosen = rng.choice(names, k, replace=False)
            x = np.concatenate([train_feats[n][0] for n in chosen])
            y = np.concatenate([train_feats[n][1] for n in chosen])
            present = sorted(set(y.tolist()))
            y_local = np.array([present.index(v) for v in y])
            t = time.perf_counter()
            head = train(x, y_local, len(present))
            cv = cross_validated_accuracy(x, y_local, len(present))
            took = time.perf_counter() - t
            card = ClassifierCard("bench", [CLASSES[c] for c in present], [(0, 0, 0)] * len(present), detector.name, detector.sha256, head)
            tally = None
            for tile, xy, feats in detected:
                classes, _ = card.classify(feats)
                one = typed_tally(xy, classes, tile.centres, list(tile.types), 12.0)
                tally = one if tally is None else tally + one
            r = tally.report()
            fc = " / ".join(f"{r['fc'].get(c, 0):.2f}" for c in CLASSES)
            print(f"| {k} | {draw} | {len(y):,} | {cv:.3f} | {r['type_accuracy']:.3f} | {r['weighted_f1']:.3f} | {r['mean_fc']:.3f} | {fc} | {took:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
