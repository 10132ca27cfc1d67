"""The slide viewer: tiled multi-resolution drawing, zoom about the cursor, pan, overlays.

The view paints slide tiles in drawBackground (requesting missing ones from the
thread-pooled TileCache, showing the thumbnail meanwhile) and nuclei, the ROI and the
scale bar in drawForeground. Mouse handling per tool lives in ``mouse_bindings``.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap, QPolygonF, QUndoStack
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView

from ..annotations import NucleusStore
from ..slides import Slide
from .overlay import PointStyle, draw_nuclei, draw_selection, nice_scale_bar
from .selection import Selection
from .tiles import TILE, TileCache, to_qimage


class SlideView(QGraphicsView):
    viewChanged = Signal()
    roiChanged = Signal(object)  # QRectF or QPolygonF (an outline) in level-0 px, or None
    cursorMoved = Signal(float, float)  # level-0 x, y under the mouse

    MIN_SCALE_FACTOR = 0.5  # fit scale × this is the furthest out
    MAX_SCALE = 16.0  # screen px per level-0 px

    def __init__(self, store: NucleusStore, undo: QUndoStack, parent=None):
        super().__init__(parent)
        self.store = store
        self.undo = undo
        self.slide: Slide | None = None
        self.style = PointStyle()
        self.selection = Selection(store, self)
        self.selection.changed.connect(self.viewport().update)
        self.tiles = TileCache(parent=self)
        self.tiles.tileReady.connect(self.viewport().update)
        self._thumb = None
        self._thumb_scaled: QPixmap | None = None
        self._thumb_rect = QRectF()
        self.roi: QRectF | QPolygonF | None = None
        self.foreground_painters: list = []  # callables(painter) drawn over the nuclei, in scene coordinates
        self.visible_count = 0
        self.active_class = None  # callable → the class new points get (set by the class tools)
        self._table = None  # display lookup table (brightness/contrast/gamma), None = as scanned
        self._adjusted: dict = {}  # tile key → adjusted image, for the current table
        self.setScene(QGraphicsScene(self))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setBackgroundBrush(QColor(40, 40, 40))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMouseTracking(True)
        from .mouse_bindings import ToolController

        self.tools = ToolController(self)
        store.listeners.append(lambda *_: self.viewport().update())

    # -- slide ----------------------------------------------------------------------
    def set_slide(self, slide: Slide | None) -> None:
        self.slide = slide
        self._adjusted.clear()
        self.tiles.set_slide(slide)
        self.roi = None
        self.selection.clear()
        if slide is None:
            self._thumb = None
            self.scene().setSceneRect(QRectF())
            return
        w, h = slide.dimensions
        margin = max(w, h) * 0.5  # allow panning a little past the edges
        self.scene().setSceneRect(QRectF(-margin, -margin, w + 2 * margin, h + 2 * margin))
        self._thumb = to_qimage(slide.get_thumbnail(2048))
        self._thumb_scaled = None
        self._thumb_rect = QRectF(0, 0, w, h)
        self.fit()

    @property
    def thumbnail(self):
        """The whole slide as a QImage (≤ 2048 px), or None without a slide."""
        return self._thumb if self.slide is not None else None

    # -- zoom -------------------------------------------------------------------------
    @property
    def scale(self) -> float:
        return self.transform().m11()

    def fit_scale(self) -> float:
        if self.slide is None:
            return 1.0
        w, h = self.slide.dimensions
        vp = self.viewport().rect()
        return min(vp.width() / w, vp.height() / h) * 0.95

    def fit(self) -> None:
        if self.slide is None:
            return
        self.resetTransform()
        s = self.fit_scale()
        self.scale_by(s)
        w, h = self.slide.dimensions
        self.centerOn(w / 2, h / 2)
        self.viewChanged.emit()

    def one_to_one(self) -> None:
        centre = self.mapToScene(self.viewport().rect().center())
        self.resetTransform()
        self.centerOn(centre)
        self.viewChanged.emit()

    def scale_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom by ``factor`` keeping the scene point under ``anchor`` (viewport px) fixed."""
        target = min(max(self.scale * factor, self.fit_scale() * self.MIN_SCALE_FACTOR), self.MAX_SCALE)
        factor = target / self.scale
        if anchor is None:
            anchor = QPointF(self.viewport().rect().center())
        before = self.mapToScene(anchor.toPoint())
        self.scale_(factor)
        after = self.mapToScene(anchor.toPoint())
        delta = after - before
        self.translate(delta.x(), delta.y())
        self.viewChanged.emit()

    def scale_(self, factor: float) -> None:
        QGraphicsView.scale(self, factor, factor)

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.scale_by(1.25**steps, event.position())
        event.accept()

    def visible_scene_rect(self) -> QRectF:
        return self.mapToScene(self.viewport().rect()).boundingRect()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.viewChanged.emit()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self.viewChanged.emit()

    # -- painting -----------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        super().drawBackground(painter, rect)
        if self.slide is None or self._thumb is None:
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self._draw_thumbnail(painter)  # the whole slide at once; tiles cover it when sharper
        w, h = self.slide.dimensions
        downsample = 1.0 / max(self.scale, 1e-9)
        level = max(0, int(math.floor(math.log2(max(downsample, 1.0)))))
        thumb_ds = max(w, h) / max(self._thumb.width(), self._thumb.height())
        if 2.0**level >= thumb_ds:
            return  # the thumbnail is already as sharp as the screen
        span = TILE * 2.0**level
        visible = rect.intersected(QRectF(0, 0, w, h))
        if visible.isEmpty():
            return
        # tiles are drawn on whole device pixels: each edge is rounded once and shared by the
        # two tiles that meet there, so no background shows through at any zoom (fractional
        # edges left hairline seams at 470–530 %)
        t = painter.transform()
        painter.save()
        painter.resetTransform()
        for ty in range(int(visible.top() // span), int(visible.bottom() // span) + 1):
            y0, y1 = round(ty * span * t.m22() + t.m32()), round((ty + 1) * span * t.m22() + t.m32())
            for tx in range(int(visible.left() // span), int(visible.right() // span) + 1):
                image = self.tiles.get(level, tx, ty)
                if image is not None:
                    x0, x1 = round(tx * span * t.m11() + t.m31()), round((tx + 1) * span * t.m11() + t.m31())
                    painter.drawImage(QRectF(x0, y0, x1 - x0, y1 - y0), self._display((level, tx, ty), image))
        painter.restore()

    def set_adjustments(self, brightness: float, contrast: float, gamma: float) -> None:
        """Display-only brightness/contrast/gamma (the slide and model input are untouched)."""
        from .image_adjust import IDENTITY, lookup_table

        table = None if (brightness, contrast, gamma) == IDENTITY else lookup_table(brightness, contrast, gamma)
        if (table is None) != (self._table is None) or (table is not None and not np.array_equal(table, self._table)):
            self._table = table
            self._adjusted.clear()
            self._thumb_scaled = None
            self.viewport().update()

    def _display(self, key, image):
        """``image`` as the user asked to see it (cached per tile while the table stands)."""
        if self._table is None:
            return image
        out = self._adjusted.get(key)
        if out is None:
            from .image_adjust import adjusted

            if len(self._adjusted) > 600:
                self._adjusted.clear()
            out = self._adjusted[key] = adjusted(image, self._table)
        return out

    def _draw_thumbnail(self, painter: QPainter) -> None:
        """Smooth-scaling a 2048-px thumbnail on every paint costs ~10 ms; scale it once
        per zoom level to its on-screen size and blit it in device pixels."""
        t = painter.transform()
        size = (max(1, round(self._thumb_rect.width() * t.m11())), max(1, round(self._thumb_rect.height() * t.m22())))
        if size[0] > 2 * self._thumb.width():  # zoomed far in: tiles cover the screen anyway
            painter.drawImage(self._thumb_rect, self._display("thumb", self._thumb))
            return
        if self._thumb_scaled is None or self._thumb_scaled.size().toTuple() != size:
            scaled = self._thumb.scaled(*size, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation)
            if self._table is not None:
                from .image_adjust import adjusted

                scaled = adjusted(scaled, self._table)
            self._thumb_scaled = QPixmap.fromImage(scaled)
        painter.save()
        painter.resetTransform()
        painter.drawPixmap(round(t.m31()), round(t.m32()), self._thumb_scaled)
        painter.restore()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self.slide is None:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        moving = self.tools.moving_id
        self.visible_count = draw_nuclei(painter, self.store, rect, self.scale, self.style, hidden_id=moving)
        if len(self.selection):
            draw_selection(painter, self.store, self.selection.ids(), rect, self.style)
        self.tools.draw_preview(painter)
        for paint in self.foreground_painters:  # features' own overlays (reviewed regions…)
            paint(painter)
        if self.roi is not None:
            pen = QPen(QColor(255, 140, 0), 2, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            painter.setPen(pen)
            if isinstance(self.roi, QPolygonF):
                painter.drawPolygon(self.roi)
            else:
                painter.drawRect(self.roi)
        self._draw_scale_bar(painter)

    def _draw_scale_bar(self, painter: QPainter) -> None:
        mpp = self.slide.mpp if self.slide is not None else None
        if not mpp:
            return
        um, px = nice_scale_bar(mpp / self.scale)
        painter.save()
        painter.resetTransform()
        vp = self.viewport().rect()
        x0, y0 = 20, vp.height() - 24
        painter.fillRect(QRectF(x0 - 6, y0 - 22, px + 12, 32), QColor(0, 0, 0, 140))
        painter.setPen(QPen(QColor(255, 255, 255), 3))
        painter.drawLine(QPointF(x0, y0), QPointF(x0 + px, y0))
        painter.setFont(QFont("Sans", 9))
        label = f"{um:g} µm" if um < 1000 else f"{um / 1000:g} mm"
        painter.drawText(QPointF(x0, y0 - 8), label)
        painter.restore()

    # -- events delegated to the active tool ----------------------------------------------
    def mousePressEvent(self, event) -> None:
        if not self.tools.press(event):
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        p = self.mapToScene(event.position().toPoint())
        self.cursorMoved.emit(p.x(), p.y())
        if not self.tools.move(event):
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if not self.tools.release(event):
            super().mouseReleaseEvent(event)

    def set_roi(self, rect: QRectF | QPolygonF | None) -> None:
        if isinstance(rect, QPolygonF):
            bounds = rect.boundingRect()
            if bounds.width() < 2 or bounds.height() < 2:
                rect = None
        elif rect is not None and self.slide is not None:
            w, h = self.slide.dimensions
            rect = rect.intersected(QRectF(0, 0, w, h))
            if rect.width() < 2 or rect.height() < 2:
                rect = None
        self.roi = rect
        self.roiChanged.emit(rect)
        self.viewport().update()

    def ids_in_view(self) -> np.ndarray:
        r = self.visible_scene_rect()
        return self.store.query_rect(r.left(), r.top(), r.right(), r.bottom())
