"""The editing traps of issue 15, driven through the real widgets."""

import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt

from wnet_gui.annotations import MANUAL
from wnet_gui.gui.commands import AddPointsCommand
from wnet_gui.gui.mouse_bindings import Tool

sys.path.insert(0, str(Path(__file__).parents[1]))
from helpers import sample_mosaic, write_pyramidal_tiff  # noqa: E402


def screen(win, x, y) -> QPoint:
    return win.view.mapFromScene(QPointF(x, y))


def test_a_drawn_region_becomes_the_active_region(qtbot, window, sample_copy):
    window.open_slide(sample_copy)
    assert window.panel.region_combo.currentData() == "view"
    window.tool_actions[Tool.ROI].trigger()
    qtbot.mousePress(window.view.viewport(), Qt.MouseButton.LeftButton, pos=screen(window, 50, 50))
    qtbot.mouseMove(window.view.viewport(), screen(window, 120, 90))
    qtbot.mouseMove(window.view.viewport(), screen(window, 200, 150))
    qtbot.mouseRelease(window.view.viewport(), Qt.MouseButton.LeftButton, pos=screen(window, 200, 150))
    assert window.view.roi is not None
    assert window.panel.region_combo.currentData() == "roi"
    region = window.detection.region()
    assert np.allclose((region.x, region.y, region.w, region.h), (50, 50, 150, 100), atol=1.5)  # within a screen pixel
    # the count inside it, with a density per mm²
    window.undo.push(AddPointsCommand(window.store, [60.0, 100.0, 300.0], [60.0, 100.0, 300.0]))
    window.update_counts()
    text = window.panel.region_label.text()
    roi = window.view.roi
    area_mm2 = roi.width() * roi.height() * (window.slide.mpp / 1000) ** 2
    assert text.startswith("2 nuclei") and f"{2 / area_mm2:,.0f} /mm²" in text and f"{area_mm2 * 1e6:,.0f} µm²" in text


def test_rerun_replaces_tile_by_tile_and_cancel_keeps_the_rest(qtbot, window, tmp_path):
    path = write_pyramidal_tiff(tmp_path / "big.tif", np.tile(sample_mosaic(), (3, 3, 1)))
    window.open_slide(path)
    window.panel.region_combo.setCurrentIndex(window.panel.region_combo.findData("slide"))
    with qtbot.waitSignal(window.detectionFinished, timeout=180000):
        window.auto_detect()
    first = set(window.store.ids().tolist())
    manual = window.store.add(5.0, 5.0)
    assert len(first) > 500
    # a second run, cancelled after its first tile: nothing is cleared up front
    counts = []

    def on_progress(value):
        counts.append(len(window.store))
        if value >= 1:
            window.cancel_run()

    window.panel.progress.valueChanged.connect(on_progress)
    with qtbot.waitSignal(window.detectionFinished, timeout=180000) as blocker:
        window.auto_detect()
    assert blocker.args[0] is True
    assert min(counts) > 0.8 * len(first)  # the store never emptied when the run started
    still = set(window.store.ids().tolist())
    kept_old = first & still
    assert len(kept_old) > 0.5 * len(first)  # everything outside the finished tile is still there
    assert manual in window.store and window.store.get(manual).source == MANUAL
    # one undo step puts the first run's points back exactly
    window.undo.undo()
    assert set(window.store.ids().tolist()) == first | {manual}
    assert not window.runs.busy and window.panel.cancel_button.isEnabled() is False


def test_cancel_frees_the_window_at_once(qtbot, window, tmp_path, monkeypatch):
    import time

    from wnet_gui.engine import detect

    real = detect.iter_detections

    def slow(*args, **kwargs):  # a slow machine: on a fast one the whole slide can be done before the key arrives
        for result in real(*args, **kwargs):
            yield result
            time.sleep(0.5)

    monkeypatch.setattr(detect, "iter_detections", slow)
    path = write_pyramidal_tiff(tmp_path / "big.tif", np.tile(sample_mosaic(), (3, 3, 1)))
    window.open_slide(path)
    window.panel.region_combo.setCurrentIndex(window.panel.region_combo.findData("slide"))
    window.auto_detect()
    qtbot.waitUntil(lambda: window.panel.progress.value() >= 1, timeout=120000)
    thread = window.runs.thread
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    # free at once: the key did not wait for the worker, which is still finishing its batch
    assert not window.runs.busy and thread.isRunning()
    assert "cancelled" in window.panel.progress_label.text()


