"""GeoJSON that QuPath 0.4+ reads and writes, in level-0 pixel coordinates.

Export: each nucleus is a Feature with ``properties.objectType`` ('detection' by default,
or 'annotation'), its outline as a Polygon when it has one, else its centre as a Point;
or, as QuPath's Points tool writes them, one MultiPoint annotation per class and source.
Our own fields (id, source, exact centre) ride in ``properties.wnet`` so a round trip
restores the store exactly; QuPath ignores them.

Import accepts a FeatureCollection, a bare list of Features, a single Feature or a bare
geometry, plain or gzipped. Anything malformed raises ``GeoJSONError`` naming the feature,
and nothing is added to the store until the whole file has parsed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .store import MANUAL, NucleusStore

_POINT_TYPES = {"Point", "MultiPoint"}
_POLYGON_TYPES = {"Polygon", "MultiPolygon"}
_NAMESPACE = uuid.UUID("6f0c5b1e-8d1a-4f39-9a53-3c0b2b6d1e77")
_NAMESPACE_BYTES = _NAMESPACE.bytes
DEFAULT_COLOR = (255, 64, 64)
MAX_GEOJSON_BYTES = 1 << 30  # 1 GiB of JSON text (≈ 5 million point features); more is refused
WHOLE_READ_BYTES = 64 << 20  # files up to this size may be read whole when streaming fails
# level-0 pixels: the largest slides are ~250,000 px wide; a little below 0 is a border outline
COORDINATE_RANGE = (-100_000.0, 10_000_000.0)


class GeoJSONError(ValueError):
    """A GeoJSON file or document is malformed or holds shapes we cannot import."""

    def __init__(self, message: str, path: str | Path | None = None, feature: int | None = None):
        self.path = None if path is None else str(path)
        self.feature = feature
        where = f"{self.path}: " if self.path else ""
        at = f"feature {feature}: " if feature is not None else ""
        super().__init__(f"{where}{at}{message}")


# ---------------------------------------------------------------------------- export
def _round(v: float) -> float:
    return round(float(v), 2)


def _feature_id(nucleus_id: int) -> str:
    """``str(uuid.uuid5(_NAMESPACE, str(nucleus_id)))`` without building UUID objects
    (5× faster; 100,000 features are written on every autosave)."""
    h = bytearray(hashlib.sha1(_NAMESPACE_BYTES + str(nucleus_id).encode()).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50  # version 5
    h[8] = (h[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def _classification(store: NucleusStore, name: str) -> dict[str, Any]:
    return {"name": name, "color": list(store.class_colors.get(name, DEFAULT_COLOR))}


def _ring(polygon: np.ndarray) -> list[list[float]]:
    ring = [[_round(x), _round(y)] for x, y in polygon]
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    return ring


def store_to_geojson(store: NucleusStore, object_type: str = "detection", points_as: str = "point") -> dict[str, Any]:
    """A FeatureCollection of the store. ``points_as`` 'point' writes one Feature per
    nucleus; 'multipoint' groups outline-less nuclei per class and source as QuPath's
    Points tool does (those features are always annotations)."""
    if object_type not in ("detection", "annotation"):
        raise ValueError("object_type must be 'detection' or 'annotation'")
    if points_as not in ("point", "multipoint"):
        raise ValueError("points_as must be 'point' or 'multipoint'")
    features: list[dict[str, Any]] = []
    groups: dict[tuple[str, str], list] = {}
    for n in store:
        if points_as == "multipoint" and n.polygon is None:
            groups.setdefault((n.cls, n.source), []).append(n)
            continue
        if n.polygon is not None:
            geometry = {"type": "Polygon", "coordinates": [_ring(n.polygon)]}
        else:
            geometry = {"type": "Point", "coordinates": [_round(n.x), _round(n.y)]}
        properties: dict[str, Any] = {"objectType": object_type, "classification": _classification(store, n.cls)}
        if not math.isnan(n.score):
            properties["measurements"] = {"score": round(n.score, 4)}
        properties["wnet"] = {"id": n.id, "source": n.source, "centre": [_round(n.x), _round(n.y)]}
        features.append({"type": "Feature", "id": _feature_id(n.id), "geometry": geometry, "properties": properties})
    for (cls, source), members in groups.items():
        coords = [[_round(n.x), _round(n.y)] for n in members]
        geometry = {"type": "Point", "coordinates": coords[0]} if len(coords) == 1 else {"type": "MultiPoint", "coordinates": coords}
        wnet = {"ids": [n.id for n in members], "source": source}
        if any(not math.isnan(n.score) for n in members):
            wnet["scores"] = [None if math.isnan(n.score) else round(n.score, 4) for n in members]
        features.append({
            "type": "Feature",
            "id": _feature_id(members[0].id),
            "geometry": geometry,
            "properties": {"objectType": "annotation", "name": f"{cls} ({source})", "classification": _classification(store, cls), "wnet": wnet},
        })
    return {"type": "FeatureCollection", "features": features}


def write_geojson(store: NucleusStore, path: str | Path, object_type: str = "detection", points_as: str = "point") -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a file."""
    path = Path(path)
    doc = store_to_geojson(store, object_type, points_as)
    text = json.dumps(doc, separators=(",", ":"))
    tmp = path.with_name(path.name + ".tmp")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(tmp, "wt", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
    os.replace(tmp, path)


# ---------------------------------------------------------------------------- import
@dataclass
class ParsedNuclei:
    """Nuclei read from GeoJSON, not yet in any store."""

    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    ids: list[int | None] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    polygons: list[np.ndarray | None] = field(default_factory=list)
    class_colors: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.xs)

    def append(self, x: float, y: float, nid: Any, source: str, score: Any, cls: str, polygon: np.ndarray | None) -> None:
        self.xs.append(x)
        self.ys.append(y)
        self.ids.append(nid if isinstance(nid, int) and not isinstance(nid, bool) and 0 < nid < 2**62 else None)
        self.sources.append(source)
        try:
            value = float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else float("nan")
        except OverflowError:
            value = float("nan")
        self.scores.append(value)
        self.classes.append(cls)
        self.polygons.append(polygon)


