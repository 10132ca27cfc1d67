"""What a taught classifier adds to detection: the same region detected without and with
``--classifier`` (best of ``--repeats``, in one process, so both see the same machine), and the
head alone on 100,000 nuclei' features.

    python scripts/bench_classifier_cost.py SLIDE --classifier CARD [--model accurate] [--roi x,y,w,h] [--mpp 0.25]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from wnet_gui.classify.card import resolve_classifier
from wnet_gui.engine.detect import DetectOptions, detect_slide
from wnet_gui.geometry import Rect
from wnet_gui.models.zoo import resolve_card


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("slide")
    ap.add_argument("--classifier", required=True)
    ap.add_argument("--model", default="accurate")
    ap.add_argument("--roi", help="x,y,w,h level-0 pixels (default: whole slide)")
    ap.add_argument("--mpp", type=float)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    card, classifier = resolve_card(args.model), resolve_classifier(args.classifier)
    region = Rect.parse(args.roi) if args.roi else None
    options = DetectOptions(device="cpu", mpp=args.mpp)
    best = {}
    with tempfile.TemporaryDirectory() as tmp:
        detect_slide(args.slide, card, Path(tmp) / "warm.geojson", region, options)  # model load and caches
        for _ in range(args.repeats):
            for label, c in (("detection", None), ("detection + classifier", classifier)):
                start = time.perf_counter()
                run = detect_slide(args.slide, card, Path(tmp) / "out.geojson", region, options, classifier=c)
                seconds = time.perf_counter() - start
                best[label] = min(best.get(label, (np.inf, 0))[0], seconds), len(run.centres)
    for label, (seconds, n) in best.items():
        print(f"{label:24s} {seconds:7.2f} s  {n:,} nuclei")
    plain, classed = best["detection"][0], best["detection + classifier"][0]
    print(f"classing adds {100 * (classed / plain - 1):+.1f} % to detection")
    features = np.random.default_rng(0).standard_normal((100_000, classifier.head.n_features)).astype(np.float32)
    start = time.perf_counter()
    classifier.classify(features)
    print(f"the head on 100,000 nuclei: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
