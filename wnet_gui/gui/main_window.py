"""The main window: menus, the viewer, the side panel, workers, files and autosave.

All model work runs in worker threads (``workers``); the GUI thread only draws and edits
the store through undoable commands.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, QSettings, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QPolygonF, QUndoStack
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QScrollArea

from .. import __version__
from ..annotations import MANUAL, GeoJSONError, NucleusStore, import_geojson, write_geojson
from ..annotations.csv_io import write_csv
from ..engine.detect import DetectOptions
from ..engine.tiling import PolygonRegion, Rect
from ..models.card import ModelCard, ModelError
from ..models.zoo import list_cards
from ..slides import SLIDE_SUFFIXES, Slide, SlideError, open_slide
from .autosave_status import AutosaveStatus
from .commands import DetectionRunCommand, ImportCommand, RemovePointsCommand, SetMasksCommand
from .mouse_bindings import Tool
from .overview import OverviewMap
from .panel import SidePanel
from .view import SlideView
from .workers import DetectionWorker, ImportWorker, NuClickWorker, start_in_thread


def resource_path(relative: str) -> Path | None:
    """A file of resources/ in a checkout, or of the copy packed into a wheel or app bundle."""
    here = Path(__file__).resolve()
    for root in (here.parents[2] / "resources", here.parents[1] / "_data" / "resources"):
        if (root / relative).exists():
            return root / relative
    return None


def sample_path() -> Path:
    samples = resource_path("samples")
    tiles = sorted(samples.glob("*.tif")) if samples else []
    if not tiles:
        raise FileNotFoundError("no bundled sample tile found")
    return tiles[0]


class MainWindow(QMainWindow):
    detectionFinished = Signal(bool)  # cancelled
    masksFinished = Signal(bool)
    errorShown = Signal(str)
    exportFinished = Signal(str, str)  # path, error ('' when written)
    importFinished = Signal(bool)  # imported
    _exportDone = Signal(str, str, int, int)  # from the export thread: path, error, revision, count

    def __init__(self):
        super().__init__()
        self.setWindowTitle("W-Net Annotator")
        self.resize(1400, 900)
        self.setAcceptDrops(True)
        self.settings = QSettings("wnet-annotator", "wnet-annotator")
        self.store = NucleusStore()
        self.undo = QUndoStack(self)
        self.slide: Slide | None = None
        self.exported_revision = 0
        self.run_token = 0
        self._worker = None
        self._thread: QThread | None = None
        self._run_state: dict = {}
        self._segmenter = None
        self.last_error = ""
        self._last_import_ok = False

        self.view = SlideView(self.store, self.undo, self)
        self.setCentralWidget(self.view)
        self.panel = SidePanel()
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        dock = QDockWidget("Annotate", self)
        dock.setObjectName("panelDock")
        dock.setWidget(scroll)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.overview = OverviewMap(self.view)
        self.overview_dock = QDockWidget("Overview", self)
        self.overview_dock.setObjectName("overviewDock")
        self.overview_dock.setWidget(self.overview)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.overview_dock)
        self.splitDockWidget(self.overview_dock, dock, Qt.Orientation.Vertical)
        self.zoom_label, self.mpp_label, self.pos_label = QLabel(), QLabel(), QLabel()
        for label in (self.pos_label, self.zoom_label, self.mpp_label):
            self.statusBar().addPermanentWidget(label)

        self._build_actions()
        self.reload_models()
        self.panel.detectRequested.connect(self.auto_detect)
        self.panel.cancelRequested.connect(self.cancel_run)
        self.panel.masksRequested.connect(self.draw_masks)
        self.panel.addModelRequested.connect(self.add_model_file)
        self.panel.styleChanged.connect(self._apply_style)
        self.view.viewChanged.connect(self._schedule_counts)
        self.view.selection.changed.connect(self._schedule_counts)
        self.store.listeners.append(lambda *_: self._schedule_counts())
        self.store.listeners.append(self._queue_remask)
        self._remask_pending: set[int] = set()
        self._remask_timer = QTimer(self, singleShot=True, interval=300)
        self._remask_timer.timeout.connect(self._remask)
        self._counts_timer = QTimer(self, singleShot=True, interval=100)
        self._counts_timer.timeout.connect(self.update_counts)
        self.autosave_status = AutosaveStatus(self.statusBar(), self)
        self.view.tools.set_tool(Tool.PAN)
        self._exportDone.connect(self._on_export_done)

    # ------------------------------------------------------------------ actions and menus
    def _action(self, text: str, slot, shortcut=None, checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self._action("&Open slide…", self.open_dialog, QKeySequence.StandardKey.Open))
        file_menu.addAction(self._action("Open &sample", lambda: self.open_slide(sample_path())))
        self.recent_menu = file_menu.addMenu("Open &recent")
        self._refresh_recent()
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Import GeoJSON…", self.import_dialog, "Ctrl+I"))
        file_menu.addAction(self._action("&Export GeoJSON (detections)…", lambda: self.export_dialog("detection"), "Ctrl+E"))
        file_menu.addAction(self._action("Export GeoJSON (annotations)…", lambda: self.export_dialog("annotation")))
        file_menu.addAction(self._action("Export &CSV…", self.export_csv_dialog))
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", self.close, QKeySequence.StandardKey.Quit))

        edit = menu.addMenu("&Edit")
        undo_action = self.undo.createUndoAction(self, "&Undo")
        undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        redo_action = self.undo.createRedoAction(self, "&Redo")
        redo_action.setShortcut(QKeySequence.StandardKey.Redo)
        edit.addAction(undo_action)
        edit.addAction(redo_action)
        edit.addSeparator()
        edit.addAction(self._action("Select &all points", lambda: self.view.selection.set(self.store.ids()), QKeySequence.StandardKey.SelectAll))
        edit.addAction(self._action("Select points in &view", lambda: self.view.selection.set(self.view.ids_in_view())))
        edit.addAction(self._action("Clear selection", self.view.selection.clear, "Ctrl+Shift+A"))
        edit.addAction(self._action("&Delete selected points", self.delete_selected, QKeySequence.StandardKey.Delete))

        view_menu = menu.addMenu("&View")
        view_menu.addAction(self._action("&Fit slide", self.view.fit, "F"))
        view_menu.addAction(self._action("&1:1 pixels", self.view.one_to_one, "1"))
        view_menu.addAction(self._action("Zoom &in", lambda: self.view.scale_by(1.5), QKeySequence.StandardKey.ZoomIn))
        view_menu.addAction(self._action("Zoom &out", lambda: self.view.scale_by(1 / 1.5), QKeySequence.StandardKey.ZoomOut))
        view_menu.addSeparator()
        view_menu.addAction(self.overview_dock.toggleViewAction())

        tools_menu = menu.addMenu("&Tools")
        toolbar = self.addToolBar("Tools")
        toolbar.setObjectName("toolsToolbar")
        group = QActionGroup(self)
        self.tool_actions: dict[Tool, QAction] = {}
        for tool, text, key in ((Tool.PAN, "Pan", "P"), (Tool.ADD, "Add points", "A"), (Tool.SELECT, "Select points", "S"),
                                (Tool.DELETE, "Delete points", "D"),
                                (Tool.MOVE, "Move points", "M"), (Tool.ROI, "Draw region", "R")):
            action = self._action(text, lambda checked=False, t=tool: self.view.tools.set_tool(t), key, checkable=True)
            action.setToolTip(f"{text} ({key})")
            group.addAction(action)
            tools_menu.addAction(action)
            toolbar.addAction(action)
            self.tool_actions[tool] = action
        self.tool_actions[Tool.PAN].setChecked(True)
        toolbar.addSeparator()
        toolbar.addAction(self._action("Fit", self.view.fit))
        toolbar.addAction(self._action("1:1", self.view.one_to_one))
        toolbar.addSeparator()
        self.detect_action = self._action("Auto-detect nuclei", self.auto_detect, "Ctrl+D")
        toolbar.addAction(self.detect_action)

        analysis = menu.addMenu("&Analysis")
        analysis.addAction(self.detect_action)
        analysis.addAction(self._action("Draw masks for all points", lambda: self.draw_masks("all"), "Ctrl+M"))
        analysis.addAction(self._action("Draw masks for points in view", lambda: self.draw_masks("view")))
        analysis.addAction(self._action("Draw masks for selected points", lambda: self.draw_masks("selected"), "Ctrl+Shift+M"))
        analysis.addAction(self._action("Cancel run", self.cancel_run, "Esc"))

        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self._action("&About", self.about))

    # ------------------------------------------------------------------ models
    def reload_models(self, current: str | None = None) -> None:
        cards = list_cards()
        extra = self.settings.value("extra_models", [], type=list) or []
        for path in extra:
            try:
                cards.append(ModelCard.load(path))
            except ModelError:
                continue
        self.panel.set_cards(cards, current or self.settings.value("model", "fast"))
        self.panel.model_combo.currentIndexChanged.connect(self._model_changed)
        self._model_changed()

    def _model_changed(self) -> None:
        card = self.panel.current_card()
        if card is None:
            self.panel.model_info.setText("No model found: add a model card (JSON).")
            return
        self.settings.setValue("model", card.name)
        v = card.training.get("validation", {})
        lines = [f"<b>{card.title}</b> — {card.architecture.kind.upper()}, {card.mpp:g} µm/px"]
        for key, dataset in (("monuseg_test", "MoNuSeg test"), ("crchisto_test", "CRCHisto test")):
            for label, m in card.metrics.get(key, {}).items():
                lines.append(f"{dataset} {label}: P {m['precision']:.2f} R {m['recall']:.2f} F1 {m['f1']:.2f}")
        if not card.metrics and v:
            lines.append(f"validation F1 {v.get('f1', 0):.2f} @3 µm")
        if card.throughput:
            lines.append(f"{card.throughput.get('mpx40_per_s')} Mpx/s of 40× tissue on CPU ({card.throughput.get('threads')} threads)")
        self.panel.model_info.setText("<br>".join(lines))

    def add_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add model card", "", "Model card (*.json)")
        if not path:
            return
        try:
            card = ModelCard.load(path)
            card.load_model()  # verify sha256 and architecture now, not mid-run
        except ModelError as exc:
            self.error("Model not added", str(exc))
            return
        except Exception as exc:  # whatever a hostile card provokes, it stays a message
            self.error("Model not added", f"{path}: {type(exc).__name__}: {str(exc)[:300]}")
            return
        extra = self.settings.value("extra_models", [], type=list) or []
        if path not in extra:
            self.settings.setValue("extra_models", extra + [path])
        self.reload_models(card.name)

    # ------------------------------------------------------------------ slides
    def open_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(SLIDE_SUFFIXES))
        path, _ = QFileDialog.getOpenFileName(self, "Open slide", self.settings.value("last_dir", ""), f"Slides and images ({patterns});;All files (*)")
        if path:
            self.open_slide(path)

    @property
    def autosaver(self):
        return self.autosave_status.saver

    def open_slide(self, path: str | os.PathLike, mpp: float | None = None) -> bool:
        """Open a slide. Everything that can fail happens before anything is swapped: a file
        that cannot be opened leaves the current slide, its points and its undo history as
        they were."""
        path = Path(path)
        if not self._confirm_discard():
            return False
        try:
            slide = open_slide(path, mpp=mpp)
        except SlideError as exc:
            self.error("Cannot open slide", str(exc))
            return False
        except Exception as exc:  # a reader's own failure (MemoryError, a codec's error): still only a message
            self.error("Cannot open slide", f"Cannot read slide '{path}': {type(exc).__name__}: {exc}")
            return False
        try:
            slide.get_thumbnail(2048)  # the viewer's first need; cached on the slide
        except Exception as exc:
            slide.close()
            self.error("Cannot open slide", f"Cannot read slide '{path}': {type(exc).__name__}: {exc}")
            return False
        self.cancel_run()
        self.autosave_status.detach()  # saves the current slide and releases it
        self.run_token += 1  # results of runs on the previous slide are now ignored
        if self.slide is not None:
            self.slide.close()
        self.slide = slide
        self.undo.clear()
        self.store.clear()
        self.store.polygons.clear()
        # the app's own files (the bundled sample) never get autosaves written beside them
        resources = resource_path("")
        bundled = resources is not None and resources.resolve() in path.resolve().parents
        report = self.autosave_status.attach(path, self.store, beside=not bundled)
        self.exported_revision = self.store.revision
        self.view.set_slide(slide)
        self.setWindowTitle(f"{path.name}{' (read-only: open in another window)' if self.autosaver.read_only else ''} — W-Net Annotator")
        self.settings.setValue("last_dir", str(path.parent))
        self._add_recent(path)
        w, h = slide.dimensions
        mpp_text = f"{slide.mpp:.3f} µm/px" if slide.mpp else "µm/px unknown"
        self.mpp_label.setText(f"{w}×{h} px, {slide.level_count} level(s), {mpp_text}")
        self.panel.progress_label.setText("")
        if report.restored is not None:
            self.statusBar().showMessage(f"Restored {len(self.store)} nuclei from autosave {report.restored.name}", 8000)
        if report.unreadable:
            kept = "\n".join(f"• {p.name}: {why}" for p, why in report.unreadable)
            restored = f"Restored the newest readable one ({report.restored.name})." if report.restored else "None could be read, so the slide opens without points."
            self.error("Autosave could not be read", f"{len(report.unreadable)} autosave(s) of {path.name} could not be read and were kept aside:\n{kept}\n\n{restored}")
        if self.autosaver.read_only:
            self.error("Slide open in another window", f"{self.autosaver.error}.\n\nEdits here are not autosaved; export them to keep them.")
        self.update_counts()
        return True

    def _add_recent(self, path: Path) -> None:
        recent = [str(path)] + [p for p in (self.settings.value("recent", [], type=list) or []) if p != str(path)]
        self.settings.setValue("recent", recent[:10])
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.settings.value("recent", [], type=list) or []:
            self.recent_menu.addAction(p, lambda checked=False, p=p: self.open_slide(p))

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            if path.name.endswith((".geojson", ".json", ".geojson.gz")):
                self.import_geojson(path)
            else:
                self.open_slide(path)
            break

    # ------------------------------------------------------------------ detection
    def _region(self) -> Rect | PolygonRegion | None:
        if self.slide is None:
            return None
        mode = self.panel.region_combo.currentData()
        if mode == "roi" and isinstance(self.view.roi, QPolygonF):
            return PolygonRegion.from_array([(p.x(), p.y()) for p in self.view.roi])
        if mode == "roi" and self.view.roi is not None:
            r = self.view.roi
        elif mode == "slide":
            return None
        else:
            r = self.view.visible_scene_rect()
        w, h = self.slide.dimensions
        r = r.intersected(QRectF(0, 0, w, h))
        return Rect(r.left(), r.top(), r.width(), r.height()) if not r.isEmpty() else None

    def _ask_mpp(self) -> float | None:
        from PySide6.QtWidgets import QInputDialog

        value, ok = QInputDialog.getDouble(self, "Microns per pixel", f"{self.slide.path.name} does not state its scale.\n"
                                           "Microns per pixel (0.25 for 40×, 0.5 for 20×):", 0.25, 0.05, 10.0, 3)
        return value if ok else None

    def _ensure_mpp(self) -> bool:
        """The slide's scale, asked of the user when the file does not state it."""
        if self.slide.mpp is None:
            mpp = self._ask_mpp()
            if mpp is None:
                return False
            self.slide.mpp = mpp
        return True

    def auto_detect(self) -> None:
        if self.slide is None:
            self.error("No slide", "Open a slide or File › Open sample first.")
            return
        if self._thread is not None:
            return
        card = self.panel.current_card()
        if card is None:
            self.error("No model", "No detection model is available: add a model card.")
            return
        if not self._ensure_mpp():
            return
        region = self._region()
        try:
            from ..engine.device import select_device
            from ..engine.predict import DensityPredictor

            predictor = DensityPredictor.from_card(card, select_device(self.panel.device_combo.currentData()))
        except (ModelError, ValueError) as exc:
            self.error("Model cannot be used", str(exc))
            return
        # model points already in the region are replaced; manual edits stay
        w, h = self.slide.dimensions
        if isinstance(region, PolygonRegion):
            in_region = self.store.query_polygon(np.array(region.vertices))
        else:
            r = region or Rect(0, 0, w, h)
            in_region = self.store.query_rect(r.x, r.y, r.x1, r.y1)
        replaced = in_region[self.store.source_of(in_region) != MANUAL] if len(in_region) else in_region
        self.store.remove(replaced)
        self.run_token += 1
        token = self.run_token
        self._run_state = {"token": token, "replaced": replaced, "added": [], "card": card, "start": time.monotonic()}
        options = DetectOptions(device=self.panel.device_combo.currentData(), threads=max(1, (os.cpu_count() or 2) - 1))
        worker = DetectionWorker(token, self.slide, card, region, options, predictor)
        worker.tileDone.connect(self._on_tile)
        self._start_worker(worker, self._on_detection_finished, f"Detecting with {card.title}…")

    def _start_worker(self, worker, on_finished, label: str) -> None:
        """Run a worker in its own thread; the panel shows progress until it ends."""
        worker.finished.connect(on_finished)
        worker.failed.connect(self._on_failed)
        self._worker = worker
        self.panel.set_running(True)
        self.panel.progress_label.setText(label)
        self._thread = start_in_thread(worker, self)

    def _on_tile(self, token, centres, scores, done, total, eta) -> None:
        if token != self._run_state.get("token"):
            return
        if len(centres):
            ids = self.store.add_many(centres[:, 0], centres[:, 1], source=self._run_state["card"].name, scores=scores)
            self._run_state["added"].append(ids)
        self.panel.progress.setMaximum(total)
        self.panel.progress.setValue(done)
        eta_text = f", {eta:.0f} s left" if np.isfinite(eta) else ""
        self.panel.progress_label.setText(f"{done}/{total} tiles{eta_text}")

    def _finish_run(self) -> None:
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait(5000)
        self._thread = None
        self._worker = None
        self.panel.set_running(False)

    def _on_detection_finished(self, token, cancelled: bool) -> None:
        if token != self._run_state.get("token"):
            return
        state = self._run_state
        added = np.concatenate(state["added"]) if state["added"] else np.zeros(0, np.int64)
        label = f"Auto-detect ({state['card'].title}): {len(added)} nuclei" + (" (cancelled)" if cancelled else "")
        self.undo.push(DetectionRunCommand(self.store, state["replaced"], added, label))
        self._finish_run()
        seconds = time.monotonic() - state["start"]
        self.panel.progress_label.setText(f"{len(added)} nuclei in {seconds:.1f} s" + (" — cancelled, points so far kept" if cancelled else ""))
        self.detectionFinished.emit(cancelled)

    def _on_failed(self, token, message: str) -> None:
        if token != self._run_state.get("token"):
            return
        state = self._run_state
        added = np.concatenate(state["added"]) if state.get("added") else np.zeros(0, np.int64)
        if "replaced" in state:
            self.undo.push(DetectionRunCommand(self.store, state["replaced"], added, "Auto-detect (stopped by an error)"))
        self._finish_run()
        self.error("Run stopped", f"{message}\n\nPoints found so far are kept.")
        self.detectionFinished.emit(True)
        self.masksFinished.emit(True)

    def cancel_run(self) -> None:
        if self._worker is not None:
            self._worker.cancel_event.set()

    # ------------------------------------------------------------------ NuClick
    def _nuclick(self):
        if self._segmenter is None:
            from ..nuclick.card import resolve_nuclick_card
            from ..nuclick.engine import NuClickSegmenter

            self._segmenter = NuClickSegmenter(resolve_nuclick_card(), self.panel.device_combo.currentData())
        return self._segmenter

    def draw_masks(self, which: str = "all", ids: np.ndarray | None = None, undoable: bool = True) -> None:
        if self.slide is None or self._thread is not None:
            return
        if ids is None:
            ids = {"view": self.view.ids_in_view, "selected": self.view.selection.ids}.get(which, self.store.ids)()
        if len(ids) == 0:
            hint = " (select some with the Select tool, S)" if which == "selected" else ""
            self.statusBar().showMessage(f"No points to draw masks for{hint}", 4000)
            return
        if not self._ensure_mpp():
            return
        try:
            segmenter = self._nuclick()
        except (ModelError, ValueError) as exc:
            self.error("NuClick unavailable", str(exc))
            return
        self.run_token += 1
        token = self.run_token
        before = {int(i): self.store.polygons.get(int(i)) for i in ids}
        self._run_state = {"token": token, "before": before, "after": {}, "start": time.monotonic(), "undoable": undoable}
        worker = NuClickWorker(token, segmenter, self.slide, ids, self.store.coordinates(ids), self.store.coordinates())
        worker.batchDone.connect(self._on_masks)
        self._start_worker(worker, self._on_masks_finished, f"NuClick on {len(ids)} points…")

    def delete_selected(self) -> None:
        ids = self.view.selection.ids()
        if len(ids):
            self.undo.push(RemovePointsCommand(self.store, ids, text=f"Delete {len(ids)} selected points"))

    def _queue_remask(self, what: str, ids: np.ndarray) -> None:
        """A hand-edited point whose neighbours have masks gets its own mask redrawn
        (only that one): masks follow points without the user asking."""
        if what not in ("move", "add") or not self.store.polygons or len(ids) > 50 or self._segmenter is None:
            return
        ids = [int(i) for i in ids if int(i) in self.store and int(i) not in self.store.polygons]
        if what == "add":
            ids = [i for i in ids if self.store.get(i).source == MANUAL]
        if ids:
            self._remask_pending.update(ids)
            self._remask_timer.start()

    def _remask(self) -> None:
        if self._thread is not None:  # busy: try again shortly
            self._remask_timer.start()
            return
        # an undo may have put the old outline back meanwhile: only outline-less points
        ids = np.array(sorted(i for i in self._remask_pending if i in self.store and i not in self.store.polygons), np.int64)
        self._remask_pending.clear()
        if len(ids):
            self.draw_masks(ids=ids, undoable=False)

    def _on_masks(self, token, ids, polygons, done, total) -> None:
        if token != self._run_state.get("token"):
            return
        update = {int(i): p for i, p in zip(ids, polygons) if int(i) in self.store}
        self.store.set_polygons(update)
        self._run_state["after"].update(update)
        self.panel.progress.setMaximum(total)
        self.panel.progress.setValue(done)
        self.panel.progress_label.setText(f"{done}/{total} masks")

    def _on_masks_finished(self, token, cancelled: bool) -> None:
        if token != self._run_state.get("token"):
            return
        state = self._run_state
        if state["undoable"]:  # a redraw that follows an edit is part of that edit, not a step
            self.undo.push(SetMasksCommand(self.store, {i: state["before"][i] for i in state["after"]}, state["after"]))
        self._finish_run()
        n = sum(p is not None for p in state["after"].values())
        self.panel.progress_label.setText(f"{n} masks in {time.monotonic() - state['start']:.1f} s" + (" (cancelled)" if cancelled else ""))
        self.masksFinished.emit(cancelled)

    # ------------------------------------------------------------------ files
    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import GeoJSON", self.settings.value("last_dir", ""), "GeoJSON (*.geojson *.json *.geojson.gz)")
        if path:
            self.import_geojson(path)

    def import_geojson(self, path, wait: bool = False) -> bool:
        """Parse ``path`` on a worker thread (a million nuclei take seconds), then add what it
        holds in one undoable step. With ``wait`` the call returns when it is done."""
        if self._thread is not None:
            self.statusBar().showMessage("Wait for the current run to finish (or cancel it) before importing", 5000)
            return False
        self.run_token += 1
        token = self.run_token
        self._run_state = {"token": token, "path": Path(path)}
        worker = ImportWorker(token, str(path))
        worker.progress.connect(lambda t, n: t == self._run_state.get("token") and self.panel.progress_label.setText(f"Reading {Path(path).name}: {n:,} features…"))
        worker.finished.connect(self._on_imported)
        worker.failed.connect(self._on_import_failed)
        self._worker = worker
        self.panel.set_running(True)
        self.panel.progress_label.setText(f"Reading {Path(path).name}…")
        self._thread = start_in_thread(worker, self)
        if wait:
            from PySide6.QtCore import QEventLoop

            loop = QEventLoop()
            self.importFinished.connect(loop.quit)
            if self._thread is not None:
                loop.exec()
            return self._last_import_ok
        return True

    def _on_import_failed(self, token, message: str) -> None:
        if token != self._run_state.get("token"):
            return
        self._finish_run()
        self.panel.progress_label.setText("")
        self._last_import_ok = False
        self.error("Cannot import GeoJSON", f"{message}\n\nNothing was changed.")
        self.importFinished.emit(False)

    def _on_imported(self, token, parsed) -> None:
        if token != self._run_state.get("token"):
            return
        from ..annotations.geojson import add_parsed

        path = self._run_state["path"]
        self._finish_run()
        self.panel.progress_label.setText("")
        self._last_import_ok = False
        if self.slide is not None and len(parsed) and not self._import_fits_slide(parsed, path):
            self.statusBar().showMessage(f"Import of {path.name} cancelled", 5000)
            self.importFinished.emit(False)
            return
        ids = add_parsed(self.store, parsed)
        self.undo.push(ImportCommand(self.store, ids, f"Import {len(ids)} nuclei"))
        self.statusBar().showMessage(f"Imported {len(ids):,} nuclei from {path.name}", 5000)
        self._last_import_ok = True
        self.importFinished.emit(True)

    def _import_fits_slide(self, parsed, path: Path) -> bool:
        """Points far outside the slide mean another slide's file: ask before importing."""
        w, h = self.slide.dimensions
        xs, ys = np.asarray(parsed.xs), np.asarray(parsed.ys)
        outside = int(((xs < -0.05 * w) | (ys < -0.05 * h) | (xs > 1.05 * w) | (ys > 1.05 * h)).sum())
        if outside == 0:
            return True
        text = (f"{outside:,} of {len(xs):,} nuclei in {path.name} lie outside {self.slide.path.name} ({w}×{h} px; the file reaches "
                f"x {xs.max():,.0f}, y {ys.max():,.0f}). It may belong to another slide.\n\nImport anyway?")
        if os.environ.get("WNET_NO_PROMPT"):
            self.error("Import outside the slide", text + "\n(Not imported: no one to ask.)")
            return False
        answer = QMessageBox.question(self, "Import outside the slide", text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def export_dialog(self, object_type: str = "detection") -> None:
        default = str(self.slide.path.with_suffix(".geojson")) if self.slide else ""
        path, _ = QFileDialog.getSaveFileName(self, "Export GeoJSON", default, "GeoJSON (*.geojson)")
        if path:
            self.export_geojson(path, object_type, background=True)

    def export_geojson(self, path, object_type: str = "detection", background: bool = False) -> bool:
        """Write a copy of the annotations as GeoJSON. With ``background`` the copy (taken
        here in milliseconds) is serialised on a thread — 100,000 nuclei take seconds — and
        ``exportFinished`` reports the outcome; otherwise it returns whether it worked."""
        snapshot = self.store.snapshot()

        def write() -> str:
            try:
                write_geojson(snapshot, path, object_type=object_type)
                return ""
            except OSError as exc:
                return f"Cannot write {path}: {exc}"

        if background:
            self.statusBar().showMessage(f"Exporting {len(snapshot):,} nuclei to {Path(path).name}…")
            threading.Thread(target=lambda: self._exportDone.emit(str(path), write(), snapshot.revision, len(snapshot)),
                             daemon=True, name="export").start()
            return True
        error = write()
        self._on_export_done(str(path), error, snapshot.revision, len(snapshot))
        return not error

    def _on_export_done(self, path: str, error: str, revision: int, count: int) -> None:
        if error:
            self.error("Export failed", error)
        else:
            self.exported_revision = revision
            self.statusBar().showMessage(f"Exported {count:,} nuclei to {Path(path).name}", 5000)
        self.exportFinished.emit(path, error)

    def export_csv_dialog(self) -> None:
        default = str(self.slide.path.with_suffix(".csv")) if self.slide else ""
        path, _ = QFileDialog.getSaveFileName(self, "Export CSV", default, "CSV (*.csv)")
        if path:
            try:
                write_csv(self.store, path)
            except OSError as exc:
                self.error("Export failed", f"Cannot write {path}: {exc}")

    def autosave(self, wait: bool = True) -> None:
        """Save now (leaving a slide, closing); the timer passes ``wait=False`` so the
        snapshot is serialised off the GUI thread."""
        self.autosave_status.save(wait)

    def _confirm_discard(self) -> bool:
        """Ask before leaving unexported edits, saying truthfully whether they are autosaved
        (a save is tried first, so the answer is about now)."""
        if self.slide is None or self.store.revision == self.exported_revision:
            return True
        self.autosave(wait=True)
        if os.environ.get("WNET_NO_PROMPT"):
            return True
        answer = QMessageBox.question(
            self, "Unsaved annotations", self.autosave_status.leave_prompt(self.slide.path.name),
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Cancel:
            return False
        if answer == QMessageBox.StandardButton.Save:
            path, _ = QFileDialog.getSaveFileName(self, "Export GeoJSON", str(self.slide.path.with_suffix(".geojson")), "GeoJSON (*.geojson)")
            return bool(path) and self.export_geojson(path)
        return True

    def closeEvent(self, event) -> None:
        if not self._confirm_discard():
            event.ignore()
            return
        self.cancel_run()
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait(10000)
        self.autosave_status.detach()
        event.accept()

    # ------------------------------------------------------------------ messages
    def error(self, title: str, text: str) -> None:
        """Tell the user; in scripted runs (WNET_NO_PROMPT) print instead of a modal dialog."""
        self.last_error = f"{title}: {text}"
        if os.environ.get("WNET_NO_PROMPT"):
            print(f"wnet-gui: {self.last_error}", file=sys.stderr)
            self.errorShown.emit(self.last_error)
            return
        self.errorShown.emit(self.last_error)
        QMessageBox.critical(self, title, text)

    # ------------------------------------------------------------------ display
    def _apply_style(self) -> None:
        style = self.view.style
        style.size = float(self.panel.size_slider.value())
        style.show_points = self.panel.show_points.isChecked()
        style.show_masks = self.panel.show_masks.isChecked()
        style.model_color = self.panel.model_color
        style.manual_color = self.panel.manual_color
        self.view.viewport().update()

    def _schedule_counts(self) -> None:
        if not self._counts_timer.isActive():
            self._counts_timer.start()

    def update_counts(self) -> None:
        counts = self.store.count_by_source()
        self.panel.total_label.setText(f"{len(self.store):,}")
        self.panel.manual_label.setText(f"{counts.get(MANUAL, 0):,}")
        self.panel.view_label.setText(f"{len(self.view.ids_in_view()):,}" if self.slide else "0")
        alive_masks = sum(1 for i in self.store.polygons if i in self.store) if len(self.store.polygons) < 200000 else len(self.store.polygons)
        self.panel.mask_label.setText(f"{alive_masks:,}")
        self.panel.selected_label.setText(f"{len(self.view.selection):,}")
        if self.slide is not None:
            mag = self.view.scale
            self.zoom_label.setText(f"zoom {mag * 100:.0f} %" + (f" ({mag * 40 * 0.25 / self.slide.mpp:.1f}×)" if self.slide.mpp else ""))

    def about(self) -> None:
        QMessageBox.about(self, "W-Net Annotator", f"W-Net Annotator {__version__}\n\nNucleus centres by W-Net (Mao et al.), masks by "
                          "NuClick (Koohbanani et al.), GeoJSON for QuPath.\nBundled weights are trained on MoNuSeg (CC BY-NC-SA 4.0).")
