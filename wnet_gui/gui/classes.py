"""Nucleus classes by hand: the class list (name, colour, hotkey 1–9, shown or hidden, counts
in the slide, the view and the drawn region), the active class new points get, and setting
the class of the selection or of everything in the drawn region as one undo step.

The list is kept per user (QSettings) and saved with each slide's annotations (the store's
``class_list`` and ``class_colors``, which autosave and export carry)."""

from __future__ import annotations

import json

import numpy as np
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (QCheckBox, QColorDialog, QDockWidget, QHBoxLayout, QInputDialog, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from ..annotations.qupath import MAX_CLASS_NAME, assign_colors
from .commands import SetClassCommand

DEFAULT_CLASSES = ("Nucleus", "Epithelial", "Inflammatory", "Stromal", "Other")
MAX_LISTED = 100  # classes in the list (and in the saved settings): nine have hotkeys, a study has tens
COLUMNS = ("Key", "Class", "Shown", "Total", "In view", "In region")


class ClassTools(QObject):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.names: list[str] = []
        self.hidden: set[str] = set()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("classTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.itemChanged.connect(self._shown_changed)
        self.by_class = QCheckBox("Colour points and masks by class")
        self.by_class.setToolTip("Off: model and manual points in their own colours (Display). On as soon as nuclei have classes.")
        self.by_class.setChecked(False)
        self._by_class_auto = False  # switched on by the app (typed nuclei), not by the user: it may switch off again
        self.by_class.toggled.connect(self.apply_style)
        self.by_class.clicked.connect(lambda checked=False: setattr(self, "_by_class_auto", False))  # the user's own choice stays
        buttons = QHBoxLayout()
        for text, slot, tip in (
            ("Add…", self.add_dialog, "A new class"),
            ("Rename…", self.rename_dialog, "Rename the active class"),
            ("Colour…", self.recolour_dialog, "Change the active class's colour"),
            ("Remove", self.remove_active, "Remove the active class from the list"),
        ):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        self.set_selected_button = QPushButton("Set selected to active class")
        self.set_selected_button.setToolTip("Or press the class's number key with points selected")
        self.set_selected_button.clicked.connect(lambda: self.set_class_of_selection(self.active))
        self.set_region_button = QPushButton("Set all in drawn region")
        self.set_region_button.clicked.connect(lambda: self.set_class_in_region(self.active))
        widget = QWidget()
        layout = self.layout = QVBoxLayout(widget)  # other class features (teaching) add their rows here
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addWidget(self.set_selected_button)
        layout.addWidget(self.set_region_button)
        layout.addWidget(self.by_class)
        self.dock = QDockWidget("Classes", ctx.host)
        self.dock.setObjectName("classesDock")
        self.dock.setWidget(widget)
        for k in range(1, 10):
            shortcut = QShortcut(QKeySequence(str(k)), ctx.host)
            shortcut.activated.connect(lambda k=k: self.number_key(k))
        saved = ctx.settings.value("classes/list", "")
        try:  # the list as this app saves it is a few kB: anything far larger is not ours to load
            entries = json.loads(saved) if saved and len(saved) < (1 << 20) else [{"name": n} for n in DEFAULT_CLASSES]
        except (ValueError, RecursionError):
            entries = [{"name": n} for n in DEFAULT_CLASSES]
        colors = ctx.store.class_colors
        for e in entries[:MAX_LISTED] if isinstance(entries, list) else []:
            if isinstance(e, dict) and isinstance(e.get("name"), str) and 0 < len(e["name"]) <= MAX_CLASS_NAME and e["name"] not in self.names:
                self.names.append(e["name"])
                if isinstance(e.get("color"), list) and len(e["color"]) == 3:
                    colors.setdefault(e["name"], tuple(int(v) for v in e["color"]))
        ctx.view.active_class = lambda: self.active
        self.refresh()
        self.table.selectRow(0)

    # -- the list -----------------------------------------------------------------------
    @property
    def active(self) -> str:
        row = self.table.currentRow()
        return self.names[row] if 0 <= row < len(self.names) else (self.names[0] if self.names else "Nucleus")

    def set_active(self, name: str) -> None:
        if name in self.names:
            self.table.selectRow(self.names.index(name))

    def sync_from_store(self) -> None:
        """After opening a slide or importing: its classes join the list (its order first)."""
        store = self.ctx.store
        present = set(store.classes_of(store.ids())) if len(store) else set()
        for name in list(store.class_list) + sorted(present):
            if name not in self.names and len(self.names) < MAX_LISTED and len(name) <= MAX_CLASS_NAME:
                self.names.append(name)
        self.show_classes_if_typed(present)
        self.refresh()

    def show_classes_if_typed(self, present: set[str]) -> None:
        """Typed nuclei are shown in their class colours, untyped ones by source (model or
        manual): a slide of untyped nuclei after a typed one goes back, unless the user chose."""
        if present - {"Nucleus"} and not self.by_class.isChecked():
            self.by_class.setChecked(True)
            self._by_class_auto = True
        elif present and not present - {"Nucleus"} and self.by_class.isChecked() and self._by_class_auto:
            self.by_class.setChecked(False)
            self._by_class_auto = False

    def save(self) -> None:
        colors = assign_colors(self.names, self.ctx.store.class_colors)
        self.ctx.store.class_list = list(self.names)
        self.ctx.settings.setValue("classes/list", json.dumps([{"name": n, "color": list(colors[n])} for n in self.names]))

    def refresh(self) -> None:
        colors = assign_colors(self.names, self.ctx.store.class_colors)
        active = self.active if self.names else None
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.names))
        for row, name in enumerate(self.names):
            key = QTableWidgetItem(str(row + 1) if row < 9 else "")
            label = QTableWidgetItem(name)
            label.setBackground(QColor(*colors[name]))
            label.setForeground(QColor("black") if QColor(*colors[name]).lightness() > 128 else QColor("white"))
            shown = QTableWidgetItem()
            shown.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            shown.setCheckState(Qt.CheckState.Unchecked if name in self.hidden else Qt.CheckState.Checked)
            for col, item in enumerate((key, label, shown)):
                self.table.setItem(row, col, item)
        self.table.blockSignals(False)
        if active in self.names:
            self.set_active(active)
        self.table.resizeColumnsToContents()
        self._fit_rows()
        self.save()
        self.update_counts()
        self.apply_style()

    def _fit_rows(self) -> None:
        """Tall enough to show every class without scrolling (up to nine, the hotkeys' reach)."""
        table = self.table
        rows = min(max(len(self.names), 3), 9)
        row_height = table.verticalHeader().defaultSectionSize()
        table.setMinimumHeight(table.horizontalHeader().height() + rows * row_height + 2 * table.frameWidth() + 2)

    def apply_style(self) -> None:
        store, style = self.ctx.store, self.ctx.view.style
        colors = assign_colors(self.names, store.class_colors)
        style.by_class = self.by_class.isChecked()
        style.class_colors = {store.classes.code(n): QColor(*colors[n]) for n in self.names}
        style.hidden_classes = frozenset(store.classes.code(n) for n in self.hidden)
        self.ctx.view.viewport().update()

    def _shown_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != 2:
            return
        name = self.names[item.row()]
        (self.hidden.discard if item.checkState() == Qt.CheckState.Checked else self.hidden.add)(name)
        self.apply_style()

    # -- counts -------------------------------------------------------------------------------
    def counts(self, ids: np.ndarray) -> dict[str, int]:
        store = self.ctx.store
        if len(ids) == 0:
            return {}
        codes = store.columns(ids)["cls"]
        found = np.bincount(codes, minlength=len(store.classes.names))
        return {name: int(found[code]) for code, name in enumerate(store.classes.names) if found[code]}

    def update_counts(self) -> None:
        ctx = self.ctx
        if ctx.slide is None:
            return
        total = self.counts(ctx.store.ids())
        view = self.counts(ctx.view.ids_in_view())
        region_ids = ctx.region_ids()
        region = self.counts(region_ids) if region_ids is not None else None
        self.table.blockSignals(True)
        for row, name in enumerate(self.names):
            for col, value in ((3, total.get(name, 0)), (4, view.get(name, 0)), (5, None if region is None else region.get(name, 0))):
                self.table.setItem(row, col, QTableWidgetItem("—" if value is None else f"{value:,}"))
        self.table.blockSignals(False)
        self.table.resizeColumnsToContents()  # counts grow: never "16…"

    # -- editing ------------------------------------------------------------------------------
    def number_key(self, k: int) -> None:
        """k: set the selection's class to class k (one undo step), or make it the active class."""
        if k > len(self.names):
            return
        name = self.names[k - 1]
        if len(self.ctx.view.selection):
            self.set_class_of_selection(name)
        else:
            self.set_active(name)
            self.ctx.status(f"New points will be {name}", 3000)

    def set_class_of_selection(self, name: str) -> None:
        ids = self.ctx.view.selection.ids()
        if len(ids):
            self.ctx.undo.push(SetClassCommand(self.ctx.store, ids, name))
            self.show_classes_if_typed({name})

    def set_class_in_region(self, name: str) -> None:
        ids = self.ctx.region_ids()
        if ids is None:
            self.ctx.status("Draw a region first (R)", 4000)
        elif len(ids):
            self.ctx.undo.push(SetClassCommand(self.ctx.store, ids, name))
            self.show_classes_if_typed({name})

    def add(self, name: str, color: tuple[int, int, int] | None = None) -> None:
        name = " ".join(name.split())[:MAX_CLASS_NAME]
        if not name or name in self.names or len(self.names) >= MAX_LISTED:
            return
        if color is not None:
            self.ctx.store.class_colors[name] = color
        self.names.append(name)
        self.refresh()
        self.set_active(name)

    def add_dialog(self) -> None:
        name, ok = QInputDialog.getText(self.ctx.host, "New class", "Name:")
        if ok:
            self.add(name)

    def rename(self, old: str, new: str) -> None:
        """Rename a class everywhere (its nuclei too, as one undo step)."""
        new = " ".join(new.split())[:MAX_CLASS_NAME]
        if not new or new in self.names or old not in self.names:
            return
        store = self.ctx.store
        ids = store.ids()
        members = ids[store.columns(ids)["cls"] == store.classes.code_of(old)] if len(ids) else ids
        self.names[self.names.index(old)] = new
        if old in store.class_colors:
            store.class_colors[new] = store.class_colors[old]
        if len(members):
            self.ctx.undo.push(SetClassCommand(store, members, new))
        self.refresh()
        self.set_active(new)

    def rename_dialog(self) -> None:
        old = self.active
        new, ok = QInputDialog.getText(self.ctx.host, "Rename class", f"New name for {old}:", text=old)
        if ok:
            self.rename(old, new)

    def recolour(self, name: str, color: tuple[int, int, int]) -> None:
        self.ctx.store.class_colors[name] = color
        self.refresh()

    def recolour_dialog(self) -> None:
        name = self.active
        current = QColor(*assign_colors([name], self.ctx.store.class_colors)[name])
        color = QColorDialog.getColor(current, self.ctx.host, f"Colour of {name}")
        if color.isValid():
            self.recolour(name, (color.red(), color.green(), color.blue()))

    def remove_active(self) -> None:
        """Take the class off the list (its nuclei keep their class; it returns if any remain)."""
        name = self.active
        if len(self.names) > 1:
            self.names.remove(name)
            self.hidden.discard(name)
            self.refresh()
