"""Drawing nuclei over the slide: only what is visible, in a few batched calls.

Up to ``VECTOR_LIMIT`` visible points are drawn as round cosmetic points (two calls: model
and manual colours); beyond that they are splatted into one viewport-sized image with
numpy, which keeps 100,000+ points fluid. Outlines are drawn only when zoomed in enough
to see them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPainterPath, QPen, QPolygonF

from ..annotations import MANUAL, NucleusStore

VECTOR_LIMIT = 20000


@dataclass
class PointStyle:
    size: float = 7.0  # screen pixels
    model_color: QColor = field(default_factory=lambda: QColor(255, 220, 0))
    manual_color: QColor = field(default_factory=lambda: QColor(0, 230, 255))
    mask_color: QColor = field(default_factory=lambda: QColor(60, 255, 120))
    show_points: bool = True
    show_masks: bool = True


def draw_nuclei(painter: QPainter, store: NucleusStore, rect: QRectF, scale: float, style: PointStyle,
                hidden_id: int | None = None) -> int:
    """Draw nuclei inside scene ``rect`` at view ``scale`` (screen px per level-0 px).
    Returns how many are visible."""
    pad = style.size / max(scale, 1e-9)
    ids = store.query_rect(rect.left() - pad, rect.top() - pad, rect.right() + pad, rect.bottom() + pad)
    if hidden_id is not None:
        ids = ids[ids != hidden_id]
    if len(ids) == 0:
        return 0
    if style.show_masks and scale >= 0.15 and store.polygons:
        _draw_masks(painter, store, ids, style, scale)
    if style.show_points:
        cols = store.columns(ids)
        manual_code = store.sources._code.get(MANUAL, -1)
        is_manual = cols["source"] == manual_code
        if len(ids) <= VECTOR_LIMIT:
            _draw_vector(painter, cols["x"], cols["y"], is_manual, style)
        else:
            _draw_raster(painter, cols["x"], cols["y"], is_manual, rect, scale, style)
    return len(ids)


def _points(xs: np.ndarray, ys: np.ndarray) -> list[QPointF]:
    # pixel centres: level-0 pixel i spans [i, i+1) in scene coordinates
    return [QPointF(x + 0.5, y + 0.5) for x, y in zip(xs.tolist(), ys.tolist())]


def _draw_vector(painter: QPainter, xs, ys, is_manual, style: PointStyle) -> None:
    for mask, color in ((~is_manual, style.model_color), (is_manual, style.manual_color)):
        if not mask.any():
            continue
        outline = QPen(QColor(0, 0, 0, 160), style.size + 2)
        outline.setCosmetic(True)
        outline.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen = QPen(color, style.size)
        pen.setCosmetic(True)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pts = _points(xs[mask], ys[mask])
        painter.setPen(outline)
        painter.drawPoints(pts)
        painter.setPen(pen)
        painter.drawPoints(pts)


def _draw_raster(painter: QPainter, xs, ys, is_manual, rect: QRectF, scale: float, style: PointStyle) -> None:
    w = max(1, int(np.ceil(rect.width() * scale)))
    h = max(1, int(np.ceil(rect.height() * scale)))
    image = np.zeros((h, w, 4), np.uint8)
    u = ((xs + 0.5 - rect.left()) * scale).astype(np.int64)
    v = ((ys + 0.5 - rect.top()) * scale).astype(np.int64)
    r = max(1, int(style.size // 3))
    for mask, color in ((~is_manual, style.model_color), (is_manual, style.manual_color)):
        bgra = (color.blue(), color.green(), color.red(), 255)
        for du in range(-r, r + 1):
            for dv in range(-r, r + 1):
                uu, vv = u[mask] + du, v[mask] + dv
                ok = (uu >= 0) & (uu < w) & (vv >= 0) & (vv < h)
                image[vv[ok], uu[ok]] = bgra
    qimage = QImage(image.data, w, h, 4 * w, QImage.Format.Format_ARGB32)
    painter.drawImage(rect, qimage)


def draw_selection(painter: QPainter, store: NucleusStore, ids: np.ndarray, rect: QRectF, style: PointStyle) -> None:
    """White rings around the selected nuclei that are inside ``rect``."""
    if len(ids) == 0:
        return
    xy = store.coordinates(ids)
    inside = (xy[:, 0] >= rect.left() - 1) & (xy[:, 0] <= rect.right()) & (xy[:, 1] >= rect.top() - 1) & (xy[:, 1] <= rect.bottom())
    if inside.sum() > VECTOR_LIMIT // 4:  # rings would be sub-pixel clutter: tint instead
        pen = QPen(QColor(255, 255, 255), style.size + 2)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawPoints(_points(xy[inside, 0], xy[inside, 1]))
        return
    pen = QPen(QColor(255, 255, 255), 2.0)
    pen.setCosmetic(True)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    radius = (style.size + 6) / 2 / max(painter.transform().m11(), 1e-9)
    for x, y in xy[inside].tolist():
        painter.drawEllipse(QPointF(x + 0.5, y + 0.5), radius, radius)


def _draw_masks(painter: QPainter, store: NucleusStore, ids: np.ndarray, style: PointStyle, scale: float) -> None:
    path = QPainterPath()
    for i in ids.tolist():
        poly = store.polygons.get(i)
        if poly is None:
            continue
        path.addPolygon(QPolygonF([QPointF(x + 0.5, y + 0.5) for x, y in poly.tolist()]))
        path.closeSubpath()
    if path.isEmpty():
        return
    fill = QColor(style.mask_color)
    fill.setAlpha(50)
    pen = QPen(style.mask_color, 1.5)
    pen.setCosmetic(True)
    painter.setPen(pen)
    painter.setBrush(QBrush(fill))
    painter.drawPath(path)
    painter.setBrush(Qt.BrushStyle.NoBrush)


def nice_scale_bar(um_per_screen_px: float, target_px: float = 120.0) -> tuple[float, float]:
    """A round length in µm near ``target_px`` screen pixels: (µm, screen px)."""
    raw = um_per_screen_px * target_px
    exponent = np.floor(np.log10(raw))
    for m in (1, 2, 5, 10):
        value = m * 10**exponent
        if value >= raw * 0.7:
            break
    return float(value), float(value / um_per_screen_px)
