"""Why do our models miss nuclei in CoNSeP (a lab they never saw)? Detection P/R/F1 on the
CoNSeP test tiles at 12 px (40x) for a range of peak thresholds, per model, and recall per
nucleus type at the card's threshold: a miss that a lower threshold recovers is calibration,
one that no threshold recovers is the model.

    python scripts/consep_threshold_sweep.py fast accurate --split test"""

from __future__ import annotations

import argparse


from wnet_gui import datasets
from wnet_gui.engine.predict import DensityPredictor
from wnet_gui.evaluation import annotated, detect_all, pooled_tally, recall_by_type, tally_runs
from wnet_gui.models.zoo import resolve_card

THRESHOLDS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--split", default="test", choices=datasets.SPLITS)
    ap.add_argument("--radius", type=float, default=12.0)
    ap.add_argument("--mpp", type=float, default=0.25, help="the scale the tiles are declared at (CoNSeP: about 0.25)")
    args = ap.parse_args()
    images = [annotated(t, args.mpp) for t in datasets.load("consep", args.split)]
    for name in args.models:
        card = resolve_card(name)
        predictor = DensityPredictor.from_card(card)
        tallies = tally_runs(detect_all(predictor, images, min(THRESHOLDS)), images, sorted({*THRESHOLDS, card.peaks.threshold}),
                             lambda a: args.radius)
        print(f"\n{name} (card threshold {card.peaks.threshold}) on CoNSeP {args.split} declared at {args.mpp:g} µm/px, "
              f"{len(images)} tiles, r = {args.radius:g} px")
        for thr in THRESHOLDS:
            c = pooled_tally(tallies[thr]).detection
            print(f"  threshold {thr:<6g} P {c.precision:.3f} R {c.recall:.3f} F1 {c.f1:.3f}")
        recall = recall_by_type(pooled_tally(tallies[card.peaks.threshold]))
        print("  recall by type at the card's threshold: " + ", ".join(f"{t} {r:.2f}" for t, r in recall.items()))


if __name__ == "__main__":
    main()
