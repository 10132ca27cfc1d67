"""QuPath's conventions, as its reader and writer (qupath-core v0.2.3 … after v0.7.0) apply
them: object types, classifications (and their legacy forms), class colours, object ids,
and the Counting tool's points file.
"""

from __future__ import annotations

import csv
import hashlib
import os
import uuid
import zlib
from pathlib import Path
from typing import Any

from .atomic_file import replacing
from .spreadsheet import spreadsheet_safe

# 0.2 wrote the type only as the feature's "id"
LEGACY_TYPES = {"PathCellObject": "cell", "PathDetectionObject": "detection", "PathAnnotationObject": "annotation",
                "PathTileObject": "tile", "PathTMACoreObject": "tmacore", "PathRootObject": "root"}
NOT_NUCLEI = {"tile", "tmacore", "tma_core", "root"}
# distinct, readable on H&E (no pinks or purples); a class without a colour of its own gets one
PALETTE = ((230, 25, 25), (0, 130, 200), (60, 180, 75), (255, 165, 0), (0, 200, 200), (255, 225, 25),
           (128, 128, 0), (170, 110, 40), (0, 0, 128), (128, 0, 0), (0, 128, 128), (250, 190, 160))
MAX_CLASS_NAME = 200  # characters: QuPath's longest derived classes ("Tumor: Positive: …") are far shorter
MAX_CLASSES = 1000  # distinct classes a file or a slide may hold (a study has tens)
NUCLEUS_COLOR = (0, 230, 230)  # cyan: apart from every type colour (was near Epithelial's red) and from H&E


def object_type(feature: dict, properties: dict) -> str:
    """'annotation', 'detection', 'cell', 'tile', … as QuPath decides it."""
    for key in ("objectType", "object_type", "type"):
        value = properties.get(key)
        if isinstance(value, str) and value:
            return value.lower()
    legacy = feature.get("id")
    if isinstance(legacy, str) and legacy in LEGACY_TYPES:
        return LEGACY_TYPES[legacy]
    return "annotation"


def rgb_of_packed(value: int) -> tuple[int, int, int]:
    """QuPath 0.2/0.3 ``colorRGB``: a signed 32-bit ARGB int."""
    value &= 0xFFFFFFFF
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def packed_of_rgb(rgb: tuple[int, int, int]) -> int:
    """The signed ARGB int QuPath writes for a colour (Counting files, 0.2 GeoJSON)."""
    value = 0xFF000000 | (int(rgb[0]) << 16) | (int(rgb[1]) << 8) | int(rgb[2])
    return value - (1 << 32)


def _color(d: dict) -> tuple[int, int, int] | None:
    c = d.get("color")
    if isinstance(c, list) and len(c) in (3, 4) and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in c):
        return int(c[0]), int(c[1]), int(c[2])
    packed = d.get("colorRGB")
    if isinstance(packed, int) and not isinstance(packed, bool) and -(1 << 31) <= packed < (1 << 32):
        return rgb_of_packed(packed)
    return None


def classification(properties: dict) -> tuple[str | None, tuple[int, int, int] | None]:
    """The class name ('Tumor: Positive' for multi-part classes) and its colour, if any.

    Accepts a bare string, ``{name, color}``, ``{names: [...], color}`` and 0.2's
    ``{name, colorRGB, parentClass: {...}}``."""
    cls = properties.get("classification")
    if isinstance(cls, str):
        return (cls or None), None
    if not isinstance(cls, dict):
        return None, None
    names = cls.get("names")
    if isinstance(names, list) and names and all(isinstance(n, str) for n in names):
        return ": ".join(names), _color(cls)
    parts, node, depth = [], cls, 0
    while isinstance(node, dict) and isinstance(node.get("name"), str) and depth < 16:
        parts.insert(0, node["name"])
        node, depth = node.get("parentClass"), depth + 1
    return (": ".join(parts) or None), _color(cls)


# QuPath's own default classes keep their familiar colours
QUPATH_DEFAULTS = {"Tumor": (200, 0, 0), "Stroma": (150, 200, 150), "Immune cells": (160, 90, 160), "Necrosis": (50, 50, 50),
                   "Other": (255, 200, 0), "Region*": (0, 0, 180), "Ignore*": (180, 180, 180), "Positive": (200, 50, 50),
                   "Negative": (112, 112, 225), "Nucleus": NUCLEUS_COLOR}
# the typing models' colorectal scheme, in the colours of QuPath's nearest classes, except
# Inflammatory: QuPath's purple for immune cells vanishes on haematoxylin, so a clear blue
TYPE_COLORS = {"Epithelial": QUPATH_DEFAULTS["Tumor"], "Inflammatory": (0, 120, 255),
               "Stromal": QUPATH_DEFAULTS["Stroma"], "Other": QUPATH_DEFAULTS["Other"]}


