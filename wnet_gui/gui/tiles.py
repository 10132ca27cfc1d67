"""Slide pixels for the viewer: tiles read on a thread pool, kept in an LRU cache.

Tiles live on a power-of-two pyramid (virtual level k = downsample 2^k) whatever the
file's own levels are, so plain images zoom out as smoothly as pyramidal slides.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from ..slides import Slide

TILE = 512


def to_qimage(rgb: np.ndarray) -> QImage:
    """RGB array → QImage in the raster engine's native 32-bit format, converted once here
    (on the loader thread) rather than on every paint (RGB888 costs a conversion per draw)."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).convertToFormat(QImage.Format.Format_RGB32)


class _Signals(QObject):
    loaded = Signal(object, object)  # key, QImage


class _TileJob(QRunnable):
    def __init__(self, slide: Slide, key: tuple, signals: _Signals):
        super().__init__()
        self.slide, self.key, self.signals = slide, key, signals

    def run(self) -> None:
        generation, level, tx, ty = self.key
        ds = 2.0**level
        span = TILE * ds
        try:
            rgb = self.slide.read_scaled(int(tx * span), int(ty * span), int(span), int(span), ds, (TILE, TILE))
            image = to_qimage(rgb)
        except Exception:
            image = None  # a tile that cannot be read stays on the low-res fallback
        self.signals.loaded.emit(self.key, image)


class TileCache(QObject):
    """Asynchronous tile source; ``tileReady`` fires when a requested tile arrives."""

    tileReady = Signal()

    def __init__(self, capacity: int = 400, parent: QObject | None = None):
        super().__init__(parent)
        self.capacity = capacity
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self._cache: OrderedDict[tuple, QImage] = OrderedDict()
        self._pending: set[tuple] = set()
        self._signals = _Signals()
        self._signals.loaded.connect(self._on_loaded)
        self.slide: Slide | None = None
        self.generation = 0

    def set_slide(self, slide: Slide | None) -> None:
        self.pool.clear()
        self.slide = slide
        self.generation += 1  # tiles of the previous slide still in flight are ignored
        self._cache.clear()
        self._pending.clear()

    def get(self, level: int, tx: int, ty: int) -> QImage | None:
        key = (self.generation, level, tx, ty)
        image = self._cache.get(key)
        if image is not None:
            self._cache.move_to_end(key)
            return image
        if key not in self._pending and self.slide is not None:
            self._pending.add(key)
            self.pool.start(_TileJob(self.slide, key, self._signals))
        return None

    def _on_loaded(self, key: tuple, image: QImage | None) -> None:
        self._pending.discard(key)
        if key[0] != self.generation or image is None:
            return
        self._cache[key] = image
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        self.tileReady.emit()

    def wait_idle(self, msecs: int = 5000) -> None:
        self.pool.waitForDone(msecs)
