"""``wnet``: detect, segment, evaluate, train, export and benchmark from the shell.

Every sub-command calls the same engine as the GUI; failures print one clear line and
exit non-zero.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
import importlib

from ..settings import BUNDLED_MODELS as BUNDLED, PRECISIONS
from .arguments import BATCH, MPP, RADIUS, SENSITIVITY, THREADS, THRESHOLD, WORKERS, bounded


def _add_detect(sub) -> None:
    p = sub.add_parser("detect", help="detect nucleus centres in slides or tiles")
    p.add_argument("inputs", nargs="+", help="slide files, folders, globs, or a manifest CSV (a 'path' column, optional 'mpp')")
    p.add_argument("-o", "--output", help="output file (one input) or folder (several; with summary.csv); not for a project, whose slides keep their results")
    p.add_argument("--model", default="fast", help=f"{', '.join(BUNDLED)}, or a model card path (default: fast)")
    p.add_argument("--roi", help="x,y,w,h in level-0 pixels, or a GeoJSON file whose largest polygon outlines the region (default: whole slide)")
    p.add_argument("--mpp", type=MPP, help="microns per pixel, overriding the file's (0.25 at 40×, 0.5 at 20×)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--format", choices=["geojson", "csv", "tsv"], default="geojson",
                   help="geojson (QuPath), csv (spreadsheets) or tsv (QuPath's Counting > Load points)")
    p.add_argument("--points-as", choices=["detections", "annotations"], default="detections",
                   help="GeoJSON: a Point detection per nucleus (default, for whole slides) or one Points annotation per class (QuPath's Counting dialog)")
    p.add_argument("--threshold", type=THRESHOLD, help="peak threshold from 0 to 1 (default: the model card's)")
    p.add_argument("--sensitivity", type=SENSITIVITY,
                   help="two-stage models: shift stage 1's evidence before stage 2, -8 to 8 (default: the card's, usually 0); "
                        "raise it (1–2) when a new lab's faint nuclei are missed whatever the threshold")
    p.add_argument("--classifier", help="a classifier card from `wnet classes train`: every nucleus gets one of its classes and a confidence")
    p.add_argument("--tta", action="store_true",
                   help="average the model over the four flips of every tile: about 4× the time (BENCHMARKS.md has what it gains)")
    p.add_argument("--no-tissue-detection", action="store_true", help="process background tiles too, and keep points out on the glass")
    p.add_argument("--threads", type=THREADS, help="torch threads (default: all cores)")
    p.add_argument("--overwrite", action="store_true", help="redo slides whose output exists")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto: bf16 autocast where the hardware has it natively (default)")
    many = p.add_argument_group("many slides (Dask)", "where the slides of a folder or manifest run; a rerun skips finished ones")
    many.add_argument(
        "--scheduler",
        default="local",
        help="local (default: a local cluster sized to this machine), none (a plain loop in this process), or tcp://host:8786 (a running cluster)",
    )
    many.add_argument("--workers", type=WORKERS, help="local cluster: worker processes (default: one per 4 cores)")
    many.add_argument("--threads-per-worker", type=WORKERS, help="local cluster: slides at once per worker (default 1)")
    many.add_argument("--cluster", choices=["slurm", "pbs"], help="submit workers as batch jobs (dask-jobqueue)")
    many.add_argument("--queue", help="batch queue / partition")
    many.add_argument("--account", help="batch account / project")
    many.add_argument("--cores", type=WORKERS, default=4, help="cores per job (default 4)")
    many.add_argument("--memory", default="16GB", help="memory per job (default 16GB)")
    many.add_argument("--walltime", default="02:00:00", help="time limit per job (default 02:00:00)")
    many.add_argument("--jobs", type=WORKERS, default=4, help="jobs to submit (default 4)")
    many.add_argument("--dry-run", action="store_true", help="with --cluster: print the job script and exit")
    p.set_defaults(handler="detect_cmd:run")


def _add_segment(sub) -> None:
    p = sub.add_parser("segment", help="NuClick masks from points (points in, polygons out)")
    p.add_argument("slide")
    p.add_argument("--points", required=True, help="GeoJSON with the points (e.g. from wnet detect)")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--model", default="nuclick", help="NuClick card name or path")
    p.add_argument("--masks-as", choices=["cells", "detections"], default="cells",
                   help="cells whose nucleusGeometry is the mask (default; QuPath measures them as nuclei) or polygon detections")
    p.add_argument("--points-as", choices=["detections", "annotations"], default="detections",
                   help="points that got no mask: Point detections, or one Points annotation per class")
    p.add_argument("--mpp", type=MPP, help="microns per pixel, overriding the file's (0.25 at 40×, 0.5 at 20×)")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=BATCH, default=16)
    p.set_defaults(handler="segment_cmd:run")


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="precision/recall/F1 of predicted centres against truth")
    p.add_argument("--pred", required=True, nargs="+", help="prediction files (GeoJSON/CSV)")
    p.add_argument("--truth", required=True, nargs="+", help="truth files (GeoJSON, Aperio XML, .mat, CSV), same order")
    p.add_argument("--radius", type=RADIUS, default=5.0, help="matching radius (default 5)")
    p.add_argument("--unit", choices=["px", "um"], default="px", help="unit of --radius")
    p.add_argument("--mpp", type=MPP, help="microns per pixel (needed with --unit um)")
    p.set_defaults(handler="evaluate_cmd:run")


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a detection model from a JSON config")
    p.add_argument("config")
    p.add_argument("--run-dir", help="folder for checkpoints and logs (default runs/NAME)")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    p.add_argument("--steps", type=bounded(int, 1, 10**8, "steps"), help="override the config's step count (to extend a run)")
    p.set_defaults(handler="train_cmd:run")

    n = sub.add_parser("train-nuclick", help="train NuClick on MoNuSeg (resumable)")
    n.add_argument("--run-dir", default="runs/nuclick")
    n.add_argument("--width", type=bounded(int, 1, 128, "the width"), default=8)
    n.add_argument("--steps", type=bounded(int, 1, 10**8, "steps"), default=1500)
    n.add_argument("--batch", type=BATCH, default=16)
    n.add_argument("--threads", type=THREADS, default=2)
    n.add_argument("--precision", choices=PRECISIONS, default="auto")
    n.set_defaults(handler="train_cmd:train_nuclick")
    x = sub.add_parser("export-nuclick", help="best NuClick weights of a run → model_zoo/nuclick.*")
    x.add_argument("run_dir")
    x.add_argument("--to", default=None)
    x.set_defaults(handler="train_cmd:export_nuclick")

    e = sub.add_parser("export-model", help="best weights of a run → model_zoo card + fp16 weights")
    e.add_argument("run_dir")
    e.add_argument("--name", help="card name (default: the run's)")
    e.add_argument("--step", type=int, help="the weights validated at this step (runs with keep_validated) instead of the best")
    e.add_argument("--to", default=None, help="zoo folder (default: model_zoo/)")
    e.add_argument("--detector-only", action="store_true", help="a typing model's detector alone (no type branch, no types)")
    e.add_argument("--display-name", default="")
    e.add_argument("--description", default="")
    e.set_defaults(handler="train_cmd:export")


def _add_benchmarks(sub) -> None:
    p = sub.add_parser("benchmark-accuracy", help="P/R/F1 of models on the MoNuSeg (or CRCHisto) test split")
    p.add_argument("models", nargs="*", default=["fast", "accurate"], help="model names or card paths")
    p.add_argument("--dataset", choices=["monuseg", "crchisto", "consep"], default="monuseg")
    p.add_argument("--split", choices=["train", "test", "fit", "val"], default="test", help="official train/test, or fit/val: our halves of train")
    p.add_argument("--update-card", action="store_true", help="write the measured numbers into the cards")
    p.add_argument("--sensitivity", type=SENSITIVITY, help="measure at this sensitivity instead of the cards' (not with --update-card)")
    p.add_argument("--tta", action="store_true", help="average each model over the four flips of every tile (as wnet detect --tta)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", choices=PRECISIONS, default="auto")
    p.set_defaults(handler="benchmark_cmd:accuracy")

    s = sub.add_parser("benchmark-speed", help="throughput of models: engine vs bare forward pass vs FLOP bound")
    s.add_argument("models", nargs="*", default=["fast", "accurate"])
    s.add_argument("--threads", type=THREADS, default=2)
    s.add_argument("--size", type=bounded(int, 256, 65536, "the size"), default=4096, help="side of the synthetic 40× slide region in px")
    s.add_argument("--update-card", action="store_true", help="store the first --precision's numbers in the cards")
    s.add_argument("--precision", nargs="+", choices=PRECISIONS, default=["auto", "fp32"])
    s.add_argument("--tta", action="store_true", help="time the engine averaging over the four flips (as wnet detect --tta); the card is not updated")
    s.add_argument("--tile-size", type=bounded(int, 64, 4096, "the tile size"), help="model pixels per tile (default: the card's)")
    s.add_argument("--repeats", type=bounded(int, 1, 100, "repeats"), default=5,
                   help="timed runs of engine and forward pass each; the fastest counts (a shared CPU's noise only slows)")
    s.set_defaults(handler="benchmark_cmd:speed")

    n = sub.add_parser("benchmark-nuclick", help="NuClick Dice/AJI on MoNuSeg test (true clicks) and the detector → NuClick chain")
    n.add_argument("--model", default="nuclick")
    n.add_argument("--detector", default="fast", help="detector for the automatic chain, or 'none'")
    n.add_argument("--split", default="test")
    n.add_argument("--device", default="auto")
    n.add_argument("--threads", type=THREADS, default=2)
    n.add_argument("--update-card", action="store_true")
    n.add_argument("--precision", choices=PRECISIONS, default="auto")
    n.set_defaults(handler="benchmark_cmd:nuclick")

    m = sub.add_parser("models", help="list the models and their measured accuracy and speed")
    m.set_defaults(handler="benchmark_cmd:list_models")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wnet", description="W-Net Annotator, headless")
    parser.add_argument("--version", action="version", version=f"wnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_detect(sub)
    _add_segment(sub)
    _add_evaluate(sub)
    _add_train(sub)
    from .adapt_cmd import add_parser as _add_adapt  # numpy only: --help stays fast

    _add_adapt(sub)
    from .project_cmd import add_export_parser

    add_export_parser(sub)
    from .classes_cmd import add_parser as _add_classes

    _add_classes(sub)
    _add_benchmarks(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # before any heavy import: --help and argument errors stay instant
    from ..annotations.geojson import GeoJSONError
    from ..models.errors import ModelError
    from ..regular_file import NotRegularFile
    from ..slides import SlideError
    from .hints import with_hint

    module, function = args.handler.split(":")
    handler = getattr(importlib.import_module(f"{__package__}.{module}"), function)  # imported only when run
    try:
        return int(handler(args) or 0)
    except (SlideError, GeoJSONError, ModelError, NotRegularFile, PermissionError, FileNotFoundError, FileExistsError, ValueError) as exc:
        # (a classifier card's error is a ValueError too)
        print(f"wnet {args.command}: error: {with_hint(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"wnet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
