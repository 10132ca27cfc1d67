"""Binary snapshots of a store (``.npz``, no pickle) for autosave.

GeoJSON is the exchange format, but writing 100,000 nuclei as JSON takes seconds of
Python and would stall the app on every autosave; a snapshot of the columns takes
milliseconds (numpy writes the arrays with the GIL released) and reads back exactly,
ids included.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from ..regular_file import open_regular
from .store import NucleusStore

FORMAT = 1


class SnapshotError(ValueError):
    """A snapshot that cannot be read (truncated by a crash, or not ours)."""


def write_snapshot(store: NucleusStore, path: str | Path) -> None:
    """Write ``store`` to ``path`` atomically (temp file, fsync, rename)."""
    path = Path(path)
    cols = store.columns()
    alive = set(cols["id"].tolist())
    poly_ids = np.array(sorted(i for i in store.polygons if i in alive), np.int64)
    polys = [np.asarray(store.polygons[int(i)], np.float64).reshape(-1, 2) for i in poly_ids]
    offsets = np.cumsum([0] + [len(p) for p in polys]).astype(np.int64)
    meta = {"format": FORMAT, "sources": store.sources.names, "classes": store.classes.names,
            "class_colors": {k: list(v) for k, v in store.class_colors.items()}, "namespace": store.namespace, "class_list": store.class_list,
            "stated_mpp": store.stated_mpp,
            "reviewed": [np.round(r, 3).tolist() for r in store.reviewed],
            "extras": {str(i): e for i, e in store.extras.items() if i in alive}}
    tmp = path.with_name(path.name + ".writing")
    with open(tmp, "wb") as fh:
        np.savez(
            fh, meta=np.array(json.dumps(meta)), ids=cols["id"], x=cols["x"], y=cols["y"], score=cols["score"],
            source=cols["source"], cls=cols["cls"], poly_ids=poly_ids, poly_offsets=offsets,
            poly_xy=np.concatenate(polys) if polys else np.zeros((0, 2)),
        )
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _check(a: dict[str, np.ndarray], n_sources: int, n_classes: int) -> None:
    """Everything a readable-but-wrong snapshot could hold that the store must never take:
    a NaN or absurd coordinate, ids out of order, dangling indices, outlines past the end."""
    ids, x, y = a["ids"], a["x"], a["y"]
    n = len(ids)
    if ids.ndim != 1 or not all(a[k].shape == (n,) for k in ("x", "y", "score", "source", "cls")):
        raise SnapshotError("columns of different lengths")
    if not (np.issubdtype(ids.dtype, np.integer) and np.issubdtype(a["source"].dtype, np.integer) and np.issubdtype(a["cls"].dtype, np.integer)):
        raise SnapshotError("ids or indices are not integers")
    if n and (ids[0] < 1 or np.any(np.diff(ids) <= 0)):
        raise SnapshotError("ids are not positive and strictly increasing")
    low, high = -100_000.0, 10_000_000.0  # as GeoJSON import: level-0 pixels of any real slide
    if n and not (np.isfinite(x).all() and np.isfinite(y).all() and x.min() >= low and y.min() >= low and x.max() <= high and y.max() <= high):
        raise SnapshotError("a coordinate is not a finite number within a slide")
    if n and (a["source"].min() < 0 or a["source"].max() >= n_sources or a["cls"].min() < 0 or a["cls"].max() >= n_classes):
        raise SnapshotError("a source or class index points nowhere")
    offsets, poly_ids, xy = a["poly_offsets"], a["poly_ids"], a["poly_xy"]
    if len(offsets) != len(poly_ids) + 1 or (len(offsets) and (offsets[0] != 0 or np.any(np.diff(offsets) < 0) or offsets[-1] != len(xy))):
        raise SnapshotError("outline offsets do not match the outline points")
    if xy.ndim != 2 or (len(xy) and xy.shape[1] != 2) or not np.isfinite(xy).all():
        raise SnapshotError("outline points are not finite (x, y) pairs")
    if len(poly_ids) and not np.isin(poly_ids, ids).all():
        raise SnapshotError("an outline belongs to no nucleus")


MAX_INFLATION = 4  # our snapshots are stored, not compressed: what they unpack to is about what they weigh
MAX_SNAPSHOT_ARRAYS = 16


def _check_inflation(fh) -> None:
    """Refuse a snapshot that would unpack to far more than it weighs (a 31 MB file that
    inflates to 32 GB once took the app past 6 GB) before any array is read."""
    size = os.fstat(fh.fileno()).st_size
    with zipfile.ZipFile(fh) as zf:
        members = zf.infolist()
        if len(members) > MAX_SNAPSHOT_ARRAYS:
            raise SnapshotError(f"holds {len(members)} arrays; a snapshot has {MAX_SNAPSHOT_ARRAYS} at most")
        unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_INFLATION * size + (16 << 20):
        raise SnapshotError(f"would unpack to {unpacked / 2**20:,.0f} MiB from {size / 2**20:,.1f} MiB on disk (a compression bomb, "
                            "not a snapshot this app wrote)")


def read_snapshot(path: str | Path, store: NucleusStore) -> np.ndarray:
    """Add the snapshot's nuclei to ``store``; returns their ids (the saved ones, unless the
    store has already used them, e.g. after a clear — then new ones, links kept by order).

    Raises SnapshotError, leaving ``store`` untouched, when the file is unreadable."""
    try:
        with open_regular(path) as fh:  # a pipe or a device named like a snapshot is refused, not waited on
            _check_inflation(fh)
            fh.seek(0)
            with np.load(fh, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        meta = json.loads(str(arrays["meta"]))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise SnapshotError(f"unknown snapshot format {meta.get('format') if isinstance(meta, dict) else None!r}")
        if not all(isinstance(v, list) and all(isinstance(t, str) for t in v) for v in (meta["sources"], meta["classes"])):
            raise SnapshotError("source and class names are not text")
        from .qupath import MAX_CLASS_NAME, MAX_CLASSES

        if len(meta["classes"]) > MAX_CLASSES + 1 or any(len(t) > MAX_CLASS_NAME for t in meta["classes"]):
            raise SnapshotError(f"more than {MAX_CLASSES:,} classes, or a class name over {MAX_CLASS_NAME} characters")
        colors = meta.get("class_colors", {})
        if not (isinstance(colors, dict) and all(isinstance(c, list) and len(c) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in c)
                                                 for c in colors.values())):
            raise SnapshotError("class colours are not RGB triples")
        _check(arrays, len(meta["sources"]), len(meta["classes"]))
        extras = meta.get("extras", {})
        if not (isinstance(extras, dict) and all(isinstance(e, dict) for e in extras.values())):
            raise SnapshotError("per-nucleus extras are not objects")
        sources, classes = np.array(meta["sources"], object), np.array(meta["classes"], object)
        offsets, poly_xy = arrays["poly_offsets"], arrays["poly_xy"]
        outlines = {int(i): poly_xy[offsets[k] : offsets[k + 1]] for k, i in enumerate(arrays["poly_ids"])}
        ids = arrays["ids"]
        row_sources, row_classes = list(sources[arrays["source"]]), list(classes[arrays["cls"]])
    except SnapshotError as exc:
        raise SnapshotError(f"{Path(path).name}: {exc}") from exc
    except (OSError, ValueError, KeyError, IndexError, TypeError, EOFError, zipfile.BadZipFile, json.JSONDecodeError, RecursionError) as exc:
        raise SnapshotError(f"{Path(path).name} is not a readable snapshot ({exc.__class__.__name__}: {str(exc)[:200]})") from exc
    store.class_colors.update({k: tuple(v) for k, v in meta.get("class_colors", {}).items()})
    if isinstance(meta.get("namespace"), str) and not store.namespace:
        store.namespace = meta["namespace"]
    from ..slides.scale import valid_mpp

    store.stated_mpp = valid_mpp(meta.get("stated_mpp")) or store.stated_mpp
    if isinstance(meta.get("class_list"), list):
        store.class_list = [c for c in meta["class_list"] if isinstance(c, str)][:100]
    for outline in meta.get("reviewed", []) if isinstance(meta.get("reviewed"), list) else []:
        try:
            store.add_reviewed(outline)
        except (ValueError, TypeError):
            continue  # a damaged outline is dropped; the points are what matters
    keep_ids = len(ids) == 0 or int(ids[0]) >= store.next_id
    return store.add_many(arrays["x"], arrays["y"], scores=arrays["score"], ids=ids if keep_ids else None, sources=row_sources, classes=row_classes,
                          polygons=[outlines.get(int(i)) for i in ids], extras=[extras.get(str(int(i))) for i in ids])
