"""Regenerate the README's screenshots from the real app on a real X server.

    Xvfb :99 -screen 0 1920x1080x24 &  DISPLAY=:99 python scripts/readme_screenshots.py
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

    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())  # not the user's own settings
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
    window.resize(1400, 900)
    window.show()
    # 1. the sample: detect, draw a region, masks for the points in it
    work = Path(tempfile.mkdtemp())
    slide = work / "sample.tif"
    slide.write_bytes(sample_path().read_bytes())
    window.open_slide(slide)
    window.reload_models("typed")  # its classes colour points and masks
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
    window.reload_models("fast")  # a whole slide in seconds; untyped points in the model's colour
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
    # 4. a project of tiles that state no scale, at 1400×900 and 1920×1080: the scale stated for all,
    # typed's classes, a reviewed region, one slide exported
    from PIL import Image

    study = work / "study"
    study.mkdir()
    samples = sorted(sample_path().parent.glob("*.tif"))
    for k, source in enumerate(samples[:2]):
        image = np.asarray(Image.open(source).convert("RGB"))
        Image.fromarray(image).save(study / f"TCGA-case-{k + 1}_region.jpg", quality=95)
        Image.fromarray(np.ascontiguousarray(image[::-1])).save(study / f"TCGA-case-{k + 1}_flipped.png")
    window.exported_revision = window.store.revision
    window.project.open_project(study)
    window.project.scales.state(window.project.project.slides, 0.25)
    window.reload_models("typed")
    window.panel.region_combo.setCurrentIndex(window.panel.region_combo.findData("slide"))
    window.detection.start()
    wait(window.detectionFinished)
    window.classes.by_class.setChecked(True)
    window.view.set_roi(QRectF(20, 20, 240, 220))
    window.review.mark_drawn_region()
    window.export_geojson(work / "case-1.geojson")
    for size, name in (((1400, 900), "project.png"), ((1920, 1080), "project-1920.png")):
        window.resize(*size)
        window.project.dock.raise_()
        settle(800)
        window.view.fit()
        window.view.tiles.wait_idle()
        settle()
        window.grab().save(str(docs / name))
    window.exported_revision = window.store.revision
    window.close()
    print("wrote", ", ".join(p.name for p in sorted(docs.glob("*.png"))))


if __name__ == "__main__":
    main()
