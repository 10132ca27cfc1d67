"""The overview (minimap): the whole slide's thumbnail with the visible area outlined.

Click or drag in it to move the main view there; it follows every pan and zoom."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


class OverviewMap(QWidget):
    def __init__(self, view, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = view
        self.setObjectName("overviewMap")
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move the view")
        view.viewChanged.connect(self.update)

    def sizeHint(self) -> QSize:
        return QSize(280, 200)

    def image_rect(self) -> QRectF:
        """Where the thumbnail is drawn: centred, aspect kept, inside a small margin."""
        if self.view.slide is None:
            return QRectF()
        w, h = self.view.slide.dimensions
        avail = QRectF(self.rect()).adjusted(4, 4, -4, -4)
        s = min(avail.width() / w, avail.height() / h)
        return QRectF(avail.center().x() - w * s / 2, avail.center().y() - h * s / 2, w * s, h * s)

    def to_slide(self, p: QPointF) -> QPointF:
        r = self.image_rect()
        w, _ = self.view.slide.dimensions
        s = r.width() / w
        return QPointF((p.x() - r.left()) / s, (p.y() - r.top()) / s)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(40, 40, 40))
        thumb = self.view.thumbnail
        if thumb is None:
            painter.setPen(QColor(160, 160, 160))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No slide")
            return
        r = self.image_rect()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(r, thumb)
        w, _ = self.view.slide.dimensions
        s = r.width() / w
        visible = self.view.visible_scene_rect()
        box = QRectF(r.left() + visible.left() * s, r.top() + visible.top() * s, visible.width() * s, visible.height() * s)
        painter.setClipRect(r.adjusted(-2, -2, 2, 2))
        painter.setPen(QPen(QColor(255, 60, 60), 2))
        painter.drawRect(box.intersected(r.adjusted(-1, -1, 1, 1)))

    def mousePressEvent(self, event) -> None:
        self._go(event)

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._go(event)

    def _go(self, event) -> None:
        if self.view.slide is None:
            return
        self.view.centerOn(self.to_slide(event.position()))
        self.view.viewChanged.emit()
