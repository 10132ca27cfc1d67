"""Reading GeoJSON from QuPath (and from us) into nuclei and regions, in level-0 pixels.

What becomes what, as a pathologist would expect from QuPath's objects:
- detections and cells are nuclei (a cell's ``nucleusGeometry`` is its nucleus outline;
  Point/MultiPoint detections are centres);
- Points annotations are nuclei too (one per point, the annotation's class);
- area annotations (tissue outlines, tumour regions, ellipses, rectangles) are **regions**
  the user can detect in, never nuclei; holes and all parts are kept;
- lines, tiles, TMA cores and other shapes are skipped and counted, never sink the file.
Classes come from every QuPath form (names, ``names`` lists, 0.2's ``colorRGB`` and
``parentClass``), measurements are kept, and QuPath's ids ride along so re-importing a file
merges by id instead of doubling every point.

Import accepts a FeatureCollection, a bare list of Features, a single Feature or a bare
geometry, plain or gzipped, streamed feature by feature. Anything malformed raises
``GeoJSONError`` naming the feature, and nothing is added until the whole file has parsed.
Writing lives in ``geojson_export``.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import qupath
from ..geometry import polygon_area
from ..regular_file import NotRegularFile, open_regular
from .json_depth import DepthGuard, TooDeep
from .geojson_export import CENTRE_X, CENTRE_Y, HAND_SET, store_to_geojson, write_geojson  # noqa: F401  (the package's API)
from .store import IMPORTED, MANUAL, NucleusFields, NucleusStore

_POINT_TYPES = {"Point", "MultiPoint"}
_POLYGON_TYPES = {"Polygon", "MultiPolygon"}
_LINE_TYPES = {"LineString", "MultiLineString"}
_OUR_POINTS_NAME = re.compile(r".+ \(.+\)")  # "Class (source)": our Points annotations, after a trip through QuPath
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


# ---------------------------------------------------------------------------- import
@dataclass
class ParsedRegion:
    """An area annotation: a region to detect in (all parts, holes kept)."""

    name: str
    cls: str | None
    parts: list[tuple[np.ndarray, list[np.ndarray]]]  # (exterior, holes) per part
    color: tuple[int, int, int] | None = None

    @property
    def label(self) -> str:
        return self.name or self.cls or "Region"

    def area(self) -> float:
        return sum(polygon_area(ext) - sum(polygon_area(h) for h in holes) for ext, holes in self.parts)


@dataclass
class ParsedNuclei:
    """Nuclei (and regions) read from GeoJSON, not yet in any store."""

    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    ids: list[int | None] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    polygons: list[np.ndarray | None] = field(default_factory=list)
    extras: list[dict | None] = field(default_factory=list)
    # whether the file said the source (our block, a detection's name); when it did not (a Points
    # annotation after QuPath dropped our block), a re-import keeps the source the nucleus had
    source_told: list[bool] = field(default_factory=list)
    class_colors: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    regions: list[ParsedRegion] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # reason → objects not imported
    notes: Counter = field(default_factory=Counter)  # reason → nuclei imported with a change
    _class_set: set = field(default_factory=set, repr=False)

    def __len__(self) -> int:
        return len(self.xs)

    def append(self, x: float, y: float, nid: Any, source: str, score: Any, cls: str, polygon: np.ndarray | None,
               extra: dict | None = None, source_told: bool = True) -> None:
        self.source_told.append(source_told)
        self.xs.append(x)
        self.ys.append(y)
        self.ids.append(nid if isinstance(nid, int) and not isinstance(nid, bool) and 0 < nid < 2**62 else None)
        self.sources.append(source)
        try:
            value = float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else float("nan")
        except OverflowError:
            value = float("nan")
        self.scores.append(value)
        self.see_class(cls)
        self.classes.append(cls)
        self.polygons.append(polygon)
        self.extras.append(extra)

    def see_class(self, name: str) -> None:
        """Count a class a nucleus or a region has: a file holds at most ``MAX_CLASSES``."""
        if name not in self._class_set:
            if len(self._class_set) >= qupath.MAX_CLASSES:
                raise GeoJSONError(f"has more than {qupath.MAX_CLASSES:,} different classes; a study has tens")
            self._class_set.add(name)

    def summary(self) -> str:
        """'190 nuclei, 1 region, 2 skipped (lines: 1, tile objects: 1)' for the user."""
        parts = [f"{len(self):,} nuclei", f"{len(self.regions)} region{'s' if len(self.regions) != 1 else ''}"]
        skipped = sum(self.skipped.values())
        if skipped:
            parts.append(f"{skipped} skipped ({', '.join(f'{why}: {n}' for why, n in sorted(self.skipped.items()))})")
        if self.notes:
            parts.append("; ".join(f"{why}: {n}" for why, n in sorted(self.notes.items())))
        return ", ".join(parts)


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


def _polygon_parts(geometry: dict) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """(exterior, holes) of each part of a Polygon or MultiPolygon."""
    coords = geometry.get("coordinates")
    polys = [coords] if geometry["type"] == "Polygon" else coords
    if not isinstance(polys, list) or not polys:
        raise ValueError(f"{geometry['type']} has no coordinates")
    parts = []
    for poly in polys:
        if not isinstance(poly, list) or not poly:
            raise ValueError(f"{geometry['type']} holds an empty polygon")
        parts.append((_parse_ring(poly[0]), [_parse_ring(r) for r in poly[1:]]))
    return parts


def _nucleus_outline(geometry: dict, parsed: ParsedNuclei) -> np.ndarray:
    """A nucleus is one blob: its largest part's outer ring (what was dropped is noted)."""
    parts = _polygon_parts(geometry)
    if len(parts) > 1:
        parsed.notes["multi-part nucleus outlines (largest part kept)"] += 1
    exterior, holes = max(parts, key=lambda p: polygon_area(p[0]))
    if holes:
        parsed.notes["nucleus outlines with holes (filled)"] += 1
    return exterior


