"""The smaller traps of a pathologist's day (issue 27), each reached the way a person reaches it."""

import re

import numpy as np
from PySide6.QtCore import QRectF, Qt

from user import drag, key, menu_action, on_view


def test_adapt_and_calibrate_come_back_as_soon_as_a_detection_run_ends(qtbot, window, sample_copy, sample_truth):
    window.open_slide(sample_copy)
    assert window.import_geojson(sample_truth, wait=True)
    tools = window.adaptation
    tools.min_nuclei = 20
    key(qtbot, window, "R")
    drag(qtbot, window, (0, 0), (250, 250))
    key(qtbot, window, "Ctrl+Shift+R")
    window.update_counts()
    assert tools.adapt_button.isEnabled()
    window.panel.region_combo.setCurrentIndex(window.panel.region_combo.findData("slide"))
    with qtbot.waitSignal(window.detectionFinished, timeout=60000):
        key(qtbot, window, "Ctrl+D")
        assert not tools.adapt_button.isEnabled()  # greyed while the run holds the worker
    # no view change, no edit: the buttons are back when the run ends
    assert tools.adapt_button.isEnabled() and tools.calibrate_button.isEnabled()


def test_the_cursor_position_of_the_previous_slide_is_not_kept(qtbot, window, sample_copy, tmp_path):
    from PIL import Image

    window.open_slide(sample_copy)
    qtbot.mouseMove(window.view.viewport(), on_view(window, 100, 120))
    qtbot.wait(20)
    assert "µm" in window.pos_label.text()
    plain = tmp_path / "plain.png"
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(plain)
    window.open_slide(plain)  # states no scale
    assert "µm" not in window.pos_label.text()
    qtbot.mouseMove(window.view.viewport(), on_view(window, 10, 10))
    qtbot.wait(20)
    assert "µm" not in window.pos_label.text()


def test_set_pixel_size_from_the_image_menu_is_kept_with_the_slide(qtbot, window, tmp_path, monkeypatch):
    from PIL import Image

    import wnet_gui.gui.scale as scale

    plain = tmp_path / "tile.jpg"
    Image.fromarray(np.full((300, 300, 3), 180, np.uint8)).save(plain)
    window.open_slide(plain)
    monkeypatch.setattr(scale.QInputDialog, "getDouble", lambda *a, **k: (0.5, True))  # the real dialog: test_pathologist_day
    menu_action(window, "Image", "Set pixel size (µm/px)…").trigger()
    assert window.slide.mpp == 0.5 and "0.500 µm/px" in window.mpp_label.text()
    window.autosave(wait=True)
    window.open_slide(tmp_path / "tile.jpg")  # reopened: the stated scale comes back
    assert window.slide.mpp == 0.5 and window.store.stated_mpp == 0.5


def test_detect_all_new_slides_leaves_the_region_choice_alone(qtbot, window, sample_tiff, tmp_path):
    import shutil

    folder = tmp_path / "study"
    folder.mkdir()
    for k, sample in enumerate(sorted(sample_tiff.parent.glob("*.tif"))):
        shutil.copy(sample, folder / f"s{k}.tif")
    assert window.project.open_project(folder)
    combo = window.panel.region_combo
    combo.setCurrentIndex(combo.findData("view"))
    with qtbot.waitSignal(window.detectionFinished, timeout=120000):
        qtbot.mouseClick(window.project.detect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.runs.busy, timeout=60000)
    assert combo.currentData() == "view"  # the open slide was detected whole, the choice stays the user's
    assert all(e.state == "detected" and e.nuclei > 50 for e in window.project.project.slides)


