"""What the mouse does in each tool: pan, add, select and delete (click, rectangle,
Shift+lasso; Ctrl toggles into the selection), move (drag a point), and drawing a region
of interest (a rectangle, or with Shift an outline). Every edit is one undo step."""

from __future__ import annotations

from enum import Enum

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsView

from .commands import AddPointsCommand, MovePointCommand, RemovePointsCommand


class Tool(Enum):
    PAN = "pan"
    ADD = "add"
    SELECT = "select"
    DELETE = "delete"
    MOVE = "move"
    ROI = "roi"
    MEASURE = "measure"


class ToolController:
    def __init__(self, view):
        self.view = view
        self.tool = Tool.PAN
        self.moving_id: int | None = None
        self._drag_start: QPointF | None = None
        self._drag_now: QPointF | None = None
        self._lasso: list[QPointF] | None = None
        self._panning_from: QPointF | None = None
        self.measurement: tuple[QPointF, QPointF] | None = None  # the ruler's last line, kept on screen

    def set_tool(self, tool: Tool) -> None:
        self.tool = tool
        self.view.setDragMode(QGraphicsView.DragMode.NoDrag)
        cursor = {Tool.PAN: Qt.CursorShape.OpenHandCursor, Tool.ADD: Qt.CursorShape.CrossCursor,
                  Tool.SELECT: Qt.CursorShape.PointingHandCursor, Tool.DELETE: Qt.CursorShape.ForbiddenCursor, Tool.MOVE: Qt.CursorShape.SizeAllCursor,
                  Tool.ROI: Qt.CursorShape.CrossCursor, Tool.MEASURE: Qt.CursorShape.CrossCursor}[tool]
        if tool != Tool.MEASURE:
            self.measurement = None
        self.view.viewport().setCursor(cursor)

    def _hit_radius(self) -> float:
        return max(self.view.style.size, 6.0) / max(self.view.scale, 1e-9)

    def _scene(self, event) -> QPointF:
        return self.view.mapToScene(event.position().toPoint())

    # -- events: return True when handled ---------------------------------------------
    def press(self, event) -> bool:
        if self.view.slide is None:
            return False
        pan_button = event.button() == Qt.MouseButton.MiddleButton or (event.button() == Qt.MouseButton.LeftButton and self.tool == Tool.PAN)
        if pan_button:
            self._panning_from = event.position()
            self.view.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return True
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        p = self._scene(event)
        x, y = p.x() - 0.5, p.y() - 0.5  # scene → pixel-centre coordinates
        if self.tool == Tool.ADD:
            cls = self.view.active_class() if self.view.active_class else "Nucleus"
            self.view.undo.push(AddPointsCommand(self.view.store, [x], [y], cls=cls))
        elif self.tool == Tool.MOVE:
            self.moving_id = self.view.store.nearest(x, y, self._hit_radius())
            self._drag_now = p
        elif self.tool == Tool.MEASURE:
            self.measurement = (p, p)
        elif self.tool in (Tool.SELECT, Tool.DELETE, Tool.ROI):
            self._drag_start = self._drag_now = p
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self._lasso = [p]
        return True

    def move(self, event) -> bool:
        if self._panning_from is not None:
            delta = event.position() - self._panning_from
            self._panning_from = event.position()
            s = self.view.scale
            self.view.translate(delta.x() / s, delta.y() / s)
            self.view.viewChanged.emit()
            return True
        if self.tool == Tool.MEASURE and self.measurement is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self.measurement = (self.measurement[0], self._scene(event))
            self.view.viewport().update()
            return True
        if self._drag_start is not None or self.moving_id is not None:
            self._drag_now = self._scene(event)
            if self._lasso is not None:
                self._lasso.append(self._drag_now)
            self.view.viewport().update()
            return True
        return False

    def release(self, event) -> bool:
        if self._panning_from is not None:
            self._panning_from = None
            self.set_tool(self.tool)
            return True
        store, undo = self.view.store, self.view.undo
        if self.moving_id is not None:
            p = self._scene(event)
            nid, self.moving_id = self.moving_id, None
            undo.push(MovePointCommand(store, nid, p.x() - 0.5, p.y() - 0.5))
            return True
        if self.tool == Tool.MEASURE:
            if self.measurement is not None:
                self.measurement = (self.measurement[0], self._scene(event))
                self.view.viewport().update()
            return True
        if self._drag_start is None:
            return self.tool != Tool.PAN
        start, end = self._drag_start, self._scene(event)
        lasso, self._lasso = self._lasso, None
        self._drag_start = self._drag_now = None
        rect = QRectF(start, end).normalized()
        dragged = rect.width() * self.view.scale > 4 or rect.height() * self.view.scale > 4
        if self.tool == Tool.ROI:
            if lasso is not None and len(lasso) > 2 and dragged:
                self.view.set_roi(QPolygonF(lasso))
            else:
                self.view.set_roi(rect if dragged else None)
            return True
        if lasso is not None and len(lasso) > 2:
            ids = store.query_polygon(np.array([[q.x() - 0.5, q.y() - 0.5] for q in lasso]))
        elif dragged:
            ids = store.query_rect(rect.left() - 0.5, rect.top() - 0.5, rect.right() - 0.5, rect.bottom() - 0.5)
        else:
            nid = store.nearest(end.x() - 0.5, end.y() - 0.5, self._hit_radius())
            ids = np.array([nid]) if nid is not None else np.zeros(0, np.int64)
        if self.tool == Tool.SELECT:
            self.view.selection.set(ids, extend=bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier))
        elif len(ids):
            undo.push(RemovePointsCommand(store, ids))
        self.view.viewport().update()
        return True

    def measured(self) -> tuple[float, float | None] | None:
        """The ruler's length in level-0 pixels and in µm (None without a scale)."""
        if self.measurement is None:
            return None
        a, b = self.measurement
        px = float(np.hypot(b.x() - a.x(), b.y() - a.y()))
        mpp = self.view.slide.mpp if self.view.slide is not None else None
        return px, (px * mpp if mpp else None)

    def _draw_ruler(self, painter: QPainter) -> None:
        a, b = self.measurement
        px, um = self.measured()
        pen = QPen(QColor(255, 255, 255), 2)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawLine(a, b)
        t = painter.transform()
        label = (f"{um:.1f} µm" if um is not None else "") + f" ({px:.0f} px)"
        painter.save()
        painter.resetTransform()
        at = t.map(b) + QPointF(8, -8)
        painter.setPen(QColor(0, 0, 0))
        painter.drawText(at + QPointF(1, 1), label.strip())
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(at, label.strip())
        painter.restore()

    def draw_preview(self, painter: QPainter) -> None:
        """The rubber band, lasso, ruler or the point being dragged."""
        if self.measurement is not None:
            self._draw_ruler(painter)
        if self.moving_id is not None and self._drag_now is not None:
            pen = QPen(self.view.style.manual_color, self.view.style.size)
            pen.setCosmetic(True)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            painter.setPen(pen)
            painter.drawPoint(self._drag_now)
        if self._drag_start is not None and self._drag_now is not None:
            color = {Tool.DELETE: QColor(255, 80, 80), Tool.SELECT: QColor(255, 255, 255)}.get(self.tool, QColor(255, 140, 0))
            pen = QPen(color, 1.5, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            painter.setPen(pen)
            if self._lasso is not None:
                painter.drawPolygon(QPolygonF(self._lasso))
            else:
                painter.drawRect(QRectF(self._drag_start, self._drag_now).normalized())