def _class_of(properties: dict, parsed: ParsedNuclei) -> str | None:
    """The feature's class (bounded in length and, over the file, in number) and its colour."""
    name, color = qupath.classification(properties)
    if name:
        if len(name) > qupath.MAX_CLASS_NAME:
            raise GeoJSONError(f"has a class name of {len(name):,} characters; class names are at most {qupath.MAX_CLASS_NAME}")
        parsed.see_class(name)
        if color is not None:
            parsed.class_colors.setdefault(name, color)
    return name


def _measurements_of(properties: dict) -> dict[str, float]:
    """Every numeric measurement (QuPath's object form or 0.2's list), NaN kept."""
    m = properties.get("measurements")
    items = m.items() if isinstance(m, dict) else ((i.get("name"), i.get("value")) for i in m if isinstance(i, dict)) if isinstance(m, list) else ()
    out = {}
    for name, value in items:
        if not isinstance(name, str) or len(out) >= 1000:
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                out[name[:200]] = float(value)
            except OverflowError:
                continue
        elif value == "NaN":
            out[name[:200]] = float("nan")
    return out


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


def _source_like(name: Any) -> bool:
    """A name our exports give an object: its source ('fast', 'manual'), short, no brackets."""
    return isinstance(name, str) and 0 < len(name) <= 60 and "(" not in name


def _source_of(properties: dict, wnet: dict, default: str) -> tuple[str, bool]:
    """Ours ('wnet' block), else the name QuPath kept ('fast', 'manual' in our exports); and
    whether the file said it (False: ``default``)."""
    if isinstance(wnet.get("source"), str) and wnet["source"]:
        return wnet["source"], True
    name = properties.get("name")
    if _source_like(name) and default != MANUAL:
        return name, True
    if isinstance(name, str) and name.endswith(")") and " (" in name:  # our Points annotations: "Class (source)"
        told = name.rsplit(" (", 1)[1][:-1]
        return (told, True) if told else (default, False)
    return default, False


# measurements only our exports write: an object carrying one is a nucleus of ours even when
# QuPath 0.2/0.3 turned it into an annotation (they read the type where 0.4+ wrote it)
_OUR_MEASUREMENTS = frozenset({"score", HAND_SET, CENTRE_X, CENTRE_Y})


