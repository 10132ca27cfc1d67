"""What a project does to all its slides, with the same engine as the CLI and the app:
detect the slides not yet detected (results go where the app keeps a slide's annotations, its
autosave, so opening the slide shows them), export every slide's annotations, and the summary
table (counts per class, reviewed area, density). Qt-free: the GUI runs these in a worker, the
CLI calls them directly."""

from __future__ import annotations

import csv
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..annotations import NucleusStore
from ..annotations.autosave import Autosaver
from ..annotations.run_merge import merge_run
from ..slides.scale import MppUnknownError
from .project import Project, SlideEntry


def load_annotations(slide: Path) -> NucleusStore:
    """A slide's newest readable autosave (read only: nothing is moved or locked)."""
    store = NucleusStore()
    Autosaver(slide, store, lock=False).restore(store)
    return store


def save_annotations(slide: Path, store: NucleusStore) -> None:
    """Write a slide's annotations where the app will find them (its autosave series)."""
    saver = Autosaver(slide, store)
    try:
        if saver.read_only:
            raise OSError(f"{slide.name} is open in the app; close it there first")
        if not saver.save(force=True):
            raise OSError(saver.error or f"{slide.name}: the annotations could not be saved")
    finally:
        saver.close()


def reviewed_area_mm2(store: NucleusStore, mpp: float | None) -> float:
    if not mpp or not store.reviewed:
        return 0.0
    from ..geometry import polygon_area

    return sum(polygon_area(o) for o in store.reviewed) * mpp * mpp / 1e6


def refresh_entry(project: Project, entry: SlideEntry, store: NucleusStore | None = None) -> SlideEntry:
    """Counts and reviewed area of a slide from its annotations."""
    store = store if store is not None else load_annotations(project.absolute(entry))
    classes = store.classes_of(store.ids()) if len(store) else []
    counts: dict[str, int] = {}
    for c in classes:
        counts[c] = counts.get(c, 0) + 1
    entry.nuclei, entry.classes = len(store), counts
    if not entry.mpp and store.stated_mpp:  # the scale the user stated for this slide, kept in its annotations
        entry.mpp = store.stated_mpp
    entry.reviewed_mm2 = round(reviewed_area_mm2(store, entry.mpp), 6)
    return entry


def hand_labelled_slides(project: Project, exclude: Path | None = None, mpp: float | None = None) -> tuple[list, list[str]]:
    """Every project slide's nuclei whose class a person set, as ``LabelledSlide``s (read from
    the slides' annotations; ``exclude``, the slide open in the app, is read from memory there),
    and the names of slides with labels but no known scale, which cannot teach. ``mpp``, when
    given, is every slide's scale (as ``--mpp`` overrides a slide's own)."""
    from ..classify.teach import LabelledSlide, hand_set

    labelled, unscaled = [], []
    for entry in project.slides:
        path = project.absolute(entry)
        if project.missing(entry) or (exclude is not None and path.resolve() == Path(exclude).resolve()):
            continue
        store = load_annotations(path)
        ids = hand_set(store)
        if not len(ids):
            continue
        scale = mpp or entry.mpp or store.stated_mpp
        if not scale:
            from ..slides import SlideError, open_slide

            try:  # the slide's own metadata may know it
                slide = open_slide(path)
                scale = slide.mpp
                slide.close()
            except (OSError, ValueError, SlideError):
                scale = None
        if not scale:
            unscaled.append(entry.name)
            continue
        classes = store.classes_of(ids)
        colors = {c: store.class_colors[c] for c in set(classes) if c in store.class_colors}
        labelled.append(LabelledSlide(path, store.coordinates(ids), list(classes), scale, colors))
    return labelled, unscaled


def _work_through(project: Project, wanted, skip, progress, cancel):
    """(entry, path) of each slide ``wanted(entry)`` picks that is present and not skipped, with
    progress; stops when ``cancel`` is set."""
    skip = {Path(p).resolve() for p in (skip or set())}
    todo = [e for e in project.slides if wanted(e) and not project.missing(e) and project.absolute(e).resolve() not in skip]
    for k, entry in enumerate(todo):
        if cancel is not None and cancel.is_set():
            return
        if progress:
            progress(k, len(todo), entry.name)
        yield entry, project.absolute(entry)
    if progress:
        progress(len(todo), len(todo), "")


