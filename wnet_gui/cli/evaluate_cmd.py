"""``wnet evaluate``: a P/R/F1 table per image and pooled."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..detection.metrics import count_matches, pooled, radius_in_pixels
from .points_io import read_centres


def format_table(rows: list[tuple[str, object]]) -> str:
    lines = [f"{'image':40s} {'TP':>6s} {'FP':>6s} {'FN':>6s} {'P':>6s} {'R':>6s} {'F1':>6s}"]
    for name, c in rows:
        lines.append(f"{name[:40]:40s} {c.tp:6d} {c.fp:6d} {c.fn:6d} {c.precision:6.3f} {c.recall:6.3f} {c.f1:6.3f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if len(args.pred) != len(args.truth):
        raise ValueError(f"{len(args.pred)} prediction files but {len(args.truth)} truth files")
    radius = radius_in_pixels(args.radius, args.unit, args.mpp)
    rows = []
    for pred, truth in zip(args.pred, args.truth):
        rows.append((Path(pred).name, count_matches(read_centres(pred), read_centres(truth), radius)))
    if len(rows) > 1:
        rows.append(("pooled", pooled([c for _, c in rows])))
    print(f"matching radius {args.radius:g} {args.unit} = {radius:.2f} px, one-to-one")
    print(format_table(rows))
    return 0