def test_stale_status_is_cleared(qtbot, window, sample_copy, tmp_path):
    window.open_slide(sample_copy)
    window.panel.progress_label.setText("1 masks in 0.3 s")
    other = tmp_path / "other.tif"
    other.write_bytes(sample_copy.read_bytes())
    window.open_slide(other)
    assert window.panel.progress_label.text() == ""
    window.panel.progress_label.setText("Detection cancelled: 12 new nuclei kept")
    window.undo.push(AddPointsCommand(window.store, [10.0], [10.0]))
    window.undo.undo()
    assert window.panel.progress_label.text() == ""


def test_exported_outlines_stay_inside_the_slide(qtbot, window, sample_copy, tmp_path):
    import json

    window.open_slide(sample_copy)
    with qtbot.waitSignal(window.detectionFinished, timeout=120000):
        window.auto_detect()
    xy = window.store.coordinates()
    border = window.store.ids()[np.argsort(np.minimum(xy[:, 0], xy[:, 1]))[:6]]  # the nuclei nearest the left/top edges
    with qtbot.waitSignal(window.masksFinished, timeout=120000):
        window.draw_masks(ids=border)
    assert any(i in window.store.polygons for i in border.tolist())
    out = tmp_path / "o.geojson"
    assert window.export_geojson(out)
    doc = json.loads(out.read_text())
    rings = [np.array(f["geometry"]["coordinates"][0]) for f in doc["features"] if f["geometry"]["type"] == "Polygon"]
    assert rings and all(r.min() >= 0 and r[:, 0].max() <= 512 and r[:, 1].max() <= 512 for r in rings)


def test_file_dialogs_open_where_the_user_last_was(qtbot, window, sample_copy, tmp_path, monkeypatch):
    import wnet_gui.gui.file_actions as fa

    window.open_slide(sample_copy)
    seen = []
    target = tmp_path / "exports"
    target.mkdir()
    monkeypatch.setattr(fa.QFileDialog, "getSaveFileName", lambda parent, title, start, filt: (seen.append(start) or (str(target / "a.geojson"), "")))
    window.files.export_dialog()
    qtbot.waitUntil(lambda: (target / "a.geojson").exists())
    window.files.export_dialog()
    assert not seen[0].startswith(str(sample_copy.parent))  # not the slide's folder by default
    assert seen[1] == str(target / sample_copy.with_suffix(".geojson").name)


def test_keyboard_shortcuts_are_listed_from_the_actions(qtbot, window):
    from wnet_gui.gui.menus import shortcut_rows

    rows = dict((what, keys) for keys, what in shortcut_rows(window))
    assert rows["Auto-detect nuclei"] == "Ctrl+D" and rows["Add points"] == "A" and rows["Cancel run"] == "Esc"
    assert "Keyboard shortcuts" in rows


def test_display_adjustments_change_only_what_is_shown(qtbot, window, sample_copy):
    window.open_slide(sample_copy)
    before = window.view.grab().toImage()
    pixels_before = window.slide.read_region(0, 0, 16, 16).copy()
    window.panel.brightness.setValue(60)
    window.panel.gamma.setValue(150)
    qtbot.wait(50)
    after = window.view.grab().toImage()
    centre = QPoint(before.width() // 2, before.height() // 2)
    assert after.pixelColor(centre).lightness() > before.pixelColor(centre).lightness()
    assert (window.slide.read_region(0, 0, 16, 16) == pixels_before).all()  # the slide is untouched
    window.panel.reset_image()
    qtbot.wait(50)
    assert window.view.grab().toImage().pixelColor(centre) == before.pixelColor(centre)


def test_crowded_points_shrink():
    from wnet_gui.gui.overlay import PointStyle, crowd_style

    style = PointStyle(size=7)
    assert crowd_style(style, 100, 1400 * 900).size == 7  # few points: as chosen
    assert crowd_style(style, 20000, 1400 * 900).size < 3  # 20,000 on one screen: small dots
    assert crowd_style(style, 10**6, 1400 * 900).size == 2


def test_ruler_measures_in_micrometres(qtbot, window, sample_copy):
    window.open_slide(sample_copy)
    window.tool_actions[Tool.MEASURE].trigger()
    viewport = window.view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=screen(window, 100, 100))
    qtbot.mouseMove(viewport, screen(window, 150, 130))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=screen(window, 160, 180))
    px, um = window.view.tools.measured()
    assert abs(px - 100) < 2 and abs(um - 100 * window.slide.mpp) < 0.5
    assert len(window.store) == 0  # measuring edits nothing


