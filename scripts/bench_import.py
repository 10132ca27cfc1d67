"""Time and peak memory of importing a large GeoJSON (QuPath-style point detections).

python scripts/bench_import.py --nuclei 1000000
Each measurement runs in a fresh process so ru_maxrss is that import's own peak."""

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
print(json.dumps({"seconds": time.perf_counter() - t, "nuclei": n, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "base_mb": base / 1024}))
"""


def write_points(path: Path, n: int) -> None:
    with open(path, "w") as fh:
        fh.write('{"type":"FeatureCollection","features":[')
        for i in range(n):
            if i:
                fh.write(",")
            x, y = (i * 7919) % 100000 + 0.5, (i * 104729) % 100000 + 0.25
            fh.write(json.dumps({"type": "Feature", "id": f"00000000-0000-4000-8000-{i:012d}",
                                 "geometry": {"type": "Point", "coordinates": [x, y]},
                                 "properties": {"objectType": "detection", "classification": {"name": "Tumor", "color": [200, 0, 0]},
                                                "measurements": {"score": 0.5}}}, separators=(",", ":")))
        fh.write("]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nuclei", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.geojson"
        write_points(path, args.nuclei)
        print(f"{path.stat().st_size / 1e6:.0f} MB, {args.nuclei:,} point features")
        for mode in ("stdlib", "wnet"):
            out = subprocess.run([sys.executable, "-c", CHILD, str(path), mode], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout)
            label = "json.load only (the old reader's first step)" if mode == "stdlib" else "read_geojson + add to a store"
            print(f"{label:48s} {r['seconds']:6.1f} s  peak RSS {r['peak_mb']:6.0f} MB (interpreter + imports {r['base_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
