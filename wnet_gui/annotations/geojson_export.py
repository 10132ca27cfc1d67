"""GeoJSON for QuPath (0.4+; 0.2/0.3 read it too), in level-0 pixel coordinates.

What QuPath shows depends on the shape chosen:

- ``points_as="detections"``: one Point detection per nucleus (fast to draw for whole slides);
  ``points_as="annotations"``: one Points annotation per class (and per source with
  ``split_sources``), which QuPath's Counting dialog lists.
- ``masks_as="cells"``: a nucleus with a NuClick mask becomes a cell whose
  ``nucleusGeometry`` is the mask (QuPath measures it as a nucleus); ``masks_as="detections"``:
  a polygon detection.

QuPath keeps ids (0.4+), classifications, names, object colours and measurements when it
saves; it drops any other property. So what we need back rides in those:

- the score is a measurement (``score``), the source (model name or "manual") the object's
  ``name``, and a masked nucleus's detected centre the measurements ``Centre X px`` and
  ``Centre Y px`` (the outline's centroid is not where the detector put it);
- ids are UUIDs fixed by the annotations' namespace and the nucleus (stable across exports,
  never shared with another run's or slide's nuclei); QuPath 0.2/0.3 drop them, and a re-import
  then finds each nucleus by its centre (``geojson.merge_parsed``);
- written for every QuPath version: the type as ``objectType`` (0.4+) and ``object_type``
  (0.3 reads only that), measurements as a list of ``{name, value}`` (0.2/0.3 read only the
  list; 0.4+ read both), every class with ``color`` (0.4+) and ``colorRGB`` (0.2/0.3), and an
  object colour on every named object (0.2's writer fails on a named object without one).

Our exact fields also ride in ``properties.wnet`` for a lossless round trip through our own files.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .atomic_file import replacing
from .qupath import assign_colors, class_color, object_id, packed_of_rgb
from .store import Nucleus, NucleusStore

POINTS_AS = ("detections", "annotations")
HAND_SET = "Class set by hand"
REVIEWED_NAME, REVIEWED_CLASS, REVIEWED_COLOR = "Reviewed region", "Reviewed", (46, 160, 67)
MASKS_AS = ("cells", "detections")


def _round(v: float) -> float:
    return round(float(v), 2)


def _ring(polygon: np.ndarray) -> list[list[float]]:
    ring = [[_round(x), _round(y)] for x, y in polygon]
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    return ring


CENTRE_X, CENTRE_Y = "Centre X px", "Centre Y px"  # a masked nucleus's detected centre, level-0 pixels
CONFIDENCE = "Class confidence"  # a taught classifier's probability for the class it gave


def _measurements(score: float, extra: dict | None, centre: tuple[float, float] | None) -> list[dict[str, Any]] | None:
    """QuPath's measurement list (the form every version reads)."""
    m = {k: v for k, v in ((extra or {}).get("measurements") or {}).items()}
    if not math.isnan(score):
        m["score"] = round(score, 4)
    if (extra or {}).get("class_by_hand"):
        m[HAND_SET] = 1  # QuPath keeps measurements: the pathologist's class stays told apart
    if centre is not None:
        m[CENTRE_X], m[CENTRE_Y] = centre
    return [{"name": k, "value": "NaN" if isinstance(v, float) and math.isnan(v) else v} for k, v in m.items()] or None


def _classification(name: str, rgb) -> dict[str, Any]:
    """A class as every QuPath version reads it: ``color`` (0.4+) and ``colorRGB`` (0.2/0.3,
    which ignore ``color``)."""
    return {"name": name, "color": [int(v) for v in rgb], "colorRGB": packed_of_rgb(rgb)}


