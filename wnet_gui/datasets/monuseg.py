"""MoNuSeg 2018: 1000×1000 40× H&E tiles with every nucleus outlined (Aperio XML).

Centres are polygon centroids, as the data set's README prescribes. The training tiles
also come with 16-bit instance label PNGs; where a tile has both, they agree on counts.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
from shapely.geometry import Polygon

from ..settings import shared_data_dir
from .tiles import NucleiTile, read_rgb

MONUSEG_MPP = 0.25  # 40× objective; the tiles carry no resolution tag


def monuseg_dir() -> Path:
    return shared_data_dir() / "monuseg"


def read_aperio_xml(path: str | Path) -> list[np.ndarray]:
    """Outlines of every ``<Region>`` as float arrays of (x, y) vertices."""
    root = ET.parse(str(path)).getroot()
    polygons = []
    for region in root.iter("Region"):
        verts = [(float(v.get("X")), float(v.get("Y"))) for v in region.iter("Vertex")]
        if verts:
            polygons.append(np.asarray(verts, dtype=np.float64))
    return polygons


def polygon_centroid(vertices: np.ndarray) -> np.ndarray:
    """Area centroid of an outline; the vertex mean for degenerate ones."""
    if len(vertices) >= 3:
        poly = Polygon(vertices)
        if poly.area > 0:
            c = poly.centroid
            return np.array([c.x, c.y])
    return vertices.mean(axis=0)


def rasterise_instances(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Fill outlines in order into an instance map (later outlines win overlaps)."""
    instances = np.zeros(shape, dtype=np.int32)
    for k, verts in enumerate(polygons, start=1):
        cv2.fillPoly(instances, [np.round(verts).astype(np.int32)], k)
    return instances


def centres_from_instances(instances: np.ndarray) -> np.ndarray:
    """Centroid (x, y) of each labelled instance, ordered by label."""
    labels = np.unique(instances)
    labels = labels[labels > 0]
    if len(labels) == 0:
        return np.zeros((0, 2))
    from scipy import ndimage

    rc = np.asarray(ndimage.center_of_mass(np.ones_like(instances), instances, labels))
    return rc[:, ::-1].astype(np.float64)


def load_tile(tif: str | Path) -> NucleiTile:
    """A MoNuSeg tile with centres, instances and (when the XML is there) outlines."""
    tif = Path(tif)
    image = read_rgb(tif)
    xml = tif.with_suffix(".xml")
    label_png = tif.with_name(tif.stem + "_label.png")
    polygons = read_aperio_xml(xml) if xml.exists() else None
    if polygons is not None:
        instances = rasterise_instances(polygons, image.shape[:2])
        centres = np.array([polygon_centroid(p) for p in polygons]).reshape(-1, 2)
    elif label_png.exists():
        instances = cv2.imread(str(label_png), cv2.IMREAD_UNCHANGED).astype(np.int32)
        centres = centres_from_instances(instances)
    else:
        raise FileNotFoundError(f"no annotation (.xml or _label.png) beside {tif}")
    return NucleiTile(tif.stem, image, centres, MONUSEG_MPP, instances, polygons)


def tile_paths(split: str, root: Path | None = None) -> list[Path]:
    """Tiles of an official split ('train' or 'test'), or of our 'fit'/'val' halves of train.

    'val' holds every fifth training tile by name (6 of 30), so model selection never
    touches the official test split."""
    root = root or monuseg_dir()
    if split in ("train", "test"):
        return sorted((root / split).glob("*.tif"))
    all_train = sorted((root / "train").glob("*.tif"))
    if split == "val":
        return all_train[::5]
    if split == "fit":
        return [p for i, p in enumerate(all_train) if i % 5 != 0]
    raise ValueError(f"unknown MoNuSeg split {split!r} (train, test, fit, val)")


def load_split(split: str, root: Path | None = None) -> list[NucleiTile]:
    return [load_tile(p) for p in tile_paths(split, root)]
