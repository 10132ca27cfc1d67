"""Issue 20: a folder of slides as a project — next/previous keeps each slide's edits and view,
states follow detection and export, a missing slide is shown as missing, reopening restores
everything, and a project written by an older version opens."""

import json
import shutil

import pytest
from PySide6.QtCore import QRectF, Qt

from wnet_gui.gui.commands import AddPointsCommand
from wnet_gui.projects import PROJECT_FILE, Project


@pytest.fixture
def study(tmp_path, sample_tiff):
    """Three small slides in a folder (two real samples, one mirrored copy)."""
    import numpy as np
    import tifffile

    folder = tmp_path / "study"
    folder.mkdir()
    samples = sorted(sample_tiff.parent.glob("*.tif"))
    shutil.copy(samples[0], folder / "a.tif")
    shutil.copy(samples[1], folder / "b.tif")
    image = tifffile.imread(samples[0])[:, ::-1]
    tifffile.imwrite(folder / "c.tif", np.ascontiguousarray(image), photometric="rgb", resolution=(40000, 40000), resolutionunit="CENTIMETER")
    return folder


def table_rows(window):
    t = window.project.table
    return {t.item(r, 1).text().lstrip("▶ "): t.item(r, 4).text() for r in range(t.rowCount())}


def test_next_previous_keep_edits_and_view_and_reopen_restores(qtbot, window, study):
    assert window.project.open_project(study)
    assert window.slide.path.name == "a.tif" and window.project.dock.isVisible()
    assert table_rows(window) == {"a.tif": "new", "b.tif": "new", "c.tif": "new"}
    window.undo.push(AddPointsCommand(window.store, [10.0], [20.0]))  # an edit on a, as the Add tool makes it
    window.view.scale_by(2.0)
    window.view.centerOn(100, 120)
    view_a = (window.view.scale, window.view.visible_scene_rect().center())
    window.view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert window.slide.path.name == "b.tif" and len(window.store) == 0
    window.undo.push(AddPointsCommand(window.store, [5.0, 6.0], [7.0, 8.0]))  # edits on b
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert window.slide.path.name == "c.tif"
    qtbot.keyClick(window, Qt.Key.Key_PageUp)
    qtbot.keyClick(window, Qt.Key.Key_PageUp)
    assert window.slide.path.name == "a.tif" and len(window.store) == 1  # a's edit kept (autosave)
    assert window.view.scale == pytest.approx(view_a[0], rel=1e-6)
    centre = window.view.visible_scene_rect().center()
    assert abs(centre.x() - view_a[1].x()) < 2 and abs(centre.y() - view_a[1].y()) < 2  # its view restored
    rows = table_rows(window)
    assert rows["a.tif"] == "being reviewed" and rows["b.tif"] == "being reviewed" and rows["c.tif"] == "new"
    # the file on disk: versioned, relative paths, one line per slide
    data = json.loads((study / PROJECT_FILE).read_text())
    assert data["format"] == "wnet-project" and data["version"] == 2
    assert [s["path"] for s in data["slides"]] == ["a.tif", "b.tif", "c.tif"]
    # moved elsewhere, the project still opens with everything
    moved = study.parent / "moved"
    window.open_slide(window.project.project.absolute(window.project.project.slides[2]), ask=False)  # leave a: its view is stored
    shutil.copytree(study, moved)
    project = Project.open(moved)
    assert [e.state for e in project.slides] == ["reviewing", "reviewing", "new"] and project.slides[1].nuclei == 2
    assert project.slides[0].view is not None and not any(project.missing(e) for e in project.slides)