def merge_detections(project: Project, entry: SlideEntry, card, centres: np.ndarray, scores: np.ndarray, types: list | None,
                     confidences: np.ndarray | None = None, classifier=None) -> None:
    """A model's points into a slide's annotations by the app's rule (``annotations.run_merge``:
    earlier model points replaced, hand-placed and imported points and reviewed regions kept);
    saved where the app finds them."""
    path = project.absolute(entry)
    store = load_annotations(path)
    if not store.namespace:
        from ..annotations.qupath import new_namespace

        store.namespace = new_namespace()
    if classifier is not None:  # its classes in its colours, unless the slide already has colours for them
        for name, colour in zip(classifier.classes, classifier.colors):
            store.class_colors.setdefault(name, tuple(colour))
    merge_run(store, card.name, centres, scores, types, confidences=confidences)
    save_annotations(path, store)
    refresh_entry(project, entry, store)
    project.update(path, state="detected" if entry.state == "new" else entry.state)


def detect_on_cluster(project: Project, card, options, client, redo: bool = False, progress=None, classifier=None) -> list[tuple[str, str]]:
    """The project's new slides (all with ``redo``) as a cohort on a Dask cluster (``cohort.run``),
    each slide's points handed back in memory and merged into its annotations; returns (slide,
    error) for those that failed. The project's states say what is left, so every slide asked
    for runs (the cohort's own skipping is for folders of files)."""
    from ..cohort.run import run_cohort
    from ..engine.slide_inputs import SlideInput

    todo = [e for e in project.slides if (redo or e.state == "new") and not project.missing(e)]
    results = project.file.parent / ".wnet-results"
    summary = run_cohort([SlideInput(project.absolute(e), e.mpp) for e in todo], results, card, options, client, overwrite=True, keep_points=True,
                         classifier=classifier,
                         progress=None if progress is None else (lambda state, outcome: progress(state.done + state.failed, len(todo), "")))
    failures = []
    for entry, outcome in zip(todo, summary.outcomes):
        if outcome.status != "done":
            failures.append((entry.path, outcome.error or outcome.status))
            continue
        try:
            centres, scores, types, confidences = outcome.points
            merge_detections(project, entry, card, centres, scores, types if (card.architecture.types or classifier) else None, confidences, classifier)
        except Exception as exc:
            failures.append((entry.path, f"{type(exc).__name__}: {exc}"))
    project.save()
    return failures


def detect_pending(project: Project, card, options=None, progress: Callable[[int, int, str], None] | None = None,
                   cancel: threading.Event | None = None, redo: bool = False, skip: set[Path] | None = None,
                   classifier=None) -> list[tuple[str, str]]:
    """Detect every slide still 'new' (or all with ``redo``), merging the model's points into the
    slide's annotations (hand-placed points kept; with a taught ``classifier`` each classed, with
    its confidence); returns (slide, error) for those that failed."""
    from ..engine.detect import DetectOptions, run_detection
    from ..engine.predict import DensityPredictor
    from ..engine.device import select_device
    from ..slides import open_slide

    options = options or DetectOptions()
    predictor = DensityPredictor.from_card(card, select_device(options.device), options.precision)
    failures = []
    # ``skip``: e.g. the slide open in the app, which the app detects itself
    for entry, path in _work_through(project, lambda e: redo or e.state == "new", skip, progress, cancel):
        try:
            slide = open_slide(path, mpp=entry.mpp)
            try:
                entry.width, entry.height = slide.dimensions
                entry.mpp = entry.mpp or slide.mpp
                run = run_detection(slide, card, options=options, cancel=cancel, predictor=predictor, classifier=classifier)
            finally:
                slide.close()
            if run.cancelled:
                break
            merge_detections(project, entry, card, run.centres, run.scores, run.types, run.confidences, classifier)
        except Exception as exc:  # one slide never stops the project
            failures.append((entry.path, f"{type(exc).__name__}: {exc}"))
        project.save()
    return failures


