"""Drawing nuclei over the slide: only what is visible, in a few batched calls.

Up to ``VECTOR_LIMIT`` visible points are blitted as pre-rendered antialiased sprites;
beyond that they become one viewport-sized label image (numpy scatter + one OpenCV
dilation, drawn through a colour table), which keeps 100,000+ points fluid. Outlines are
drawn only when zoomed in enough to see them, as paths when few and rasterised when many
(``scripts/bench_render.py`` measures all of it).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

import cv2
import numpy as np
import shiboken6
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

from ..annotations import MANUAL, NucleusStore

VECTOR_LIMIT = 5000  # visible points drawn as antialiased sprites; beyond, one raster image
VECTOR_OUTLINES = 3000  # visible outlines drawn as antialiased paths; beyond, rasterised
MASK_MIN_SCALE = 0.2  # screen px per level-0 px below which outlines are too small to see
SELECTION_COLOR = QColor(255, 255, 255)  # a round halo: selected
HAND_SET_COLOR = QColor(20, 20, 20, 230)  # a small square: class set by hand (a different shape, never mistaken for it)


@dataclass
class PointStyle:
    size: float = 7.0  # screen pixels
    model_color: QColor = field(default_factory=lambda: QColor(255, 220, 0))
    manual_color: QColor = field(default_factory=lambda: QColor(0, 230, 255))
    mask_color: QColor = field(default_factory=lambda: QColor(60, 255, 120))
    show_points: bool = True
    show_masks: bool = True
    mask_opacity: float = 0.2  # of the fill; outlines stay opaque so chromatin shows through
    by_class: bool = False  # colour points and masks by class (else by source: model vs manual)
    class_colors: dict = field(default_factory=dict)  # class code → QColor
    hidden_classes: frozenset = frozenset()  # class codes not drawn


def draw_nuclei(painter: QPainter, store: NucleusStore, rect: QRectF, scale: float, style: PointStyle,
                hidden_id: int | None = None) -> int:
    """Draw nuclei inside scene ``rect`` at view ``scale`` (screen px per level-0 px).
    Returns how many are visible."""
    pad = style.size / max(scale, 1e-9)
    cols = store.columns_in_rect(rect.left() - pad, rect.top() - pad, rect.right() + pad, rect.bottom() + pad)
    if hidden_id is not None:
        cols = {k: v[cols["id"] != hidden_id] for k, v in cols.items()}
    if style.hidden_classes:
        shown = ~np.isin(cols["cls"], list(style.hidden_classes))
        cols = {k: v[shown] for k, v in cols.items()}
    ids = cols["id"]
    if len(ids) == 0:
        return 0
    if style.show_masks and scale >= MASK_MIN_SCALE and store.polygons:
        with_outline = [i for i in ids.tolist() if i in store.polygons]
        if len(with_outline) <= VECTOR_OUTLINES:
            _draw_masks(painter, store, with_outline, style)
        else:
            _draw_masks_raster(painter, store, with_outline, rect, scale, style)
    if style.show_points:
        style = crowd_style(style, len(ids), rect.width() * rect.height() * scale * scale)
        groups = colour_groups(cols, store, style)
        if len(ids) <= VECTOR_LIMIT:
            _draw_vector(painter, cols["x"], cols["y"], groups, style)
            if store.extras and style.by_class:
                _draw_hand_set(painter, store, cols, style)
        else:
            _draw_raster(painter, cols["x"], cols["y"], groups, rect, scale, style)
    return len(ids)


def crowd_style(style: PointStyle, n: int, screen_area: float) -> PointStyle:
    """Points shrink when they crowd the screen (zoomed out over thousands of nuclei), so
    the tissue stays readable instead of turning into a solid block: a disc never takes
    more than a third of the mean spacing between points, nor less than 2 px."""
    if n == 0:
        return style
    spacing = (screen_area / n) ** 0.5
    size = min(style.size, max(2.0, round(spacing / 3 * 2) / 2))
    return style if size == style.size else replace(style, size=size)


def _points(xs: np.ndarray, ys: np.ndarray) -> QPolygonF:
    # pixel centres: level-0 pixel i spans [i, i+1) in scene coordinates
    return qpolygonf(np.stack([xs, ys], axis=1) + 0.5)


@lru_cache(maxsize=32)
def _sprite(rgba: int, size: float) -> QPixmap:
    """An antialiased disc with a dark rim, rendered once per colour and size."""
    side = int(np.ceil(size + 4))
    pixmap = QPixmap(side, side)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(QPen(QColor(0, 0, 0, 170), 1.5))
    painter.setBrush(QColor.fromRgba(rgba))
    painter.drawEllipse(QRectF((side - size) / 2, (side - size) / 2, size, size))
    painter.end()
    return pixmap


def colour_groups(cols: dict, store: NucleusStore, style: PointStyle) -> list[tuple[np.ndarray, QColor]]:
    """(which points, colour) in drawing order: by class, or model then manual on top."""
    if style.by_class:
        return [(cols["cls"] == code, style.class_colors.get(int(code), style.model_color)) for code in np.unique(cols["cls"])]
    is_manual = cols["source"] == store.sources.code_of(MANUAL)
    return [(~is_manual, style.model_color), (is_manual, style.manual_color)]


def _draw_vector(painter: QPainter, xs, ys, groups, style: PointStyle) -> None:
    """Blit a pre-rendered sprite per point in device pixels: antialiased points at a
    tenth of the cost of Qt's wide round-capped pen (25 ms for 20,000 points)."""
    t = painter.transform()
    u = (xs + 0.5) * t.m11() + t.m31()
    v = (ys + 0.5) * t.m22() + t.m32()
    painter.save()
    painter.resetTransform()
    for mask, color in groups:
        if not mask.any():
            continue
        sprite = _sprite(color.rgba(), float(style.size))
        half = sprite.width() / 2
        for x, y in zip((u[mask] - half).round().astype(int).tolist(), (v[mask] - half).round().astype(int).tolist()):
            painter.drawPixmap(x, y, sprite)
    painter.restore()


