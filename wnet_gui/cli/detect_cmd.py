"""``wnet detect``: one slide to one file, or many slides (files, folders, globs, manifests)
to a folder — on a local Dask cluster by default, a running scheduler, a Slurm/PBS queue, or
as a plain loop in this process (``--scheduler none``). Resumable either way."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

from tqdm import tqdm

from ..engine.detect import DetectOptions, detect_slide
from ..engine.slide_inputs import expand_inputs
from ..geometry import PolygonRegion, Rect
from ..models.zoo import resolve_card
from ..slides import SlideError
from .arguments import classifier_for, cluster_client, detect_options
from .hints import printable, with_hint


def parse_region(text: str) -> Rect | PolygonRegion:
    """``--roi``: 'x,y,w,h' in level-0 pixels, or a GeoJSON file whose largest polygon
    (an annotation drawn in QuPath, say) outlines the region."""
    if text.lower().endswith((".geojson", ".json", ".geojson.gz")):
        from ..annotations import read_region_outline

        return PolygonRegion.from_array(read_region_outline(text))
    return Rect.parse(text)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "cluster", None) and args.dry_run:
        return _print_job_script(args)
    from ..settings import is_project
    from .project_cmd import detect as detect_project

    if len(args.inputs) == 1 and is_project(args.inputs[0]):
        return detect_project(args)
    if not args.output:
        raise ValueError("give -o/--output (a file for one slide, a folder for several)")
    slides = expand_inputs(args.inputs)
    if not slides:
        raise FileNotFoundError(f"no slides match {' '.join(args.inputs)}")
    card = resolve_card(args.model)
    options = detect_options(args)
    region = parse_region(args.roi) if args.roi else None
    output = Path(args.output)
    many = len(slides) > 1 or output.is_dir() or args.output.endswith(("/", "\\"))
    classifier = classifier_for(args, card)
    if many:
        return _run_many(args, slides, card, options, region, output, classifier)
    slide = slides[0]
    if slide.mpp is not None:
        options = dataclasses.replace(options, mpp=slide.mpp)
    if output.exists() and not args.overwrite:
        raise FileExistsError(f"{output} exists; give --overwrite to replace it")
    return _run_one(slide.path, card, output, region, options, args, classifier)


def _run_one(slide_path: Path, card, out: Path, region, options: DetectOptions, args, classifier=None) -> int:
    bars: list[tqdm] = []  # made at the first tile, so an error is not preceded by an empty bar

    def progress(result):
        if not bars:  # tissue tiles only: skipped background would make the rate (and ETA) a lie
            bars.append(tqdm(desc=printable(slide_path.name), unit="tile", leave=True, total=result.total - result.skipped))
        bars[0].update(result.done - result.skipped - bars[0].n)

    start = time.monotonic()
    try:
        run_ = detect_slide(slide_path, card, out, region, options, args.format, on_tile=progress, points_as=args.points_as, classifier=classifier)
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:
        message = str(exc) if isinstance(exc, (SlideError, ValueError, OSError)) else f"{type(exc).__name__}: {exc}"
        message = with_hint(message)
        shown = printable(str(slide_path))
        print(f"error: {shown}: {message}" if printable(slide_path.name) not in message else f"error: {message}", file=sys.stderr)
        return 2
    finally:
        for bar in bars:
            bar.close()
    mpx = run_.area_px / 1e6
    print(
        f"{printable(slide_path.name)}: {len(run_.centres)} nuclei in {time.monotonic() - start:.1f} s "
        f"({run_.tiles_done - run_.tiles_skipped} tiles, {run_.tiles_skipped} skipped as background or outside the region, {mpx:.1f} Mpx) "
        f"→ {printable(str(out))}"
    )
    return 0


def _run_many(args, slides, card, options, region, output: Path, classifier=None) -> int:
    from ..cohort.run import run_cohort

    inline = args.scheduler == "none"
    client, jobs, where = cluster_client(args)
    if not where:
        where = "this process, one slide after another" if inline else "a local cluster"
    print(f"{len(slides)} slides → {output}/ on {where}", file=sys.stderr)
    bar = tqdm(total=len(slides), unit="slide", desc="slides")

    def progress(state, outcome):
        if outcome is not None:
            if outcome.status == "skipped":
                tqdm.write(f"{Path(outcome.slide).name}: already done ({outcome.output}), skipped")
            elif outcome.status == "failed":
                tqdm.write(f"error: {printable(outcome.slide)}: {with_hint(outcome.error or '')}", file=sys.stderr)
            elif outcome.status == "done":
                tqdm.write(f"{Path(outcome.slide).name}: {outcome.nuclei} nuclei in {outcome.seconds:.1f} s "
                           f"({outcome.mpx_per_s:.1f} Mpx/s on {outcome.worker}) → {outcome.output}")
            bar.update(state.done + state.skipped + state.failed - bar.n)
        eta = "?" if math.isnan(state.eta) else time.strftime("%H:%M:%S", time.gmtime(state.eta))
        bar.set_postfix_str(f"running {state.running}, failed {state.failed}, {state.tiles_per_s:.1f} tiles/s, ETA {eta}", refresh=True)

    try:
        summary = run_cohort(slides, output, card, options, client, region=region, out_format=args.format, points_as=args.points_as,
                             overwrite=args.overwrite, inline=inline, workers=args.workers, threads_per_worker=args.threads_per_worker,
                             progress=progress, classifier=classifier)
    except KeyboardInterrupt:
        bar.close()
        print(f"interrupted: finished slides are kept (and skipped next time); see {output / 'summary.csv'}", file=sys.stderr)
        return 130
    finally:
        bar.close()
        if client is not None:
            client.close()
        if jobs is not None:
            jobs.close()
    print(printable(summary.table()))  # newlines and tabs pass; escapes in slide names do not
    print(f"{summary.count('done')} done, {summary.count('skipped')} skipped, {summary.failed} failed in {summary.seconds:.1f} s; "
          f"summary: {output / 'summary.csv'}")
    if summary.failed:
        print(f"{summary.failed} of {len(slides)} slides failed; the others were written", file=sys.stderr)
        return 1
    return 0


def _print_job_script(args) -> int:
    from ..cohort.cluster import job_queue_cluster

    jobs = job_queue_cluster(args.cluster, queue=args.queue, cores=args.cores, memory=args.memory, walltime=args.walltime, account=args.account)
    try:
        print(jobs.job_script())
    finally:
        jobs.close()
    print(f"# {args.jobs} such jobs would be submitted", file=sys.stderr)
    return 0
