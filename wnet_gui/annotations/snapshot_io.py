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
            "class_colors": {k: list(v) for k, v in store.class_colors.items()}}
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


def read_snapshot(path: str | Path, store: NucleusStore) -> np.ndarray:
    """Add the snapshot's nuclei to ``store``; returns their ids (the saved ones, unless the
    store has already used them, e.g. after a clear — then new ones, links kept by order).

    Raises SnapshotError, leaving ``store`` untouched, when the file is unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(str(arrays["meta"]))
        if meta.get("format") != FORMAT:
            raise SnapshotError(f"{Path(path).name}: unknown snapshot format {meta.get('format')!r}")
        sources, classes = np.array(meta["sources"], object), np.array(meta["classes"], object)
        offsets, poly_xy = arrays["poly_offsets"], arrays["poly_xy"]
        outlines = {int(i): poly_xy[offsets[k] : offsets[k + 1]] for k, i in enumerate(arrays["poly_ids"])}
        ids = arrays["ids"]
        row_sources, row_classes = list(sources[arrays["source"]]), list(classes[arrays["cls"]])
    except SnapshotError:
        raise
    except (OSError, ValueError, KeyError, IndexError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise SnapshotError(f"{Path(path).name} is not a readable snapshot ({exc.__class__.__name__}: {exc})") from exc
    store.class_colors.update({k: tuple(v) for k, v in meta.get("class_colors", {}).items()})
    keep_ids = len(ids) == 0 or int(ids[0]) >= store.next_id
    return store.add_many(arrays["x"], arrays["y"], scores=arrays["score"], ids=ids if keep_ids else None, sources=row_sources, classes=row_classes,
                          polygons=[outlines.get(int(i)) for i in ids])
