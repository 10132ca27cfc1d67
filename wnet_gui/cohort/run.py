"""Detection over a cohort: many slides, one task each, on a Dask cluster or in this process.

Each task runs exactly what the app and ``wnet detect`` run for one slide
(``detect_slide``); the worker keeps the model loaded between its slides. The driver (this
process) alone keeps the books: which slides are done (``OUT/cohort-manifest.json``, so a
rerun skips what matches), the summary (``OUT/summary.csv``) and the progress.

Why Dask rather than Ray: the work is a few hundred independent, coarse tasks (minutes
each) over files on shared storage, run where pathology groups compute — HPC queues.
``dask-jobqueue`` submits workers through Slurm/PBS/SGE/LSF with the site's own accounts and
limits, with no daemon to install; a worker that dies is replaced by its nanny and its task
rescheduled. Ray's strengths (actors, a shared object store, GPU scheduling across many small
tasks) buy nothing for whole-slide tasks, and on a batch cluster it needs its own head node
brought up inside a job."""

from __future__ import annotations

import csv
import dataclasses
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..models.card import ModelCard
from .cluster import ATTEMPTS
from .manifest import CohortManifest, fingerprint
from ..engine.detect import DetectOptions, detect_slide
from ..engine.slide_inputs import SlideInput, output_names
from ..geometry import PolygonRegion, Rect

SUMMARY_COLUMNS = ("slide", "status", "nuclei", "tissue_mm2", "seconds", "mpx_per_s", "worker", "error", "output")
PROGRESS_TOPIC = "wnet-detect-progress"


@dataclass
class SlideOutcome:
    """One row of the summary."""

    slide: str
    status: str  # done | skipped | failed | cancelled
    nuclei: int = 0
    tissue_mm2: float = 0.0  # area of the tissue tiles analysed
    seconds: float = 0.0
    mpx_per_s: float = 0.0  # level-0 megapixels of tissue per second
    worker: str = ""
    error: str = ""
    output: str = ""
    points: Any = field(default=None, repr=False)  # (centres, scores, types, confidences) when the caller asked to keep them

    def row(self) -> dict[str, Any]:
        return {"slide": self.slide, "status": self.status, "nuclei": self.nuclei, "tissue_mm2": f"{self.tissue_mm2:.3f}",
                "seconds": f"{self.seconds:.1f}", "mpx_per_s": f"{self.mpx_per_s:.2f}", "worker": self.worker,
                "error": self.error, "output": self.output if self.status in ("done", "skipped") else ""}  # no file for a slide not done


