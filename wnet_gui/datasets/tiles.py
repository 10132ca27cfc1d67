"""What every annotated data set yields: an image with its true centres (and, when known,
instances, outlines and types), read the same way whatever the format."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass
class NucleiTile:
    """One annotated image: pixels, centres (x, y) and, when known, instances."""

    name: str
    image: np.ndarray  # RGB uint8 (H, W, 3)
    centres: np.ndarray  # float (N, 2) x, y
    mpp: float
    instances: np.ndarray | None = None  # int32 (H, W), 0 = background, k = nucleus k
    polygons: list[np.ndarray] | None = None  # level-0 outlines, (M, 2) x, y
    types: list[str | None] | None = None  # a type per centre (None: untyped), when the dataset has them


def read_rgb(path: str | Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
