"""CSV export of centres: one row per nucleus (id, x, y, score, source, class, its colour,
whether the class was set by hand, and a taught classifier's confidence in it), safe to open in
a spreadsheet."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from .atomic_file import replacing
from .geojson_export import CONFIDENCE
from .qupath import assign_colors
from .spreadsheet import spreadsheet_safe
from .store import NucleusStore


def write_csv(store: NucleusStore, path: str | Path) -> None:
    path = Path(path)
    with replacing(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "x", "y", "score", "source", "class", "color", "class_by_hand", "class_confidence"])
        colors = assign_colors(store.classes.names, store.class_colors)
        for n in store:
            r, g, b = colors[n.cls]
            extra = store.extras.get(n.id) or {}
            confidence = (extra.get("measurements") or {}).get(CONFIDENCE)
            writer.writerow([n.id, f"{n.x:.2f}", f"{n.y:.2f}", "" if math.isnan(n.score) else f"{n.score:.4f}",
                             spreadsheet_safe(n.source), spreadsheet_safe(n.cls), f"#{r:02x}{g:02x}{b:02x}",
                             int(bool(extra.get("class_by_hand"))),
                             f"{confidence:.4f}" if isinstance(confidence, (int, float)) and not isinstance(confidence, bool) else ""])
