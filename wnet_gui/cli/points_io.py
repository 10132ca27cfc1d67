"""Centres from any file the CLI accepts as predictions or truth."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..annotations.geojson import read_geojson
from ..regular_file import require_regular


def read_typed(path: str | Path) -> tuple[np.ndarray, list]:
    """(N, 2) x, y and a type per centre (None where the file gives none): GeoJSON classes
    ("Nucleus" = untyped), CSV's class column, CRCHisto's type .mat files beside
    ``imgN_detection.mat``, CoNSeP's ``_inst.png`` + ``_type.png``."""
    from ..datasets.typed_truth import read_consep, read_crchisto

    path = require_regular(path)  # a pipe or a device is refused, not waited on
    name = path.name.lower()
    if name.endswith((".geojson", ".json", ".geojson.gz")):
        parsed = read_geojson(path)
        xy = np.stack([parsed.xs, parsed.ys], axis=1) if len(parsed) else np.zeros((0, 2))
        return xy, [None if c == "Nucleus" else c for c in parsed.classes]
    if name.endswith("_detection.mat"):
        return read_crchisto(path)
    if name.endswith("_inst.png"):
        return read_consep(path)
    if name.endswith(".csv"):
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        xy = np.array([[float(r["x"]), float(r["y"])] for r in rows]).reshape(-1, 2)
        return xy, [r.get("class") or None for r in rows]
    xy = read_centres(path)
    return xy, [None] * len(xy)


def read_centres(path: str | Path) -> np.ndarray:
    """(N, 2) x, y from GeoJSON, Aperio XML (outline centroids), CRCHisto .mat or CSV."""
    path = require_regular(path)
    name = path.name.lower()
    if name.endswith((".geojson", ".json", ".geojson.gz")):
        parsed = read_geojson(path)
        return np.stack([parsed.xs, parsed.ys], axis=1) if len(parsed) else np.zeros((0, 2))
    if name.endswith(".xml"):
        from ..datasets.monuseg import polygon_centroid, read_aperio_xml

        polys = read_aperio_xml(path)
        return np.array([polygon_centroid(p) for p in polys]).reshape(-1, 2)
    if name.endswith(".mat"):
        from scipy.io import loadmat

        return np.asarray(loadmat(str(path))["detection"], np.float64).reshape(-1, 2) - 1.0
    if name.endswith(".csv"):
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        return np.array([[float(r["x"]), float(r["y"])] for r in rows]).reshape(-1, 2)
    raise ValueError(f"{path}: unknown points format (GeoJSON, Aperio XML, CRCHisto .mat, CSV with x and y columns, "
                     "or CoNSeP's NAME_inst.png with NAME_type.png beside it)")
