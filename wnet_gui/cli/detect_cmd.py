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


def output_names(slides: list[Path], suffix: str) -> list[str]:
    """One distinct output file name per input: the stem, or where two inputs share it
    (``x.tif`` and ``x.png``; ``a/slide.tif`` and ``b/slide.tif``) the full file name, then
    as many parent folders as it takes to tell them apart."""
    stems = [p.stem for p in slides]
    names = list(stems)
    clashing = {n for n in stems if stems.count(n) > 1}
    resolved = [p.resolve() for p in slides]
    for i, p in enumerate(slides):
        if names[i] not in clashing:
            continue
        parts = resolved[i].parts
        for depth in range(1, len(parts) + 1):
            candidate = "__".join(parts[-depth:]).lstrip("/\\")
            others = ["__".join(q.parts[-depth:]).lstrip("/\\") for j, q in enumerate(resolved) if j != i and stems[j] == stems[i]]
            if candidate not in others:
                names[i] = candidate
                break
    return [f"{n}{suffix}" for n in names]


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
    suffix = {"csv": ".csv", "tsv": ".tsv"}.get(args.format, ".geojson")
    if not many and output.exists() and not args.overwrite:
        raise FileExistsError(f"{output} exists; give --overwrite to replace it")
    outputs = [output / name for name in output_names(slides, suffix)] if many else [output]
    failures = 0
    for slide_path, out in zip(slides, outputs):
        if many and out.exists() and not args.overwrite:
            print(f"{slide_path.name}: already done ({out}), skipped")
            continue
        bars: list[tqdm] = []  # made at the first tile, so an error is not preceded by an empty bar

        def progress(result, bars=bars, name=slide_path.name):
            if not bars:  # tissue tiles only: skipped background would make the rate (and ETA) a lie
                bars.append(tqdm(desc=name, unit="tile", leave=True, total=result.total - result.skipped))
            bars[0].update(result.done - result.skipped - bars[0].n)

        start = time.monotonic()
        try:
            run_ = detect_slide(slide_path, card, out, region, options, args.format, on_tile=progress, points_as=args.points_as)
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception as exc:  # one bad slide never stops a folder: say which and why, go on
            for bar in bars:
                bar.close()
            message = str(exc) if isinstance(exc, (SlideError, ValueError, OSError)) else f"{type(exc).__name__}: {exc}"
            print(f"error: {slide_path}: {message}" if slide_path.name not in message else f"error: {message}", file=sys.stderr)
            failures += 1
            if not many:
                return 2
            continue
        for bar in bars:
            bar.close()
        mpx = run_.area_px / 1e6
        print(f"{slide_path.name}: {len(run_.centres)} nuclei in {time.monotonic() - start:.1f} s "
              f"({run_.tiles_done - run_.tiles_skipped} tiles, {run_.tiles_skipped} skipped as background or outside the region, {mpx:.1f} Mpx) → {out}")
    if failures:
        print(f"{failures} of {len(slides)} slides failed; the others were written", file=sys.stderr)
        return 1
    return 0
