"""Taught classes through the product's own path (issue 28), on CoNSeP, CRCHisto or the NuCLS
sample.

The true nuclei of k random training images (several draws) stand for what a pathologist
labelled: their features are read by ``classify.features.at_points``, a head is taught
(``classify.teach.from_features``: the same training and 5-fold cross-validation as `wnet
classes train`), and the test images' *detected* nuclei are classed from the encoder levels of
the detection pass (computed once and reused for every draw). Matched at the set's radius;
prints type accuracy, weighted F1 and HoVer-Net's F_c per class, and the times. Nuclei the
truth leaves untyped (CRCHisto) are neither right nor wrong.

    python scripts/bench_taught_classes.py --dataset consep --tiles 1 3 10 --draws 3 [--model accurate]
    python scripts/bench_taught_classes.py --dataset crchisto --tiles 1 3 10 --draws 3
    python scripts/bench_taught_classes.py --dataset nucls --tiles 10 --draws 1
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from wnet_gui.classify.features import at_points, of_tile
from wnet_gui.classify.teach import from_features
from wnet_gui.detection.typed_metrics import typed_tally
from wnet_gui.engine.detect import DetectOptions, iter_detections
from wnet_gui.models.zoo import resolve_card
from wnet_gui.slides import ArraySlide


@dataclass
class TaughtSet:
    train: list  # NucleiTile with types
    test: list
    classes: tuple[str, ...]
    radius_px: float  # in the images' own pixels


def load(name: str) -> TaughtSet:
    from wnet_gui import datasets

    if name == "consep":  # HoVer-Net's 12 px at 40×
        four = ("Epithelial", "Inflammatory", "Stromal", "Other")
        return TaughtSet(datasets.load("consep", "train"), datasets.load("consep", "test"), four, 12.0)
    if name == "crchisto":  # the set's published 6 px at 20×
        four = ("Epithelial", "Inflammatory", "Stromal", "Other")
        return TaughtSet(datasets.load("crchisto", "train", typed=True), datasets.load("crchisto", "test", typed=True), four, 6.0)
    if name == "nucls":  # 3 µm
        from wnet_gui.datasets import nucls

        return TaughtSet(nucls.load_split("train"), nucls.load_split("test"), nucls.CLASSES, 3.0 / nucls.NUCLS_MPP)
    raise SystemExit(f"unknown dataset {name!r} (consep, crchisto, nucls)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="consep", choices=("consep", "crchisto", "nucls"))
    ap.add_argument("--tiles", type=int, nargs="+", default=[1, 3, 10])
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--model", default="accurate")
    args = ap.parse_args()
    detector = resolve_card(args.model)
    data = load(args.dataset)
    options = DetectOptions(device="cpu")

    t = time.perf_counter()
    train_feats = {}
    for tile in data.train:
        keep = [i for i, c in enumerate(tile.types) if c in data.classes]
        if not keep:
            continue
        slide = ArraySlide(tile.name, tile.image, tile.mpp)
        train_feats[tile.name] = (at_points(slide, detector, tile.centres[keep], options), [tile.types[i] for i in keep])
    n_train = sum(len(y) for _, y in train_feats.values())
    took = time.perf_counter() - t
    print(f"{args.dataset}: features of {n_train:,} labelled train nuclei on {len(train_feats)} images: {took:.0f} s "
          f"({took / n_train * 1000:.1f} ms each)")

    t = time.perf_counter()
    detected = []
    for tile in data.test:
        slide = ArraySlide(tile.name, tile.image, tile.mpp)
        xy, feats = [], []
        for result in iter_detections(slide, detector, None, options, levels=True):
            if result.levels is not None and len(result.centres):
                xy.append(result.centres)
                feats.append(of_tile(result, detector.mpp))
        detected.append((tile, np.concatenate(xy) if xy else np.zeros((0, 2)), np.concatenate(feats) if feats else None))
    n_det = sum(len(xy) for _, xy, _ in detected)
    typed_truth = sum(sum(c in data.classes for c in tile.types) for tile in data.test)
    print(f"test: {n_det:,} detected nuclei on {len(data.test)} images ({typed_truth:,} typed true nuclei), "
          f"detection with levels {time.perf_counter() - t:.0f} s")

    rng = np.random.default_rng(0)
    names = sorted(train_feats)
    print("\n| labelled images | draw | labelled nuclei | cross-validated | test type accuracy | weighted F1 | mean F_c "
          f"| F_c {' / '.join(data.classes)} | train s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for k in args.tiles:
        for draw in range(args.draws):
            chosen = rng.choice(names, min(k, len(names)), replace=False)
            x = np.concatenate([train_feats[n][0] for n in chosen])
            y = [c for n in chosen for c in train_feats[n][1]]
            t = time.perf_counter()
            try:
                card = from_features(x, y, {}, detector, "bench", list(chosen))
            except ValueError as exc:  # one class only in the drawn images
                print(f"| {k} | {draw} | {len(y):,} | – | – | – | – | cannot teach: {exc} | – |")
                continue
            took = time.perf_counter() - t
            tally = None
            for tile, xy, feats in detected:
                classes = card.classify(feats)[0] if feats is not None else []
                one = typed_tally(xy, list(classes), tile.centres, list(tile.types), data.radius_px)
                tally = one if tally is None else tally + one
            r = tally.report()
            fc = " / ".join(f"{r['fc'].get(c, 0):.2f}" for c in data.classes)
            print(f"| {k} | {draw} | {len(y):,} | {card.cv_accuracy:.3f} | {r['type_accuracy']:.3f} | {r['weighted_f1']:.3f} "
                  f"| {r['mean_fc']:.3f} | {fc} | {took:.1f} |", flush=True)


if __name__ == "__main__":
    main()
