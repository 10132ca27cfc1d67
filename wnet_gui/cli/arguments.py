"""The CLI's argument types and shared option handling: torch-free, so ``--help`` and a
mistyped value answer at once."""

from __future__ import annotations

import argparse

from ..settings import MPP_HINT, MPP_RANGE


def bounded(kind, low, high, what: str):
    """An argparse type: a finite ``kind`` from ``low`` to ``high``, else a message naming
    the range (argparse adds the option's name and exits 2)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole number' if kind is int else 'number'}") from None
        if not (value == value and low <= value <= high):  # NaN fails value == value
            raise argparse.ArgumentTypeError(f"{what} must be from {low:g} to {high:g}, not {text}")
        return value

    return parse


MPP = bounded(float, *MPP_RANGE, f"microns per pixel ({MPP_HINT})")
THREADS = bounded(int, 1, 1024, "threads")
THRESHOLD = bounded(float, 0.0, 1.0, "the peak threshold")
SENSITIVITY = bounded(float, -8.0, 8.0, "the sensitivity")
BATCH = bounded(int, 1, 1024, "the batch size")
WORKERS = bounded(int, 1, 1024, "a count")
RADIUS = bounded(float, 1e-3, 1e4, "the matching radius")


def detect_options(args: argparse.Namespace):
    """``wnet detect``'s options as the engine's ``DetectOptions`` (checked there), the same for
    slides, folders and projects."""
    from ..engine.detect import DetectOptions

    return DetectOptions(device=args.device, mpp=args.mpp, threshold=args.threshold, sensitivity=args.sensitivity,
                         skip_background=not args.no_tissue_detection, threads=args.threads, precision=args.precision, tta=args.tta)


def classifier_for(args: argparse.Namespace, card):
    """The taught classifier of ``--classifier`` (None without it), checked against the detector it reads."""
    if not getattr(args, "classifier", None):
        return None
    from ..classify.card import resolve_classifier
    from ..classify.teach import check_detector

    classifier = resolve_classifier(args.classifier)
    check_detector(classifier, card)
    return classifier


def cluster_client(args: argparse.Namespace):
    """(client, jobs, where) for ``--cluster`` or ``--scheduler tcp://|tls://|ucx://`` — the same
    for a folder of slides and for a project; (None, None, "") when neither is asked for."""
    from ..cohort.cluster import client_for

    return client_for(args.scheduler, args.cluster, queue=args.queue, cores=args.cores, memory=args.memory,
                      walltime=args.walltime, account=args.account, jobs=args.jobs)
