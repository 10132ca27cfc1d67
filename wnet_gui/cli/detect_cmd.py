"""``wnet detect``: one slide to one file, or many slides to a folder (resumable)."""

from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path

from tqdm import tqdm

from ..engine.detect import DetectOptions, detect_slide
from ..engine.tiling import PolygonRegion, Rect
from ..models.zoo import resolve_card
from ..slides import SLIDE_SUFFIXES, SlideError


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files, folders (their slide files) and globs, in a stable order, without repeats."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in SLIDE_SUFFIXES and p.is_file())
        elif any(ch in item for ch in "*?["):
            found += sorted(Path(p) for p in glob.glob(item))
        else:
            found.append(path)
    seen, unique = set(), []
    for p in found:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    return unique


def parse_region(text: str) -> Rect | PolygonRegion:
    """``--roi``: 'x,y,w,h' in level-0 pixels, or a GeoJSON file whose largest polygon
    (an annotation drawn in QuPath, say) outlines the region."""
    if text.lower().endswith((".geojson", ".json", ".geojson.gz")):
        from ..annotations import read_region_outline

        return PolygonRegion.from_array(read_region_outline(text))
    return Rect.parse(text)


def run(args: argparse.Namespace) -> int:
    slides = expand_inputs(args.inputs)
    if not slides:
        raise FileNotFoundError(f"no slides match {' '.join(args.inputs)}")
    card = resolve_card(args.model)
    options = DetectOptions(
        device=args.device, mpp=args.mpp, threshold=args.threshold,
        skip_background=not args.no_tissue_detection, threads=args.threads, precision=args.precision,
    )
    region = parse_region(args.roi) if args.roi else None
    output = Path(args.output)
    many = len(slides) > 1 or output.is_dir() or args.output.endswith(("/", "\\"))
    suffix = ".csv" if args.format == "csv" else ".geojson"
    failures = 0
    for slide_path in slides:
        out = output / f"{slide_path.stem}{suffix}" if many else output
        if many and out.exists() and not args.overwrite:
            print(f"{slide_path.name}: already done ({out}), skipped")
            continue
        bar = tqdm(desc=slide_path.name, unit="tile", leave=True)

        def progress(result, bar=bar):
            bar.total = result.total
            bar.n = result.done
            bar.refresh()

        start = time.monotonic()
        try:
            run_ = detect_slide(slide_path, card, out, region, options, args.format, on_tile=progress)
        except SlideError as exc:
            bar.close()
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
            if not many:
                return 2
            continue
        bar.close()
        mpx = run_.area_px / 1e6
        print(f"{slide_path.name}: {len(run_.centres)} nuclei in {time.monotonic() - start:.1f} s "
              f"({run_.tiles_done - run_.tiles_skipped} tiles, {run_.tiles_skipped} skipped as background or outside the region, {mpx:.1f} Mpx) → {out}")
    if failures:
        print(f"{failures} of {len(slides)} slides failed", file=sys.stderr)
        return 1
    return 0