def _number_pair(value: Any, what: str) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) < 2:
        raise ValueError(f"{what} is not an [x, y] position: {str(value)[:60]}")
    x, y = value[0], value[1]
    for v in (x, y):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{what} has a coordinate that is not a finite number: {str(value)[:60]}")
        if not COORDINATE_RANGE[0] <= v <= COORDINATE_RANGE[1]:
            raise ValueError(f"{what} lies outside any slide ({str(value)[:60]}; level-0 pixels from "
                             f"{COORDINATE_RANGE[0]:g} to {COORDINATE_RANGE[1]:g} are accepted)")
    return float(x), float(y)


def _parse_ring(ring: Any) -> np.ndarray:
    if not isinstance(ring, list):
        raise ValueError("polygon ring is not a list of positions")
    pts = np.array([_number_pair(p, "polygon vertex") for p in ring], dtype=np.float64).reshape(-1, 2)
    if len(pts) > 1 and np.array_equal(pts[0], pts[-1]):
        pts = pts[:-1]
    if len(np.unique(pts, axis=0)) < 3:
        raise ValueError("polygon ring has fewer than 3 distinct vertices")
    return pts


def _polygon_area(pts: np.ndarray) -> float:
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _parse_polygon(geometry: dict) -> np.ndarray:
    coords = geometry.get("coordinates")
    if geometry["type"] == "Polygon":
        if not isinstance(coords, list) or not coords:
            raise ValueError("Polygon has no rings")
        return _parse_ring(coords[0])
    if not isinstance(coords, list) or not coords:
        raise ValueError("MultiPolygon has no polygons")
    outer = []
    for poly in coords:
        if not isinstance(poly, list) or not poly:
            raise ValueError("MultiPolygon holds an empty polygon")
        outer.append(_parse_ring(poly[0]))
    return max(outer, key=_polygon_area)  # a nucleus is one blob: keep its largest part


def _class_of(properties: dict, colors: dict) -> str:
    cls = properties.get("classification")
    if isinstance(cls, str) and cls:
        return cls
    if isinstance(cls, dict) and isinstance(cls.get("name"), str) and cls["name"]:
        color = cls.get("color")
        if isinstance(color, list) and len(color) == 3 and all(isinstance(c, int) for c in color):
            colors.setdefault(cls["name"], tuple(int(c) for c in color))
        return cls["name"]
    return "Nucleus"


def _score_of(properties: dict) -> Any:
    m = properties.get("measurements")
    if isinstance(m, dict):
        return m.get("score")
    if isinstance(m, list):  # QuPath 0.2 wrote [{"name": ..., "value": ...}]
        for item in m:
            if isinstance(item, dict) and item.get("name") == "score":
                return item.get("value")
    return None


def _features_of(doc: Any) -> list[Any]:
    if isinstance(doc, list):
        return doc
    if not isinstance(doc, dict):
        raise GeoJSONError("top level is neither a GeoJSON object nor a list of Features")
    kind = doc.get("type")
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise GeoJSONError("FeatureCollection has no 'features' list")
        return features
    if kind == "Feature":
        return [doc]
    if kind in _POINT_TYPES | _POLYGON_TYPES:
        return [{"type": "Feature", "geometry": doc, "properties": {"objectType": "annotation"}}]
    raise GeoJSONError(f"unsupported GeoJSON type {kind!r}")


