"""A pathologist's whole day, through nothing but what a person touches: menu items fired as
Qt fires them, keys, the mouse on the view and the Project dock, and the real dialogs
answered as they appear (``user.Dialogs``; any dialog nobody expected fails the test).

Three tiles that state no scale (JPEG, PNG, BMP: MoNuSeg crops, see resources/samples),
opened as a project → the scale stated for all → each bundled model → add, delete, move,
class keys, undo/redo → masks → a reviewed region → calibrate → adapt → re-run on the rest →
export in every shape → *Export all* → next/previous → quit → relaunch → everything back."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from user import (choose_file, detect_with, launch, click, drag, export_shapes, key, menu_action, on_view, press_any,
                  type_number)

Yes, Ok = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.Ok


@pytest.fixture
def tiles(tmp_path, sample_tiff):
    """A study of tiles without a scale, as exported from a viewer: JPEG, PNG, BMP."""
    folder = tmp_path / "study"
    folder.mkdir()
    samples = sorted(sample_tiff.parent.glob("*.tif"))
    a, b = (np.asarray(Image.open(p).convert("RGB")) for p in samples[:2])
    Image.fromarray(a).save(folder / "a.jpg", quality=95)
    Image.fromarray(b).save(folder / "b.png")
    Image.fromarray(np.ascontiguousarray(a[:, ::-1])).save(folder / "c.bmp")
    return folder


def project_rows(window) -> dict[str, tuple[str, str]]:
    """Slide → (µm/px, state) as the Project dock shows them."""
    t = window.project.table
    return {t.item(r, 1).text().lstrip("▶ "): (t.item(r, 3).text(), t.item(r, 4).text()) for r in range(t.rowCount())}


def count(label) -> int:
    return int(label.text().replace(",", ""))


def detect(qtbot, window, model: str) -> int:
    detect_with(qtbot, window, model)
    window.update_counts()
    return count(window.panel.total_label)


def test_a_pathologist_day(qtbot, tiles, person, tmp_path):
    dialogs = person
    window = launch(qtbot)

    # -- open the study (File › Open project) -------------------------------------------------
    dialogs.expect("folder of slides", choose_file(tiles))
    menu_action(window, "File", "Open project (a folder of slides)…").trigger()
    dialogs.check()
    assert window.slide.path.name == "a.jpg" and window.slide.mpp is None
    assert project_rows(window) == {"a.jpg": ("", "new"), "b.png": ("", "new"), "c.bmp": ("", "new")}

    # -- state the scale of all three: select the rows, Image › Set pixel size of the selected… --
    table = window.project.table
    click(qtbot, table.viewport(), table.visualItemRect(table.item(0, 1)).center())
    click(qtbot, table.viewport(), table.visualItemRect(table.item(2, 1)).center(), modifier=Qt.KeyboardModifier.ShiftModifier)
    dialogs.expect("Set pixel size", type_number(0.25))
    menu_action(window, "Image", "Set pixel size of the selected project slides…").trigger()
    dialogs.check()
    assert {mpp for mpp, _ in project_rows(window).values()} == {"0.250"}
    assert window.slide.mpp == 0.25 and "0.250 µm/px" in window.mpp_label.text()

    # -- detect with each bundled model on the whole tile (no question about the scale) -------
    panel = window.panel
    panel.region_combo.setCurrentIndex(panel.region_combo.findData("slide"))
    found = {m: detect(qtbot, window, m) for m in ("fast", "accurate", "fastest", "typed")}
    assert all(n > 60 for n in found.values()), found
    dialogs.check()
    assert project_rows(window)["a.jpg"][1] == "detected"
    classes = {window.classes.table.item(r, 1).text() for r in range(window.classes.table.rowCount())}
    assert {"Epithelial", "Inflammatory", "Stromal"} <= classes  # typed's types join the class list
    n = count(panel.total_label)

    # -- edit: add (A), delete (D), undo/redo, move (M), class keys (S, 1) ---------------------
    key(qtbot, window, "A")
    click(qtbot, window.view.viewport(), on_view(window, 8, 8))
    window.update_counts()
    assert count(panel.total_label) == n + 1 and count(panel.manual_label) == 1
    key(qtbot, window, "D")
    click(qtbot, window.view.viewport(), on_view(window, 8, 8))
    window.update_counts()
    assert count(panel.total_label) == n
    key(qtbot, window, "Ctrl+Z")
    window.update_counts()
    assert count(panel.total_label) == n + 1
    key(qtbot, window, "Ctrl+Shift+Z")
    window.update_counts()
    assert count(panel.total_label) == n
    store = window.store
    target = int(store.ids()[len(store) // 2])
    x, y = store.coordinates(np.array([target]))[0]
    key(qtbot, window, "M")
    drag(qtbot, window, (x + 0.5, y + 0.5), (x + 6.5, y + 4.5))
    assert np.allclose(store.coordinates(np.array([target]))[0], (x + 6, y + 4), atol=1.0)
    key(qtbot, window, "S")
    click(qtbot, window.view.viewport(), on_view(window, x + 6.5, y + 4.5))
    assert window.view.selection.ids().tolist() == [target]
    first_class = window.classes.table.item(0, 1).text()
    key(qtbot, window, "1")
    assert store.classes_of(np.array([target]))[0] == first_class
    assert (store.extras.get(target) or {}).get("class_by_hand")

    # -- masks for the selected points (S drag, Ctrl+Shift+M) ---------------------------------
    drag(qtbot, window, (x - 30, y - 30), (x + 30, y + 30))
    selected = len(window.view.selection)
    assert selected >= 2
    with qtbot.waitSignal(window.masksFinished, timeout=180000):
        key(qtbot, window, "Ctrl+Shift+M")
    window.update_counts()
    assert count(panel.mask_label) >= selected - 1

    # -- mark a region reviewed (R drag, Ctrl+Shift+R) ----------------------------------------
    key(qtbot, window, "Esc")
    key(qtbot, window, "R")
    drag(qtbot, window, (0, 0), (300, 300))
    key(qtbot, window, "Ctrl+Shift+R")
    reviewed = store.reviewed_ids()
    assert len(store.reviewed) == 1 and len(reviewed) > 20
    reviewed_xy = store.coordinates(reviewed)

    # -- calibrate, then adapt (Analysis menu); the Calibrate button is live right after a run --
    tools = window.adaptation
    tools.min_nuclei = 20  # a 300² px region holds fewer than the app's 200
    tools.settings.seconds, tools.settings.max_steps, tools.settings.crop = 10.0, 3, 128
    window.update_counts()
    assert tools.calibrate_button.isEnabled() and tools.adapt_button.isEnabled()
    for item, word in (("Calibrate sensitivity to reviewed regions", "calibrated"), ("Adapt model to reviewed regions…", "adapted")):
        before = panel.current_card().name
        answered = []
        dialogs.expect(word, press_any(Yes, Ok, record=answered))
        menu_action(window, "Analysis", item).trigger()
        qtbot.waitUntil(lambda: not window.runs.busy and bool(answered), timeout=240000)
        if answered == [Yes]:  # it was better, selected, and the rest of the slide is detected again
            qtbot.waitUntil(lambda: not window.runs.busy, timeout=180000)
            assert panel.current_card().name != before and "not better" not in tools.status.text()
            outside = ~store.inside_reviewed(store.coordinates())
            assert outside.sum() > 20  # the re-run found nuclei outside the reviewed region (it once ran on the reviewed one)
        else:  # not better: said plainly, the model kept
            assert panel.current_card().name == before and "not better" in tools.status.text()
        assert np.array_equal(np.sort(store.coordinates(store.reviewed_ids()), axis=0), np.sort(reviewed_xy, axis=0))
    dialogs.check()

    # -- export in every shape (Ctrl+E: the choices, then the file) ----------------------------
    shapes = {"detections-cells": ("detections", "cells", False), "counting-split": ("annotations", "detections", True)}
    for name, (points_as, masks_as, split) in shapes.items():
        out = tmp_path / "exports" / f"{name}.geojson"
        out.parent.mkdir(exist_ok=True)
        dialogs.expect("Export for QuPath", export_shapes(points_as, masks_as, split))
        dialogs.expect("Export GeoJSON", choose_file(out))
        with qtbot.waitSignal(window.exportFinished, timeout=60000) as written:
            key(qtbot, window, "Ctrl+E")
        dialogs.check()
        assert written.args == [str(out), ""]
        features = json.loads(out.read_text())["features"]
        kinds = {(f["properties"].get("objectType"), f["geometry"]["type"]) for f in features}
        if points_as == "detections":
            assert ("detection", "Point") in kinds and ("cell", "Polygon") in kinds
            assert sum(1 for f in features if f["properties"].get("objectType") in ("detection", "cell")) == len(store)
        else:
            points = [f for f in features if f["geometry"]["type"] == "MultiPoint"]
            assert points and ("detection", "Polygon") in kinds
            masked = sum(1 for i in store.ids().tolist() if i in store.polygons)
            assert sum(len(f["geometry"]["coordinates"]) for f in points) == len(store) - masked  # every unmasked nucleus, once
    assert project_rows(window)["a.jpg"][1].startswith("being reviewed")  # exporting kept the review state

    # -- Export all… (the dock's button: the choices, then a folder) ---------------------------
    all_out = tmp_path / "all"
    all_out.mkdir()
    dialogs.expect("Export for QuPath", export_shapes("detections", "cells"))
    dialogs.expect("Export all", choose_file(all_out))
    click(qtbot, window.project.export_button)
    dialogs.check()
    qtbot.waitUntil(lambda: (all_out / "summary.csv").exists() and not window.runs.busy, timeout=60000)
    rows = {r["slide"]: r for r in csv.DictReader(open(all_out / "summary.csv", encoding="utf-8"))}
    assert rows["a.jpg"]["state"] == "reviewing" and rows["b.png"]["state"] == "new"
    assert float(rows["a.jpg"]["reviewed_mm2"]) == pytest.approx(300 * 300 * 0.25**2 / 1e6, rel=0.02)
    assert float(rows["a.jpg"]["density_per_mm2"]) > 0 and rows["a.jpg"]["output"] == "a.geojson"
    assert all(r["exported"] for r in rows.values())
    assert project_rows(window)["b.png"] == ("0.250", "new\nexported")

    # -- next / previous (Page Down, Page Up): the stated scale goes along ----------------------
    n_a = len(store)
    key(qtbot, window, "PgDown")
    assert window.slide.path.name == "b.png" and window.slide.mpp == 0.25
    assert detect(qtbot, window, "fast") > 60  # no question about the scale
    key(qtbot, window, "PgUp")
    assert window.slide.path.name == "a.jpg" and len(window.store) == n_a
    dialogs.check()

    # -- quit (nothing to ask: every edit is autosaved), relaunch, everything back -------------
    menu_action(window, "File", "Quit").trigger()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=20000)
    dialogs.check()
    again = launch(qtbot)
    dialogs.expect("folder of slides", choose_file(tiles))
    menu_action(again, "File", "Open project (a folder of slides)…").trigger()
    dialogs.check()
    assert again.slide.path.name == "a.jpg" and again.slide.mpp == 0.25 and len(again.store) == n_a
    assert len(again.store.reviewed) == 1 and (again.store.extras.get(target) or {}).get("class_by_hand")
    rows = project_rows(again)
    assert rows["a.jpg"] == ("0.250", "being reviewed\nexported") and rows["b.png"][1].startswith("detected")
    again.close()
    dialogs.check()
