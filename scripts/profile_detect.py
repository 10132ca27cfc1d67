"""Where the time of `wnet detect` on one slide goes, against the bare forward pass.

    python scripts/profile_detect.py --model fast accurate [--side 6000] [--repeats 3]

Builds (once, in /tmp) a JPEG-compressed pyramidal tiled TIFF of 40x tissue (MoNuSeg test tiles,
`side`² px; 6000 → 36 Mpx) and runs exactly what `wnet detect SLIDE -o OUT.geojson` runs after
start-up (`detect_slide`: tissue mask, tile reading and resampling, forward passes, peaks,
GeoJSON writing), with each stage timed by wrapping the function that does it. The model load is
timed apart (start-up). The bare forward pass is the same predictor on in-memory tiles of the
same size and batch, credited with the same useful share of its pixels. Stages on the reader
thread overlap the forward pass, so the stage times add up to more than the wall time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))


class StageClock:
    """Seconds spent in wrapped callables, per stage and per thread kind."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.lock = threading.Lock()

    def wrap(self, owner, name: str, stage: str):
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                with self.lock:
                    self.seconds[stage] += time.perf_counter() - start

        setattr(owner, name, timed)
        return original


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", nargs="+", default=["fast"])
    ap.add_argument("--side", type=int, default=6000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    from bench_engine import build_slide

    from wnet_gui.annotations import geojson_export
    from wnet_gui.engine import detect as detect_mod
    from wnet_gui.cohort.cluster import usable_cores
    from wnet_gui.engine.detect import DetectOptions, detect_slide, slide_mpp
    from wnet_gui.engine.predict import DensityPredictor
    from wnet_gui.geometry import Rect
    from wnet_gui.engine.tiling import fitted_tile_size, plan_tiles
    from wnet_gui.models.zoo import resolve_card
    from wnet_gui.slides import open_slide
    from wnet_gui.slides import tissue as tissue_mod

    threads = args.threads or usable_cores()
    torch.set_num_threads(threads)
    path = build_slide(Path(tempfile.gettempdir()) / f"wnet_profile_{args.side}.tif", args.side)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"{cpu}, {threads} threads, AMX: {'amx_bf16' in open('/proc/cpuinfo').read()}; slide {path.name} {args.side}² px JPEG pyramidal TIFF")
    for name in args.model:
        card = resolve_card(name)
        options = DetectOptions()
        start = time.perf_counter()
        predictor = DensityPredictor.from_card(card, "cpu", options.precision)
        load = time.perf_counter() - start

        slide = open_slide(path)
        ds = card.mpp / slide_mpp(slide, options)
        region = Rect(0, 0, *slide.dimensions)
        tile = fitted_tile_size(region, ds, card.tile_size, card.margin)
        n_tiles = len(plan_tiles(region, ds, tile, card.margin))
        slide.close()
        batch = detect_mod._batch_size(predictor.device, options)
        x = torch.randn(batch, 3, tile, tile)
        predictor.forward(x)
        forward_times = []
        for _ in range(max(3, args.repeats)):
            t0 = time.perf_counter()
            predictor.forward(x)
            forward_times.append(time.perf_counter() - t0)
        useful = (args.side**2 / ds**2) / (n_tiles * tile**2)
        forward_rate = batch * tile * tile / min(forward_times) * ds**2 * useful / 1e6

        best = None
        for _ in range(args.repeats):
            clock = StageClock()
            restore = [
                (DensityPredictor, "predict_batch", clock.wrap(DensityPredictor, "predict_batch", "forward (incl. to-tensor)")),
                (DensityPredictor, "centres", clock.wrap(DensityPredictor, "centres", "peaks")),
                (geojson_export, "write_geojson", clock.wrap(geojson_export, "write_geojson", "write GeoJSON")),
                (tissue_mod.TissueMask, "__init__", clock.wrap(tissue_mod.TissueMask, "__init__", "tissue mask")),
            ]
            slide_cls = type(open_slide(path))
            restore.append((slide_cls, "read_scaled", clock.wrap(slide_cls, "read_scaled", "read + decode + resample (reader thread)")))
            import wnet_gui.annotations as ann

            ann_write = ann.write_geojson
            ann.write_geojson = geojson_export.write_geojson
            out = Path(tempfile.mkdtemp()) / "out.geojson"
            t0 = time.perf_counter()
            run = detect_slide(path, card, out, options=options, predictor=predictor)
            wall = time.perf_counter() - t0
            ann.write_geojson = ann_write
            for owner, attr, original in restore:
                setattr(owner, attr, original)
            if best is None or wall < best[0]:
                best = (wall, dict(clock.seconds), len(run.centres))
        wall, stages, nuclei = best
        rate = args.side**2 / wall / 1e6
        print(f"\n{name}: tile {tile}, batch {batch}, {n_tiles} tiles, {nuclei} nuclei; model load {load:.2f} s (start-up, not counted)")
        print(f"  wnet detect (after start-up): {wall:.2f} s = {rate:.2f} Mpx/s;  bare forward pass {forward_rate:.2f} Mpx/s;  "
              f"CLI at {rate / forward_rate:.0%} of the forward pass")
        for stage, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
            print(f"  {stage:44s} {seconds:7.2f} s  ({seconds / wall:5.1%} of wall)")


if __name__ == "__main__":
    main()