def parse_geojson(doc: Any) -> ParsedNuclei:
    """Nuclei from a decoded GeoJSON document; ``GeoJSONError`` names the bad feature."""
    parsed = ParsedNuclei()
    for index, feature in enumerate(_features_of(doc)):
        _parse_one(index, feature, parsed)
    return parsed


def _parse_one(index: int, feature: Any, parsed: ParsedNuclei) -> None:
    try:
        _parse_feature(feature, parsed)
    except GeoJSONError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError) as exc:
        ident = feature.get("id") if isinstance(feature, dict) else None
        label = f"{index}" + (f" (id {str(ident)[:60]})" if ident else "")
        raise GeoJSONError(str(exc)[:300] or type(exc).__name__, feature=label) from exc


def _parse_feature(feature: Any, parsed: ParsedNuclei) -> None:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ValueError("is not a GeoJSON Feature object")
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict) or not isinstance(geometry.get("type"), str):
        raise ValueError("has no geometry")
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise ValueError("'properties' is not an object")
    kind = geometry["type"]
    object_type = properties.get("objectType", properties.get("object_type", "annotation"))
    cls = _class_of(properties, parsed.class_colors)
    wnet = properties.get("wnet") if isinstance(properties.get("wnet"), dict) else {}
    default_source = MANUAL if object_type == "annotation" else "imported"
    source = wnet.get("source") if isinstance(wnet.get("source"), str) and wnet.get("source") else default_source
    if kind in _POINT_TYPES:
        coords = geometry.get("coordinates")
        points = [_number_pair(coords, "Point")] if kind == "Point" else [_number_pair(p, "MultiPoint member") for p in (coords if isinstance(coords, list) else [None])]
        ids = wnet.get("ids") if isinstance(wnet.get("ids"), list) and len(wnet["ids"]) == len(points) else None
        if ids is None and kind == "Point":
            ids = [wnet.get("id")]
        scores = wnet.get("scores") if isinstance(wnet.get("scores"), list) and len(wnet["scores"]) == len(points) else None
        if scores is None:
            scores = [_score_of(properties)] * len(points)
        for i, (x, y) in enumerate(points):
            parsed.append(x, y, ids[i] if ids else None, source, scores[i], cls, None)
    elif kind in _POLYGON_TYPES:
        polygon = _parse_polygon(geometry)
        centre = wnet.get("centre")
        if centre is not None:
            x, y = _number_pair(centre, "wnet centre")
        else:
            from shapely.geometry import Polygon

            c = Polygon(polygon).centroid
            x, y = (float(c.x), float(c.y)) if not c.is_empty else tuple(polygon.mean(axis=0))
        parsed.append(x, y, wnet.get("id"), source, _score_of(properties), cls, polygon)
    else:
        raise ValueError(f"geometry type {kind!r} is neither a point nor a polygon")


class _Bounded(io.RawIOBase):
    """A readable stream that fails once more than ``limit`` bytes came through it: a 4 MB
    gzip that expands to 4 GB stops at the limit instead of filling memory."""

    def __init__(self, raw, limit: int):
        self.raw, self.limit, self.count = raw, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(min(len(buffer), 1 << 20))
        self.count += len(data)
        if self.count > self.limit:
            raise _TooLarge()
        buffer[: len(data)] = data
        return len(data)


class _TooLarge(Exception):
    pass


def _open_bounded(path: Path):
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    return io.BufferedReader(_Bounded(raw, MAX_GEOJSON_BYTES), 1 << 20), raw


def _skip_bom(fh) -> None:
    if fh.peek(3)[:3] == b"\xef\xbb\xbf":
        fh.read(3)


def _first_byte(fh) -> bytes:
    head = fh.peek(64)
    stripped = head.lstrip()
    while not stripped and head:  # a long run of white space
        fh.read(len(head))
        head = fh.peek(64)
        stripped = head.lstrip()
    if stripped:
        fh.read(len(head) - len(stripped))
    return stripped[:1]


def _stream_features(path: Path, prefix: str, on_feature) -> int:
    """Feed each Feature under ``prefix`` to ``on_feature`` as it is parsed; returns how many."""
    import ijson

    fh, raw = _open_bounded(path)
    try:
        _skip_bom(fh)
        count = 0
        for count, feature in enumerate(ijson.items(fh, prefix, use_float=True), start=1):
            on_feature(count - 1, feature)
        return count
    finally:
        raw.close()


def _top_level_type(path: Path) -> Any:
    import ijson

    fh, raw = _open_bounded(path)
    try:
        _skip_bom(fh)
        for value in ijson.items(fh, "type", use_float=True):  # without use_float, a 5,000-digit integer crashes yajl2_c
            return value
        return None
    finally:
        raw.close()


