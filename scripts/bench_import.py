"""Time and peak memory of importing a large GeoJSON (QuPath-style point detections), into an
empty store and again over the same nuclei (with QuPath's ids, and without them as QuPath
0.2/0.3 save files, found by their centres). The merge is the part the app runs on its GUI
thread (reading runs on a worker).

python scripts/bench_import.py --nuclei 1000000 [--source DIR]
``--source DIR`` measures another checkout's wnet_gui (an older commit's worktree). Each
measurement runs in a fresh process so ru_maxrss is that import's own peak."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import resource, sys, time, json
from wnet_gui.annotations import NucleusStore
from wnet_gui.annotations.geojson import read_geojson, add_parsed
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
if sys.argv[2] == "stdlib":
    doc = json.load(open(sys.argv[1]))
    n = len(doc["features"])
else:
    parsed = read_geojson(sys.argv[1])
    parse = time.perf_counter() - t
    store = NucleusStore()
    add_parsed(store, parsed)
    n = len(store)
    if sys.argv[2] != "wnet":  # again, over the same nuclei
        again = read_geojson(sys.argv[3]) if sys.argv[2] == "again-no-ids" else parsed
        t = time.perf_counter()
        add_parsed(store, again)
print(json.dumps({"seconds": time.perf_counter() - t, "nuclei": n, "after": len(store) if sys.argv[2] != "stdlib" else n,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "base_mb": base / 1024}))
"""


def write_points(path: Path, n: int, ids: bool = True) -> None:
    with open(path, "w") as fh:
        fh.write('{"type":"FeatureCollection","features":[')
        for i in range(n):
            if i:
                fh.write(",")
            x, y = (i % 1000) * 97.3 + 0.5, (i // 1000) * 11.1 + 0.25  # each nucleus at its own place
            feature = {"type": "Feature", "id": f"00000000-0000-4000-8000-{i:012d}", "geometry": {"type": "Point", "coordinates": [x, y]},
                       "properties": {"objectType": "detection", "classification": {"name": "Tumor", "color": [200, 0, 0]},
                                      "measurements": {"score": 0.5}}}
            if not ids:
                del feature["id"]
            fh.write(json.dumps(feature, separators=(",", ":")))
        fh.write("]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nuclei", type=int, default=1_000_000)
    ap.add_argument("--source", help="a checkout whose wnet_gui to measure (default: the installed one)")
    args = ap.parse_args()
    # an editable install's import hook outranks sys.path: drop it so --source is what runs
    child = CHILD if not args.source else (
        "import sys; sys.meta_path = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]; "
        f"sys.path.insert(0, {str(Path(args.source).resolve())!r})\n" + CHILD)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.geojson"
        write_points(path, args.nuclei)
        print(f"{path.stat().st_size / 1e6:.0f} MB, {args.nuclei:,} point features")
        no_ids = Path(tmp) / "big-no-ids.geojson"
        write_points(no_ids, args.nuclei, ids=False)
        labels = {"stdlib": "json.load only (the old reader's first step)", "wnet": "read_geojson + add to a store",
                  "again-ids": "again over them, by id: the merge alone", "again-no-ids": "again, no ids (QuPath 0.3): merge by centre"}
        for mode in labels:
            out = subprocess.run([sys.executable, "-c", child, str(path), mode, str(no_ids)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout)
            label = labels[mode]
            after = "" if r["after"] == r["nuclei"] else f"  → {r['after']:,} nuclei (doubled)"
            print(f"{label:48s} {r['seconds']:6.1f} s  peak RSS {r['peak_mb']:6.0f} MB (interpreter + imports {r['base_mb']:.0f} MB){after}")


if __name__ == "__main__":
    main()
