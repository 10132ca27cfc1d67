"""Engine benchmark: scaling with area and peak memory on a 20,000 × 20,000 px slide.

    python scripts/bench_engine.py --model fast --threads 2 [--precision auto|fp32|bf16]

Builds (once, in /tmp) a pyramidal tiled TIFF of 40× tissue from MoNuSeg test tiles
(mirrored so seams look like tissue), then runs the slide engine on regions of 1, 4 and 16
model tiles' area and on the whole slide, printing time, throughput and the process's peak
resident memory. The slide is written strip by strip so building it never needs 1.2 GB.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np


def build_slide(path: Path, side: int) -> Path:
    if path.exists():
        return path
    import cv2
    import tifffile

    from wnet_gui import datasets

    tiles = [t.image for t in datasets.load("monuseg", "test")]
    variants = [t for img in tiles for t in (img, img[:, ::-1], img[::-1], img[::-1, ::-1])]

    def block(i: int, j: int) -> np.ndarray:
        return variants[(i * 7 + j * 3) % len(variants)]

    def strips(level: int):
        ds = 2**level
        n = -(-side // 1000)
        for j in range(n):
            row = np.concatenate([block(i, j) for i in range(n)], axis=1)[:, :side]
            row = row[: min(1000, side - j * 1000)]
            if ds > 1:
                row = cv2.resize(row, (row.shape[1] // ds, max(1, row.shape[0] // ds)), interpolation=cv2.INTER_AREA)
            yield row

    def tiles_of(level: int, tile: int = 256):
        ds = 2**level
        h = w = side // ds
        image = np.concatenate(list(strips(level)), axis=0)[:h, :w] if level > 0 else None
        if level == 0:  # stream level 0: 4 strips of 1000 px = one band of 256-px tile rows at a time
            buffer = np.zeros((0, w, 3), np.uint8)
            gen = strips(0)
            for ty in range(-(-h // tile)):
                while buffer.shape[0] < min(tile, h - ty * tile):
                    buffer = np.concatenate([buffer, next(gen)], axis=0)
                band, buffer = buffer[:tile], buffer[tile:]
                for tx in range(-(-w // tile)):
                    t = np.full((tile, tile, 3), 255, np.uint8)
                    piece = band[:, tx * tile : (tx + 1) * tile]
                    t[: piece.shape[0], : piece.shape[1]] = piece
                    yield t
        else:
            for ty in range(-(-h // tile)):
                for tx in range(-(-w // tile)):
                    t = np.full((tile, tile, 3), 255, np.uint8)
                    piece = image[ty * tile : (ty + 1) * tile, tx * tile : (tx + 1) * tile]
                    t[: piece.shape[0], : piece.shape[1]] = piece
                    yield t

    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        for level in range(5):
            ds = 2**level
            ppcm = 1e4 / (0.25 * ds)
            tif.write(tiles_of(level), shape=(side // ds, side // ds, 3), dtype=np.uint8, tile=(256, 256), compression="jpeg",
                      photometric="rgb", resolution=(ppcm, ppcm), resolutionunit="CENTIMETER", subfiletype=0 if level == 0 else 1)
    return path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="fast")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--side", type=int, default=20000)
    p.add_argument("--slide", default="/tmp/wnet_bench_20k.tif")
    p.add_argument("--skip-whole", action="store_true")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    args = p.parse_args()
    start = time.monotonic()
    slide_path = build_slide(Path(args.slide), args.side)
    print(f"slide {slide_path} ({args.side}×{args.side} px, 0.25 µm/px) ready in {time.monotonic() - start:.0f} s")
    print(f"peak RSS before loading anything heavy: {peak_rss_mb():.0f} MB")

    from wnet_gui.engine.detect import DetectOptions, run_detection
    from wnet_gui.engine.predict import DensityPredictor
    from wnet_gui.geometry import Rect
    from wnet_gui.models.zoo import resolve_card
    from wnet_gui.slides import open_slide

    card = resolve_card(args.model)
    slide = open_slide(slide_path)
    predictor = DensityPredictor.from_card(card, "cpu", args.precision)
    options = DetectOptions(device="cpu", threads=args.threads, skip_background=False)
    core = (card.tile_size - 2 * card.margin) * card.mpp / slide.mpp  # level-0 px per tile core
    run_detection(slide, card, Rect(0, 0, core, core), options, predictor=predictor)  # warm-up
    print(f"model {card.name}: tile core {core:.0f} level-0 px; {args.threads} threads; {predictor.precision}")
    print(f"{'tiles':>6s} {'area Mpx':>9s} {'seconds':>8s} {'Mpx/s':>7s} {'s/tile':>7s} {'nuclei':>7s}")
    for n in (1, 4, 16):
        side = int(np.sqrt(n)) * core
        t0 = time.monotonic()
        run = run_detection(slide, card, Rect(2000, 2000, side, side), options, predictor=predictor)
        dt = time.monotonic() - t0
        print(f"{run.tiles_total:6d} {side * side / 1e6:9.2f} {dt:8.2f} {side * side / 1e6 / dt:7.2f} {dt / run.tiles_total:7.3f} {len(run.centres):7d}")
    if not args.skip_whole:
        t0 = time.monotonic()
        options.skip_background = True
        run = run_detection(slide, card, None, options, predictor=predictor)
        dt = time.monotonic() - t0
        print(f"whole slide: {run.tiles_total} tiles ({run.tiles_skipped} background), {len(run.centres)} nuclei, {dt:.0f} s, "
              f"{args.side**2 / 1e6 / dt:.2f} Mpx/s")
    print(f"peak RSS of this process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
