"""In-memory store of nuclei, columnar so a slide's 10^6 points stay cheap.

Each nucleus has an integer id (unique, increasing in row order), a centre in level-0
pixels, an optional outline, a source ('manual' or the model's name), a score and a
class. Removal only hides a row, so undo can bring it back with the same id.

Spatial queries use an x-sorted snapshot of the rows plus a short list of rows added or
moved since; the snapshot is rebuilt when that list grows, so a click never pays for a
full re-sort.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from ..geometry import PolygonRegion

MANUAL = "manual"  # placed by hand
IMPORTED = "imported"  # read from a file that did not say who placed it (another tool's detections)
_REINDEX_AFTER = 20000  # rows outside the sorted snapshot before it is rebuilt


@dataclass
class Nucleus:
    id: int
    x: float
    y: float
    source: str = MANUAL
    score: float = float("nan")
    cls: str = "Nucleus"
    polygon: np.ndarray | None = field(default=None, compare=False)

    def same_as(self, other: "Nucleus", tol: float = 1e-6) -> bool:
        """Equal fields, coordinates within ``tol`` (GeoJSON keeps 2 decimals)."""
        def close(a: float, b: float) -> bool:
            return (np.isnan(a) and np.isnan(b)) or abs(a - b) <= tol

        if (self.id, self.source, self.cls) != (other.id, other.source, other.cls):
            return False
        if not (close(self.x, other.x) and close(self.y, other.y) and close(self.score, other.score)):
            return False
        if (self.polygon is None) != (other.polygon is None):
            return False
        return self.polygon is None or (self.polygon.shape == other.polygon.shape and np.allclose(self.polygon, other.polygon, atol=tol))


@dataclass
class NucleusFields:
    """What is known of some nuclei, column by column (one entry per id, in the ids' order):
    what an import replaces in nuclei already there, and what undo puts back."""

    xs: np.ndarray
    ys: np.ndarray
    sources: list[str]
    scores: np.ndarray
    classes: list[str]
    polygons: list[np.ndarray | None]
    extras: list[dict | None]


class _Codes:
    """Strings stored once, referred to by small integer codes."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._code: dict[str, int] = {}

    def code_of(self, name: str) -> int:
        """The code of ``name``, or -1 when it was never stored (nothing matches it)."""
        return self._code.get(name, -1)

    def code(self, name: str) -> int:
        if name not in self._code:
            self._code[name] = len(self.names)
            self.names.append(name)
        return self._code[name]


class NucleusStore:
    """Nuclei of one slide; every mutation notifies the listeners with the ids touched."""

    def __init__(self) -> None:
        self._ids = np.zeros(0, np.int64)
        self._x = np.zeros(0, np.float64)
        self._y = np.zeros(0, np.float64)
        self._score = np.zeros(0, np.float32)
        self._source = np.zeros(0, np.int32)
        self._cls = np.zeros(0, np.int32)
        self._alive = np.zeros(0, bool)
        self._n = 0  # rows in use (arrays grow geometrically)
        self.polygons: dict[int, np.ndarray] = {}
        # what other tools said about a nucleus and we keep for them: its QuPath id ("uuid")
        # and measurements other than the score ("measurements"); sparse, like the outlines
        self.extras: dict[int, dict] = {}
        self.namespace = ""  # the slide's identity: exported ids are unique per slide and stable
        self.class_list: list[str] = []  # the user's classes for this slide, in their order (autosaved)
        # the µm/px the user stated for a slide whose file states none (or states it wrongly),
        # kept with the slide's annotations like QuPath's Image › Set pixel size
        self.stated_mpp: float | None = None
        # outlines (level-0, (M, 2)) the user marked reviewed: every nucleus inside has a point
        # and nothing else has one — the labels a model can be adapted on
        self.reviewed: list[np.ndarray] = []
        self.sources = _Codes()
        self.classes = _Codes()
        self.class_colors: dict[str, tuple[int, int, int]] = {}
        self._next_id = 1
        self._index_rows = np.zeros(0, np.int64)  # rows sorted by their x at snapshot time
        self._index_x = np.zeros(0, np.float64)
        self._unindexed: set[int] = set()  # rows added or moved since the snapshot
        self.listeners: list[Callable[[str, np.ndarray], None]] = []
        self.revision = 0  # bumped by every change; autosave compares it

    @property
    def next_id(self) -> int:
        """The id the next added nucleus gets; ids are never reused within a store."""
        return self._next_id

    def snapshot(self) -> "NucleusStore":
        """An independent copy of the data (no listeners): milliseconds even for 10^6
        nuclei, so a save can serialise it on another thread while editing goes on."""
        import copy

        twin = NucleusStore()
        for name in ("_ids", "_x", "_y", "_score", "_source", "_cls", "_alive"):
            setattr(twin, name, getattr(self, name)[: self._n].copy())
        twin._n = self._n
        twin.polygons = dict(self.polygons)  # outlines are replaced, never edited in place
        twin.extras = dict(self.extras)
        twin.namespace = self.namespace
        twin.class_list = list(self.class_list)
        twin.stated_mpp = self.stated_mpp
        twin.reviewed = list(self.reviewed)  # outlines are replaced, never edited in place
        twin.sources, twin.classes = copy.deepcopy(self.sources), copy.deepcopy(self.classes)
        twin.class_colors = dict(self.class_colors)
        twin._next_id = self._next_id
        twin._unindexed = set(range(self._n))
        twin.revision = self.revision
        return twin

    # -- size and rows --------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._alive[: self._n].sum())

    def _grow(self, extra: int) -> None:
        need = self._n + extra
        if need <= len(self._ids):
            return
        cap = max(need, 2 * len(self._ids), 1024)
        for name in ("_ids", "_x", "_y", "_score", "_source", "_cls", "_alive"):
            old = getattr(self, name)
            new = np.zeros(cap, old.dtype)
            new[: self._n] = old[: self._n]
            setattr(self, name, new)

    def _rows_of(self, ids: np.ndarray) -> np.ndarray:
        ids = np.atleast_1d(np.asarray(ids, np.int64))
        rows = np.searchsorted(self._ids[: self._n], ids)
        ok = (rows < self._n) & (self._ids[np.minimum(rows, max(self._n - 1, 0))] == ids) if self._n else np.zeros(len(ids), bool)
        if not ok.all():
            raise KeyError(f"no nucleus with id {int(ids[~ok][0])}")
        return rows

    def add_reviewed(self, outline, index: int | None = None) -> int:
        """Mark an outline reviewed (at ``index``, for undo); returns where it went."""
        outline = np.asarray(outline, np.float64).reshape(-1, 2)
        if len(outline) < 3 or not np.isfinite(outline).all():
            raise ValueError("a reviewed region needs at least 3 finite corners")
        _region(outline)  # and an area: the same outline check detection regions get
        index = len(self.reviewed) if index is None else index
        self.reviewed.insert(index, outline)
        self._notify("reviewed", np.zeros(0, np.int64))
        return index

    def remove_reviewed(self, index: int) -> np.ndarray:
        outline = self.reviewed.pop(index)
        self._notify("reviewed", np.zeros(0, np.int64))
        return outline

    def inside_reviewed(self, xy: np.ndarray) -> np.ndarray:
        """Boolean per (x, y): inside any reviewed region (edges count as inside)."""
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        inside = np.zeros(len(xy), bool)
        for outline in self.reviewed:
            inside |= _region(outline).contains(xy[:, 0], xy[:, 1])
        return inside

    def reviewed_ids(self) -> np.ndarray:
        """Ids of the nuclei inside any reviewed region (each region's bounding box first, via the index)."""
        found = [np.zeros(0, np.int64)]
        for outline in self.reviewed:
            (x0, y0), (x1, y1) = outline.min(axis=0), outline.max(axis=0)
            ids = self.query_rect(x0, y0, x1, y1)
            if len(ids):
                xy = self.coordinates(ids)
                found.append(ids[_region(outline).contains(xy[:, 0], xy[:, 1])])
        return np.unique(np.concatenate(found))

    def _notify(self, what: str, ids: np.ndarray) -> None:
        self.revision += 1
        for listener in list(self.listeners):
            listener(what, ids)

    # -- mutation ---------------------------------------------------------------------
    def add_many(
        self,
        xs: Iterable[float],
        ys: Iterable[float],
        source: str = MANUAL,
        scores: Iterable[float] | None = None,
        cls: str = "Nucleus",
        ids: Iterable[int] | None = None,
        polygons: list[np.ndarray | None] | None = None,
        sources: list[str] | None = None,
        classes: list[str] | None = None,
        extras: list[dict | None] | None = None,
    ) -> np.ndarray:
        """Add nuclei in one step; returns their ids. Given ``ids`` must be new and above
        every id in the store (imports keep their ids that way)."""
        xs = np.asarray(xs, np.float64).ravel()
        ys = np.asarray(ys, np.float64).ravel()
        n = len(xs)
        if len(ys) != n:
            raise ValueError("xs and ys differ in length")
        if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
            raise ValueError("coordinates must be finite numbers")
        if ids is None:
            new_ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        else:
            new_ids = np.asarray(ids, np.int64).ravel()
            if len(new_ids) != n or (n and (np.any(np.diff(new_ids) <= 0) or new_ids[0] < self._next_id)):
                raise ValueError("ids must be increasing and larger than every id in the store")
        self._grow(n)
        sl = slice(self._n, self._n + n)
        self._ids[sl] = new_ids
        self._x[sl], self._y[sl] = xs, ys
        self._score[sl] = np.nan if scores is None else np.asarray(scores, np.float32).ravel()
        self._source[sl] = [self.sources.code(s) for s in sources] if sources is not None else self.sources.code(source)
        self._cls[sl] = [self.classes.code(c) for c in classes] if classes is not None else self.classes.code(cls)
        self._alive[sl] = True
        if polygons is not None:
            for i, poly in zip(new_ids, polygons):
                if poly is not None:
                    self.polygons[int(i)] = np.asarray(poly, np.float64)
        if extras is not None:
            for i, extra in zip(new_ids, extras):
                if extra:
                    self.extras[int(i)] = extra
        self._unindexed.update(range(self._n, self._n + n))
        self._n += n
        if n:
            self._next_id = int(new_ids[-1]) + 1
        self._notify("add", new_ids)
        return new_ids

    def add(self, x: float, y: float, source: str = MANUAL, score: float = float("nan"), cls: str = "Nucleus") -> int:
        return int(self.add_many([x], [y], source, [score], cls)[0])

    def remove(self, ids: Iterable[int]) -> None:
        """Hide nuclei; ``restore`` brings them back with the same id, outline included."""
        ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, np.int64)
        if len(ids) == 0:
            return
        self._alive[self._rows_of(ids)] = False
        self._notify("remove", ids)

    def restore(self, ids: Iterable[int]) -> None:
        ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, np.int64)
        if len(ids) == 0:
            return
        self._alive[self._rows_of(ids)] = True
        self._notify("add", ids)

    def move(self, nucleus_id: int, x: float, y: float) -> None:
        """Move a centre; its outline no longer describes it and is dropped."""
        row = int(self._rows_of([nucleus_id])[0])
        self._x[row], self._y[row] = x, y
        self.polygons.pop(int(nucleus_id), None)
        self._unindexed.add(row)
        self._notify("move", np.array([nucleus_id]))

    def fields(self, ids: np.ndarray) -> NucleusFields:
        """Everything about these nuclei, for ``update`` to put back (undo)."""
        ids = np.asarray(ids, np.int64)
        rows = self._rows_of(ids)
        return NucleusFields(self._x[rows].copy(), self._y[rows].copy(), [self.sources.names[c] for c in self._source[rows]],
                             self._score[rows].copy(), [self.classes.names[c] for c in self._cls[rows]],
                             [self.polygons.get(int(i)) for i in ids], [self.extras.get(int(i)) for i in ids])

    def update(self, ids: np.ndarray, fields: NucleusFields) -> None:
        """Replace what is known of existing nuclei in one step; they keep their ids (an
        import that finds nuclei already here, and its undo)."""
        ids = np.asarray(ids, np.int64)
        rows = self._rows_of(ids)
        self._x[rows], self._y[rows] = fields.xs, fields.ys
        self._source[rows] = [self.sources.code(s) for s in fields.sources]
        self._score[rows] = fields.scores
        self._cls[rows] = [self.classes.code(c) for c in fields.classes]
        for i, polygon, extra in zip(ids.tolist(), fields.polygons, fields.extras):
            if polygon is None:
                self.polygons.pop(i, None)
            else:
                self.polygons[i] = polygon
            if extra:
                self.extras[i] = extra
            else:
                self.extras.pop(i, None)
        self._unindexed.update(rows.tolist())
        self._notify("update", ids)

    def set_stated_mpp(self, mpp: float | None) -> None:
        """The scale the user states for this slide (saved with its annotations)."""
        self.stated_mpp = None if mpp is None else float(mpp)
        self._notify("scale", np.zeros(0, np.int64))

    def set_polygons(self, polygons: dict[int, np.ndarray | None]) -> None:
        """Attach (or with None, clear) outlines of existing nuclei."""
        ids = np.array(list(polygons), np.int64)
        self._rows_of(ids)
        for i, poly in polygons.items():
            if poly is None:
                self.polygons.pop(int(i), None)
            else:
                self.polygons[int(i)] = np.asarray(poly, np.float64)
        self._notify("polygon", ids)

    def set_classes(self, classes: dict[int, str]) -> None:
        """Give nuclei new classes (id → class name) in one step."""
        ids = np.array(list(classes), np.int64)
        rows = self._rows_of(ids)
        self._cls[rows] = [self.classes.code(c) for c in classes.values()]
        self._notify("class", ids)

    def classes_of(self, ids: np.ndarray) -> list[str]:
        return [self.classes.names[c] for c in self._cls[self._rows_of(ids)]]

    def classed_by_hand(self, ids: np.ndarray) -> np.ndarray:
        """Whether a person set each nucleus' class (hotkeys, a drawn region, an imported class
        said to be a person's), as opposed to a model's or a classifier's."""
        return np.array([bool((self.extras.get(int(i)) or {}).get("class_by_hand")) for i in ids], bool)

    def clear(self) -> None:
        """Empty the store for another slide: rows, outlines, regions, scale, the id counter and
        the namespace go (a slide's saved annotations then load with their own ids and
        namespace, so its exported ids are the same in every session). Listeners stay."""
        ids = self.ids()
        self._n = 0
        self._next_id = 1
        self._index_rows, self._index_x = np.zeros(0, np.int64), np.zeros(0, np.float64)
        self._unindexed.clear()
        self.polygons.clear()
        self.extras.clear()
        self.reviewed.clear()
        self.stated_mpp = None
        self.namespace = ""
        self._notify("remove", ids)

    # -- reading ---------------------------------------------------------------------------
    def ids(self) -> np.ndarray:
        return self._ids[: self._n][self._alive[: self._n]].copy()

    def __contains__(self, nucleus_id: int) -> bool:
        try:
            return bool(self._alive[self._rows_of([nucleus_id])[0]])
        except KeyError:
            return False

    def get(self, nucleus_id: int) -> Nucleus:
        row = int(self._rows_of([nucleus_id])[0])
        if not self._alive[row]:
            raise KeyError(f"nucleus {nucleus_id} was removed")
        return self._record(row)

    def _record(self, row: int) -> Nucleus:
        nid = int(self._ids[row])
        return Nucleus(
            nid, float(self._x[row]), float(self._y[row]), self.sources.names[self._source[row]],
            float(self._score[row]), self.classes.names[self._cls[row]], self.polygons.get(nid),
        )

    def __iter__(self) -> Iterator[Nucleus]:
        for row in np.flatnonzero(self._alive[: self._n]):
            yield self._record(int(row))

    def coordinates(self, ids: np.ndarray | None = None) -> np.ndarray:
        """(N, 2) x, y of the given ids (default: every nucleus, in id order)."""
        rows = np.flatnonzero(self._alive[: self._n]) if ids is None else self._rows_of(ids)
        return np.stack([self._x[rows], self._y[rows]], axis=1)

    def columns(self, ids: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Columns for fast drawing/export: id, x, y, score, source code, class code."""
        rows = np.flatnonzero(self._alive[: self._n]) if ids is None else self._rows_of(ids)
        return {"id": self._ids[rows], "x": self._x[rows], "y": self._y[rows], "score": self._score[rows],
                "source": self._source[rows], "cls": self._cls[rows]}

    def id_of_uuid(self) -> dict[str, int]:
        """QuPath id → nucleus id, for nuclei alive that came with one."""
        alive = set(self.ids().tolist())  # one pass, not a search per nucleus
        return {e["uuid"]: i for i, e in self.extras.items() if "uuid" in e and i in alive}

    def source_of(self, ids: np.ndarray) -> np.ndarray:
        return np.array(self.sources.names, dtype=object)[self._source[self._rows_of(ids)]] if len(ids) else np.array([], object)

    def count_by_source(self) -> dict[str, int]:
        codes = self._source[: self._n][self._alive[: self._n]]
        counts = np.bincount(codes, minlength=len(self.sources.names))
        return {name: int(c) for name, c in zip(self.sources.names, counts) if c}

    # -- spatial queries --------------------------------------------------------------------
    def _reindex(self) -> None:
        rows = np.arange(self._n)
        order = np.argsort(self._x[: self._n], kind="stable")
        self._index_rows = rows[order]
        self._index_x = self._x[: self._n][order]
        self._unindexed.clear()

    def _candidate_rows(self, x0: float, x1: float) -> np.ndarray:
        if len(self._unindexed) > _REINDEX_AFTER:
            self._reindex()
        lo = np.searchsorted(self._index_x, x0, side="left")
        hi = np.searchsorted(self._index_x, x1, side="right")
        rows = self._index_rows[lo:hi]
        if self._unindexed:
            rows = np.union1d(rows, np.fromiter(self._unindexed, np.int64, len(self._unindexed)))
            # rows moved since the snapshot may sit in the slice under their old x: the
            # filter on current coordinates below takes care of them
        return rows

    def _rows_in_rect(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        rows = self._candidate_rows(x0, x1)
        x, y = self._x[rows], self._y[rows]
        return rows[self._alive[rows] & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)]

    def query_rect(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        """Ids of nuclei with x0 ≤ x ≤ x1 and y0 ≤ y ≤ y1 (level-0 pixels), ascending."""
        return np.sort(self._ids[self._rows_in_rect(x0, y0, x1, y1)])

    def columns_in_rect(self, x0: float, y0: float, x1: float, y1: float) -> dict[str, np.ndarray]:
        """``columns`` of the nuclei in a rectangle, in no particular order: what a paint
        needs, without the sort and id lookups (20 ms for 100,000 visible nuclei)."""
        rows = self._rows_in_rect(x0, y0, x1, y1)
        return {"id": self._ids[rows], "x": self._x[rows], "y": self._y[rows], "score": self._score[rows],
                "source": self._source[rows], "cls": self._cls[rows]}

    def query_polygon(self, polygon: np.ndarray) -> np.ndarray:
        """Ids of nuclei inside a (lasso) polygon given as (M, 2) x, y."""
        from skimage.measure import points_in_poly

        polygon = np.asarray(polygon, np.float64).reshape(-1, 2)
        if len(polygon) < 3:
            return np.zeros(0, np.int64)
        (x0, y0), (x1, y1) = polygon.min(axis=0), polygon.max(axis=0)
        ids = self.query_rect(x0, y0, x1, y1)
        if len(ids) == 0:
            return ids
        return ids[points_in_poly(self.coordinates(ids), polygon)]

    def nearest(self, x: float, y: float, max_distance: float) -> int | None:
        """Id of the closest nucleus within ``max_distance`` of (x, y), else None."""
        ids = self.query_rect(x - max_distance, y - max_distance, x + max_distance, y + max_distance)
        if len(ids) == 0:
            return None
        xy = self.coordinates(ids)
        d2 = (xy[:, 0] - x) ** 2 + (xy[:, 1] - y) ** 2
        best = int(np.argmin(d2))
        return int(ids[best]) if d2[best] <= max_distance**2 else None


def _region(outline: np.ndarray):
    """An outline as a polygon region (validated; point tests include the edge)."""
    return PolygonRegion.from_array(outline)
