"""CSV export of centres: one row per nucleus (id, x, y, score, source, class, its colour, and
whether the class was set by hand), safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from .atomic_file import replacing
from .qupath import assign_colors
from .spreadsheet import spreadsheet_safe
from .store import NucleusStore


def write_csv(store: NucleusStore, path: str | Path) -> None:
    path = Path(path)
    with replacing(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "x", "y", "score", "source", "class", "color", "class_by_hand"])
        colors = assign_colors(store.classes.names, store.class_colors)
        for n in store:
            r, g, b = colors[n.cls]
            writer.writerow([n.id, f"{n.x:.2f}", f"{n.y:.2f}", "" if math.isnan(n.score) else f"{n.score:.4f}",
                             spreadsheet_safe(n.source), spreadsheet_safe(n.cls), f"#{r:02x}{g:02x}{b:02x}",
                             int(bool((store.extras.get(n.id) or {}).get("class_by_hand")))])