def _was_our_nucleus(name: Any, measurements: dict) -> bool:
    """Named by its source ('manual', a model's name) and, unless manual, carrying our score,
    class mark or centre: not a region, not a landmark."""
    return _source_like(name) and (name == MANUAL or not _OUR_MEASUREMENTS.isdisjoint(measurements))


def _centre(wnet: dict, told: tuple[float | None, float | None], polygon: np.ndarray) -> tuple[float, float]:
    """Where the detector (or the click) put the nucleus: our block, else the measurements
    QuPath kept (``told``), else the outline's centroid (another tool's cell)."""
    if wnet.get("centre") is not None:
        return _number_pair(wnet["centre"], "wnet centre")
    if all(v is not None and math.isfinite(v) for v in told):
        return _number_pair(list(told), "centre measurement")
    from shapely.geometry import Polygon

    c = Polygon(polygon).centroid
    return (float(c.x), float(c.y)) if not c.is_empty else tuple(polygon.mean(axis=0))


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
    otype = qupath.object_type(feature, properties)
    cls = _class_of(properties, parsed)
    wnet = properties.get("wnet") if isinstance(properties.get("wnet"), dict) else {}
    ours = bool(wnet)
    name = properties.get("name")
    measurements = _measurements_of(properties)
    if otype == "annotation" and not ours and _was_our_nucleus(name, measurements) and (
            kind in _POLYGON_TYPES or (kind == "Point" and name != cls and not _OUR_POINTS_NAME.fullmatch(str(name)))):
        otype = "detection"  # our point or cell, read by QuPath 0.2/0.3 as an annotation and saved as one
    if otype in qupath.NOT_NUCLEI:
        parsed.skipped[f"{otype} objects"] += 1
        return
    if kind in _LINE_TYPES:
        parsed.skipped["lines"] += 1
        return
    if kind not in _POINT_TYPES | _POLYGON_TYPES:
        parsed.skipped[f"{kind} shapes"] += 1
        return
    if otype == "annotation" and kind in _POLYGON_TYPES and not ours:
        name = properties.get("name") if isinstance(properties.get("name"), str) else ""
        parsed.regions.append(ParsedRegion(name, cls, _polygon_parts(geometry), qupath._color(properties)))
        return
    if otype not in ("annotation", "detection", "cell"):
        parsed.skipped[f"'{otype}' objects"] += 1
        return
    if otype == "annotation" and kind == "Point" and not ours and isinstance(name, str) and name and name != cls and not _OUR_POINTS_NAME.fullmatch(name):
        parsed.skipped["named single points (landmarks such as calibration points)"] += 1  # QuPath's counting points have no name
        return
    # a nucleus (or, for Points, several)
    default_source = MANUAL if otype == "annotation" else IMPORTED
    source, told = _source_of(properties, wnet, default_source)
    cls = cls or "Nucleus"
    score = measurements.pop("score", wnet.get("score"))
    by_hand = measurements.pop(HAND_SET, 0) == 1
    centre_told = measurements.pop(CENTRE_X, None), measurements.pop(CENTRE_Y, None)
    uid = qupath.valid_uuid(feature.get("id"))
    extra = {k: v for k, v in (("uuid", uid), ("measurements", measurements), ("class_by_hand", by_hand)) if v} or None
    if kind in _POINT_TYPES:
        coords = geometry.get("coordinates")
        points = (
            [_number_pair(coords, "Point")]
            if kind == "Point"
            else [_number_pair(p, "MultiPoint member") for p in (coords if isinstance(coords, list) else [None])]
        )
        ids = wnet.get("ids") if isinstance(wnet.get("ids"), list) and len(wnet["ids"]) == len(points) else None
        if ids is None and kind == "Point":
            ids = [wnet.get("id")]
        scores = wnet.get("scores") if isinstance(wnet.get("scores"), list) and len(wnet["scores"]) == len(points) else None
        if scores is None:
            scores = [score] * len(points)
        sources = wnet.get("sources") if isinstance(wnet.get("sources"), list) and len(wnet["sources"]) == len(points) else None
        many = len(points) > 1
        for i, (x, y) in enumerate(points):
            src = sources[i] if sources and isinstance(sources[i], str) and sources[i] else source
            point_extra = extra
            if many:  # one feature, many nuclei: each point's id is derived from the feature's
                point_extra = {"uuid": qupath.object_id(uid, f"point/{i}")} if uid else None
            parsed.append(x, y, ids[i] if ids else None, src, scores[i], cls, None, point_extra, told or bool(sources))
        return
    nucleus = feature.get("nucleusGeometry") if otype == "cell" else None
    if not (isinstance(nucleus, dict) and nucleus.get("type") in _POLYGON_TYPES):
        nucleus = geometry  # a cell without a nucleus: its outline is the nucleus
    polygon = _nucleus_outline(nucleus, parsed)
    x, y = _centre(wnet, centre_told, polygon)
    parsed.append(x, y, wnet.get("id"), source, score, cls, polygon, extra, told)


