"""Auto-detect in the real window: how long a pathologist waits, and whether the window keeps
drawing meanwhile, against `wnet detect`'s engine on the same slide.

    QT_QPA_PLATFORM=offscreen python scripts/bench_app_detect.py SLIDE [--model accurate] [--threads 1 2]

Opens a copy of SLIDE in the MainWindow, sets Region to Whole slide and runs Auto-detect as the
panel does; a 10 ms QTimer on the GUI thread records how late each tick fires (the window's
responsiveness). ``--threads`` pins torch's threads for the run (the app itself uses them all);
then the same slide through ``run_detection`` with the CLI's options, and whether the points
agree.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("WNET_NO_PROMPT", "1")


def app_run(path: Path, model: str, threads: int | None) -> tuple[float, np.ndarray, np.ndarray]:
    """Seconds, points and the timer's tick gaps (ms) of one Auto-detect in a new window."""
    import torch
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from wnet_gui.gui.main_window import MainWindow

    QApplication.instance() or QApplication([])
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    window.open_slide(path, ask=False)
    panel = window.panel
    panel.region_combo.setCurrentIndex(panel.region_combo.findData("slide"))
    panel.model_combo.setCurrentIndex(next(i for i in range(panel.model_combo.count()) if panel.model_combo.itemData(i).name == model))
    if threads:
        torch.set_num_threads(threads)  # the app's run leaves torch's threads as they are
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    loop = QEventLoop()
    window.detectionFinished.connect(lambda _cancelled: loop.quit())
    timer.start()
    start = time.perf_counter()
    window.auto_detect()
    loop.exec()
    took = time.perf_counter() - start
    timer.stop()
    points = window.store.coordinates(window.store.ids())
    window.close()
    return took, points, np.diff(ticks) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("slide", type=Path)
    ap.add_argument("--model", default="accurate")
    ap.add_argument("--threads", type=int, nargs="*", default=[], help="also pin torch to these thread counts (0: the app's own)")
    args = ap.parse_args()
    import torch

    from wnet_gui.engine.detect import DetectOptions, run_detection
    from wnet_gui.models.zoo import resolve_card
    from wnet_gui.slides import open_slide

    folder = Path(tempfile.mkdtemp())
    cores = torch.get_num_threads()
    own = None
    for threads in [0, *args.threads]:
        copy = folder / f"t{threads}{args.slide.suffix}"  # a fresh copy: no autosave, no cached thumbnail
        shutil.copy(args.slide, copy)
        took, points, gaps = app_run(copy, args.model, threads or None)
        own = points if own is None else own
        print(f"app, {threads or cores} thread(s): {len(points):,} nuclei in {took:.1f} s; 10 ms timer late by "
              f"p50 {np.median(gaps) - 10:.0f} / p99 {np.percentile(gaps, 99) - 10:.0f} / max {gaps.max() - 10:.0f} ms")
    torch.set_num_threads(cores)
    start = time.perf_counter()
    cli = run_detection(open_slide(args.slide), resolve_card(args.model), options=DetectOptions()).centres
    print(f"engine as `wnet detect` runs it, {cores} threads: {len(cli):,} nuclei in {time.perf_counter() - start:.1f} s; "
          f"the app's points {'are the same' if len(cli) == len(own) and np.allclose(np.sort(cli, 0), np.sort(own, 0), atol=0.05) else 'differ'}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
