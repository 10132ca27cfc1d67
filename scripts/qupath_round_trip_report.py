"""Round trips through QuPath, counted on a real tile: a model's points (and NuClick masks on
some), exported in every shape, saved again as QuPath HEAD/0.4/0.3/0.2 save (the emulation in
tests/qupath_resave.py, checked against QuPath's own files), imported again over the same
annotations. Prints, per shape and version, how many nuclei there were and are, and how many
came back with another id, class, source, score or a centre moved over 0.01 px.

    python scripts/qupath_round_trip_report.py ../shared/data/consep/test/test_1.jpg --mpp 0.25 [--source DIR]

``--source DIR`` runs another checkout's wnet_gui (an older commit's worktree) for a before/after.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"points as detections, masks as cells": ("detections", "cells", False),
          "masks as detections": ("detections", "detections", False),
          "Points for counting": ("annotations", "cells", False),
          "Points for counting, by source": ("annotations", "detections", True)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("tile")
    ap.add_argument("--mpp", type=float, default=0.25)
    ap.add_argument("--masks", type=int, default=60, help="nuclei that get a NuClick mask")
    ap.add_argument("--source", help="a checkout whose wnet_gui to run")
    args = ap.parse_args()
    if args.source:  # an editable install's import hook outranks sys.path: drop it
        sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
        sys.path.insert(0, str(Path(args.source).resolve()))
    sys.path.insert(0, str(ROOT / "tests"))
    from qupath_resave import VERSIONS, resave

    from wnet_gui.annotations import NucleusStore, merge_parsed, read_geojson, store_to_geojson
    from wnet_gui.engine.detect import DetectOptions, run_detection
    from wnet_gui.models.zoo import resolve_card
    from wnet_gui.nuclick.card import resolve_nuclick_card
    from wnet_gui.nuclick.engine import NuClickSegmenter
    from wnet_gui.slides import open_slide

    slide = open_slide(args.tile, mpp=args.mpp)
    store = NucleusStore()
    store.namespace = "report"
    for model in ("fast", "typed"):
        run = run_detection(slide, resolve_card(model), None, DetectOptions(device="cpu"))
        store.add_many(run.centres[:, 0], run.centres[:, 1], source=model, scores=run.scores, classes=run.types)
    ids = store.ids()
    store.add_many([5.5, 7.25], [9.75, 11.5], cls="Nucleus")  # hand-placed
    pick = ids[:: max(1, len(ids) // args.masks)][: args.masks]
    for batch in NuClickSegmenter(resolve_nuclick_card(), "cpu").segment(slide, pick, store.coordinates(pick)):
        store.set_polygons({int(i): p for i, p in zip(batch.ids, batch.polygons) if p is not None})
    print(f"{Path(args.tile).name}: {len(store)} nuclei (fast and typed runs, 2 by hand), {len(store.polygons)} masked; "
          f"wnet_gui from {Path(sys.modules['wnet_gui'].__file__).parents[1]}")

    def facts(s) -> dict:
        doc = store_to_geojson(s)
        out = {}
        for f in doc["features"]:
            w = f["properties"].get("wnet", {})
            if "id" in w:
                n = s.get(w["id"])
                out[f["id"]] = (n.x, n.y, n.source, None if math.isnan(n.score) else round(float(n.score), 4), n.cls)
        return out

    before = facts(store)
    print("\n| shape | QuPath | read as nuclei | nuclei after | other id | other class | other source | score lost | centre moved > 0.01 px |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for shape, (points_as, masks_as, split) in SHAPES.items():
            for version in VERSIONS:
                twin = store.snapshot()
                path = Path(tmp) / "saved.geojson"
                path.write_text(json.dumps(resave(store_to_geojson(twin, points_as, masks_as, split), version)))
                parsed = read_geojson(path)
                merge_parsed(twin, parsed)
                after = facts(twin)
                by_place = {(round(v[0], 1), round(v[1], 1)): (k, v) for k, v in after.items()}
                other_id = sum(k not in after for k in before)
                cls = src = score = moved = 0
                for k, v in before.items():
                    got = after.get(k) or by_place.get((round(v[0], 1), round(v[1], 1)), (None, None))[1]
                    if got is None:
                        moved += 1
                        continue
                    cls += got[4] != v[4]
                    src += got[2] != v[2]
                    score += v[3] is not None and got[3] != v[3]
                    moved += abs(got[0] - v[0]) > 0.01 or abs(got[1] - v[1]) > 0.01
                print(f"| {shape} | {version} | {len(parsed):,} | {len(twin):,} (of {len(store):,}) | {other_id} | {cls} | {src} | {score} | {moved} |")


if __name__ == "__main__":
    main()
