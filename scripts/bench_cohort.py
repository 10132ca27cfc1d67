"""Cohort throughput (issue 18): the same slides as a plain loop and on local Dask clusters.

    python scripts/bench_cohort.py --slides 8 --side 4096 [--model fast]

Builds N distinct JPEG pyramidal TIFFs of 40x tissue (MoNuSeg test tiles, `side`² px each,
in /tmp, once), then runs `run_cohort` on them — exactly what `wnet detect SLIDES -o OUT/`
runs — as:
  plain loop        inline=True: one process, one slide after another, model loaded once
  1 worker x 1      a LocalCluster, one slide at a time with all cores as torch threads
  1 worker x 2      two slides at once in one process, torch threads split between them
  2 workers x 1     two processes, one slide each, one torch thread each
and prints wall time (cluster start-up included, and without it), Mpx/s of tissue and the
per-slide overhead against the plain loop. Fresh output folders each time (nothing skipped).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def build_slides(folder: Path, n: int, side: int) -> list[Path]:
    import tifffile

    from wnet_gui import datasets

    folder.mkdir(parents=True, exist_ok=True)
    tiles = [t.image for t in datasets.load("monuseg", "test")]
    out = []
    for k in range(n):
        path = folder / f"slide_{k}.tif"
        out.append(path)
        if path.exists():
            continue
        rng = np.random.default_rng(k)
        reps = -(-side // 1000)
        rows = [np.concatenate([np.rot90(tiles[int(rng.integers(len(tiles)))], int(rng.integers(4))) for _ in range(reps)], axis=1) for _ in range(reps)]
        image = np.ascontiguousarray(np.concatenate(rows, axis=0)[:side, :side])
        with tifffile.TiffWriter(path, bigtiff=True) as tif:
            for level in range(4):
                ds = 2**level
                tif.write(np.ascontiguousarray(image[::ds, ::ds]), tile=(256, 256), compression="jpeg", photometric="rgb",
                          resolution=(1e4 / (0.25 * ds),) * 2, resolutionunit="CENTIMETER", subfiletype=0 if level == 0 else 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--slides", type=int, default=8)
    ap.add_argument("--side", type=int, default=4096)
    ap.add_argument("--model", default="fast")
    ap.add_argument("--layouts", nargs="+", default=["plain", "1x1", "1x2", "2x1"])
    args = ap.parse_args()

    from wnet_gui.cohort.cluster import local_cluster, usable_cores
    from wnet_gui.cohort.run import run_cohort, warm_up
    from wnet_gui.engine.detect import DetectOptions
    from wnet_gui.models.zoo import resolve_card

    slides = build_slides(Path(tempfile.gettempdir()) / "wnet_cohort_bench", args.slides, args.side)
    card = resolve_card(args.model)
    mpx = args.slides * args.side**2 / 1e6
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"{cpu}, {usable_cores()} cores; {args.slides} slides of {args.side}² px ({mpx:.0f} Mpx of 40x tissue), model {card.name}")
    plain = None
    for layout in args.layouts:
        out = Path(tempfile.mkdtemp(prefix=f"cohort_{layout}_"))
        start = time.perf_counter()
        if layout == "plain":
            summary = run_cohort(slides, out, card, DetectOptions(), inline=True)
            setup = 0.0
        else:
            workers, threads = (int(v) for v in layout.split("x"))
            cluster = local_cluster(workers, threads)
            options = DetectOptions(threads=cluster.torch_threads)
            cluster.client.run(warm_up, card, options)  # worker start-up: imports and the model, once per worker
            setup = time.perf_counter() - start
            try:
                summary = run_cohort(slides, out, card, options, cluster.client)
            finally:
                cluster.close()
        wall = time.perf_counter() - start
        work = wall - setup
        done = summary.count("done")
        per_slide = [o.seconds for o in summary.outcomes if o.status == "done"]
        line = (
            f"{layout:>6s}: {done}/{args.slides} done; wall {wall:6.1f} s (cluster start + model load {setup:4.1f} s), "
            f"{mpx / wall:5.2f} Mpx/s overall, {mpx / work:5.2f} Mpx/s after start-up; slide time mean {np.mean(per_slide):.2f} s (first {per_slide[0]:.2f})"
        )
        if layout == "plain":
            plain = wall
        elif plain:
            line += (f"; vs plain loop {100 * (wall / plain - 1):+5.1f} % ({(wall - plain) / args.slides:+.2f} s per slide), "
                     f"without start-up {100 * (work / plain - 1):+5.1f} %")
        print(line, flush=True)


if __name__ == "__main__":
    main()
