"""A study as a list: open a folder (or a project file) and go through its slides with Page
Down / Page Up, each slide's edits autosaved and its last view restored; see where every slide
stands (new, detected, being reviewed, reviewed, exported, missing) with its counts per class;
detect all new slides or export them all in a worker. The bookkeeping is ``projects/`` (Qt-free,
shared with ``wnet detect PROJECT`` and ``wnet export PROJECT``)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (QComboBox, QDockWidget, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from ..projects import STATES, Project, ProjectError, refresh_entry
from .context import FeatureContext
from .detection_runs import DetectionRuns
from .file_actions import FileActions
from .mask_runs import MaskRuns
from .project_actions import ProjectActions
from .project_thumbnails import THUMB, ProjectThumbnails, size_text
from .scale import ProjectScales, ScaleTools

COLUMNS = ("", "Slide", "Size", "µm/px", "State", "Nuclei", "Per class")  # column 0 stays hidden: the thumbnail is the name's icon
STATE_WORDS = {"new": "new", "detected": "detected", "reviewing": "being reviewed", "reviewed": "reviewed"}
COLUMN_WIDTHS = {1: 136, 2: 72, 3: 56, 4: 112, 5: 60}  # the last column, counts per class, takes the rest
EXPORTED_MARK = "\nexported"  # under the review state (its own line), never in its place


class _SortItem(QTableWidgetItem):
    """Sorts by its number (or text) rather than by the text shown."""

    def __init__(self, text: str, key):
        super().__init__(text)
        self.key = key

    def __lt__(self, other):
        return (self.key, self.text()) < (getattr(other, "key", 0), other.text())


class ProjectPanel(QObject):
    changed = Signal()
    shown = Signal()  # a project was opened and its dock shown: the window makes room for it

    def __init__(self, ctx: FeatureContext, open_slide: Callable[..., bool], files: FileActions, scale: ScaleTools,
                 detection: DetectionRuns, masks: MaskRuns, autosave: Callable[..., None]):
        super().__init__(ctx)
        self.ctx = ctx
        self.open_slide = open_slide  # the window's: leaving the current slide is its business
        self.files, self.scale, self.detection, self.masks, self.autosave = files, scale, detection, masks, autosave
        self.project: Project | None = None
        self.thumbnails = ProjectThumbnails(self)  # loaded lazily, off the GUI thread
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("projectTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setIconSize(self.table.iconSize().expandedTo(self.table.iconSize().__class__(THUMB, THUMB)))
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.ExtendedSelection)  # several slides get one µm/px at once
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)  # sized once per fill: per-item resizing is O(rows²)
        header.setStretchLastSection(True)  # the counts per class take what is left (elided, whole in the tooltip)
        # fixed widths that fit a 560 px dock (every column in sight at 1400×900): names and states
        # wrap onto a second line rather than push the counts out of view
        for col, width in COLUMN_WIDTHS.items():
            self.table.setColumnWidth(col, width)
        self.table.setColumnHidden(0, True)  # a column of its own for the thumbnail hid the counts at 1400×900
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # study slide names differ at their end
        self.table.cellDoubleClicked.connect(lambda row, col: self.open_row(row))
        self.filter = QComboBox()
        self.filter.setObjectName("projectFilter")
        self.filter.addItem("All slides", "")
        for s in STATES:
            self.filter.addItem(STATE_WORDS[s].capitalize(), s)
        self.filter.addItem("Missing", "missing")
        self.filter.currentIndexChanged.connect(self.apply_filter)
        self.prev_button, self.next_button = QPushButton("◀ Previous"), QPushButton("Next ▶")
        self.prev_button.setToolTip("Previous slide (Page Up): this one is autosaved first")
        self.next_button.setToolTip("Next slide (Page Down): this one is autosaved first")
        self.prev_button.clicked.connect(lambda: self.go(-1))
        self.next_button.clicked.connect(lambda: self.go(+1))
        self.reviewed_button = QPushButton("Slide reviewed ✓")
        self.reviewed_button.setToolTip("Mark this slide as done (its state becomes 'reviewed')")
        self.reviewed_button.clicked.connect(lambda: self.set_state("reviewed"))
        self.scale_button = QPushButton("Set µm/px…")
        self.scale_button.setObjectName("projectScaleButton")
        self.scale_button.setToolTip("State the microns per pixel of the selected slides (for files that do not state it, or state it wrongly)")
        self.scale_button.clicked.connect(lambda checked=False: self.scales.set_for_selected())
        self.detect_button = QPushButton("Detect all new slides")
        self.detect_button.setObjectName("projectDetectButton")
        self.actions = ProjectActions(self)
        self.detect_button.clicked.connect(self.actions.detect_all)
        self.masks_button = QPushButton("Masks for all")
        self.masks_button.setObjectName("projectMasksButton")
        self.masks_button.setToolTip("NuClick masks for every point without one, in every slide (the open one too)")
        self.masks_button.clicked.connect(self.actions.masks_all)
        self.export_button = QPushButton("Export all…")
        self.export_button.setObjectName("projectExportButton")
        self.export_button.clicked.connect(self.actions.export_dialog)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        nav = QHBoxLayout()
        for b in (self.prev_button, self.next_button, self.reviewed_button, self.scale_button):
            nav.addWidget(b)
        actions = QHBoxLayout()
        actions.addWidget(self.detect_button)
        actions.addWidget(self.masks_button)
        actions.addWidget(self.export_button)
        widget = QWidget()
        layout = QVBoxLayout(widget)
        layout.addWidget(self.filter)
        layout.addWidget(self.table)
        layout.addLayout(nav)
        layout.addLayout(actions)
        layout.addWidget(self.summary)
        self.dock = QDockWidget("Project", ctx.host)
        self.dock.setObjectName("projectDock")
        self.dock.setWidget(widget)
        self.dock.hide()  # placed by the window; shown when a project is opened
        for key, step in ((QKeySequence.StandardKey.MoveToNextPage, +1), (QKeySequence.StandardKey.MoveToPreviousPage, -1)):
            shortcut = QShortcut(QKeySequence(key), ctx.host)
            shortcut.activated.connect(lambda step=step: self.go(step))
        ctx.slideLeaving.connect(self.remember_view)
        ctx.slideOpened.connect(self.on_slide_opened)
        # bound methods, not lambdas: Qt drops the connections when this object goes, so a window
        # being torn down (its undo stack clearing) never calls into a half-deleted one
        detection.finished.connect(self._on_detected)
        self.scales = ProjectScales(self, scale)  # the µm/px of the project's slides (gui/scale.py)
        scale.stated.connect(self.scales.on_stated)
        files.exportFinished.connect(self._on_exported)
        ctx.undo.indexChanged.connect(self._on_undo_index)
        self._counts_timer = QTimer(self, singleShot=True, interval=400)  # edits come in bursts: count once they pause
        self._counts_timer.timeout.connect(self._recount_current)

    # -- opening ------------------------------------------------------------------------
    def open_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.ctx.host, "Open a folder of slides as a project", self.files.folder("projects"))
        if folder:
            self.files.remember("projects", folder)
            self.open_project(folder)

    def open_project(self, where: str | Path, open_first: bool = True) -> bool:
        try:
            project = Project.open(where)
            project.save()
        except (ProjectError, OSError) as exc:
            self.ctx.error("Cannot open project", str(exc))
            return False
        self.thumbnails.stop()
        self.project = project
        self.populate()
        self.dock.show()
        self.dock.raise_()
        self.shown.emit()
        self.thumbnails.start()
        if open_first and project.slides:
            target = project.entry_for(project.absolute(project.slides[0])) if project.current is None else next(
                (e for e in project.slides if e.path == project.current), project.slides[0])
            if target is not None and not project.missing(target):
                self.open_entry(target)
        return True

    def entries_in_order(self) -> list:
        """The slides as the table shows them (sorted, filtered)."""
        out = []
        for row in range(self.table.rowCount()):
            if not self.table.isRowHidden(row):
                out.append(self.table.item(row, 1).data(Qt.ItemDataRole.UserRole))
        return out

    def go(self, step: int) -> bool:
        """Next/previous slide in the table's order, skipping missing ones."""
        if self.project is None or self.ctx.runs.busy:
            return False
        order = [e for e in (self.project.entry_for(p) for p in self.entries_in_order()) if e is not None and not self.project.missing(e)]
        if not order:
            return False
        current = self.project.entry_for(self.ctx.slide.path) if self.ctx.slide is not None else None
        if current not in order:
            target = order[0] if step > 0 else order[-1]
        elif 0 <= order.index(current) + step < len(order):
            target = order[order.index(current) + step]
        else:
            self.ctx.status("Last slide of the list" if step > 0 else "First slide of the list", 4000)
            return False
        return self.open_entry(target)

    def open_row(self, row: int) -> bool:
        path = self.table.item(row, 1).data(Qt.ItemDataRole.UserRole)
        entry = self.project.entry_for(path) if self.project else None
        if entry is None:
            return False
        if self.project.missing(entry):
            self.ctx.error("Slide missing", f"{entry.path} is not in {self.project.folder} any more. It stays in the project; "
                              "put the file back (or move the project folder with it) to open it.")
            return False
        return self.open_entry(entry)

    def open_entry(self, entry) -> bool:
        return self.open_slide(self.project.absolute(entry), mpp=entry.mpp, ask=False)

    # -- following the window -------------------------------------------------------------
    def current_entry(self):
        """The project's entry of the slide open in the window (None: no project, no slide, or not in it)."""
        if self.project is None or self.ctx.slide is None:
            return None
        return self.project.entry_for(self.ctx.slide.path)

    def remember_view(self) -> None:
        ctx = self.ctx
        entry = self.current_entry()
        if entry is None:
            return
        center = ctx.view.visible_scene_rect().center()
        entry.view = {"x": round(center.x(), 1), "y": round(center.y(), 1), "scale": float(ctx.view.scale)}
        refresh_entry(self.project, entry, ctx.store)
        self.save()

    def on_slide_opened(self, path: str) -> None:
        if self.project is None:
            return
        entry = self.project.entry_for(path)
        if entry is None:
            return
        ctx = self.ctx
        slide = ctx.slide
        entry.width, entry.height = slide.dimensions
        entry.mpp = entry.mpp or slide.mpp
        self.project.current = entry.path
        if entry.state == "new" and len(ctx.store):  # points already there (an earlier run, an import)
            entry.state = "detected"
        if entry.view:  # where the pathologist left it
            view = ctx.view
            view.scale_by(entry.view["scale"] / max(view.scale, 1e-12))
            view.centerOn(QPointF(entry.view["x"], entry.view["y"]))
        refresh_entry(self.project, entry, ctx.store)
        self.save()
        self.populate()

    def note_current(self, state: str | None = None, state_if_new: str | None = None) -> None:
        ctx = self.ctx
        entry = self.current_entry()
        if entry is None:
            return
        if state:
            entry.state = state
        elif state_if_new and entry.state == "new":
            entry.state = state_if_new
        refresh_entry(self.project, entry, ctx.store)
        self.save()
        self.populate()

    def _on_detected(self, cancelled: bool) -> None:
        self.note_current(state_if_new="detected")

    def _on_exported(self, path: str, error: str) -> None:
        """Exporting is noted beside the review state, which stays what it was."""
        entry = self.current_entry()
        if not error and entry is not None:
            from datetime import datetime

            entry.exported = datetime.now().isoformat(timespec="seconds")
            self.note_current()

    def _on_undo_index(self, index: int) -> None:
        if not self.ctx.closing:
            self.note_edit()
            if self.project is not None:
                self._counts_timer.start()

    def _recount_current(self) -> None:
        """The open slide's nuclei and classes in the table follow every edit (a class key, a
        taught classifier, an undo), not only the edits that change its state."""
        entry = self.current_entry()
        if entry is None or self.ctx.closing:
            return
        before = (entry.nuclei, dict(entry.classes))
        refresh_entry(self.project, entry, self.ctx.store)
        if (entry.nuclei, entry.classes) != before:
            self.populate()

    def note_edit(self) -> None:
        """A hand edit (any undoable step but a detection run, an import or drawn masks) on a slide: it is being reviewed."""
        ctx = self.ctx
        undo = ctx.undo
        if self.project is None or ctx.slide is None or undo.count() == 0 or undo.index() == 0:
            return
        from .commands import DetectionRunCommand, SetMasksCommand

        if isinstance(undo.command(undo.index() - 1), (DetectionRunCommand, SetMasksCommand)):  # model runs, not a hand's review
            return
        entry = self.project.entry_for(ctx.slide.path)
        if entry is not None and entry.state in ("new", "detected"):
            self.note_current(state="reviewing")

    def set_state(self, state: str) -> None:
        self.note_current(state=state)

    def save(self) -> None:
        try:
            self.project.save()
        except OSError as exc:
            self.ctx.status(f"Project not saved: {exc}", 8000)

    # -- the table ----------------------------------------------------------------------
    def populate(self) -> None:
        project = self.project
        table = self.table
        table.setUpdatesEnabled(False)
        table.setSortingEnabled(False)
        table.setRowCount(len(project.slides))
        current = project.entry_for(self.ctx.slide.path) if self.ctx.slide is not None else None
        for row, e in enumerate(project.slides):
            missing = project.missing(e)
            thumb = QTableWidgetItem()
            name = _SortItem(("▶ " if e is current else "") + e.name, e.name.lower())
            if e.path in self.thumbnails.icons:
                name.setIcon(self.thumbnails.icons[e.path])
            name.setData(Qt.ItemDataRole.UserRole, str(project.absolute(e)))
            name.setToolTip(str(project.absolute(e)))
            size = _SortItem(size_text(e.width, e.height), (e.width or 0) * (e.height or 0))
            mpp = _SortItem(f"{e.mpp:.3f}" if e.mpp else "", e.mpp or 0.0)
            state = _SortItem("missing" if missing else STATE_WORDS[e.state] + (EXPORTED_MARK if e.exported else ""),
                              -1 if missing else STATES.index(e.state))
            if e.exported:
                state.setToolTip(f"Exported {e.exported.replace('T', ' ')}")
            nuclei = _SortItem(f"{e.nuclei:,}", e.nuclei)
            classes = QTableWidgetItem(", ".join(f"{c} {n:,}" for c, n in sorted(e.classes.items(), key=lambda kv: -kv[1])))
            classes.setToolTip(classes.text())
            for col, item in enumerate((thumb, name, size, mpp, state, nuclei, classes)):
                if missing:
                    item.setForeground(QColor(200, 40, 40))
                if e is current:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                table.setItem(row, col, item)
        table.setSortingEnabled(True)
        table.setUpdatesEnabled(True)
        counts = project.counts()
        n_missing = sum(project.missing(e) for e in project.slides)
        n_exported = sum(bool(e.exported) for e in project.slides)
        self.summary.setText(f"{project.folder.name}: {len(project.slides)} slides — " + ", ".join(
            f"{n} {STATE_WORDS[s]}" for s, n in counts.items() if n) + (f", {n_missing} missing" if n_missing else "")
            + (f"; {n_exported} exported" if n_exported else ""))
        self.apply_filter()
        self.changed.emit()

    def apply_filter(self) -> None:
        want = self.filter.currentData()
        for row in range(self.table.rowCount()):
            state = self.table.item(row, 4).text().removesuffix(EXPORTED_MARK) if self.table.item(row, 4) else ""
            shown = not want or (state == "missing" if want == "missing" else state == STATE_WORDS.get(want))
            self.table.setRowHidden(row, not shown)