def test_cursor_position_in_px_and_um(qtbot, window, sample_copy):
    window.open_slide(sample_copy)
    pos = screen(window, 200.5, 100.5)
    qtbot.mouseMove(window.view.viewport(), pos)
    p = window.view.mapToScene(pos)  # the level-0 point under that screen pixel
    text = window.pos_label.text()
    assert f"x {p.x():,.0f}  y {p.y():,.0f} px" in text and f"({p.x() * window.slide.mpp:,.1f}, {p.y() * window.slide.mpp:,.1f} µm)" in text
    assert abs(p.x() - 200.5) < 1 and abs(p.y() - 100.5) < 1


def test_eta_counts_only_tissue_tiles():
    from wnet_gui.engine.detect import TileResult

    # 40 background tiles skipped at once, then 2 tissue tiles in 10 s: 8 tissue tiles left
    r = TileResult(tile=None, centres=np.zeros((0, 2)), scores=np.zeros(0), done=42, total=50, skipped=40, elapsed=10.0)
    assert r.eta == 40.0  # 5 s per tissue tile × 8 (the old estimate said 10/42 × 8 ≈ 1.9 s)



def test_thousands_of_masks_say_how_long_first(qtbot, window, sample_copy, monkeypatch):
    import wnet_gui.gui.mask_runs as mr

    window.open_slide(sample_copy)
    rng = np.random.default_rng(1)
    window.store.add_many(rng.uniform(0, 511, 5000), rng.uniform(0, 511, 5000))
    asked = []
    monkeypatch.delenv("WNET_NO_PROMPT", raising=False)
    monkeypatch.setattr(mr.QMessageBox, "question", lambda parent, title, text, *a: asked.append(text) or mr.QMessageBox.StandardButton.No)
    window.draw_masks("all")
    assert asked and "5,000 points takes about 2 min" in asked[0]
    assert not window.runs.busy  # declined: nothing started


def test_auto_detect_in_the_app_finds_what_wnet_detect_finds(qtbot, person, sample_copy):
    """The app's Auto-detect runs the engine exactly as `wnet detect` does (the same precision
    among others: bf16 where the CPU does it natively; every core), so a slide gets the same
    nuclei whichever a pathologist or a cohort script used."""
    from user import detect_with, launch, open_slide

    from wnet_gui.engine.detect import DetectOptions, run_detection
    from wnet_gui.models.zoo import resolve_card
    from wnet_gui.slides import open_slide as open_file

    import torch

    cores = torch.get_num_threads()
    window = launch(qtbot)
    open_slide(qtbot, window, person, sample_copy)
    combo = window.panel.region_combo
    combo.setCurrentIndex(combo.findData("slide"))  # Region: Whole slide, as picked in the panel
    detect_with(qtbot, window, "accurate")
    assert torch.get_num_threads() == cores  # every core, as the CLI (and NuClick, teaching after it) run
    app = window.store.coordinates(window.store.ids())
    cli = run_detection(open_file(sample_copy), resolve_card("accurate"), options=DetectOptions()).centres
    person.check()
    assert len(app) == len(cli) > 50
    order = lambda xy: xy[np.lexsort((xy[:, 1], xy[:, 0]))]  # noqa: E731
    assert np.abs(order(app) - order(cli)).max() < 0.05
