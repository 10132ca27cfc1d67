"""Which points a detection run replaces, in one Qt-free rule that the app and projects share.

A run over a region (a tile's core in the app, the whole slide for a project) replaces the
points a detection model placed there — whichever model: running ``accurate`` after ``fast``
must not leave every nucleus twice. It keeps what a person said: hand-placed points, points
imported from another tool (QuPath's own detections, a colleague's file), and everything
inside a reviewed region, where the run adds nothing either.
"""

from __future__ import annotations

import numpy as np

from .geojson_export import CONFIDENCE
from .store import IMPORTED, MANUAL, NucleusStore

KEPT_SOURCES = (MANUAL, IMPORTED)


def replaceable(store: NucleusStore, ids: np.ndarray) -> np.ndarray:
    """The ``ids`` a new detection run may replace: placed by a model, outside reviewed regions."""
    ids = np.asarray(ids, np.int64)
    if not len(ids):
        return ids
    ids = ids[~np.isin(store.source_of(ids), KEPT_SOURCES)]
    if store.reviewed and len(ids):
        ids = np.setdiff1d(ids, store.reviewed_ids())
    return ids


def outside_reviewed(store: NucleusStore, centres: np.ndarray) -> np.ndarray:
    """Boolean mask of the run's ``centres`` it may add (not inside a reviewed region)."""
    centres = np.asarray(centres, np.float64).reshape(-1, 2)
    if not store.reviewed or not len(centres):
        return np.ones(len(centres), bool)
    return ~store.inside_reviewed(centres)


def merge_run(store: NucleusStore, source: str, centres: np.ndarray, scores: np.ndarray, types: list | None = None,
              region_ids: np.ndarray | None = None, confidences: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A finished run's points into ``store``: the replaceable points among ``region_ids``
    (default: every point, a whole-slide run) removed, the run's points outside reviewed
    regions added, with a taught classifier's ``confidences`` as a measurement QuPath keeps.
    Returns (removed ids, added ids)."""
    gone = replaceable(store, store.ids() if region_ids is None else region_ids)
    if len(gone):
        store.remove(gone)
    centres = np.asarray(centres, np.float64).reshape(-1, 2)
    keep = outside_reviewed(store, centres)
    types = None if types is None else [t for t, k in zip(types, keep) if k]
    added = np.asarray(store.add_many(centres[keep, 0], centres[keep, 1], source=source, scores=np.asarray(scores)[keep], classes=types), np.int64)
    if confidences is not None:
        store.extras.update({int(i): {"measurements": {CONFIDENCE: round(float(c), 4)}} for i, c in zip(added, np.asarray(confidences)[keep])})
    return gone, added
