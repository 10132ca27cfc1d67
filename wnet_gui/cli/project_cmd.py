"""``wnet detect PROJECT`` and ``wnet export PROJECT -o OUT/``: the project the app keeps
(``wnet-project.json`` in a slide folder), worked on headless with the same functions."""

from __future__ import annotations

import argparse
import sys


def _open(where: str):
    from ..projects import Project

    project = Project.open(where)
    missing = [e.path for e in project.slides if project.missing(e)]
    if missing:
        print(f"{len(missing)} slide(s) of the project are missing: {', '.join(missing[:5])}{'…' if len(missing) > 5 else ''}", file=sys.stderr)
    return project


def _progress(k: int, n: int, name: str) -> None:
    if name:
        print(f"[{k + 1}/{n}] {name}", file=sys.stderr)


def detect(args: argparse.Namespace) -> int:
    from ..cohort.cluster import is_address
    from ..models.zoo import resolve_card
    from ..projects import detect_pending
    from .arguments import classifier_for, detect_options

    project = _open(args.inputs[0])
    ignored = [flag for flag, value in (("-o/--output", args.output), ("--mpp", args.mpp), ("--roi", args.roi),
                                        ("--format", args.format != "geojson" and args.format),
                                        ("--points-as", args.points_as != "detections" and args.points_as)) if value]
    if ignored:  # a project keeps each slide's scale and results itself: say so rather than ignore them
        raise ValueError(f"{', '.join(ignored)} apply to slides and files, not to a project: its slides keep their results with "
                         "their annotations and their scale in their entries (the app's Set µm/px…); write files and choose shapes "
                         "with wnet export PROJECT -o OUT/ --points-as …")
    card = resolve_card(args.model)
    options = detect_options(args)
    classifier = classifier_for(args, card)
    on_cluster = bool(args.cluster) or is_address(args.scheduler) or bool(args.workers)
    if on_cluster:  # the project's new slides as a cohort on Dask, then merged into each slide's annotations
        from ..cohort.cluster import local_cluster
        from ..projects import detect_on_cluster
        from .arguments import cluster_client

        client, jobs, _ = cluster_client(args)
        owned = local_cluster(args.workers, args.threads_per_worker) if client is None else None
        try:
            failures = detect_on_cluster(project, card, options, client or owned.client, redo=args.overwrite, classifier=classifier)
        finally:
            if owned is not None:
                owned.close()
            if client is not None:
                client.close()
            if jobs is not None:
                jobs.close()
    else:
        failures = detect_pending(project, card, options, _progress, redo=args.overwrite, classifier=classifier)
    counts = project.counts()
    print(f"{project.file}: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    from .hints import printable, with_hint

    for path, error in failures:
        print(f"error: {printable(path)}: {with_hint(error)}", file=sys.stderr)
    return 1 if failures else 0


def export(args: argparse.Namespace) -> int:
    from ..projects import export_all

    project = _open(args.project)
    done = export_all(project, args.output, args.points_as, args.masks_as, _progress)
    print(f"{done.written} slides → {args.output}; summary: {done.summary}")
    from .hints import printable, with_hint

    for slide, error in done.failures:
        print(f"error: {printable(slide)}: {with_hint(error)}", file=sys.stderr)
    return 1 if done.failures else 0


def add_export_parser(sub) -> None:
    p = sub.add_parser("export", help="a project's annotations: GeoJSON per slide + summary.csv")
    p.add_argument("project", help="project folder or wnet-project.json")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--points-as", choices=["detections", "annotations"], default="detections")
    p.add_argument("--masks-as", choices=["cells", "detections"], default="cells")
    p.set_defaults(handler="project_cmd:export")