def _draw_hand_set(painter: QPainter, store: NucleusStore, cols: dict, style: PointStyle) -> None:
    """A small dark square around points whose class a pathologist set: told apart from a
    model's, and never mistaken for the selection's round white halo."""
    hand = store.classed_by_hand(cols["id"])
    if not hand.any():
        return
    t = painter.transform()
    u = (cols["x"][hand] + 0.5) * t.m11() + t.m31()
    v = (cols["y"][hand] + 0.5) * t.m22() + t.m32()
    painter.save()
    painter.resetTransform()
    painter.setPen(QPen(HAND_SET_COLOR, 1.5))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    half = style.size / 2 + 2.0
    for x, y in zip(u.tolist(), v.tolist()):
        painter.drawRect(QRectF(x - half, y - half, 2 * half, 2 * half))
    painter.restore()


def _draw_raster(painter: QPainter, xs, ys, groups, rect: QRectF, scale: float, style: PointStyle) -> None:
    """One label image the size of the viewport (a label per colour group, later groups on
    top), grown into discs by a single dilation and drawn through a colour table."""
    w = max(1, int(np.ceil(rect.width() * scale)))
    h = max(1, int(np.ceil(rect.height() * scale)))
    u = ((xs + 0.5 - rect.left()) * scale).astype(np.int64)
    v = ((ys + 0.5 - rect.top()) * scale).astype(np.int64)
    inside = (u >= 0) & (u < w) & (v >= 0) & (v < h)
    labels = np.zeros((h, w), np.uint8)
    for k, (mask, _) in enumerate(groups[:254], start=1):
        sel = inside & mask
        labels[v[sel], u[sel]] = k
    r = max(1, int(style.size // 3))
    labels = cv2.dilate(labels, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    image = QImage(labels.data, w, h, labels.strides[0], QImage.Format.Format_Indexed8)
    image.setColorTable([0] + [color.rgba() for _, color in groups[:254]])
    painter.drawImage(rect, image)


def draw_selection(painter: QPainter, store: NucleusStore, ids: np.ndarray, rect: QRectF, style: PointStyle) -> None:
    """A round white halo on a dark rim around the selected nuclei inside ``rect``."""
    if len(ids) == 0:
        return
    xy = store.coordinates(ids)
    inside = (xy[:, 0] >= rect.left() - 1) & (xy[:, 0] <= rect.right()) & (xy[:, 1] >= rect.top() - 1) & (xy[:, 1] <= rect.bottom())
    if inside.sum() > VECTOR_LIMIT // 4:  # rings would be sub-pixel clutter: tint instead
        pen = QPen(SELECTION_COLOR, style.size + 2)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawPoints(_points(xy[inside, 0], xy[inside, 1]))
        return
    painter.setBrush(Qt.BrushStyle.NoBrush)
    radius = (style.size + 6) / 2 / max(painter.transform().m11(), 1e-9)
    for color, width in ((QColor(0, 0, 0, 200), 4.0), (SELECTION_COLOR, 2.0)):  # the rim keeps it visible on pale tissue
        pen = QPen(color, width)
        pen.setCosmetic(True)
        painter.setPen(pen)
        for x, y in xy[inside].tolist():
            painter.drawEllipse(QPointF(x + 0.5, y + 0.5), radius, radius)


def _draw_masks(painter: QPainter, store: NucleusStore, ids: list[int], style: PointStyle) -> None:
    """Outlines with a light fill; by class, each class's outlines in its colour."""
    if style.by_class and ids:
        codes = store.columns(np.asarray(ids, np.int64))["cls"]
        groups = [([i for i, c in zip(ids, codes) if c == code], style.class_colors.get(int(code), style.mask_color)) for code in np.unique(codes)]
    else:
        groups = [(ids, style.mask_color)]
    for members, color in groups:
        path = QPainterPath()
        for i in members:
            path.addPolygon(qpolygonf(store.polygons[i] + 0.5))
            path.closeSubpath()
        if path.isEmpty():
            continue
        fill = QColor(color)
        fill.setAlpha(round(255 * style.mask_opacity))
        pen = QPen(color, 1.5)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(QBrush(fill))
        painter.drawPath(path)
    painter.setBrush(Qt.BrushStyle.NoBrush)


def _draw_masks_raster(painter: QPainter, store: NucleusStore, ids: list[int], rect: QRectF, scale: float, style: PointStyle) -> None:
    """Many outlines at once: filled and stroked into one viewport-sized label image by
    OpenCV (milliseconds for 100,000 polygons, where antialiased paths take seconds)."""
    w = max(1, int(np.ceil(rect.width() * scale)))
    h = max(1, int(np.ceil(rect.height() * scale)))
    origin = np.array([rect.left(), rect.top()])
    rings = [np.round((store.polygons[i] + 0.5 - origin) * scale).astype(np.int32) for i in ids]
    labels = np.zeros((h, w), np.uint8)
    cv2.fillPoly(labels, rings, 1)
    cv2.polylines(labels, rings, True, 2, 1)
    fill = QColor(style.mask_color)
    fill.setAlpha(round(255 * style.mask_opacity))
    image = QImage(labels.data, w, h, labels.strides[0], QImage.Format.Format_Indexed8)
    image.setColorTable([0, fill.rgba(), style.mask_color.rgba()])
    painter.drawImage(rect, image)


def qpolygonf(xy: np.ndarray) -> QPolygonF:
    """A QPolygonF filled straight from an (N, 2) array: no Python QPointF per vertex."""
    xy = np.ascontiguousarray(xy, np.float64).reshape(-1, 2)
    polygon = QPolygonF()
    polygon.resize(len(xy))
    if len(xy):
        np.frombuffer(shiboken6.VoidPtr(polygon.data(), xy.nbytes, True), np.float64)[:] = xy.ravel()
    return polygon


def nice_scale_bar(um_per_screen_px: float, target_px: float = 120.0) -> tuple[float, float]:
    """A round length in µm near ``target_px`` screen pixels: (µm, screen px)."""
    raw = um_per_screen_px * target_px
    exponent = np.floor(np.log10(raw))
    for m in (1, 2, 5, 10):
        value = m * 10**exponent
        if value >= raw * 0.7:
            break
    return float(value), float(value / um_per_screen_px)