def class_color(cls: str, known: dict[str, tuple[int, int, int]], used: set | None = None) -> tuple[int, int, int]:
    """The class's own colour (``known``, as ``assign_colors`` fills it), else QuPath's
    default for its name (or for the nearest QuPath class, for our four nucleus types), else the
    palette's first colour no known class uses (``used``: those colours, when the caller keeps them)."""
    if cls in known:
        return known[cls]
    if cls in QUPATH_DEFAULTS:
        return QUPATH_DEFAULTS[cls]
    used = set(known.values()) if used is None else used
    if cls in TYPE_COLORS and TYPE_COLORS[cls] not in used:  # "Tumor" and "Epithelial" together stay apart
        return TYPE_COLORS[cls]
    free = [c for c in PALETTE if c not in used and c not in _DEFAULT_COLORS]
    return free[0] if free else PALETTE[zlib.crc32(cls.encode()) % len(PALETTE)]


_DEFAULT_COLORS = frozenset(QUPATH_DEFAULTS.values())


def assign_colors(classes, known: dict[str, tuple[int, int, int]]) -> dict[str, tuple[int, int, int]]:
    """Give every class in ``classes`` a colour, distinct from the others' as long as the
    palette lasts; records them in ``known`` (so every export of a slide agrees). Linear in the
    classes (the colours in use are kept as it goes, not recounted per class)."""
    used = set(known.values())
    for cls in classes:
        if cls not in known:
            known[cls] = class_color(cls, known, used)
            used.add(known[cls])
    return known


def valid_uuid(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) != 36:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


_NAMESPACE = uuid.UUID("6f0c5b1e-8d1a-4f39-9a53-3c0b2b6d1e77")


def object_id(namespace: str, key: str) -> str:
    """A UUID fixed by the annotations' namespace (``new_namespace``, ``run_namespace``) and the
    object (``key``): the same nucleus gets the same id in every export, and no nucleus of
    another run or slide ever gets it. Version 5, where QuPath's own ids are random (version 4)."""
    h = bytearray(hashlib.sha1(_NAMESPACE.bytes + f"{namespace}\x00{key}".encode()).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50  # version 5
    h[8] = (h[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


SAMPLE_BYTES = 1 << 20  # read at the start, the middle and the end of a slide to tell it apart


def slide_identity(path: str | Path) -> str:
    """A slide's identity from its content, not its name: sha256 over its size and 1 MiB at
    its start, middle and end (and an MRXS's Slidedat.ini). The same on every machine and
    under any name; two slides that share a name and a size still differ (their headers and
    pixels do). Costs three small reads, whatever the slide's size."""
    path = Path(path)
    digest = hashlib.sha256()
    try:
        size = os.path.getsize(path)
        digest.update(str(size).encode())
        with open(path, "rb") as fh:
            for offset in sorted({0, max(0, size // 2 - SAMPLE_BYTES // 2), max(0, size - SAMPLE_BYTES)}):
                fh.seek(offset)
                digest.update(fh.read(SAMPLE_BYTES))
        index = path.with_suffix("") / "Slidedat.ini"
        if path.suffix.lower() == ".mrxs" and index.is_file() and index.stat().st_size < (1 << 24):
            digest.update(index.read_bytes())
    except OSError:
        digest.update(f"unreadable:{path.name}".encode())
    return digest.hexdigest()[:32]


def new_namespace() -> str:
    """The namespace of a new set of annotations (a slide opened in the app for the first
    time, a project slide's first run): random, so no other set, on this slide or any other,
    ever derives the same nucleus ids. Saved with the annotations, so ids stay put."""
    return uuid.uuid4().hex


def run_namespace(slide_path: str | Path, *what: str) -> str:
    """The namespace of a headless run's results: the slide's content and what was run (model
    and its sha256, region, options). The same command gives the same ids; another model's or
    another slide's nuclei never get them."""
    return "/".join((slide_identity(slide_path), *what))


def write_counting_tsv(store, path: str | Path, split_sources: bool = False) -> None:
    """The file QuPath's Counting dialog loads ('Load points'): tab-separated x, y, class,
    name, colour; each (class, name, colour) becomes one Points annotation."""
    path = Path(path)
    with replacing(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(["x", "y", "class", "name", "color"])
        assign_colors(store.classes.names, store.class_colors)
        for n in store:
            name = f"{n.cls} ({n.source})" if split_sources else n.cls
            color = packed_of_rgb(class_color(n.cls, store.class_colors))
            writer.writerow([f"{n.x:.2f}", f"{n.y:.2f}", _cell(n.cls), _cell(name), color])


def _cell(text: str) -> str:
    """No tab or line break inside a field (QuPath splits on them), and no formula when the
    file is opened in a spreadsheet (a name starting with '=' gets a leading apostrophe)."""
    return spreadsheet_safe(" ".join(text.split()))