def test_the_app_and_wnet_models_print_the_same_held_back_numbers(qtbot, window, sample_copy, sample_truth, capsys):
    from wnet_gui.cli.main import main

    window.open_slide(sample_copy)
    assert window.import_geojson(sample_truth, wait=True)
    window.view.set_roi(QRectF(0, 0, 512, 512))
    window.review.mark_drawn_region()
    tools = window.adaptation
    tools.min_nuclei = 50
    tools.refresh()
    menu_action(window, "Analysis", "Calibrate sensitivity to reviewed regions").trigger()
    qtbot.waitUntil(lambda: not window.runs.busy, timeout=120000)
    shown = re.search(r"F1 on held-back reviewed nuclei (\d\.\d{3}) → (\d\.\d{3})", tools.status.text()).groups()
    assert main(["models"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if tools.last_card.name in line][0]
    assert f"held-back F1 {shown[0]} → {shown[1]}" in listed


def test_re_run_on_the_rest_detects_the_whole_slide_outside_the_reviewed_region(qtbot, window, sample_copy, sample_truth, monkeypatch):
    """Adapt ends better → the real question → Yes: detection runs on the whole slide (it once
    ran on the drawn region, the reviewed one, and found 0), and the reviewed region keeps its points."""
    from PySide6.QtWidgets import QMessageBox

    from user import Dialogs, press
    from wnet_gui.adaptation.finetune import AdaptResult
    from wnet_gui.gui.commands import RemovePointsCommand

    monkeypatch.setattr(AdaptResult, "improved", property(lambda self: True))
    window.open_slide(sample_copy)
    assert window.import_geojson(sample_truth, wait=True)
    key(qtbot, window, "R")
    drag(qtbot, window, (0, 0), (260, 260))
    key(qtbot, window, "Ctrl+Shift+R")
    reviewed = window.store.reviewed_ids()
    kept = np.sort(window.store.coordinates(reviewed), axis=0)
    outside = [int(i) for i in window.store.ids() if i not in set(reviewed.tolist())]
    window.undo.push(RemovePointsCommand(window.store, np.array(outside)))
    assert not (~window.store.inside_reviewed(window.store.coordinates())).any()  # nothing outside the reviewed region yet
    tools = window.adaptation
    tools.min_nuclei = 20
    tools.settings.seconds, tools.settings.max_steps, tools.settings.crop = 10.0, 2, 128
    monkeypatch.delenv("WNET_NO_PROMPT")
    dialogs = Dialogs(qtbot)
    try:
        dialogs.expect("Model adapted", press(QMessageBox.StandardButton.Yes))
        with qtbot.waitSignal(window.detectionFinished, timeout=240000):
            menu_action(window, "Analysis", "Adapt model to reviewed regions…").trigger()
        dialogs.check()
    finally:
        dialogs.close()
    found_outside = (~window.store.inside_reviewed(window.store.coordinates())).sum()
    assert found_outside > 50  # the rest of the slide, detected with the adapted model
    assert np.array_equal(np.sort(window.store.coordinates(window.store.reviewed_ids()), axis=0), kept)
    assert window.panel.region_combo.currentData() == "roi"  # the user's choice untouched


def test_quit_asks_only_when_edits_would_be_lost_and_discard_discards(qtbot, window, sample_copy, monkeypatch):
    import errno

    from PySide6.QtWidgets import QMessageBox

    import wnet_gui.annotations.autosave as autosave_module
    from user import Dialogs, press
    from wnet_gui.gui.commands import AddPointsCommand

    window.open_slide(sample_copy)
    window.undo.push(AddPointsCommand(window.store, [30.0], [40.0]))
    monkeypatch.setattr(autosave_module, "write_snapshot", lambda store, path: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    monkeypatch.delenv("WNET_NO_PROMPT")
    dialogs = Dialogs(qtbot)
    try:
        dialogs.expect("not saved", press(QMessageBox.StandardButton.Cancel))
        menu_action(window, "File", "Quit").trigger()
        dialogs.check()
        assert window.isVisible()  # Cancel keeps the window and the edit
        assert "NOT autosaved" in dialogs.seen[-1] and "Discard loses them" in dialogs.seen[-1]
        dialogs.expect("not saved", press(QMessageBox.StandardButton.Discard))
        menu_action(window, "File", "Quit").trigger()
        dialogs.check()
        assert not window.isVisible()
    finally:
        dialogs.close()


def test_flip_averaging_box_runs_detection_over_four_flips(qtbot, window, sample_copy):
    """The Annotate panel's flip box, clicked as a person does, makes Ctrl+D find exactly what
    the engine finds with ``tta`` on — and not what it finds without."""
    from wnet_gui.engine.detect import DetectOptions, run_detection
    from wnet_gui.slides import open_slide

    from user import click, detect_with

    window.open_slide(sample_copy)
    window.panel.region_combo.setCurrentIndex(window.panel.region_combo.findData("slide"))
    box = window.panel.flips
    click(qtbot, box, box.rect().topLeft() + box.rect().center() / 4)  # on the box itself, not only its text
    assert box.isChecked()
    detect_with(qtbot, window, "fast")
    from scipy.spatial import cKDTree

    found = window.store.coordinates()
    card = window.panel.current_card()
    with open_slide(sample_copy) as slide:
        with_flips = run_detection(slide, card, options=DetectOptions(device="cpu", tta=True)).centres
        without = run_detection(slide, card, options=DetectOptions(device="cpu")).centres

    def agreeing(a, b) -> float:  # share of a's points within 0.25 px of one of b's (threads and batches move a few)
        return float(np.mean(cKDTree(b).query(a)[0] < 0.25)) if len(a) else 0.0

    assert abs(len(found) - len(with_flips)) <= 1 and agreeing(found, with_flips) > 0.9  # measured: 0.97
    assert agreeing(without, with_flips) < 0.8  # without the flips many centres sit elsewhere (measured: 0.57)