def draw_masks(project: Project, nuclick_card="nuclick", device: str = "auto", progress: Callable[[int, int, str], None] | None = None,
               cancel: threading.Event | None = None, skip: set[Path] | None = None) -> list[tuple[str, str]]:
    """NuClick masks for every point of every slide that has none yet (the app's "Draw masks:
    all", slide after slide); returns (slide, error) for those that failed."""
    from ..nuclick.card import resolve_nuclick_card
    from ..nuclick.engine import NuClickSegmenter
    from ..slides import open_slide

    segmenter = NuClickSegmenter(resolve_nuclick_card(nuclick_card), device)
    failures = []
    for entry, path in _work_through(project, lambda e: e.nuclei > 0, skip, progress, cancel):
        try:
            store = load_annotations(path)
            ids = np.array([i for i in store.ids().tolist() if i not in store.polygons], np.int64)
            if not len(ids):
                continue
            slide = open_slide(path, mpp=entry.mpp)
            try:
                if slide.mpp is None:
                    raise MppUnknownError(path)
                for batch in segmenter.segment(slide, ids, store.coordinates(ids), cancel=cancel):
                    store.set_polygons({int(i): p for i, p in zip(batch.ids, batch.polygons)})
            finally:
                slide.close()
            if cancel is not None and cancel.is_set():
                break  # a slide half done is not written: its masks are drawn again next time
            save_annotations(path, store)
        except Exception as exc:  # one slide never stops the project
            failures.append((entry.path, f"{type(exc).__name__}: {exc}"))
    return failures


@dataclass
class ProjectExport:
    """What *Export all* / ``wnet export PROJECT`` wrote: the summary, and the slides that failed."""

    summary: Path
    written: int
    failures: list[tuple[str, str]]


SUMMARY_FIELDS = ("slide", "state", "exported", "output", "error", "nuclei", "reviewed_mm2", "reviewed_nuclei", "density_per_mm2")


def export_all(project: Project, out_dir: str | Path, points_as: str = "detections", masks_as: str = "cells",
               progress: Callable[[int, int, str], None] | None = None, cancel: threading.Event | None = None,
               split_sources: bool = False) -> ProjectExport:
    """Every slide's annotations as GeoJSON (one file per slide) plus ``summary.csv``: the
    review state, counts per class, reviewed area and the density of nuclei inside it per mm².
    A slide that cannot be exported gets its error in the summary and no output name; the
    others go on. Exporting is recorded beside the review state, never in its place."""
    from datetime import datetime

    from ..annotations import write_geojson
    from ..annotations.atomic_file import replacing
    from ..annotations.spreadsheet import spreadsheet_safe
    from ..engine.slide_inputs import output_names

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    present = [e for e in project.slides if not project.missing(e)]
    names = output_names([project.absolute(e) for e in present], ".geojson")
    rows, classes = [], set()
    for k, (entry, name) in enumerate(zip(present, names)):
        if cancel is not None and cancel.is_set():
            break
        if progress:
            progress(k, len(present), entry.name)
        row = {"slide": entry.path, "state": entry.state, "exported": "", "output": "", "error": ""}
        try:
            store = load_annotations(project.absolute(entry))
            if not entry.mpp and store.stated_mpp:
                entry.mpp = store.stated_mpp
            write_geojson(store, out_dir / name, points_as=points_as, masks_as=masks_as, split_sources=split_sources)
        except Exception as exc:  # one slide never stops the export; the summary says why
            row["error"] = f"{type(exc).__name__}: {exc}"
            rows.append(row)
            continue
        refresh_entry(project, entry, store)
        entry.exported = datetime.now().isoformat(timespec="seconds")
        reviewed = int(len(store.reviewed_ids()))
        row.update({"exported": entry.exported, "output": name, "nuclei": entry.nuclei, "reviewed_mm2": f"{entry.reviewed_mm2:.4f}",
                    "reviewed_nuclei": reviewed,
                    "density_per_mm2": f"{reviewed / entry.reviewed_mm2:.1f}" if entry.reviewed_mm2 > 0 else ""})
        row.update({f"n_{c}": n for c, n in entry.classes.items()})
        classes.update(entry.classes)
        rows.append(row)
    project.save()
    summary = out_dir / "summary.csv"
    fields = list(SUMMARY_FIELDS) + [f"n_{c}" for c in sorted(classes)]
    for row in rows:
        if not row["error"]:
            row.update({f"n_{c}": row.get(f"n_{c}", 0) for c in classes})
    with replacing(summary) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, restval="")
        writer.writerow({f: spreadsheet_safe(f) for f in fields})  # class names come from files: never formulas
        writer.writerows([{k: spreadsheet_safe(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows])
    if progress:
        progress(len(present), len(present), "")
    failures = [(r["slide"], r["error"]) for r in rows if r["error"]]
    return ProjectExport(summary, len(rows) - len(failures), failures)


__all__ = [
    "ProjectExport",
    "detect_on_cluster",
    "detect_pending",
    "draw_masks",
    "merge_detections",
    "export_all",
    "load_annotations",
    "refresh_entry",
    "reviewed_area_mm2",
    "save_annotations",
]
