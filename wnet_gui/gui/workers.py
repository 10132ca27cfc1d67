"""Model runs off the GUI thread: each worker lives in its own QThread and reports with
signals; cancellation is a threading.Event the engine checks between tiles/batches.

Every result carries the run's token (slide path + run number) so that results landing
after the user opened another slide are dropped, not drawn on the wrong image.
"""

from __future__ import annotations

import threading
import traceback

from PySide6.QtCore import QObject, QThread, Signal, Slot

from typing import TYPE_CHECKING

from ..engine.tiling import Rect
from ..slides import Slide

if TYPE_CHECKING:  # the engine (and torch) load when the first run starts, not with the window
    from ..engine.detect import DetectOptions
    from ..models.card import ModelCard


class DetectionWorker(QObject):
    tileDone = Signal(object, object, object, object, int, int, int, float, object)  # token, tile, centres, scores, done, total, skipped, eta, types
    finished = Signal(object, bool)  # token, cancelled
    failed = Signal(object, str)  # token, message

    def __init__(self, token, slide: Slide, card: ModelCard, region: Rect | None, options: DetectOptions, predictor=None):
        super().__init__()
        self.token, self.slide, self.card, self.region, self.options = token, slide, card, region, options
        self.predictor = predictor  # built on the GUI side so a bad model fails before the run
        self.cancel_event = threading.Event()

    @Slot()
    def run(self) -> None:
        try:
            from ..engine.detect import iter_detections

            for result in iter_detections(self.slide, self.card, self.region, self.options, self.cancel_event, self.predictor):
                self.tileDone.emit(self.token, result.tile, result.centres, result.scores, result.done, result.total, result.skipped, result.eta, result.types)
            self.finished.emit(self.token, self.cancel_event.is_set())
        except Exception as exc:  # reported to the user; the points so far stay
            traceback.print_exc()
            self.failed.emit(self.token, f"{type(exc).__name__}: {exc}")


class NuClickWorker(QObject):
    batchDone = Signal(object, object, object, int, int)  # token, ids, polygons, done, total
    finished = Signal(object, bool)
    failed = Signal(object, str)

    def __init__(self, token, segmenter, slide: Slide, ids, points, all_points):
        super().__init__()
        self.token, self.segmenter, self.slide = token, segmenter, slide
        self.ids, self.points, self.all_points = ids, points, all_points
        self.cancel_event = threading.Event()

    @Slot()
    def run(self) -> None:
        try:
            for batch in self.segmenter.segment(self.slide, self.ids, self.points, self.all_points, cancel=self.cancel_event, batch_size=8):
                self.batchDone.emit(self.token, batch.ids, batch.polygons, batch.done, batch.total)
            self.finished.emit(self.token, self.cancel_event.is_set())
        except Exception as exc:
            traceback.print_exc()
            self.failed.emit(self.token, f"{type(exc).__name__}: {exc}")


class ImportWorker(QObject):
    """Parses a GeoJSON file off the GUI thread (1,000,000 nuclei take seconds); the store
    is only touched back on the GUI thread, in one undoable step."""

    progress = Signal(object, int)  # token, features so far
    finished = Signal(object, object)  # token, ParsedNuclei
    failed = Signal(object, str)

    def __init__(self, token, path):
        super().__init__()
        self.token, self.path = token, path
        self.cancel_event = threading.Event()

    @Slot()
    def run(self) -> None:
        from ..annotations import GeoJSONError
        from ..annotations.geojson import read_geojson

        try:
            parsed = read_geojson(self.path, progress=lambda n: self.progress.emit(self.token, n))
        except GeoJSONError as exc:
            self.failed.emit(self.token, str(exc))
            return
        except Exception as exc:  # never let a file take the app down
            traceback.print_exc()
            self.failed.emit(self.token, f"{type(exc).__name__}: {exc}")
            return
        self.finished.emit(self.token, parsed)


def start_in_thread(worker: QObject, parent: QObject) -> QThread:
    """Move ``worker`` to a new thread, run it, and clean both up when it ends."""
    thread = QThread(parent)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.finished.connect(thread.quit)
    worker.failed.connect(thread.quit)
    thread.finished.connect(worker.deleteLater)
    thread.start()
    return thread


class AdaptWorker(QObject):
    """Fine-tunes a model on the reviewed regions and saves it as a new card (issue 19)."""

    progress = Signal(object, str, float)  # token, stage, fraction
    finished = Signal(object, object)  # token, the saved ModelCard, or None when cancelled
    failed = Signal(object, str)

    def __init__(self, token, base: ModelCard, reviewed, settings, out_dir=None):
        super().__init__()
        self.token, self.base, self.reviewed, self.settings, self.out_dir = token, base, reviewed, settings, out_dir
        self.cancel_event = threading.Event()
        self.result = None

    @Slot()
    def run(self) -> None:
        from ..adaptation import adapt, prepare, save_adapted

        try:
            examples = prepare(self.reviewed, self.base, seed=self.settings.seed)
            result = adapt(self.base, examples, self.settings, lambda stage, f: self.progress.emit(self.token, stage, f), self.cancel_event)
            self.result = result
            if result.cancelled:
                self.finished.emit(self.token, None)
                return
            card = save_adapted(self.base, result, [str(r.slide) for r in self.reviewed], len(examples), self.out_dir)
            self.finished.emit(self.token, card)
        except Exception as exc:  # reported; the current model stays selected
            traceback.print_exc()
            self.failed.emit(self.token, f"{type(exc).__name__}: {exc}")


class TeachWorker(QObject):
    """Reads features at every nucleus of a slide in one detection pass, teaches a classifier
    from the hand-set ones and classes the others (issue 28); the store is changed only back on
    the GUI thread, when the user has seen the counts and the accuracy."""

    finished = Signal(object, object)  # token, (card, classes of the others, confidences)
    failed = Signal(object, str)

    def __init__(self, token, slide: Slide, detector: ModelCard, xy, labelled, names: list[str], colors: dict, options: DetectOptions, name: str):
        super().__init__()
        self.token, self.slide, self.detector, self.xy, self.labelled = token, slide, detector, xy, labelled
        self.names, self.colors, self.options, self.name = names, colors, options, name
        self.cancel_event = threading.Event()

    @Slot()
    def run(self) -> None:
        from ..classify.features import at_points
        from ..classify.teach import from_features

        try:
            features = at_points(self.slide, self.detector, self.xy, self.options, self.cancel_event)
            if self.cancel_event.is_set():
                self.finished.emit(self.token, None)
                return
            card = from_features(features[self.labelled], self.names, self.colors, self.detector, self.name, [self.slide.path.name])
            others = features[~self.labelled]
            classes, confidences = card.classify(others) if len(others) else ([], others[:, 0])
            self.finished.emit(self.token, (card, classes, confidences))
        except ValueError as exc:  # too few labels, no tissue: said plainly
            self.failed.emit(self.token, str(exc))
        except Exception as exc:
            traceback.print_exc()
            self.failed.emit(self.token, f"{type(exc).__name__}: {exc}")
