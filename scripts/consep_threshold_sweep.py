"""Why do our models miss nuclei in CoNSeP (a lab they never saw)? Detection P/R/F1 on the
CoNSeP test tiles at 12 px (40x) for a range of peak thresholds, per model, and recall per
nucleus type at the card's threshold: a miss that a lower threshold recovers is calibration,
one that no threshold recovers is the model.

    python scripts/consep_threshold_sweep.py fast accurate --split test"""

from __future__ import annotations

import argparse
from collections import Counter


from wnet_gui.datasets import shared_data_dir
from wnet_gui.datasets.typed_truth import read_consep
from wnet_gui.detection.metrics import count_matches, match_points, pooled
from wnet_gui.engine.detect import DetectOptions, run_detection
from wnet_gui.models.zoo import resolve_card
from wnet_gui.slides import open_slide

THRESHOLDS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--split", default="test")
    ap.add_argument("--radius", type=float, default=12.0)
    ap.add_argument("--mpp", type=float, default=0.25, help="the scale the tiles are declared at (CoNSeP: about 0.25)")
    args = ap.parse_args()
    root = shared_data_dir() / "consep" / args.split
    tiles = sorted(root.glob("*_inst.png"))
    for name in args.models:
        card = resolve_card(name)
        runs, truths = [], []
        for inst in tiles:
            slide = open_slide(inst.with_name(inst.name.replace("_inst.png", ".jpg")), mpp=args.mpp)
            run = run_detection(slide, card, options=DetectOptions(skip_background=False, threshold=min(THRESHOLDS)))
            runs.append(run)
            truths.append(read_consep(inst))
        print(f"\n{name} (card threshold {card.peaks.threshold}) on CoNSeP {args.split} declared at {args.mpp:g} µm/px, "
              f"{len(tiles)} tiles, r = {args.radius:g} px")
        for thr in THRESHOLDS:
            c = pooled([count_matches(r.centres[r.scores > thr], t[0], args.radius) for r, t in zip(runs, truths)])
            print(f"  threshold {thr:<6g} P {c.precision:.3f} R {c.recall:.3f} F1 {c.f1:.3f}")
        found, total = Counter(), Counter()
        for r, (xy, types) in zip(runs, truths):
            keep = r.scores > card.peaks.threshold
            _, ti = match_points(r.centres[keep], xy, args.radius)
            total.update(types)
            found.update(types[i] for i in ti.tolist())
        print("  recall by type at the card's threshold: " + ", ".join(f"{t} {found[t] / total[t]:.2f} ({total[t]})" for t in sorted(total, key=str)))


if __name__ == "__main__":
    main()