class _Bounded(io.RawIOBase):
    """A readable stream that fails once more than ``limit`` bytes came through it: a 4 MB
    gzip that expands to 4 GB stops at the limit instead of filling memory."""

    def __init__(self, raw, limit: int):
        self.raw, self.limit, self.count = raw, limit, 0
        self.depth = DepthGuard()  # and nests no deeper than GeoJSON does

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(min(len(buffer), 1 << 20))
        self.count += len(data)
        if self.count > self.limit:
            raise _TooLarge()
        self.depth.feed(data)
        buffer[: len(data)] = data
        return len(data)


class _TooLarge(Exception):
    pass


def _open_bounded(path: Path):
    """The file's bytes, bounded in size and depth; a FIFO, device or folder is refused before
    anything waits on it (opened non-blocking, checked, then read normally)."""
    try:
        plain = open_regular(path)
    except NotRegularFile:
        raise GeoJSONError("is not a regular file (a pipe, device or folder); save the GeoJSON to a file first") from None
    raw = gzip.open(plain, "rb") if path.suffix == ".gz" else plain
    return io.BufferedReader(_Bounded(raw, MAX_GEOJSON_BYTES), 1 << 20), _Closing(raw, plain)


class _Closing:
    """Closes the decompressor and the file under it."""

    def __init__(self, *streams):
        self.streams = streams

    def close(self) -> None:
        for s in self.streams:
            s.close()


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
        except (GeoJSONError, _TooLarge, TooDeep):
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
    except TooDeep as exc:
        raise GeoJSONError(f"is {exc} (GeoJSON nests fewer than 20); refusing to read on", path) from exc
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
    return merge_parsed(store, parsed).added


CENTRE_TOLERANCE = 0.02  # px: files keep centres on a 0.01 px grid; two nuclei are never this close


@dataclass
class Merged:
    """What ``merge_parsed`` did: nuclei added, and nuclei already here that were updated in
    place (with what they were and became, for undo)."""

    added: np.ndarray
    updated: np.ndarray
    before: NucleusFields | None = None
    after: NucleusFields | None = None


def merge_parsed(store: NucleusStore, parsed: ParsedNuclei) -> Merged:
    """Add parsed nuclei; one that is already in the store — the same QuPath id, or (QuPath
    0.2/0.3 drop ids) the same centre — updates that nucleus in place, so re-importing a file
    never doubles and the nucleus keeps its id. The file decides position, class and outline;
    the nucleus keeps what the file could not say (a Points annotation's source and score)."""
    if len(parsed) == 0:
        return Merged(np.zeros(0, np.int64), np.zeros(0, np.int64))
    same = _already_here(store, parsed)
    store.class_colors.update({k: v for k, v in parsed.class_colors.items() if k not in store.class_colors})
    updated = np.array(list(same.values()), np.int64)
    before = after = None
    if len(updated):
        before = store.fields(updated)
        after = _updated_fields(before, parsed, list(same))
        store.update(updated, after)
    new = [k for k in range(len(parsed)) if k not in same]
    ids = [parsed.ids[k] for k in new]
    keep_ids = bool(new) and all(i is not None for i in ids) and len(set(ids)) == len(ids) and min(ids) >= store.next_id
    order = [new[j] for j in np.argsort(np.asarray(ids))] if keep_ids else new
    pick = lambda seq: [seq[k] for k in order]  # noqa: E731
    added = store.add_many(
        pick(parsed.xs), pick(parsed.ys), scores=pick(parsed.scores), ids=[parsed.ids[k] for k in order] if keep_ids else None,
        polygons=pick(parsed.polygons), sources=pick(parsed.sources), classes=pick(parsed.classes), extras=pick(parsed.extras),
    ) if order else np.zeros(0, np.int64)
    return Merged(added, updated, before, after)


