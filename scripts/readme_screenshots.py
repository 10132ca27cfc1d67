"""Regenerate the README's screenshots from the real app on a real X server.

    Xvfb :99 -screen 0 1600x1000x24 &  DISPLAY=:99 python scripts/readme_screenshots.py
Refuses to run offscreen: the point is to see what a user sees."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ["WNET_NO_PROMPT"] = "1"
os.environ.setdefault("WNET_DATA_HOME", tempfile.mkdtemp())


def main() -> None:
    from PySide6.QtCore import QEventLoop, QRectF, QTimer
    from PySide6.QtWidgets import QApplication

    from helpers import sample_mosaic, write_pyramidal_tiff
    from wnet_gui.gui.main_window import MainWindow, sample_path
    from wnet_gui.gui.menus import shortcuts_dialog

    app = QApplication([])
    if app.platformName() == "offscreen":
        sys.exit("run this on an X server (e.g. Xvfb), not offscreen")
    docs = ROOT / "docs"

    def settle(ms: int = 600) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def wait(signal) -> None:
        loop = QEventLoop()
        signal.connect(loop.quit)
        loop.exec()

    window = MainWindow()
    window.resize(1600, 970)
    window.show()
    # 1. the sample: detect, draw a region, masks for the points in it
    work = Path(tempfile.mkdtemp())
    slide = work / "sample.tif"
    slide.write_bytes(sample_path().read_bytes())
    window.open_slide(slide)
    settle()
    window.detection.start()
    wait(window.detectionFinished)
    window.view.set_roi(QRectF(60, 60, 260, 200))
    ids = window.store.query_rect(60, 60, 320, 260)
    window.draw_masks(ids=ids)
    wait(window.masksFinished)
    window.panel.mask_opacity.setValue(15)
    window.update_counts()
    window.view.tiles.wait_idle()
    settle()
    window.grab().save(str(docs / "screenshot.png"))
    # 2. a larger slide, whole-slide view: crowded points shrink so the tissue stays readable
    big = write_pyramidal_tiff(work / "mosaic.tif", np.tile(sample_mosaic(), (4, 6, 1)))
    window.exported_revision = window.store.revision
    window.open_slide(big)
    window.panel.region_combo.setCurrentIndex(window.panel.region_combo.findData("slide"))
    window.detection.start()
    wait(window.detectionFinished)
    window.view.fit()
    window.view.tiles.wait_idle()
    settle(1000)
    window.grab().save(str(docs / "whole-slide.png"))
    # 3. Help › Keyboard shortcuts
    dialog = shortcuts_dialog(window)
    dialog.show()
    settle()
    dialog.grab().save(str(docs / "shortcuts.png"))
    dialog.close()
    window.exported_revision = window.store.revision
    window.close()
    print("wrote", ", ".join(p.name for p in sorted(docs.glob("*.png"))))


if __name__ == "__main__":
    main()
