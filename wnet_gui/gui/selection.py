"""Which nuclei the user has selected (to draw masks for, or delete, just those).

Kept apart from the store: selection is a view concern, not annotation data, so it is
never saved or undone; removed nuclei simply leave it.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from ..annotations import NucleusStore


class Selection(QObject):
    changed = Signal()

    def __init__(self, store: NucleusStore, parent: QObject | None = None):
        super().__init__(parent)
        self.store = store
        self._ids: set[int] = set()
        store.listeners.append(self._on_store)

    def ids(self) -> np.ndarray:
        return np.array(sorted(self._ids), np.int64)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, nucleus_id: int) -> bool:
        return int(nucleus_id) in self._ids

    def set(self, ids, extend: bool = False) -> None:
        """Select ``ids``; with ``extend`` toggle them into the current selection (Ctrl-click)."""
        ids = {int(i) for i in np.asarray(ids, np.int64).ravel()}
        if extend:
            ids = self._ids ^ ids
        if ids != self._ids:
            self._ids = ids
            self.changed.emit()

    def clear(self) -> None:
        self.set([])

    def _on_store(self, what: str, ids: np.ndarray) -> None:
        if what == "remove" and self._ids:
            gone = self._ids.intersection(int(i) for i in ids)
            if gone:
                self._ids -= gone
                self.changed.emit()
