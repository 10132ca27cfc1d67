"""``wnet evaluate``: a P/R/F1 table per image and pooled."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..detection.metrics import count_matches, pooled, radius_in_pixels
from ..detection.typed_metrics import TypedTally, typed_tally
from .points_io import read_typed


def format_table(rows: list[tuple[str, object]]) -> str:
    lines = [f"{'image':40s} {'TP':>6s} {'FP':>6s} {'FN':>6s} {'P':>6s} {'R':>6s} {'F1':>6s}"]
    for name, c in rows:
        lines.append(f"{name[:40]:40s} {c.tp:6d} {c.fp:6d} {c.fn:6d} {c.precision:6.3f} {c.recall:6.3f} {c.f1:6.3f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if len(args.pred) != len(args.truth):
        raise ValueError(f"{len(args.pred)} prediction files but {len(args.truth)} truth files")
    radius = radius_in_pixels(args.radius, args.unit, args.mpp)
    rows, tallies, typed_predictions = [], [], False
    for pred, truth in zip(args.pred, args.truth):
        pred_xy, pred_types = read_typed(pred)
        typed_predictions |= any(t is not None for t in pred_types)
        truth_xy, truth_types = read_typed(truth)
        rows.append((Path(pred).name, count_matches(pred_xy, truth_xy, radius)))
        tallies.append(typed_tally(pred_xy, pred_types, truth_xy, truth_types, radius))
    if len(rows) > 1:
        rows.append(("pooled", pooled([c for _, c in rows])))
    print(f"matching radius {args.radius:g} {args.unit} = {radius:.2f} px, one-to-one")
    print(format_table(rows))
    total = sum(tallies[1:], tallies[0])
    if typed_predictions and total.types and total.typed_pairs():  # untyped predictions have no types to score
        print(format_types(total))
    return 0


def format_types(tally: TypedTally) -> str:
    """Per-type P/R/F1 (a match to an untyped truth counts neither way), HoVer-Net's F_c,
    and type accuracy / weighted F1 over the matched typed nuclei, pooled."""
    lines = ["", f"{'type':16s} {'TP':>6s} {'FP':>6s} {'FN':>6s} {'P':>6s} {'R':>6s} {'F1':>6s} {'F_c':>6s}"]
    for c in tally.types:
        k = tally.per_type(c)
        lines.append(f"{c[:16]:16s} {k.tp:6d} {k.fp:6d} {k.fn:6d} {k.precision:6.3f} {k.recall:6.3f} {k.f1:6.3f} {tally.fc(c):6.3f}")
    report = tally.report()
    lines.append(f"mean F_c {report['mean_fc']:.3f}; over {len(tally.typed_pairs()):,} matched typed nuclei: "
                 f"type accuracy {report['type_accuracy']:.3f}, weighted F1 {report['weighted_f1']:.3f}")
    return "\n".join(lines)