@dataclass
class CohortSummary:
    outcomes: list[SlideOutcome] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> int:
        return self.count("failed")

    def table(self) -> str:
        """The summary as aligned text, for a terminal."""
        rows = [SUMMARY_COLUMNS[:-1]] + [tuple(str(o.row()[c]) for c in SUMMARY_COLUMNS[:-1]) for o in self.outcomes]
        widths = [min(48, max(len(r[i]) for r in rows)) for i in range(len(rows[0]))]
        return "\n".join("  ".join(v[:48].ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows)


@dataclass
class Progress:
    """What the driver knows while slides run (given to the ``progress`` callback)."""

    total: int
    done: int = 0
    skipped: int = 0
    failed: int = 0
    running: int = 0
    tiles: int = 0  # tissue tiles finished, over all slides
    started: float = field(default_factory=time.monotonic)
    slide_seconds: list[float] = field(default_factory=list)
    concurrency: int = 1

    @property
    def tiles_per_s(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.tiles / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float:
        """Seconds left: slides still to run × mean seconds per slide / slides at once."""
        left = self.total - self.done - self.skipped - self.failed
        if not self.slide_seconds or left <= 0:
            return float("nan") if left > 0 else 0.0
        mean = sum(self.slide_seconds) / len(self.slide_seconds)
        return left * mean / max(1, self.concurrency)


@dataclass(frozen=True)
class SlideTask:
    """Everything a worker needs for one slide (picklable, no open handles)."""

    slide: Path
    output: Path
    card: ModelCard
    options: DetectOptions
    region: Rect | PolygonRegion | None = None
    out_format: str = "geojson"
    points_as: str = "detections"
    key: str = ""
    classifier: Any = None  # a taught classifier card (classify.card.ClassifierCard): arrays, picklable
    keep_points: bool = False  # hand the points back to the driver too (a project merges them into its slides)


# --- on the worker -------------------------------------------------------------------------

_predictors: dict[tuple, Any] = {}
_predictors_lock = threading.Lock()


def _predictor(card: ModelCard, options: DetectOptions):
    """The worker's loaded model for this card (loaded once, then reused for every slide)."""
    from ..engine.device import select_device
    from ..engine.predict import DensityPredictor

    key = (card.sha256, options.device, options.precision)
    with _predictors_lock:
        if key not in _predictors:
            _predictors.clear()  # one model per worker: a new card replaces the old one
            _predictors[key] = DensityPredictor.from_card(card, select_device(options.device), options.precision)
        return _predictors[key]


def _where() -> tuple[str, Any]:
    """This worker's name and handle (None outside Dask)."""
    try:
        from distributed import get_worker

        worker = get_worker()
        return f"{worker.name}@{socket.gethostname()}", worker
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}", None


def _cores_share(worker: Any) -> int:
    """Torch threads for one slide: this machine's usable cores over the slides that may run on it
    at once — the threads of *every* worker the scheduler has on this host, not only this one's.
    A node running four one-thread workers (``dask worker --nworkers 4``) gives each slide a
    quarter of its cores; counting this worker alone gave each all of them, 4× oversubscribed.
    Workers of other jobs sharing the node are counted too: that errs towards fewer threads."""
    from .cluster import usable_cores

    slots = worker.state.nthreads if worker is not None else 1
    if worker is not None:
        try:
            from distributed import get_client

            workers = get_client().scheduler_info()["workers"]
            host = workers[worker.address]["host"]
            slots = max(slots, sum(w["nthreads"] for w in workers.values() if w.get("host") == host))
        except Exception:  # noqa: BLE001 - no scheduler view: this worker's own threads, as before
            pass
    return max(1, usable_cores() // max(1, slots))


def warm_up(card: ModelCard, options: DetectOptions) -> str:
    """Import the engine and load the model in this worker (``client.run(warm_up, …)``): start-up
    paid once, before the first slide, on every worker at once."""
    _predictor(card, options)
    return _where()[0]


def run_slide_task(task: SlideTask) -> dict[str, Any]:
    """Detect one slide and write its result (what every cohort task runs)."""
    name, worker = _where()
    last = [0.0, 0]

    def on_tile(result) -> None:  # tile progress to the driver, at most twice a second
        processed = result.done - result.skipped
        now = time.monotonic()
        if worker is not None and (now - last[0] > 0.5 or result.done == result.total):
            worker.log_event(PROGRESS_TOPIC, {"key": task.key, "tiles": processed - last[1]})
            last[0], last[1] = now, processed

    options = task.options
    if options.threads is None:  # Dask starts workers with OMP_NUM_THREADS=1: give torch this task's share of the cores
        options = dataclasses.replace(options, threads=_cores_share(worker))
    start = time.monotonic()
    run = detect_slide(task.slide, task.card, task.output, task.region, options, task.out_format,
                       on_tile=on_tile, points_as=task.points_as, predictor=_predictor(task.card, options), classifier=task.classifier)
    if worker is not None and run.tiles_done - run.tiles_skipped > last[1]:
        worker.log_event(PROGRESS_TOPIC, {"key": task.key, "tiles": run.tiles_done - run.tiles_skipped - last[1]})
    result = {"nuclei": int(len(run.centres)), "area_px": float(run.area_px), "mpp": run.mpp, "seconds": time.monotonic() - start,
              "tiles": run.tiles_done - run.tiles_skipped, "worker": name, "threads": options.threads}
    if task.keep_points:
        result["points"] = (run.centres, run.scores, run.types, run.confidences)
    return result


# --- on the driver -------------------------------------------------------------------------

def plan(slides: list[SlideInput], out_dir: Path, card: ModelCard, options: DetectOptions, region=None,
         out_format: str = "geojson", points_as: str = "detections", classifier=None, keep_points: bool = False) -> list[SlideTask]:
    suffix = {"csv": ".csv", "tsv": ".tsv"}.get(out_format, ".geojson")
    names = output_names([s.path for s in slides], suffix)
    tasks = []
    for i, (s, name) in enumerate(zip(slides, names)):
        opts = options if s.mpp is None else dataclasses.replace(options, mpp=s.mpp)
        tasks.append(SlideTask(s.path, out_dir / name, card, opts, region, out_format, points_as, key=f"wnet-detect-{i}-{name}",
                               classifier=classifier, keep_points=keep_points))
    return tasks


def _outcome(task: SlideTask, result: dict[str, Any]) -> SlideOutcome:
    mpp = result["mpp"]  # as the worker read it: the driver need not see the slide at all
    mm2 = result["area_px"] * mpp * mpp / 1e6 if mpp else float("nan")
    seconds = result["seconds"]
    return SlideOutcome(str(task.slide), "done", result["nuclei"], mm2, seconds,
                        result["area_px"] / 1e6 / seconds if seconds > 0 else 0.0, result["worker"], "", str(task.output), result.get("points"))


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    if type(exc).__name__ == "KilledWorker":
        return f"its worker died {ATTEMPTS} times running it (out of memory? a crash in a slide reader?)"
    from ..slides import SlideError

    return text if isinstance(exc, (SlideError, ValueError, OSError)) and text else f"{type(exc).__name__}: {text}"


def run_cohort(
    paths: list[str | Path | SlideInput],
    out_dir: str | Path,
    card: ModelCard,
    options: DetectOptions | None = None,
    client=None,
    *,
    region: Rect | PolygonRegion | None = None,
    out_format: str = "geojson",
    points_as: str = "detections",
    overwrite: bool = False,
    inline: bool = False,
    workers: int | None = None,
    threads_per_worker: int | None = None,
    progress: Callable[[Progress, SlideOutcome | None], None] | None = None,
    classifier=None,
    keep_points: bool = False,
) -> CohortSummary:
    """Detect nuclei in every slide, one output per slide in ``out_dir``; return the summary
    (also written as ``out_dir/summary.csv``).

    ``client``: a ``distributed.Client`` to run on; None starts a local cluster sized to this
    machine (``workers``, ``threads_per_worker``), or with ``inline`` runs the slides one after
    another in this process (no Dask at all: the plain loop). Slides whose output and manifest
    entry match (input size and mtime, model sha256, options) are skipped unless ``overwrite``.
    On KeyboardInterrupt the running tasks are cancelled, the books written, and it re-raises.
    With a taught ``classifier`` every slide's nuclei are classed in its detection pass. With
    ``keep_points`` each slide done hands its (centres, scores, types, confidences) back in its outcome, for a
    caller that merges them (a project) rather than reading the files again."""
    options = options or DetectOptions()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    slides = [p if isinstance(p, SlideInput) else SlideInput(Path(p)) for p in paths]
    tasks = plan(slides, out_dir, card, options, region, out_format, points_as, classifier, keep_points)
    manifest = CohortManifest.load(out_dir)
    summary = CohortSummary()
    state = Progress(total=len(tasks))
    started = time.monotonic()
    todo: list[SlideTask] = []
    # what each result will be made from, taken before any slide runs: what the manifest records
    model = card.sha256 if classifier is None else f"{card.sha256}+classifier:{classifier.head_sha256()}"  # another classifier, another result
    entries = {task.key: fingerprint(task.slide, model, task.options, region, out_format, points_as) for task in tasks}
    for task in tasks:
        entry = entries[task.key]
        if not overwrite and manifest.matches(task.output.name, entry, task.output):
            outcome = SlideOutcome(str(task.slide), "skipped", manifest.nuclei(task.output.name), error="already done (same input, model and options)",
                                   output=str(task.output))
            summary.outcomes.append(outcome)
            state.skipped += 1
            if progress:
                progress(state, outcome)
        else:
            todo.append(task)

    def finish(task: SlideTask, outcome: SlideOutcome) -> None:
        summary.outcomes.append(outcome)
        if outcome.status == "done":
            state.done += 1
            state.slide_seconds.append(outcome.seconds)
            manifest.record(task.output.name, entries[task.key], task.output, outcome.nuclei)
            manifest.save()
        elif outcome.status == "failed":
            state.failed += 1
        if progress:
            progress(state, outcome)

    try:
        if inline or not todo:
            _run_inline(todo, state, finish, progress)
        else:
            _run_dask(todo, state, finish, progress, client, workers, threads_per_worker, options)
    except KeyboardInterrupt:
        summary.interrupted = True
        finished = {o.output for o in summary.outcomes}
        summary.outcomes += [SlideOutcome(str(t.slide), "cancelled", output=str(t.output)) for t in todo if str(t.output) not in finished]
        raise
    finally:
        order = {str(t.output): i for i, t in enumerate(tasks)}
        summary.outcomes.sort(key=lambda o: order.get(o.output, len(order)))
        summary.seconds = time.monotonic() - started
        write_summary(summary, out_dir / "summary.csv")
    return summary


def _run_inline(todo: list[SlideTask], state: Progress, finish, progress) -> None:
    for task in todo:
        state.running = 1
        try:
            result = run_slide_task(task)
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception as exc:  # one bad slide never stops a cohort
            finish(task, SlideOutcome(str(task.slide), "failed", error=_message(exc), output=str(task.output)))
            continue
        finally:
            state.running = 0
        state.tiles += result["tiles"]
        finish(task, _outcome(task, result))


def _run_dask(todo: list[SlideTask], state: Progress, finish, progress, client, workers, threads_per_worker, options) -> None:
    from distributed import as_completed

    from .cluster import local_cluster

    owned = None
    if client is None:
        owned = local_cluster(workers, threads_per_worker)
        client = owned.client
    try:
        nthreads = client.nthreads()
        state.concurrency = max(1, sum(nthreads.values()))
        if options.threads is None and owned is not None:  # torch threads: share the cores between slides at once
            todo = [dataclasses.replace(t, options=dataclasses.replace(t.options, threads=owned.torch_threads)) for t in todo]
        lock = threading.Lock()
        started: set[str] = set()

        def on_event(event) -> None:
            _, msg = event
            with lock:
                state.tiles += int(msg.get("tiles", 0))
                started.add(msg.get("key", ""))
                state.running = len(started)
            if progress:
                progress(state, None)

        client.subscribe_topic(PROGRESS_TOPIC, on_event)
        by_key = {}
        futures = []
        for task in todo:
            fut = client.submit(run_slide_task, task, key=task.key, pure=False, retries=ATTEMPTS - 1)
            by_key[fut.key] = task
            futures.append(fut)
        try:
            for fut in as_completed(futures):
                task = by_key[fut.key]
                with lock:
                    started.discard(task.key)
                    state.running = len(started)
                if fut.status == "finished":
                    finish(task, _outcome(task, fut.result()))
                else:
                    try:
                        exc = fut.exception()
                    except BaseException as cancelled:  # noqa: BLE001 - a cancelled future raises instead of returning
                        exc = cancelled
                    finish(task, SlideOutcome(str(task.slide), "failed", error=_message(exc), output=str(task.output)))
                fut.release()
        except KeyboardInterrupt:
            client.cancel(futures)
            raise
        finally:
            client.unsubscribe_topic(PROGRESS_TOPIC)
    finally:
        if owned is not None:
            owned.close()


def write_summary(summary: CohortSummary, path: Path) -> None:
    from ..annotations.atomic_file import replacing
    from ..annotations.spreadsheet import spreadsheet_safe

    with replacing(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        for o in summary.outcomes:  # slide names and errors come from files: never formulas in a spreadsheet
            writer.writerow({k: spreadsheet_safe(v) if isinstance(v, str) else v for k, v in o.row().items()})


__all__ = ["CohortSummary", "Progress", "SlideOutcome", "SlideTask", "plan", "run_cohort", "run_slide_task", "warm_up", "write_summary"]
