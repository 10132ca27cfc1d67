"""Menus, the tool bar and Help › Keyboard shortcuts (made from the actions themselves, so
the list can never disagree with what the keys do)."""

from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout

from .mouse_bindings import Tool

TOOLS = ((Tool.PAN, "Pan", "P"), (Tool.ADD, "Add points", "A"), (Tool.SELECT, "Select points", "S"),
         (Tool.DELETE, "Delete points", "D"), (Tool.MOVE, "Move points", "M"), (Tool.ROI, "Draw region", "R"),
         (Tool.MEASURE, "Measure", "L"))
MOUSE = (
    ("1 … 9", "Class of the selected points (one undo step), or the class new points get"),
    ("Wheel", "Zoom about the cursor"),
    ("Drag (Pan tool)", "Pan"),
    ("Shift + drag (Select, Delete, Draw region)", "Lasso / outline"),
    ("Ctrl + click (Select)", "Add to or remove from the selection"),
    ("Page Down / Page Up", "Next / previous slide of the project (this one is autosaved first)"),
)


def make_action(window, text: str, slot, shortcut=None, checkable: bool = False) -> QAction:
    action = QAction(text, window)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
    action.setCheckable(checkable)
    # Qt sends ``triggered(checked)``: a plain action's slot must not receive that False as its
    # first argument (``export_dialog(ask=False)`` once skipped the export choices from the menu)
    action.triggered.connect(slot if checkable else (lambda checked=False: slot()))
    return action


def build_menus(window) -> None:
    """File, Edit, View, Image, Tools, Analysis and Help, plus the tool bar; sets
    ``window.tool_actions`` and ``window.detect_action``."""
    a = lambda *args, **kw: make_action(window, *args, **kw)  # noqa: E731
    menu = window.menuBar()
    file_menu = menu.addMenu("&File")
    file_menu.addAction(a("&Open slide…", window.open_dialog, QKeySequence.StandardKey.Open))
    file_menu.addAction(a("Open &project (a folder of slides)…", window.project.open_dialog, "Ctrl+Shift+O"))
    file_menu.addAction(a("Open &sample", window.open_sample))
    file_menu.addMenu(window.files.recent_menu)
    window.files.refresh_recent()
    file_menu.addSeparator()
    file_menu.addAction(a("&Import GeoJSON…", window.files.import_dialog, "Ctrl+I"))
    file_menu.addAction(a("&Export GeoJSON for QuPath…", window.files.export_dialog, "Ctrl+E"))
    file_menu.addAction(a("Export points for QuPath's &Counting tool (TSV)…", window.files.export_tsv_dialog))
    file_menu.addAction(a("Export &CSV…", window.files.export_csv_dialog))
    file_menu.addSeparator()
    file_menu.addAction(a("&Quit", window.close, QKeySequence.StandardKey.Quit))

    edit = menu.addMenu("&Edit")
    undo_action = window.undo.createUndoAction(window, "&Undo")
    undo_action.setShortcuts(QKeySequence.StandardKey.Undo)
    redo_action = window.undo.createRedoAction(window, "&Redo")
    redo_action.setShortcuts(QKeySequence.StandardKey.Redo)  # all of them: Ctrl+Shift+Z as well as Ctrl+Y
    edit.addAction(undo_action)
    edit.addAction(redo_action)
    edit.addSeparator()
    edit.addAction(a("Select &all points", lambda: window.view.selection.set(window.store.ids()), QKeySequence.StandardKey.SelectAll))
    edit.addAction(a("Select points in &view", lambda: window.view.selection.set(window.view.ids_in_view())))
    edit.addAction(a("Clear selection", window.view.selection.clear, "Ctrl+Shift+A"))
    edit.addAction(a("&Delete selected points", window.delete_selected, QKeySequence.StandardKey.Delete))
    edit.addSeparator()
    edit.addAction(a("Mark drawn region &reviewed", window.review.mark_drawn_region, "Ctrl+Shift+R"))

    view_menu = menu.addMenu("&View")
    view_menu.addAction(a("&Fit slide", window.view.fit, "F"))
    view_menu.addAction(a("&1:1 pixels", window.view.one_to_one, "Ctrl+1"))  # 1–9 set classes
    view_menu.addAction(a("Zoom &in", lambda: window.view.scale_by(1.5), QKeySequence.StandardKey.ZoomIn))
    view_menu.addAction(a("Zoom &out", lambda: window.view.scale_by(1 / 1.5), QKeySequence.StandardKey.ZoomOut))
    view_menu.addAction(a("Next &uncertain nucleus", window.teach.next_uncertain, "U"))  # where a label teaches the classifier most
    view_menu.addSeparator()
    view_menu.addAction(a("&Brightness && contrast…", lambda: image_dialog(window).show(), "Shift+C"))
    view_menu.addAction(window.overview_dock.toggleViewAction())
    view_menu.addAction(window.classes.dock.toggleViewAction())
    view_menu.addAction(window.review_dock.toggleViewAction())
    view_menu.addAction(window.project.dock.toggleViewAction())

    image_menu = menu.addMenu("&Image")
    image_menu.addAction(a("Set &pixel size (µm/px)…", window.scale.set_pixel_size_dialog))
    image_menu.addAction(a("Set pixel size of the &selected project slides…", window.project.scales.set_for_selected))

    tools_menu = menu.addMenu("&Tools")
    toolbar = window.addToolBar("Tools")
    toolbar.setObjectName("toolsToolbar")
    group = QActionGroup(window)
    window.tool_actions = {}
    for tool, text, key in TOOLS:
        action = a(text, lambda checked=False, t=tool: window.view.tools.set_tool(t), key, checkable=True)
        action.setToolTip(f"{text} ({key})")
        group.addAction(action)
        tools_menu.addAction(action)
        toolbar.addAction(action)
        window.tool_actions[tool] = action
    window.tool_actions[Tool.PAN].setChecked(True)
    toolbar.addSeparator()
    toolbar.addAction(a("Fit", window.view.fit))
    toolbar.addAction(a("1:1", window.view.one_to_one))
    toolbar.addSeparator()
    window.detect_action = a("Auto-detect nuclei", window.auto_detect, "Ctrl+D")
    toolbar.addAction(window.detect_action)

    analysis = menu.addMenu("&Analysis")
    analysis.addAction(window.detect_action)
    analysis.addAction(a("&Adapt model to reviewed regions…", window.adaptation.start))
    analysis.addAction(a("&Calibrate sensitivity to reviewed regions", lambda: window.adaptation.start(calibrate_only=True)))
    analysis.addAction(a("Draw masks for all points", lambda: window.draw_masks("all"), "Ctrl+M"))
    analysis.addAction(a("Draw masks for points in view", lambda: window.draw_masks("view")))
    analysis.addAction(a("Draw masks for selected points", lambda: window.draw_masks("selected"), "Ctrl+Shift+M"))
    analysis.addAction(a("Cancel run", window.cancel_run, "Esc"))

    help_menu = menu.addMenu("&Help")
    help_menu.addAction(a("&Keyboard shortcuts", lambda: shortcuts_dialog(window).exec(), "F1"))
    help_menu.addAction(a("&About", window.about))


