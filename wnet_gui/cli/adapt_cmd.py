"""``wnet adapt``: fine-tune a model on corrected points in reviewed regions of one or more
slides, print the before/after F1 on held-back cells, and write a new model card."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _regions(path: str) -> list[np.ndarray]:
    """Reviewed regions: every area annotation's outer rings (QuPath annotations, or the
    reviewed regions our own export writes); else any polygons in the file."""
    from ..annotations.geojson import read_geojson

    parsed = read_geojson(path)
    outlines = [ext for region in parsed.regions for ext, _ in region.parts] or [p for p in parsed.polygons if p is not None]
    if not outlines:
        raise ValueError(f"{path}: no region (area annotation or polygon) found")
    return outlines


def run(args: argparse.Namespace) -> int:
    from ..adaptation import AdaptSettings, ReviewedSlide, adapt, count_nuclei, count_typed, prepare, save_adapted
    from ..models.zoo import resolve_card
    from .points_io import read_typed

    slides, points = args.slide or [], args.points or []
    regions = args.regions or []
    if not slides or len(slides) != len(points) or (regions and len(regions) != len(slides)):
        raise ValueError("give one --points per --slide (and, if any, one --regions per --slide), in the same order")
    base = resolve_card(args.base)
    settings = AdaptSettings(tune=args.tune, seconds=args.seconds, max_steps=args.steps, lr=args.lr, device=args.device,
                             type_weight=args.type_weight)
    reviewed = []
    for s, p, r in zip(slides, points, regions or [None] * len(slides)):
        xy, types = read_typed(p)
        reviewed.append(ReviewedSlide(s, xy, _regions(r) if r else None, args.mpp, types))
    start = time.monotonic()
    examples = prepare(reviewed, base, seed=settings.seed)
    nuclei = count_nuclei(examples)
    typed = count_typed(examples)
    print(f"{len(examples)} reviewed region(s), {nuclei} nuclei" + (f" ({typed} of a type the model knows)" if typed else "")
          + f", from {len(slides)} slide(s); base model {base.title}", file=sys.stderr)
    unknown = sorted({t for e in examples for t in e.stats.get("unknown_types", [])})
    if unknown:
        print(f"  classes the model has no type for (they train detection only): {', '.join(unknown)}", file=sys.stderr)
    if nuclei < args.min_nuclei:
        raise ValueError(f"only {nuclei} reviewed nuclei; adapting needs at least {args.min_nuclei} (--min-nuclei)")

    last = [0.0]

    def progress(stage: str, fraction: float) -> None:
        if time.monotonic() - last[0] > 5 or fraction >= 1:
            last[0] = time.monotonic()
            print(f"  {fraction:4.0%} {stage}", file=sys.stderr)

    result = adapt(base, examples, settings, progress)
    card = save_adapted(base, result, [str(s) for s in slides], len(examples), args.output)
    b, a = result.before, result.after
    print(f"held-back reviewed cells ({result.held_back_nuclei} nuclei): before P {b.precision:.3f} R {b.recall:.3f} F1 {b.f1:.3f} "
          f"(threshold {b.threshold:g}); after P {a.precision:.3f} R {a.recall:.3f} F1 {a.f1:.3f} (threshold {a.threshold:g})")
    if a.typed_pairs:
        print(f"types of the matched held-back nuclei: accuracy {b.type_accuracy:.3f} → {a.type_accuracy:.3f}, "
              f"weighted F1 {b.type_weighted_f1:.3f} → {a.type_weighted_f1:.3f} ({a.typed_pairs} typed pairs after)")
    if base.architecture.two_stage:
        print(f"sensitivity {result.sensitivity:+g} (base {base.peaks.sensitivity:+g}), threshold {result.threshold:g}"
              + (", weights unchanged (--tune none)" if result.calibrated_only else ""))
    print(f"{result.steps} steps in {result.seconds:.0f} s ({time.monotonic() - start:.0f} s in all) → {card.path}  "
          f"(use: wnet detect SLIDE --model {card.path})")
    return 0


def add_parser(sub) -> None:
    from .arguments import MPP, WORKERS

    p = sub.add_parser("adapt", help="fine-tune a model on your corrected points in reviewed regions")
    p.add_argument("--base", default="fast", help="model to start from: a name or card path (default fast)")
    p.add_argument("--slide", action="append", help="a slide or image (repeat for several)")
    p.add_argument("--points", action="append", help="its corrected points: GeoJSON, CSV, .mat or Aperio XML (one per --slide)")
    p.add_argument("--regions", action="append",
                   help="its reviewed regions: GeoJSON area annotations (e.g. drawn in QuPath); without it the whole image counts as reviewed")
    p.add_argument("-o", "--output", help="card to write (default: the user's model folder, listed by `wnet models`)")
    p.add_argument("--mpp", type=MPP, help="microns per pixel, for images that do not state it")
    from ..adaptation.settings import TUNE_CHOICES

    p.add_argument("--tune", choices=TUNE_CHOICES, default="auto",
                   help="which weights learn (default auto: the decoders for a typing model, all for a detector; "
                        "types: a typing model's type branch only, from the points' classes; "
                        "none: no weights, only the sensitivity and threshold are calibrated, in seconds)")
    p.add_argument("--type-weight", type=float, default=0.0,
                   help="typing models: also learn the points' classes with this weight (default 0: types kept; see BENCHMARKS.md)")
    p.add_argument("--seconds", type=float, default=150.0, help="training time budget (default 150)")
    p.add_argument("--steps", type=WORKERS, default=600, help="at most this many steps (default 600)")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--min-nuclei", type=int, default=50, help="refuse to adapt on fewer reviewed nuclei (default 50)")
    p.add_argument("--device", default="auto")
    p.set_defaults(handler="adapt_cmd:run")
