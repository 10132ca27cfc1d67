"""The main window assembles the features — viewer, panel, runs (detection, masks), files,
model picker, autosave — and owns what they share: the slide, the store and the undo stack.

All model work runs in worker threads; the GUI thread only draws and edits the store
through undoable commands. Each feature lives in its own module; this one opens slides,
closes, and keeps the counts and status bar current.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QPolygonF, QUndoStack
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QScrollArea

from .. import __version__
from ..annotations import MANUAL, NucleusStore
from ..settings import opens_as_project, packaged
from ..slides import SLIDE_SUFFIXES, Slide, SlideError, open_slide
from .autosave_status import AutosaveStatus
from .commands import RemovePointsCommand
from .detection_runs import DetectionRuns
from .file_actions import FileActions
from .gc_guard import collect_on_gui_thread
from .mask_runs import MaskRuns
from .menus import build_menus, image_dialog
from .model_picker import ModelPicker
from .mouse_bindings import Tool
from .overview import OverviewMap
from .panel import SidePanel
from .classes import ClassTools
from .context import FeatureContext
from .teach import TeachTools
from .region_list import RegionList
from .project_panel import ProjectPanel
from .review import ReviewRegions
from .adaptation import AdaptationTools, review_dock
from .runs import RunSlot
from .scale import ScaleTools
from .view import SlideView
from .warmup import EngineWarmUp


def resource_path(relative: str) -> Path | None:
    """A file of resources/ in a checkout, or of the copy packed into a wheel or app bundle."""
    root = packaged("resources")
    return root / relative if root is not None and (root / relative).exists() else None


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

    def __init__(self):
        super().__init__()
        collect_on_gui_thread()  # never let a worker thread's allocation destroy Qt objects
        self.setWindowTitle("W-Net Annotator")
        self.resize(1400, 900)
        self.setAcceptDrops(True)
        self.settings = QSettings("wnet-annotator", "wnet-annotator")
        self.store = NucleusStore()
        self.undo = QUndoStack(self)
        self.last_error = ""

        self.view = SlideView(self.store, self.undo, self)
        self.setCentralWidget(self.view)
        self.panel = SidePanel()
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # the panel wraps instead
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
        self.resizeDocks([self.overview_dock, dock], [170, 730], Qt.Orientation.Vertical)
        # wide enough for the panel's own layout (it wraps text, but buttons and sliders have a
        # minimum): without a horizontal scroll bar a narrower dock would cut them off
        scroll.setMinimumWidth(self.panel.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 4)
        self.resizeDocks([dock], [max(360, scroll.minimumWidth())], Qt.Orientation.Horizontal)
        self.zoom_label, self.mpp_label, self.pos_label = QLabel(), QLabel(), QLabel()
        self.pos_label.setMinimumWidth(230)
        for label in (self.pos_label, self.zoom_label, self.mpp_label):
            self.statusBar().addPermanentWidget(label)

        # the features: each gets the shared context and, by name, the features it works with
        self.runs = RunSlot(self.panel, self)
        ctx = self.context = FeatureContext(self, self.store, self.undo, self.view, self.panel, self.settings, self.runs, self.error)
        self.scale = ScaleTools(ctx)
        self.regions = RegionList(ctx)
        self.classes = ClassTools(ctx)
        self.review = ReviewRegions(ctx)
        self.detection = DetectionRuns(ctx, self.regions, self.scale, self.classes)
        self.masks = MaskRuns(ctx, self.scale)
        self.files = FileActions(ctx, self.open_slide, self.regions, self.review, self.classes)
        self.models = ModelPicker(ctx, self.files)
        self.adaptation = AdaptationTools(ctx, self.review, self.models, self.detection)
        self.project = ProjectPanel(ctx, self.open_slide, self.files, self.scale, self.detection, self.masks, self.autosave)
        self.teach = TeachTools(ctx, self.classes, self.scale, self.project)
        self.autosave_status = AutosaveStatus(self.statusBar(), self)
        self._place_docks()
        self.scale.shown.connect(self.show_scale)
        self.regions.picked.connect(self.update_counts)
        self.project.shown.connect(self._make_room_for_project)
        self.detection.finished.connect(self.detectionFinished)
        self.masks.finished.connect(self.masksFinished)
        self.files.importFinished.connect(self.importFinished)
        self.files.exportFinished.connect(self.exportFinished)

        build_menus(self)
        self.panel.image_button.clicked.connect(lambda: image_dialog(self).show())
        self.models.reload()
        self.panel.detectRequested.connect(self.auto_detect)
        self.panel.cancelRequested.connect(self.cancel_run)
        self.panel.masksRequested.connect(self.draw_masks)
        self.panel.styleChanged.connect(self._apply_style)
        self.view.viewChanged.connect(self._schedule_counts)
        self.view.selection.changed.connect(self._schedule_counts)
        self.view.roiChanged.connect(self._region_drawn)
        self.view.cursorMoved.connect(self._show_cursor)
        self.store.listeners.append(lambda *_: self._schedule_counts())
        self.undo.indexChanged.connect(self._clear_stale_status)
        self._counts_timer = QTimer(self, singleShot=True, interval=100)
        self._counts_timer.timeout.connect(self.update_counts)
        self.view.tools.set_tool(Tool.PAN)
        self.warm_up = EngineWarmUp(self)
        self.warm_up.ready.connect(self.panel.add_devices)

    def _place_docks(self) -> None:
        """Classes and Review & adapt as tabs on the left; the Project dock above them once a
        project is opened. The review dock joins the tab group only after the split (a tab group
        split afterwards left a second, stale tab bar drawn over the docks)."""
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        self.review_dock = review_dock(self, self.review, self.adaptation)
        for dock in (self.classes.dock, self.review_dock, self.project.dock):
            self.addDockWidget(left, dock)
        self.splitDockWidget(self.project.dock, self.classes.dock, Qt.Orientation.Vertical)
        self.tabifyDockWidget(self.classes.dock, self.review_dock)
        self.review_dock.show()
        self.classes.dock.raise_()
        self.project.dock.hide()

    def _make_room_for_project(self) -> None:
        dock = self.project.dock
        self.resizeDocks([dock], [max(560, dock.width())], Qt.Orientation.Horizontal)  # every column in sight at 1400×900
        self.resizeDocks([dock, self.classes.dock], [440, 420], Qt.Orientation.Vertical)

    # ------------------------------------------------------------------ shared state, kept in the context
    @property
    def slide(self) -> Slide | None:
        return self.context.slide

    @slide.setter
    def slide(self, slide: Slide | None) -> None:
        self.context.slide = slide

    @property
    def closing(self) -> bool:
        return self.context.closing

    @property
    def exported_revision(self) -> int:
        return self.context.exported_revision

    @exported_revision.setter
    def exported_revision(self, revision: int) -> None:
        self.context.exported_revision = revision

    # ------------------------------------------------------------------ what tests and scripts call
    @property
    def autosaver(self):
        return self.autosave_status.saver

    @property
    def _thread(self):
        return self.runs.thread

    def auto_detect(self) -> None:
        self.detection.start()

    def draw_masks(self, which: str = "all", ids: np.ndarray | None = None, undoable: bool = True) -> None:
        self.masks.start(which, ids, undoable)

    def cancel_run(self) -> None:
        """Esc / Cancel: stops a detection or mask run at once (what it found is kept)."""
        if not (self.detection.cancel() or self.masks.cancel()):
            self.runs.cancel()

    def import_geojson(self, path, wait: bool = False) -> bool:
        return self.files.import_geojson(path, wait)

    def export_geojson(self, path, points_as: str = "detections", masks_as: str = "cells", background: bool = False) -> bool:
        return self.files.export_geojson(path, points_as, masks_as, background)

    def reload_models(self, current: str | None = None) -> None:
        self.models.reload(current)

    def add_model_file(self) -> None:
        self.models.add_model_file()

    def autosave(self, wait: bool = True) -> None:
        """Save now (leaving a slide, closing); the timer passes ``wait=False`` so the
        snapshot is serialised off the GUI thread."""
        self.autosave_status.save(wait)

    # ------------------------------------------------------------------ slides
    def open_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(SLIDE_SUFFIXES))
        path, _ = QFileDialog.getOpenFileName(self, "Open slide", self.files.folder("slides"), f"Slides and images ({patterns});;All files (*)")
        if path:
            self.open_slide(path)

    def open_sample(self) -> None:
        self.open_slide(sample_path())

    def show_scale(self) -> None:
        """The status bar's size and scale of the open slide (again once the user states an unknown scale)."""
        slide = self.slide
        w, h = slide.dimensions
        mpp_text = f"{slide.mpp:.3f} µm/px" if slide.mpp else "µm/px unknown"
        self.mpp_label.setText(f"{w}×{h} px, {slide.level_count} level(s), {mpp_text}")

    def open_slide(self, path: str | os.PathLike, mpp: float | None = None, ask: bool = True) -> bool:
        """Open a slide. Everything that can fail happens before anything is swapped: a file
        that cannot be opened leaves the current slide, its points and its undo history as
        they were. ``ask=False`` (going through a project): no question when the autosave
        of the current slide succeeded — it is the save."""
        path = Path(path)
        if not ask and self.slide is not None:
            self.autosave(wait=True)
            ask = bool(self.autosaver is None or self.autosaver.error or self.autosaver.read_only)
        if ask and not self._confirm_discard():
            return False
        self.context.slideLeaving.emit()
        try:
            slide = open_slide(path, mpp=mpp)
            slide.get_thumbnail(2048)  # the viewer's first need; cached on the slide
        except SlideError as exc:
            self.error("Cannot open slide", str(exc))
            return False
        except Exception as exc:  # a reader's own failure (MemoryError, a codec's error): still only a message
            self.error("Cannot open slide", f"Cannot read slide '{path}': {type(exc).__name__}: {exc}")
            return False
        if self.runs.busy:
            self.runs.detach()  # results of runs on the previous slide are dropped
        self.autosave_status.detach()  # saves the current slide and releases it
        if self.slide is not None:
            self.slide.close()
        self.slide = slide
        self.undo.clear()
        self.store.clear()
        self.regions.clear()
        # the app's own files (the bundled sample) never get autosaves written beside them
        resources = resource_path("")
        bundled = resources is not None and resources.resolve() in path.resolve().parents
        report = self.autosave_status.attach(path, self.store, beside=not bundled)
        if not self.store.namespace:  # first time here: a namespace of its own, saved with the points
            from ..annotations.qupath import new_namespace

            self.store.namespace = new_namespace()
        if mpp is not None and mpp != slide.metadata_mpp:  # stated by the caller (the project, the command line): kept with the slide
            if self.store.stated_mpp != mpp:
                self.store.set_stated_mpp(mpp)
        elif mpp is None and self.store.stated_mpp:  # stated earlier in the app
            slide.mpp = self.store.stated_mpp
        self.pos_label.setText("")  # the previous slide's cursor position means nothing here
        self.classes.sync_from_store()
        self.exported_revision = self.store.revision
        self.view.set_slide(slide)
        self.setWindowTitle(f"{path.name}{' (read-only: open in another window)' if self.autosaver.read_only else ''} — W-Net Annotator")
        if not bundled:
            self.files.remember("slides", path)
        self.files.add_recent(path)
        self.show_scale()
        self.panel.say("")
        if report.restored is not None:
            self.statusBar().showMessage(f"Restored {len(self.store)} nuclei from autosave {report.restored.name}", 8000)
        if report.unreadable:
            kept = "\n".join(f"• {p.name}: {why}" for p, why in report.unreadable)
            restored = (
                f"Restored the newest readable one ({report.restored.name})." if report.restored else "None could be read, so the slide opens without points."
            )
            self.error("Autosave could not be read",
                       f"{len(report.unreadable)} autosave(s) of {path.name} could not be read and were kept aside:\n{kept}\n\n{restored}")
        if self.autosaver.read_only:
            self.error("Slide open in another window", f"{self.autosaver.error}.\n\nEdits here are not autosaved; export them to keep them.")
        self.update_counts()
        self.context.slideOpened.emit(str(path))
        return True

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            if opens_as_project(path):
                self.project.open_project(path)  # a folder of slides is a project
            elif path.name.endswith((".geojson", ".json", ".geojson.gz")):
                self.import_geojson(path)
            else:
                self.open_slide(path)
            break

    def delete_selected(self) -> None:
        ids = self.view.selection.ids()
        if len(ids):
            self.undo.push(RemovePointsCommand(self.store, ids, text=f"Delete {len(ids)} selected points"))

    # ------------------------------------------------------------------ leaving
    def _confirm_discard(self) -> bool:
        """Leaving a slide (or quitting) asks only when something would be lost: edits that
        are in the autosave come back when the slide is reopened, so they need no question
        (a save is tried first, so the answer is about now). When they are not autosaved,
        the question says so, and Discard really discards."""
        if self.slide is None or self.store.revision == self.exported_revision:
            return True
        self.autosave(wait=True)
        if self.autosave_status.safe() or os.environ.get("WNET_NO_PROMPT"):
            return True
        answer = QMessageBox.question(
            self, "Annotations not saved", self.autosave_status.leave_prompt(self.slide.path.name),
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Cancel:
            return False
        if answer == QMessageBox.StandardButton.Save:
            path, _ = QFileDialog.getSaveFileName(self, "Export GeoJSON", self.files.suggested("geojson", ".geojson"), "GeoJSON (*.geojson)")
            return bool(path) and self.export_geojson(path)
        return True

    def closeEvent(self, event) -> None:
        if not self._confirm_discard():
            event.ignore()
            return
        self.context.closing = True
        self.masks.stop()
        self.cancel_run()
        self.runs.wait(10000)
        self.autosave_status.timer.stop()
        self.autosave_status.detach()
        event.accept()

    # ------------------------------------------------------------------ messages and status
    def error(self, title: str, text: str) -> None:
        """Tell the user; in scripted runs (WNET_NO_PROMPT) print instead of a modal dialog."""
        self.last_error = f"{title}: {text}"
        self.errorShown.emit(self.last_error)
        if os.environ.get("WNET_NO_PROMPT"):
            print(f"wnet-gui: {self.last_error}", file=sys.stderr)
            return
        QMessageBox.critical(self, title, text)

    def _clear_stale_status(self) -> None:
        """An edit or undo after a run makes the run's last words ('cancelled', 'N masks')
        stale: clear them (a running job keeps its progress text)."""
        if not self.runs.busy:
            self.panel.say("")

    def _region_drawn(self, region) -> None:
        """A region the user just drew is what Auto-detect works on next."""
        if region is not None:
            self.panel.region_combo.setCurrentIndex(self.panel.region_combo.findData("roi"))
        self._schedule_counts()

    def _show_cursor(self, x: float, y: float) -> None:
        if self.slide is None:
            return
        mpp = self.slide.mpp
        self.pos_label.setText(f"x {x:,.0f}  y {y:,.0f} px" + (f"  ({x * mpp:,.1f}, {y * mpp:,.1f} µm)" if mpp else ""))

    def _apply_style(self) -> None:
        style = self.view.style
        panel = self.panel
        style.size = float(panel.size_slider.value())
        style.show_points = panel.show_points.isChecked()
        style.show_masks = panel.show_masks.isChecked()
        style.model_color = panel.model_color
        style.manual_color = panel.manual_color
        style.mask_opacity = panel.mask_opacity.value() / 100
        self.view.set_adjustments(panel.brightness.value(), panel.contrast.value() / 100, panel.gamma.value() / 100)
        self.view.viewport().update()

    def _schedule_counts(self) -> None:
        if not self._counts_timer.isActive():
            self._counts_timer.start()

    def update_counts(self) -> None:
        counts = self.store.count_by_source()
        panel = self.panel
        panel.total_label.setText(f"{len(self.store):,}")
        panel.manual_label.setText(f"{counts.get(MANUAL, 0):,}")
        panel.view_label.setText(f"{len(self.view.ids_in_view()):,}" if self.slide else "0")
        alive_masks = sum(1 for i in self.store.polygons if i in self.store) if len(self.store.polygons) < 200000 else len(self.store.polygons)
        panel.mask_label.setText(f"{alive_masks:,}")
        panel.selected_label.setText(f"{len(self.view.selection):,}")
        panel.region_label.setText(self.region_count_text())
        self.classes.update_counts()
        self.review.refresh()  # and through its signal the Adapt button
        if self.slide is not None:
            mag = self.view.scale
            self.zoom_label.setText(f"zoom {mag * 100:.0f} %" + (f" ({mag * 40 * 0.25 / self.slide.mpp:.1f}×)" if self.slide.mpp else ""))

    def region_count_text(self) -> str:
        """'312 nuclei, 2,480 /mm² in 0.126 mm²' for the drawn region, or '—'."""
        ids = self.context.region_ids()
        if ids is None:
            return "— (draw one with R)"
        n, roi = len(ids), self.view.roi
        if isinstance(roi, QPolygonF):
            from ..geometry import polygon_area

            area_px = polygon_area(np.array([(p.x(), p.y()) for p in roi]))
        else:
            area_px = roi.width() * roi.height()
        if not self.slide.mpp or area_px <= 0:
            return f"{n:,} nuclei"
        mm2 = area_px * (self.slide.mpp / 1000) ** 2
        area = f"{mm2:.3g} mm²" if mm2 >= 0.01 else f"{mm2 * 1e6:,.0f} µm²"
        return f"{n:,} nuclei, {n / mm2:,.0f} /mm² in {area}"

    def about(self) -> None:
        QMessageBox.about(self, "W-Net Annotator", f"W-Net Annotator {__version__}\n\nNucleus centres by W-Net (Mao et al.), masks by "
                          "NuClick (Koohbanani et al.), GeoJSON for QuPath.\nBundled weights are trained on MoNuSeg (CC BY-NC-SA 4.0).")
