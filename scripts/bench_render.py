"""GUI rendering benchmark: frame times of the real slide view with 100,000 nuclei.

    QT_QPA_PLATFORM=offscreen python scripts/bench_render.py --points 100000

Builds (in /tmp) a 6144 × 6144 px pyramidal TIFF from the bundled sample tiles, opens it in
the real MainWindow, adds N nuclei (jittered grid, 10 % manual, optionally outlines), and
times full repaints of the 1600 × 1000 viewport at three zooms (whole slide, ~20k visible,
~1k visible) and during a 40-step pan. Prints mean / 95th percentile / max milliseconds per
frame; a frame under 16.7 ms is 60 fps.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("WNET_NO_PROMPT", "1")
ROOT = Path(__file__).resolve().parents[1]


def build_slide(side: int) -> Path:
    from wnet_gui.slides.image_slide import load_rgb
    from wnet_gui.slides.writer import write_pyramidal_tiff

    path = Path(tempfile.gettempdir()) / f"wnet_render_bench_{side}.tif"
    if path.exists():
        return path
    samples = sorted((ROOT / "resources" / "samples").glob("*.tif"))
    tiles = [load_rgb(p)[0] for p in samples]
    variants = [t for img in tiles for t in (img, img[:, ::-1], img[::-1], img[::-1, ::-1])]
    n = -(-side // 512)
    rows = [np.concatenate([variants[(i * 3 + j * 5) % len(variants)] for i in range(n)], axis=1) for j in range(n)]
    write_pyramidal_tiff(path, np.ascontiguousarray(np.concatenate(rows, axis=0)[:side, :side]), mpp=0.25, levels=5)
    return path


def frame_times(app, view, frames: int, step=None) -> list[float]:
    times = []
    for i in range(frames):
        if step:
            step(i)
        start = time.perf_counter()
        view.viewport().repaint()  # synchronous paint of the whole viewport
        times.append((time.perf_counter() - start) * 1000)
        app.processEvents()
    return times


def report(label: str, visible: int, times: list[float]) -> None:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    print(f"{label:34s} {visible:>9,d} {statistics.mean(times):9.1f} {p95:9.1f} {times[-1]:9.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--outlines", type=int, default=0, help="also give this many nuclei an outline")
    parser.add_argument("--side", type=int, default=6144)
    parser.add_argument("--frames", type=int, default=30)
    args = parser.parse_args()

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from wnet_gui.annotations import MANUAL
    from wnet_gui.gui.main_window import MainWindow

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    os.environ["WNET_DATA_HOME"] = tempfile.mkdtemp()
    app = QApplication.instance() or QApplication(sys.argv)
    win = MainWindow()
    win.resize(1900, 1100)
    win.show()
    slide_path = build_slide(args.side)
    from wnet_gui.annotations.autosave import autosave_path

    for old in autosave_path(slide_path).parent.glob(autosave_path(slide_path).name + "*"):
        old.unlink()  # a previous run's autosave would be restored on open
    win.open_slide(slide_path)
    view = win.view
    view.resize(1600, 1000)
    rng = np.random.default_rng(0)
    side = args.side
    grid = int(np.ceil(np.sqrt(args.points)))
    gx, gy = np.meshgrid(np.arange(grid), np.arange(grid))
    xs = ((gx.ravel()[: args.points] + 0.5) * side / grid + rng.normal(0, 3, args.points)).clip(0, side - 1)
    ys = ((gy.ravel()[: args.points] + 0.5) * side / grid + rng.normal(0, 3, args.points)).clip(0, side - 1)
    manual = rng.random(args.points) < 0.1
    win.store.add_many(xs[~manual], ys[~manual], source="fast")
    win.store.add_many(xs[manual], ys[manual], source=MANUAL)
    if args.outlines:
        ids = win.store.ids()[: args.outlines]
        xy = win.store.coordinates(ids)
        angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        ring = np.stack([np.cos(angles), np.sin(angles)], axis=1) * 6
        win.store.set_polygons({int(i): c + ring for i, c in zip(ids, xy)})
    print(f"{len(win.store):,} nuclei on a {side}×{side} slide; viewport {view.viewport().width()}×{view.viewport().height()}; "
          f"{args.outlines:,} outlines")
    print(f"{'view':34s} {'visible':>9s} {'mean ms':>9s} {'p95 ms':>9s} {'max ms':>9s}")

    def settle():  # let the tile threads deliver what this view asked for
        view.tiles.wait_idle()
        app.processEvents()
        view.viewport().repaint()
        view.tiles.wait_idle()
        app.processEvents()

    for label, scale in (("whole slide (fit)", None), ("zoomed: ~20k visible", 0.46), ("zoomed: ~1.5k visible", 2.0)):
        view.fit() if scale is None else (view.resetTransform(), view.scale_(scale), view.centerOn(side / 2, side / 2))
        view.viewport().repaint()
        settle()
        times = frame_times(app, view, args.frames)
        report(label, view.visible_count, times)
    view.resetTransform()
    view.scale_(0.46)
    view.centerOn(side / 4, side / 2)
    settle()

    def pan(i: int) -> None:
        view.translate(-40 / view.scale, 0)

    times = frame_times(app, view, 40, pan)
    report("panning at ~20k visible (40 px/frame)", view.visible_count, times)

    # what a save costs the GUI thread (a snapshot copy) and the worker (the file)
    from wnet_gui.annotations import write_geojson
    from wnet_gui.annotations.snapshot_io import write_snapshot

    out = Path(tempfile.mkdtemp())
    start = time.perf_counter()
    snapshot = win.store.snapshot()
    copied = time.perf_counter()
    write_snapshot(snapshot, out / "autosave.npz")
    written = time.perf_counter()
    write_geojson(snapshot, out / "export.geojson")
    exported = time.perf_counter()
    print(f"autosave: snapshot on the GUI thread {1000 * (copied - start):.0f} ms, binary snapshot on a worker "
          f"{1000 * (written - copied):.0f} ms; GeoJSON export of the same on a worker {1000 * (exported - written):.0f} ms")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