def test_states_follow_detection_and_export_and_missing_slides_stay(qtbot, window, study, tmp_path):
    assert window.project.open_project(study)
    window.panel.region_combo.setCurrentIndex(window.panel.region_combo.findData("slide"))
    with qtbot.waitSignal(window.detectionFinished, timeout=120000):
        window.auto_detect()
    assert table_rows(window)["a.tif"] == "detected"
    # detect all the others in the worker; its results are handled on the GUI thread
    import threading

    threads = []
    fill = window.project.populate
    window.project.populate = lambda: (threads.append(threading.current_thread()), fill())
    window.project.actions.detect_all()
    qtbot.waitUntil(lambda: not window.runs.busy, timeout=180000)
    rows = table_rows(window)
    assert rows == {"a.tif": "detected", "b.tif": "detected", "c.tif": "detected"}
    assert threads and all(t is threading.main_thread() for t in threads)
    counts = {e.path: e.nuclei for e in window.project.project.slides}
    assert all(n > 50 for n in counts.values())
    # masks for all: NuClick for the other slides in the worker, then the open one in the app
    with qtbot.waitSignal(window.masksFinished, timeout=300000):
        window.project.actions.masks_all()
    from wnet_gui.projects import load_annotations

    for name in ("b.tif", "c.tif"):
        store = load_annotations(study / name)
        assert len(store.polygons) > 0.8 * len(store)
    assert len(window.store.polygons) > 0.8 * len(window.store)
    # export all: GeoJSON per slide + summary
    out = tmp_path / "export"
    window.autosave(wait=True)
    window.project.actions.export_all(out)
    qtbot.waitUntil(lambda: not window.runs.busy, timeout=120000)
    cells = [f for f in json.loads((out / "b.geojson").read_text())["features"] if f["properties"]["objectType"] == "cell"]
    assert len(cells) > 50  # the masks travel as QuPath cells
    assert sorted(p.name for p in out.iterdir()) == ["a.geojson", "b.geojson", "c.geojson", "summary.csv"]
    summary = (out / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("slide,state,exported,output,error,nuclei,reviewed_mm2") and len(summary) == 4
    assert [line.split(",")[1] for line in summary[1:]] == ["detected"] * 3  # the review state, not "exported"
    assert set(table_rows(window).values()) == {"detected\nexported"}
    # a slide that went missing is shown as missing, never dropped; reopening keeps it
    window.project.go(+1)
    (study / "c.tif").rename(tmp_path / "c-away.tif")
    assert window.project.open_project(study, open_first=False)
    assert table_rows(window)["c.tif"] == "missing"
    window.project.filter.setCurrentIndex(window.project.filter.findData("missing"))
    visible = [r for r in range(window.project.table.rowCount()) if not window.project.table.isRowHidden(r)]
    assert len(visible) == 1
    assert not window.project.open_row(visible[0])  # a message, not a crash


def test_a_project_written_by_an_older_version_opens(tmp_path, study):
    (study / PROJECT_FILE).write_text(json.dumps({"format": "wnet-project", "version": 1,
                                                  "slides": ["a.tif", {"path": "b.tif", "status": "reviewed"}, "gone.svs"]}))
    project = Project.open(study)
    assert [(e.path, e.state) for e in project.slides] == [("a.tif", "new"), ("b.tif", "reviewed"), ("gone.svs", "new"), ("c.tif", "new")]
    assert project.missing(project.slides[2]) and not project.missing(project.slides[0])
    project.save()
    assert json.loads((study / PROJECT_FILE).read_text())["version"] == 2
    (study / PROJECT_FILE).write_text(json.dumps({"format": "wnet-project", "version": 99, "slides": []}))
    with pytest.raises(ValueError, match="newer version"):
        Project.open(study)


def test_read_only_folder_keeps_its_project_in_the_user_folder(tmp_path, study, monkeypatch):
    """A read-only share of slides (simulated: the tests may run as root, who writes anywhere)."""
    import os

    import wnet_gui.projects.project as project_module

    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "home"))
    real_access = os.access
    monkeypatch.setattr(project_module.os, "access", lambda p, mode: False if os.path.samefile(p, study) else real_access(p, mode))
    project = Project.open(study)
    project.save()
    assert project.file.parent == tmp_path / "home" / "wnet-annotator" / "projects" and not (study / PROJECT_FILE).exists()
    again = Project.open(study)
    assert again.file == project.file and [e.path for e in again.slides] == ["a.tif", "b.tif", "c.tif"]
    assert Project.open(project.file).folder == study.resolve()  # the file alone knows its slides' folder


def test_region_reviewed_moves_the_slide_to_being_reviewed(qtbot, window, study):
    assert window.project.open_project(study)
    window.store.add_many([20.0, 30.0], [20.0, 30.0], source="fast")
    window.view.set_roi(QRectF(0, 0, 100, 100))
    window.review.mark_drawn_region()
    assert table_rows(window)["a.tif"] == "being reviewed"
    window.project.set_state("reviewed")
    assert table_rows(window)["a.tif"] == "reviewed"


def test_the_table_counts_follow_every_edit(qtbot, window, study):
    """The open slide's Nuclei and Per class cells follow class keys and undo while it is being
    reviewed (not only when its state changes or it is left)."""
    import numpy as np

    def cells() -> tuple[str, str]:
        t = window.project.table
        row = next(r for r in range(t.rowCount()) if t.item(r, 1).text().lstrip("▶ ") == "a.tif")
        return t.item(row, 5).text(), t.item(row, 6).text()

    assert window.project.open_project(study)
    window.undo.push(AddPointsCommand(window.store, [10.0, 30.0, 50.0], [20.0, 40.0, 60.0]))  # three hand points
    qtbot.waitUntil(lambda: cells() == ("3", "Nucleus 3"), timeout=3000)
    assert table_rows(window)["a.tif"] == "being reviewed"
    ids = window.store.ids()
    for nid, number in ((ids[0], "2"), (ids[1], "2")):  # class keys while the slide is already being reviewed
        window.view.selection.set([int(nid)])
        window.view.setFocus()
        qtbot.keyClick(window, number)
    name = window.classes.names[1]
    qtbot.waitUntil(lambda: cells() == ("3", f"{name} 2, Nucleus 1"), timeout=3000)
    window.view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: cells()[1] in (f"{name} 1, Nucleus 2", f"Nucleus 2, {name} 1"), timeout=3000)
    assert np.array_equal(window.store.ids(), ids)