def image_dialog(window) -> QDialog:
    """The display's brightness, contrast and gamma (the panel's sliders, in a tool window)."""
    dialog = getattr(window, "_image_dialog", None)
    if dialog is None:
        dialog = QDialog(window)
        dialog.setWindowTitle("Brightness & contrast (display only)")
        layout = QVBoxLayout(dialog)
        layout.addWidget(window.panel.image_controls)
        window._image_dialog = dialog
    return dialog


def shortcut_rows(window) -> list[tuple[str, str]]:
    """(keys, what) for every action with a shortcut, menus in order, then the mouse."""
    rows, seen = [], set()
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        for action in menu.actions() if menu else []:
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            name = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…")  # mnemonics out, "&&" → "&"
            if name.startswith(("Undo", "Redo")):  # their text names the last edit; the key does the generic thing
                name = name.split()[0]
            if keys and (keys, name) not in seen:
                seen.add((keys, name))
                rows.append((keys, name))
    return rows + list(MOUSE)


def shortcuts_dialog(window) -> QDialog:
    dialog = QDialog(window)
    dialog.setWindowTitle("Keyboard shortcuts")
    rows = shortcut_rows(window)
    table = QTableWidget(len(rows), 2)
    table.setObjectName("shortcutsTable")
    table.setHorizontalHeaderLabels(["Keys", "Does"])
    for r, (keys, what) in enumerate(rows):
        table.setItem(r, 0, QTableWidgetItem(keys))
        table.setItem(r, 1, QTableWidgetItem(what))
    header = table.horizontalHeader()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
    table.verticalHeader().setVisible(False)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(table)
    layout.addWidget(buttons)
    dialog.resize(520, 560)
    return dialog
