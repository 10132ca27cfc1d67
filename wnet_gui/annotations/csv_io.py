"""CSV export of centres: one row per nucleus (id, x, y, score, source, class)."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

from .store import NucleusStore


def write_csv(store: NucleusStore, path: str | Path) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "x", "y", "score", "source", "class"])
        for n in store:
            writer.writerow([n.id, f"{n.x:.2f}", f"{n.y:.2f}", "" if math.isnan(n.score) else f"{n.score:.4f}", n.source, n.cls])
    os.replace(tmp, path)
