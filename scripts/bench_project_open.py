"""How long a project of many slides takes to open in the app (issue 20: 200 slides < 2 s).

    QT_QPA_PLATFORM=offscreen python scripts/bench_project_open.py --slides 200

Makes a folder of N slides (small pyramidal JPEG TIFFs built from the bundled sample, 2048² px
each, hard-linked so the folder costs one file's space), then times, in a real MainWindow:
``open_project(folder)`` until the slide list is on screen and the first slide is open (what
the user waits for), and separately the time until every thumbnail has arrived (lazy, off the
GUI thread: the window stays usable meanwhile). Run twice: the first build of the folder is not
timed; the second open reads the project file written by the first.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def build(folder: Path, n: int) -> None:
    import tifffile

    from wnet_gui.slides.image_slide import load_rgb

    folder.mkdir(parents=True, exist_ok=True)
    first = folder / "slide_000.tif"
    if not first.exists():
        sample = load_rgb(Path(__file__).resolve().parents[1] / "resources/samples/monuseg_TCGA-2Z-A9J9_crop.tif")[0]
        image = np.tile(sample, (4, 4, 1))
        with tifffile.TiffWriter(first, bigtiff=False) as tif:
            for level in range(3):
                ds = 2**level
                tif.write(image[::ds, ::ds], tile=(256, 256), compression="jpeg", photometric="rgb",
                          resolution=(1e4 / (0.25 * ds),) * 2, resolutionunit="CENTIMETER", subfiletype=0 if level == 0 else 1)
    for k in range(1, n):
        target = folder / f"slide_{k:03d}.tif"
        if not target.exists():
            os.link(first, target)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--slides", type=int, default=200)
    ap.add_argument("--folder", default=str(Path(tempfile.gettempdir()) / "wnet_project_bench"))
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["WNET_NO_PROMPT"] = "1"
    folder = Path(args.folder)
    build(folder, args.slides)
    from PySide6.QtWidgets import QApplication

    from wnet_gui.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"{cpu}; {args.slides} slides in {folder}")
    for attempt in ("first open (project file created)", "second open (project file read)"):
        window = MainWindow()
        window.resize(1400, 900)
        window.show()
        app.processEvents()
        start = time.perf_counter()
        assert window.project.open_project(folder)
        app.processEvents()
        shown = time.perf_counter() - start
        while len(window.project.thumbs) < args.slides and time.perf_counter() - start < 120:
            app.processEvents()
            time.sleep(0.01)
        all_thumbs = time.perf_counter() - start
        rows = window.project.table.rowCount()
        print(f"{attempt}: list of {rows} slides shown and the first slide open in {shown:.2f} s; "
              f"all {len(window.project.thumbs)} thumbnails after {all_thumbs:.1f} s")
        window.close()
        app.processEvents()


if __name__ == "__main__":
    main()
