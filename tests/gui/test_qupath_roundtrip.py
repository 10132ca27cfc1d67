"""QuPath files in the app: regions to detect in, summaries, merge on re-import, export choices."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from helpers import sample_mosaic, write_pyramidal_tiff  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "qupath" / "written-by-qupath" / "qupath_v0.4.4_written.geojson"


@pytest.fixture
def mosaic(tmp_path):
    return write_pyramidal_tiff(tmp_path / "mosaic.tif", sample_mosaic())


@pytest.mark.skipif(not FIXTURE.exists(), reason=f"QuPath fixtures not found at {FIXTURE.parent} (../shared is absent)")
def test_import_a_qupath_file_then_detect_inside_its_region(qtbot, window, mosaic):
    from wnet_gui.geometry import PolygonRegion

    import json

    # QuPath's own file, its tumour region enlarged six-fold about its centre to hold nuclei
    doc = json.loads(FIXTURE.read_text())
    region = next(f for f in doc["features"] if f["properties"].get("name") == "tumour region")
    ring = np.array(region["geometry"]["coordinates"][0])
    region["geometry"]["coordinates"][0] = ((ring - ring.mean(0)) * 6 + ring.mean(0)).round(2).tolist()
    path = mosaic.parent / "qupath_v0.4.4_written.geojson"
    path.write_text(json.dumps(doc))
    window.open_slide(mosaic)
    assert window.import_geojson(path, wait=True)
    assert len(window.store) == 8
    assert "8 nuclei, 1 region, 1 skipped (lines: 1)" in window.files.last_summary
    combo = window.panel.region_combo
    index = combo.findText("Region: tumour region (qupath_v0.4.4_written.geojson)")
    assert index >= 0
    combo.setCurrentIndex(index)
    region = window.detection.region()
    assert isinstance(region, PolygonRegion) and window.view.roi is not None
    with qtbot.waitSignal(window.detectionFinished, timeout=120000):
        window.auto_detect()
    model = window.store.ids()[window.store.source_of(window.store.ids()) == "fast"]
    xy = window.store.coordinates(model)
    assert len(xy) >= 1 and region.contains(xy[:, 0] + 0.5, xy[:, 1] + 0.5).all()
    # importing the same file again updates, never doubles
    before = len(window.store)
    assert window.import_geojson(path, wait=True)
    assert len(window.store) == before and "8 already here were updated" in window.files.last_summary
    window.undo.undo()
    assert len(window.store) == before
    # the regions belong to the slide: another slide starts without them
    window.exported_revision = window.store.revision
    window.open_slide(mosaic)
    assert combo.findText("Region: tumour region (qupath_v0.4.4_written.geojson)") == -1


def test_export_choices_name_what_qupath_shows(qtbot):
    from wnet_gui.gui.export_dialog import ExportChoices

    dialog = ExportChoices()
    qtbot.addWidget(dialog)
    assert dialog.choices() == {"points_as": "detections", "masks_as": "cells", "split_sources": False}
    assert not dialog.split.isEnabled()
    dialog.points.setCurrentIndex(dialog.points.findData("annotations"))
    assert dialog.points.currentText() == "Points for counting (one Points annotation per class)" and dialog.split.isEnabled()
    dialog.split.setChecked(True)
    dialog.masks.setCurrentIndex(dialog.masks.findData("detections"))
    assert dialog.choices() == {"points_as": "annotations", "masks_as": "detections", "split_sources": True}


def test_gui_export_writes_the_chosen_shapes(qtbot, window, sample_copy, tmp_path):
    import json

    window.open_slide(sample_copy)
    window.store.add_many([10.0, 20.0], [10.0, 20.0], classes=["Tumor", "Tumor"])
    out = tmp_path / "counting.geojson"
    assert window.files.export_geojson(out, points_as="annotations")
    features = json.loads(out.read_text())["features"]
    assert [f["geometry"]["type"] for f in features] == ["MultiPoint"] and features[0]["properties"]["classification"]["name"] == "Tumor"
    namespace = window.store.namespace
    assert len(namespace) == 32 and sample_copy.name not in namespace  # its own, not the slide's name
    window.exported_revision = window.store.revision
    window.open_slide(sample_copy)  # again: the namespace came back with the points, so do the ids
    assert window.store.namespace == namespace
    window.store.add(30.0, 30.0, cls="Tumor")
    assert window.files.export_geojson(out, points_as="annotations")
    assert json.loads(out.read_text())["features"][0]["id"] == features[0]["id"]
    window.settings.setValue("export/points_as", "annotations")


@pytest.mark.parametrize("version", ["0.3", "HEAD"])
def test_points_for_counting_come_back_from_qupath_by_the_menu(qtbot, person, sample_copy, tmp_path, version):
    """Open (Ctrl+O), Auto-detect (Ctrl+D), export as Points for counting (Ctrl+E), QuPath
    saves the file again, File › Import GeoJSON…: the model's points are updated, not doubled
    into as many "manual" ones, and keep their scores; Ctrl+Z takes the import back."""
    import json

    from qupath_resave import resave
    from user import choose_file, detect_with, export_shapes, key, launch, menu_action, open_slide

    dialogs = person
    window = launch(qtbot)
    open_slide(qtbot, window, dialogs, sample_copy)
    detect_with(qtbot, window, "fast")
    store = window.store
    before = {(round(n.x, 2), round(n.y, 2)): (n.source, round(float(n.score), 4)) for n in store}
    assert len(before) > 50
    out = tmp_path / "counting.geojson"
    dialogs.expect("Export for QuPath", export_shapes("annotations", "cells"))
    dialogs.expect("Export GeoJSON", choose_file(out))
    with qtbot.waitSignal(window.files.exportFinished, timeout=60000):
        key(qtbot, window, "Ctrl+E")
    dialogs.check()
    saved = tmp_path / f"saved-by-qupath-{version}.geojson"
    doc = resave(json.loads(out.read_text()), version)
    (points,) = [f for f in doc["features"] if f["geometry"]["type"] == "MultiPoint"]
    points["properties"]["classification"]["name"] = "Tumor"  # the pathologist reclassified them in QuPath
    saved.write_text(json.dumps(doc))

    dialogs.expect("Import GeoJSON", choose_file(saved))
    with qtbot.waitSignal(window.files.importFinished, timeout=60000) as done:
        menu_action(window, "File", "Import GeoJSON…").trigger()
    dialogs.check()
    assert done.args == [True]
    ids = store.ids()
    after = {(round(n.x, 2), round(n.y, 2)): (n.source, round(float(n.score), 4)) for n in store}
    assert after == before  # the same nuclei, still the model's, with their scores
    assert {n.cls for n in store} == {"Tumor"}
    assert f"{len(before):,} already here were updated" in window.files.last_summary
    key(qtbot, window, "Ctrl+Z")  # one step back: the classes they had, the same nuclei
    assert np.array_equal(store.ids(), ids) and {n.cls for n in store} == {"Nucleus"}
    key(qtbot, window, "Ctrl+Shift+Z")
    assert np.array_equal(store.ids(), ids) and {n.cls for n in store} == {"Tumor"}
