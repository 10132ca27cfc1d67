"""Brightness, contrast and gamma for display only: a 256-entry lookup table applied to the
tiles the viewer draws (the slide and the model input are never changed)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

IDENTITY = (0, 1.0, 1.0)  # brightness (−100…100), contrast (×), gamma


def lookup_table(brightness: float, contrast: float, gamma: float) -> np.ndarray:
    """out = ((in/255)^(1/gamma) − 0.5)·contrast + 0.5 + brightness/255, clipped to 0…255."""
    x = np.arange(256, dtype=np.float64) / 255.0
    y = (np.power(x, 1.0 / max(gamma, 1e-3)) - 0.5) * contrast + 0.5 + brightness / 255.0
    return np.clip(np.round(y * 255.0), 0, 255).astype(np.uint8)


def adjusted(image: QImage, table: np.ndarray) -> QImage:
    """A copy of an RGB32 image with ``table`` applied to its colour channels."""
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    w, h = image.width(), image.height()
    pixels = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes()).reshape(h, image.bytesPerLine())[:, : 4 * w]
    out = table[pixels.reshape(h, w, 4)]
    out[..., 3] = 255
    return QImage(out.tobytes(), w, h, 4 * w, QImage.Format.Format_RGB32).copy()
