"""Features already read at nuclei, kept between trainings: reading them runs the detector over
the slide (tens of seconds on a CPU), while a retrain after a few more labels needs only the head
(seconds). Keyed by what the features depend on — the slide, its scale, the detector's weights —
and by each nucleus' position, so a moved or new nucleus is read again and nothing else is."""

from __future__ import annotations

from typing import Hashable

import numpy as np


def _keys(xy: np.ndarray) -> list[tuple[int, int]]:
    """Positions to 1/100 px: the same nucleus gives the same key, a moved one another."""
    return [tuple(p) for p in np.round(np.asarray(xy, np.float64).reshape(-1, 2) * 100).astype(np.int64).tolist()]


class FeatureCache:
    """Rows of features by (source, position); ``source`` names a slide, its scale and the
    detector (its sha256). Beyond ``max_sources`` the source stored longest ago is dropped.
    ``store`` belongs to one thread (the GUI's, as a run ends); ``lookup`` only reads."""

    def __init__(self, max_sources: int = 8):
        self.max_sources = max_sources
        self._tables: dict[Hashable, tuple[dict[tuple[int, int], int], np.ndarray]] = {}

    def lookup(self, source: Hashable, xy: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """(features, missing): the known rows of ``xy`` (None when none is known) and a mask of
        the points whose features must still be read."""
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        table = self._tables.get(source)  # (read only: a cancelled run may still be reading)
        if table is None:
            return None, np.ones(len(xy), bool)
        index, rows = table
        at = np.array([index.get(k, -1) for k in _keys(xy)], np.int64)
        missing = at < 0
        features = np.zeros((len(xy), rows.shape[1]), rows.dtype)
        features[~missing] = rows[at[~missing]]
        return features, missing

    def store(self, source: Hashable, xy: np.ndarray, features: np.ndarray) -> None:
        """Remember ``features`` (one row per point of ``xy``) for ``source``, with what it held."""
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        features = np.asarray(features)
        if len(xy) != len(features):
            raise ValueError(f"{len(xy)} points but {len(features)} rows of features")
        old = self._tables.pop(source, None)
        index: dict[tuple[int, int], int] = {}
        if old is not None and old[1].shape[1:] == features.shape[1:]:
            index, rows = dict(old[0]), [old[1]]  # a copy: a cancelled run may still be reading the old one
            start = len(old[1])
        else:
            rows, start = [], 0
        new = []
        for k, key in enumerate(_keys(xy)):
            if key not in index:
                index[key] = start + len(new)
                new.append(k)
        rows.append(features[new])
        self._tables[source] = (index, np.concatenate(rows) if len(rows) > 1 else rows[0])
        while len(self._tables) > self.max_sources:
            self._tables.pop(next(iter(self._tables)))
