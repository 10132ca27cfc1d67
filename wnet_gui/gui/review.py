"""Reviewed regions: the drawn region the pathologist has corrected completely (every nucleus
inside has a point, nothing else has one) is marked reviewed — one undo step, drawn in green,
autosaved and exported with the annotations. Detection never replaces points inside one, and
the adaptation (``adaptation.py``) learns from them."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from ..annotations.geojson_export import REVIEWED_COLOR
from .commands import MarkReviewedCommand
from .overlay import qpolygonf


def outline_of(roi: QRectF | QPolygonF | None) -> np.ndarray | None:
    """The drawn region as a level-0 outline (M, 2), or None."""
    if roi is None:
        return None
    if isinstance(roi, QPolygonF):
        xy = np.array([(p.x(), p.y()) for p in roi], np.float64)
        return xy if len(xy) >= 3 else None
    r = roi
    return np.array([[r.left(), r.top()], [r.right(), r.top()], [r.right(), r.bottom()], [r.left(), r.bottom()]], np.float64)


class ReviewRegions(QObject):
    changed = Signal()

    def __init__(self, ctx):
        super().__init__(ctx)
        self.ctx = ctx
        self.mark_button = QPushButton("Mark drawn region reviewed")
        self.mark_button.setObjectName("markReviewedButton")
        self.mark_button.setToolTip("Every nucleus inside has a point and nothing else has one (Ctrl+Shift+R). "
                                    "Detection will not touch it; the model can learn from it.")
        self.mark_button.clicked.connect(self.mark_drawn_region)
        self.summary = QLabel("No reviewed regions yet")
        self.summary.setObjectName("reviewedSummary")
        self.summary.setWordWrap(True)
        self.widget = QWidget()
        layout = QVBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.mark_button)
        layout.addWidget(self.summary)
        self._count = (-1, 0)  # (store revision, reviewed nuclei)
        ctx.view.foreground_painters.append(self.paint)
        ctx.store.listeners.append(self._on_store)

    # -- model --------------------------------------------------------------------------
    def mark_drawn_region(self) -> bool:
        ctx = self.ctx
        outline = outline_of(ctx.view.roi)
        if ctx.slide is None or outline is None:
            ctx.status("Draw a region first (R), correct every nucleus in it, then mark it reviewed", 6000)
            return False
        ctx.undo.push(MarkReviewedCommand(ctx.store, outline))
        n = len(ctx.store.reviewed_ids())
        ctx.status(f"Region marked reviewed: {len(ctx.store.reviewed)} reviewed region(s), {n:,} nuclei", 6000)
        return True

    def add_imported(self, outlines: list[np.ndarray]) -> None:
        """Reviewed regions read back from our own export (or QuPath annotations classed 'Reviewed')."""
        def key(o: np.ndarray) -> tuple:
            return tuple(np.round(o, 1).ravel())

        known = {key(o) for o in self.ctx.store.reviewed}
        for outline in outlines:
            outline = np.asarray(outline, np.float64).reshape(-1, 2)
            if len(outline) > 3 and np.allclose(outline[0], outline[-1]):
                outline = outline[:-1]  # GeoJSON rings repeat their first corner
            if key(outline) not in known:  # re-importing our own export does not double them
                known.add(key(outline))
                self.ctx.undo.push(MarkReviewedCommand(self.ctx.store, outline, "Import reviewed region"))

    def nuclei(self) -> int:
        """Nuclei in the reviewed regions, counted once per change of the store (the summary and
        the Adapt button both ask)."""
        store = self.ctx.store
        if self._count[0] != store.revision:
            self._count = (store.revision, int(len(store.reviewed_ids())) if store.reviewed else 0)
        return self._count[1]

    def _on_store(self, what: str, ids) -> None:
        if what == "reviewed":  # other edits reach the summary through the window's debounced counts
            self.refresh()

    def refresh(self) -> None:
        store = self.ctx.store
        if not store.reviewed:
            self.summary.setText("No reviewed regions yet")
        else:
            self.summary.setText(f"{len(store.reviewed)} reviewed region(s), {self.nuclei():,} nuclei")
        self.changed.emit()

    # -- drawing ------------------------------------------------------------------------
    def paint(self, painter: QPainter) -> None:
        reviewed = self.ctx.store.reviewed
        if not reviewed:
            return
        pen = QPen(QColor(*REVIEWED_COLOR), 3, Qt.PenStyle.SolidLine)
        pen.setCosmetic(True)
        painter.save()
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)  # no veil over the tissue a pathologist reads
        for outline in reviewed:
            painter.drawPolygon(qpolygonf(outline))
        painter.restore()
