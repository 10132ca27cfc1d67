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

import torch

from wnet_gui.datasets import crchisto, monuseg
from wnet_gui.detection.metrics import count_matches, pooled
from wnet_gui.engine.detect import DetectOptions, run_detection
from wnet_gui.engine.predict import DensityPredictor
from wnet_gui.models.zoo import resolve_card
from wnet_gui.slides import ArraySlide

THRESHOLDS = (0.0002, 0.0003, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05)


def flip_averaged(forward):
    """A forward pass that averages the density over the four flips of the input."""

    def averaged(x: torch.Tensor) -> torch.Tensor:
        total = forward(x).float()
        for dims in ((-1,), (-2,), (-1, -2)):
            total = total + forward(x.flip(dims)).float().flip(dims)
        return total / 4

    return averaged


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
    if args.tta:
        predictor.forward = flip_averaged(predictor.forward)
    datasets = {
        "crchisto": (crchisto.load_split("validation" if args.split == "val" else "test"), lambda t: 6.0),
        "monuseg": (monuseg.load_split(args.split), lambda t: 3.0 / t.mpp),
    }
    options = DetectOptions(skip_background=False, device="cpu", threshold=min(THRESHOLDS))
    print(f"{card.name} on {args.split}; tta={args.tta}; min distance {card.peaks.min_distance_um} µm; "
          f"CRCHisto at {args.crchisto_mpp or 'its own'} µm/px; P/R/F1 per threshold")
    start = time.monotonic()
    for name, (tiles, radius) in datasets.items():
        declared = args.crchisto_mpp if name == "crchisto" else None
        runs = [run_detection(ArraySlide(t.name, t.image, declared or t.mpp), card, options=options, predictor=predictor) for t in tiles]
        cells = []
        for threshold in THRESHOLDS:
            m = pooled([count_matches(r.centres[r.scores > threshold], t.centres, radius(t)) for r, t in zip(runs, tiles)])
            cells.append(f"{threshold:g}: {m.precision:.3f}/{m.recall:.3f}/{m.f1:.3f}")
        print(f"{name:9s}", "  ".join(cells))
    print(f"({time.monotonic() - start:.0f} s)")


if __name__ == "__main__":
    main()
