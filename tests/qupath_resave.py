"""What QuPath does to a GeoJSON file it imports and saves again, version by version, as its
reader and writer do it (qupath-core's PathObjectTypeAdapters after v0.7.0, read in its
source; the output of v0.2.3, v0.3.2 and v0.4.4 in ../shared/fixtures/qupath/written-by-qupath).

- Object type: 0.4+ read ``objectType``, else ``object_type``, else ``type``, else a legacy type
  stored as the id; 0.3 reads ``object_type``/``type`` and the legacy id (``objectType`` arrived
  in 0.4); 0.2 is taken to read only the legacy id (the worst case: every object of ours becomes
  an annotation). Anything else becomes an annotation.
- Ids: 0.4+ keep a valid UUID (else make a random one); 0.3 writes none; 0.2 writes the type.
- Kept: name, object colour, class, lock, measurements, a cell's nucleus geometry. Dropped:
  every other property (our ``wnet`` block).
- Class colour: 0.4+ read ``color``; 0.2/0.3 only ``colorRGB``. Measurements: 0.4+ read the
  object and the list form and write the object; 0.2/0.3 read and write only the list.
- Geometry: coordinates on a 0.01 px grid; a polygon's ring may start at another vertex.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

LEGACY = {"PathCellObject": "cell", "PathDetectionObject": "detection", "PathAnnotationObject": "annotation"}
CLASS_NAMES = {"cell": "PathCellObject", "detection": "PathDetectionObject", "annotation": "PathAnnotationObject"}
VERSIONS = ("HEAD", "0.4", "0.3", "0.2")


def _type(feature: dict, version: str) -> str:
    props = feature.get("properties") or {}
    keys = {"HEAD": ("objectType", "object_type", "type"), "0.4": ("objectType", "object_type", "type"),
            "0.3": ("object_type", "type"), "0.2": ()}[version]
    for key in keys:
        if isinstance(props.get(key), str):
            return props[key] if props[key] in CLASS_NAMES else "annotation"
    return LEGACY.get(feature.get("id"), "annotation")


def _grid(value: Any) -> Any:
    if isinstance(value, list):
        return [_grid(v) for v in value]
    return round(float(value), 2)


def _geometry(geometry: dict, shift: int) -> dict:
    out = {"type": geometry["type"], "coordinates": _grid(geometry["coordinates"])}
    if geometry["type"] == "Polygon" and shift:
        ring = out["coordinates"][0][:-1]
        k = shift % len(ring)
        ring = ring[k:] + ring[:k]
        out["coordinates"][0] = ring + [ring[0]]
    return out


def _class(cls: Any, version: str) -> dict | None:
    """0.4+ write ``{name, color}`` (``{names, color}`` for a derived class such as 'Tumor:
    Positive'); 0.2/0.3 ``{name, colorRGB}`` with the parent as ``parentClass``."""
    if not isinstance(cls, dict):
        return None
    names = cls.get("names") if isinstance(cls.get("names"), list) else []
    node = None if names else cls
    while isinstance(node, dict) and isinstance(node.get("name"), str):  # 0.2/0.3's parent chain, innermost first
        names.insert(0, node["name"])
        node = node.get("parentClass")
    if not names:
        return None
    if version in ("HEAD", "0.4"):
        color = list((cls.get("color") or [128, 128, 128])[:3])
        return {"names": names, "color": color} if len(names) > 1 else {"name": names[0], "color": color}
    packed = cls["colorRGB"] if isinstance(cls.get("colorRGB"), int) else -8355712  # a colour 0.2/0.3 cannot read: grey
    node = None
    for depth, name in enumerate(names):
        node = {**({"parentClass": node} if node else {}), "name": name, "colorRGB": packed}
    return node


def _measurements(m: Any, version: str) -> list | dict | None:
    if version in ("HEAD", "0.4"):
        items = m.items() if isinstance(m, dict) else ((e["name"], e["value"]) for e in m) if isinstance(m, list) else ()
        out = {k: v for k, v in items}
        return out or None
    if isinstance(m, list):
        return [{"name": e["name"], "value": e["value"]} for e in m] or None
    return None  # the object form is not read


def resave(doc: dict, version: str) -> dict | list:
    """``doc`` as QuPath ``version`` writes it after importing it."""
    assert version in VERSIONS
    features = []
    for k, feature in enumerate(doc["features"]):
        kind = _type(feature, version)
        props = feature.get("properties") or {}
        out: dict[str, Any] = {"type": "Feature"}
        if version in ("HEAD", "0.4"):
            try:
                out["id"] = str(uuid.UUID(feature.get("id")))
            except (TypeError, ValueError):
                out["id"] = str(uuid.uuid4())
        elif version == "0.2":
            out["id"] = CLASS_NAMES[kind]
        out["geometry"] = _geometry(feature["geometry"], shift=k)
        if kind == "cell" and feature.get("nucleusGeometry"):
            out["nucleusGeometry"] = _geometry(feature["nucleusGeometry"], shift=k)
        p: dict[str, Any] = {}
        if version in ("HEAD", "0.4"):
            p["objectType"] = kind
        elif version == "0.3":
            p["object_type"] = kind
        if isinstance(props.get("name"), str):
            p["name"] = props["name"]
        if isinstance(props.get("color"), list):
            p["color"] = list(props["color"][:3])
        cls = _class(props.get("classification"), version)
        if cls:
            p["classification"] = cls
        if version in ("0.2", "0.3") or props.get("isLocked"):
            p["isLocked"] = bool(props.get("isLocked"))
        m = _measurements(props.get("measurements"), version)
        if m is not None:
            p["measurements"] = m
        elif version == "0.2":
            p["measurements"] = []
        out["properties"] = p
        features.append(out)
    if version == "0.2":
        return features  # 0.2 writes a bare list
    return {"type": "FeatureCollection", "features": copy.deepcopy(features)}