def _already_here(store: NucleusStore, parsed: ParsedNuclei) -> dict[int, int]:
    """parsed index → id of the store's nucleus it is: by QuPath id first, then by centre."""
    same: dict[int, int] = {}
    if len(store) == 0:
        return same
    wanted = {e["uuid"] for e in parsed.extras if e and e.get("uuid")}
    if wanted:
        known = store.id_of_uuid()
        if len(known) < len(store):  # our own exports: ids derived from the namespace and the nucleus
            known.update({u: int(i) for i in store.ids() if int(i) not in store.extras
                          for u in (qupath.object_id(store.namespace, f"nucleus/{int(i)}"),) if u in wanted})
        for k, extra in enumerate(parsed.extras):
            nid = known.get((extra or {}).get("uuid"))
            if nid is not None:
                same[k] = nid
    rest = np.array([k for k in range(len(parsed)) if k not in same], np.int64)
    if len(rest):
        from scipy.spatial import cKDTree

        store_ids = store.ids()
        tree = cKDTree(store.coordinates(store_ids))
        xy = np.stack([np.asarray(parsed.xs)[rest], np.asarray(parsed.ys)[rest]], axis=1)
        dist, nearest = tree.query(xy, distance_upper_bound=CENTRE_TOLERANCE)
        taken = set(same.values())
        for k, d, j in zip(rest.tolist(), dist.tolist(), nearest.tolist()):
            if math.isfinite(d) and int(store_ids[j]) not in taken:
                same[k] = int(store_ids[j])
                taken.add(int(store_ids[j]))
    return same


def _updated_fields(before: NucleusFields, parsed: ParsedNuclei, ks: list[int]) -> NucleusFields:
    """The nuclei ``before`` as parsed nuclei ``ks`` describe them: the file's position, class
    and outline (an outline it lacks is kept); its source and score where it said them."""
    sources, scores, polygons, extras = [], np.empty(len(ks), np.float32), [], []
    for j, k in enumerate(ks):
        told_source, score = parsed.sources[k], parsed.scores[k]
        source = told_source if parsed.source_told[k] else before.sources[j]
        if math.isnan(score) and source == before.sources[j]:
            score = before.scores[j]
        sources.append(source)
        scores[j] = score
        polygons.append(parsed.polygons[k] if parsed.polygons[k] is not None else before.polygons[j])
        old, new = before.extras[j] or {}, parsed.extras[k] or {}
        extra = {**old, **{key: v for key, v in new.items() if key != "uuid"}}  # the nucleus stays the one it was
        if old.get("measurements") or new.get("measurements"):
            extra["measurements"] = {**(old.get("measurements") or {}), **(new.get("measurements") or {})}
        if parsed.classes[k] != before.classes[j] and not new.get("class_by_hand"):
            extra.pop("class_by_hand", None)  # another class, not said to be a person's
        extras.append(extra or None)
    xs, ys = np.asarray(parsed.xs)[ks], np.asarray(parsed.ys)[ks]
    return NucleusFields(xs, ys, sources, scores, [parsed.classes[k] for k in ks], polygons, extras)


def import_geojson(store: NucleusStore, path: str | Path) -> np.ndarray:
    """Read ``path`` and add its nuclei (those already here are updated); on any error the
    store is untouched. Returns the ids added."""
    return merge_parsed(store, read_geojson(path)).added


def read_region_outline(path: str | Path) -> np.ndarray:
    """The outline (N, 2) of the largest area annotation in a GeoJSON file — a region drawn in
    QuPath and exported, to run detection inside it (else the largest polygon of any kind);
    errors name the file."""
    parsed = read_geojson(path)
    outlines = [ext for region in parsed.regions for ext, _ in region.parts] or [p for p in parsed.polygons if p is not None]
    if not outlines:
        raise GeoJSONError("holds no Polygon to use as a region", path)
    return max(outlines, key=polygon_area)
