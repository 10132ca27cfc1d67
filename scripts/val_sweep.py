"""Post-processing sweep on the validation images: peak threshold, flip averaging, peak spacing.

    python scripts/val_sweep.py accurate [--tta] [--min-distance-um 2.0] [--crchisto-mpp 0.5] [--split val|test]

Runs a model over CRCHisto validation (r = 6 px at 20×) and MoNuSeg validation (r = 3 µm)
once at the lowest threshold, then prints P/R/F1 at each threshold of a grid — what a card's
threshold and an inference option would buy, measured before anything touches test.
``--tta`` averages the density maps of the four flips (4× the inference time);
``--crchisto-mpp 0.5`` declares CRCHisto's images at 0.5 µm/px instead of their 0.55, as a
user who rounds "20×" would.
"""

from __future__ import annotations

import argparse
import dataclasses
import time


from wnet_gui import datasets
from wnet_gui.detection.metrics import MATCH_RADIUS_UM
from wnet_gui.engine.predict import DensityPredictor
from wnet_gui.evaluation import annotated, detect_all, pooled_tally, tally_runs
from wnet_gui.models.zoo import resolve_card

THRESHOLDS = (0.0002, 0.0003, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--tta", action="store_true")
    parser.add_argument("--min-distance-um", type=float)
    parser.add_argument("--split", choices=("val", "test"), default="val")
    parser.add_argument("--crchisto-mpp", type=float, help="the µm/px CRCHisto images are declared at")
    args = parser.parse_args()
    card = resolve_card(args.model)
    if args.min_distance_um is not None:
        card.peaks = dataclasses.replace(card.peaks, min_distance_um=args.min_distance_um)
    predictor = DensityPredictor.from_card(card, "cpu", "auto")
    predictor = predictor.with_tta(args.tta)  # the four flips, as wnet detect --tta
    sets = {"crchisto": lambda a: 6.0, "monuseg": lambda a: MATCH_RADIUS_UM / a.mpp}  # CRCHisto's published 6 px
    print(f"{card.name} on {args.split}; tta={args.tta}; min distance {card.peaks.min_distance_um} µm; "
          f"CRCHisto at {args.crchisto_mpp or 'its own'} µm/px; P/R/F1 per threshold")
    start = time.monotonic()
    for name, radius in sets.items():
        declared = args.crchisto_mpp if name == "crchisto" else None
        images = [annotated(t, declared) for t in datasets.load(name, args.split)]
        tallies = tally_runs(detect_all(predictor, images, min(THRESHOLDS)), images, THRESHOLDS, radius)
        cells = []
        for threshold, per_image in tallies.items():
            m = pooled_tally(per_image).detection
            cells.append(f"{threshold:g}: {m.precision:.3f}/{m.recall:.3f}/{m.f1:.3f}")
        print(f"{name:9s}", "  ".join(cells))
    print(f"({time.monotonic() - start:.0f} s)")


if __name__ == "__main__":
    main()
