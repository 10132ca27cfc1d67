"""Undoable edits of the nucleus store (one QUndoCommand per user action).

Removal hides rows rather than deleting them, so undo restores the same ids, outlines
included. A detection run is one command: it was applied tile by tile while the run
streamed, so its first redo() does nothing.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QUndoCommand

from ..annotations import MANUAL, NucleusStore


class AddPointsCommand(QUndoCommand):
    def __init__(self, store: NucleusStore, xs, ys, source: str = MANUAL, text: str = "Add point", cls: str = "Nucleus"):
        super().__init__(text)
        self.store = store
        self.xs, self.ys, self.source, self.cls = np.asarray(xs, float), np.asarray(ys, float), source, cls
        self.ids: np.ndarray | None = None

    def redo(self) -> None:
        if self.ids is None:
            self.ids = self.store.add_many(self.xs, self.ys, source=self.source, cls=self.cls)
        else:
            self.store.restore(self.ids)

    def undo(self) -> None:
        self.store.remove(self.ids)


class ImportCommand(QUndoCommand):
    """An import, already applied: nuclei it added, and nuclei already here it updated in
    place (``annotations.geojson.Merged``). Undo hides the added and puts the updated back as
    they were; they keep their ids throughout."""

    def __init__(self, store: NucleusStore, merged, text: str):
        super().__init__(text)
        self.store, self.merged = store, merged
        self._applied = True

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self.store.restore(self.merged.added)
        if len(self.merged.updated):
            self.store.update(self.merged.updated, self.merged.after)

    def undo(self) -> None:
        self.store.remove(self.merged.added)
        if len(self.merged.updated):
            self.store.update(self.merged.updated, self.merged.before)


class UpdateNucleiCommand(QUndoCommand):
    """Nuclei changed in place in one step (a taught classifier's classes and confidences):
    undo puts back what they were; they keep their ids."""

    def __init__(self, store: NucleusStore, ids, before, after, text: str):
        super().__init__(text)
        self.store, self.ids, self.before, self.after = store, np.asarray(ids, np.int64), before, after

    def redo(self) -> None:
        self.store.update(self.ids, self.after)

    def undo(self) -> None:
        self.store.update(self.ids, self.before)


class RemovePointsCommand(QUndoCommand):
    def __init__(self, store: NucleusStore, ids, text: str | None = None):
        ids = np.asarray(ids, np.int64)
        super().__init__(text or (f"Delete {len(ids)} points" if len(ids) != 1 else "Delete point"))
        self.store, self.ids = store, ids

    def redo(self) -> None:
        self.store.remove(self.ids)

    def undo(self) -> None:
        self.store.restore(self.ids)


class MovePointCommand(QUndoCommand):
    def __init__(self, store: NucleusStore, nucleus_id: int, x: float, y: float):
        super().__init__("Move point")
        # not ``self.id``: that would shadow QUndoCommand.id(), which the stack calls
        self.store, self.nucleus_id = store, int(nucleus_id)
        old = store.get(self.nucleus_id)
        self.old = (old.x, old.y, old.polygon)
        self.new = (x, y)

    def redo(self) -> None:
        self.store.move(self.nucleus_id, *self.new)

    def undo(self) -> None:
        self.store.move(self.nucleus_id, self.old[0], self.old[1])
        if self.old[2] is not None:
            self.store.set_polygons({self.nucleus_id: self.old[2]})


class DetectionRunCommand(QUndoCommand):
    """A finished (or cancelled) run: model points it replaced, and points it added."""

    def __init__(self, store: NucleusStore, replaced: np.ndarray, added: np.ndarray, text: str):
        super().__init__(text)
        self.store, self.replaced, self.added = store, replaced, added
        self._applied = True

    def redo(self) -> None:
        if self._applied:  # already in the store: it streamed in during the run
            self._applied = False
            return
        self.store.remove(self.replaced)
        self.store.restore(self.added)

    def undo(self) -> None:
        self.store.remove(self.added)
        self.store.restore(self.replaced)


class SetMasksCommand(QUndoCommand):
    """Outlines drawn by NuClick for some nuclei (applied as they streamed in)."""

    def __init__(self, store: NucleusStore, before: dict, after: dict):
        super().__init__(f"Draw {sum(p is not None for p in after.values())} masks")
        self.store, self.before, self.after = store, before, after
        self._applied = True

    def _alive(self, polygons: dict) -> dict:
        return {i: p for i, p in polygons.items() if i in self.store}

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self.store.set_polygons(self._alive(self.after))

    def undo(self) -> None:
        self.store.set_polygons(self._alive(self.before))


class SetClassCommand(QUndoCommand):
    """Set the class of nuclei by hand (one undo step); the hand-set mark is kept so that a
    model's class and a pathologist's can be told apart, and undone with it."""

    def __init__(self, store: NucleusStore, ids, cls: str):
        ids = [int(i) for i in ids]
        super().__init__(f"Set {len(ids)} nuclei to {cls}")
        self.store, self.cls = store, cls
        self.before = dict(zip(ids, store.classes_of(np.asarray(ids, np.int64)))) if ids else {}
        self.by_hand_before = dict(zip(ids, store.classed_by_hand(ids).tolist()))

    def _mark(self, marks: dict[int, bool]) -> None:
        for i, hand in marks.items():
            extra = dict(self.store.extras.get(i) or {})
            if hand:
                extra["class_by_hand"] = True
            else:
                extra.pop("class_by_hand", None)
            if extra:
                self.store.extras[i] = extra
            else:
                self.store.extras.pop(i, None)

    def redo(self) -> None:
        self._mark({i: True for i in self.before})
        self.store.set_classes({i: self.cls for i in self.before})

    def undo(self) -> None:
        self._mark(self.by_hand_before)
        self.store.set_classes(self.before)


class MarkReviewedCommand(QUndoCommand):
    """Mark an outline reviewed; undo unmarks it (same place in the list)."""

    def __init__(self, store: NucleusStore, outline, text: str = "Mark region reviewed"):
        super().__init__(text)
        self.store, self.outline = store, np.asarray(outline, np.float64).reshape(-1, 2)
        self.index: int | None = None

    def redo(self) -> None:
        self.index = self.store.add_reviewed(self.outline, self.index)

    def undo(self) -> None:
        self.store.remove_reviewed(self.index)
