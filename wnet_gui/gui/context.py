"""What the window's features share, and all that they may reach of it.

Each feature (detection runs, masks, files, classes, review, adaptation, the project…) gets
this context and, explicitly in its constructor, the few other features it works with — never
the whole window. The window assembles them and owns this object; the slide that is open, the
store of its nuclei and the undo stack of their edits live here, so every feature sees the
same ones.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QPolygonF, QUndoStack
from PySide6.QtWidgets import QMainWindow

from ..annotations import NucleusStore
from ..slides import Slide
from .panel import SidePanel
from .runs import RunSlot
from .view import SlideView


class FeatureContext(QObject):
    """The open slide, its store and undo stack, the viewer, the panel, the settings, the one
    run slot, and where messages go. ``host`` is the window as a Qt widget only: the parent of
    dialogs, docks and shortcuts (features do not reach other features through it)."""

    slideLeaving = Signal()  # before another slide replaces the current one (its view is still there)
    slideOpened = Signal(str)  # path of the slide just opened

    def __init__(self, host: QMainWindow, store: NucleusStore, undo: QUndoStack, view: SlideView, panel: SidePanel,
                 settings: QSettings, runs: RunSlot, error: Callable[[str, str], None]):
        super().__init__(host)
        self.host = host
        self.store = store
        self.undo = undo
        self.view = view
        self.panel = panel
        self.settings = settings
        self.runs = runs
        self.error = error  # a title and a text: a dialog, or stderr in scripted runs
        self.slide: Slide | None = None
        self.closing = False  # once set, no run starts (a pending redraw timer must not outlive the window)
        self.exported_revision = 0  # the store's revision when last written out: leaving asks only after later edits

    def status(self, text: str, msecs: int = 0) -> None:
        """A passing message in the status bar."""
        self.host.statusBar().showMessage(text, msecs)

    def region_ids(self) -> np.ndarray | None:
        """The nuclei inside the drawn (or chosen) region, or None without one."""
        roi = self.view.roi
        if self.slide is None or roi is None:
            return None
        if isinstance(roi, QPolygonF):
            return self.store.query_polygon(np.array([(p.x(), p.y()) for p in roi]))
        return self.store.query_rect(roi.left(), roi.top(), roi.right(), roi.bottom())