def store_to_geojson(store: NucleusStore, points_as: str = "detections", masks_as: str = "cells", split_sources: bool = False) -> dict[str, Any]:
    """A FeatureCollection of the store in the chosen shapes (see the module's doc)."""
    if points_as not in POINTS_AS:
        raise ValueError(f"points_as must be one of {POINTS_AS}, not {points_as!r}")
    if masks_as not in MASKS_AS:
        raise ValueError(f"masks_as must be one of {MASKS_AS}, not {masks_as!r}")
    colors = assign_colors(store.classes.names, store.class_colors)
    features: list[dict[str, Any]] = []
    groups: dict[tuple[str, str], list] = {}
    # column-wise: a whole slide's 10⁵–10⁶ nuclei are exported in one pass over arrays,
    # with the per-class and per-source parts built once (a detect run's write is ~1 s per 10⁵)
    cols = store.columns()
    ids = cols["id"].tolist()
    xs, ys = np.round(cols["x"].astype(np.float64), 2).tolist(), np.round(cols["y"].astype(np.float64), 2).tolist()
    raw_scores = cols["score"].astype(np.float64)
    scores = np.round(raw_scores, 4).tolist()
    has_score = (~np.isnan(raw_scores)).tolist()
    sources, classes = store.sources.names, store.classes.names
    classification = {code: _classification(cls, class_color(cls, colors)) for code, cls in enumerate(classes)}
    for nid, x, y, score, scored, src, cls_code in zip(ids, xs, ys, scores, has_score, cols["source"].tolist(), cols["cls"].tolist(), strict=True):
        extra = store.extras.get(nid)
        polygon = store.polygons.get(nid)
        source, cls = sources[src], classes[cls_code]
        if polygon is None and points_as == "annotations":
            groups.setdefault((cls, source if split_sources else ""), []).append(Nucleus(nid, x, y, source, score if scored else math.nan, cls))
            continue
        fid = (extra or {}).get("uuid") or object_id(store.namespace, f"nucleus/{nid}")
        kind = "detection" if polygon is None or masks_as == "detections" else "cell"
        properties: dict[str, Any] = {"objectType": kind, "object_type": kind, "name": source, "color": classification[cls_code]["color"],
                                      "classification": classification[cls_code]}
        feature: dict[str, Any] = {"type": "Feature", "id": fid}
        if polygon is not None:
            outline = {"type": "Polygon", "coordinates": [_ring(polygon)]}
            feature["geometry"] = outline
            if kind == "cell":
                feature["nucleusGeometry"] = outline
            measurements = _measurements(score if scored else math.nan, extra, (x, y))
        else:
            feature["geometry"] = {"type": "Point", "coordinates": [x, y]}
            if extra is None:  # the common case: a model's point, its score the only measurement
                measurements = [{"name": "score", "value": score}] if scored else None
            else:
                measurements = _measurements(score if scored else math.nan, extra, None)
        if measurements:
            properties["measurements"] = measurements
        properties["wnet"] = {"id": nid, "source": source, "centre": [x, y]}
        feature["properties"] = properties
        features.append(feature)
    for (cls, source), members in groups.items():
        coords = [[_round(n.x), _round(n.y)] for n in members]
        geometry = {"type": "Point", "coordinates": coords[0]} if len(coords) == 1 else {"type": "MultiPoint", "coordinates": coords}
        wnet: dict[str, Any] = {"ids": [n.id for n in members], "sources": [n.source for n in members]}
        if any(not math.isnan(n.score) for n in members):
            wnet["scores"] = [None if math.isnan(n.score) else round(n.score, 4) for n in members]
        features.append(
            {
                "type": "Feature",
                "id": object_id(store.namespace, f"points/{cls}/{source}"),
                "geometry": geometry,
                "properties": {
                    "objectType": "annotation",
                    "object_type": "annotation",
                    "name": f"{cls} ({source})" if source else cls,
                    "color": list(class_color(cls, colors)),
                    "classification": _classification(cls, class_color(cls, colors)),
                    "wnet": wnet,
                },
            }
        )
    for k, outline in enumerate(store.reviewed):  # QuPath shows them as annotations; `wnet adapt --regions` reads them
        ring = _ring(outline)
        features.append({
            "type": "Feature", "id": object_id(store.namespace, f"reviewed/{k}/{ring[:3]}"),
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"objectType": "annotation", "object_type": "annotation", "name": REVIEWED_NAME, "color": list(REVIEWED_COLOR),
                           "classification": _classification(REVIEWED_CLASS, REVIEWED_COLOR), "wnet": {"reviewed": True}},
        })
    return {"type": "FeatureCollection", "features": features}


def write_geojson(store: NucleusStore, path: str | Path, points_as: str = "detections", masks_as: str = "cells", split_sources: bool = False) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a file."""
    path = Path(path)
    doc = store_to_geojson(store, points_as, masks_as, split_sources)
    text = json.dumps(doc, separators=(",", ":"))
    opener = gzip.open if path.suffix == ".gz" else open
    with replacing(path) as tmp, opener(tmp, "wt", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