def read_geojson(path: str | Path, progress=None) -> ParsedNuclei:
    """Parse a .geojson / .json (optionally .gz) file feature by feature, so memory follows
    the nuclei, not the text; errors name the file. At most ``MAX_GEOJSON_BYTES`` of JSON
    (after decompression) are read. ``progress(features_so_far)`` is called now and then."""
    path = Path(path)
    if not path.exists():
        raise GeoJSONError("file does not exist", path)
    parsed = ParsedNuclei()

    def on_feature(index: int, feature: Any) -> None:
        _parse_one(index, feature, parsed)
        if progress is not None and index % 20000 == 0:
            progress(index)

    try:
        try:
            fh, raw = _open_bounded(path)
            try:
                _skip_bom(fh)
                first = _first_byte(fh)
            finally:
                raw.close()
            if first == b"[":  # a bare list of Features
                _stream_features(path, "item", on_feature)
            elif first == b"{" and _top_level_type(path) == "FeatureCollection":
                if _stream_features(path, "features.item", on_feature) == 0:
                    _features_of(_load_whole(path))  # no features list at all: say so as before
            elif first == b"{":  # one Feature or a bare geometry: small by nature
                return parse_geojson(_load_whole(path))
            else:
                raise GeoJSONError("not valid JSON (it does not start with an object or a list)")
        except (GeoJSONError, _TooLarge):
            raise
        except Exception:
            # the streaming parser is strict JSON; Python's own writer puts NaN in files, which
            # the standard parser reads (and the feature check then names): a small file gets
            # a second, whole reading so its message points at the feature
            if _decompressed_size(path) > WHOLE_READ_BYTES:
                raise
            return parse_geojson(_load_whole(path))
    except GeoJSONError as exc:
        raise GeoJSONError(str(exc), path) from exc
    except _TooLarge as exc:
        raise GeoJSONError(f"holds more than {MAX_GEOJSON_BYTES >> 20} MB of JSON (after decompression); refusing to read on", path) from exc
    except (OSError, EOFError, UnicodeDecodeError, ValueError, RecursionError) as exc:  # ijson.JSONError is a ValueError
        raise GeoJSONError(f"not valid JSON ({type(exc).__name__}: {str(exc)[:200]})", path) from exc
    except Exception as exc:  # ijson's IncompleteJSONError and friends
        raise GeoJSONError(f"not valid JSON ({type(exc).__name__}: {str(exc)[:200]})", path) from exc
    return parsed


def _decompressed_size(path: Path) -> int:
    fh, raw = _open_bounded(path)
    try:
        return sum(len(b) for b in iter(lambda: fh.read(1 << 20), b""))
    except _TooLarge:
        return MAX_GEOJSON_BYTES + 1
    finally:
        raw.close()


def _load_whole(path: Path) -> Any:
    fh, raw = _open_bounded(path)
    try:
        return json.loads(fh.read().decode("utf-8-sig"))
    finally:
        raw.close()


def add_parsed(store: NucleusStore, parsed: ParsedNuclei) -> np.ndarray:
    """Add parsed nuclei to ``store`` in one step, keeping their ids when they are new,
    unique and above the store's own (a round trip into an empty store is exact)."""
    if len(parsed) == 0:
        return np.zeros(0, np.int64)
    order = np.arange(len(parsed))
    ids = parsed.ids
    keep_ids = all(i is not None for i in ids) and len(set(ids)) == len(ids) and min(ids) >= store._next_id
    if keep_ids:
        order = np.argsort(np.asarray(ids))
    store.class_colors.update({k: v for k, v in parsed.class_colors.items() if k not in store.class_colors})
    pick = lambda seq: [seq[i] for i in order]  # noqa: E731
    return store.add_many(
        pick(parsed.xs), pick(parsed.ys), scores=pick(parsed.scores), ids=pick(ids) if keep_ids else None,
        polygons=pick(parsed.polygons), sources=pick(parsed.sources), classes=pick(parsed.classes),
    )


def import_geojson(store: NucleusStore, path: str | Path) -> np.ndarray:
    """Read ``path`` and add its nuclei; on any error the store is untouched."""
    return add_parsed(store, read_geojson(path))


def read_region_outline(path: str | Path) -> np.ndarray:
    """The outline (N, 2) of the largest polygon in a GeoJSON file — a region drawn in QuPath
    and exported, to run detection inside it; errors name the file."""
    parsed = read_geojson(path)
    polygons = [p for p in parsed.polygons if p is not None]
    if not polygons:
        raise GeoJSONError("holds no Polygon to use as a region", path)
    return max(polygons, key=_polygon_area)

