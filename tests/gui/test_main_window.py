"""Drive the real widgets: open, auto-detect, edit with the mouse, undo, files, cancel."""

import json
import time

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer

from wnet_gui.annotations import MANUAL, NucleusStore, import_geojson
from wnet_gui.gui.mouse_bindings import Tool


def screen_pos(win, x, y) -> QPoint:
    """Viewport position of level-0 pixel centre (x, y)."""
    return win.view.mapFromScene(QPointF(x + 0.5, y + 0.5))


def run_detection(qtbot, win, timeout=120000):
    with qtbot.waitSignal(win.detectionFinished, timeout=timeout) as blocker:
        qtbot.mouseClick(win.panel.detect_button, Qt.MouseButton.LeftButton)
    return blocker.args[0]


def test_open_sample_and_auto_detect_keeps_event_loop_responsive(qtbot, window, sample_copy, monkeypatch):
    """Inference never runs on the GUI thread (checked exactly: the thread of every forward
    pass is recorded), and the event loop keeps turning during a run (a loose bound that a
    busy CI machine does not break, but a model run on the GUI thread would)."""
    import threading

    from wnet_gui.engine.predict import DensityPredictor

    assert window.open_slide(sample_copy)
    assert window.view.slide.dimensions == (512, 512)
    threads = []
    real = DensityPredictor.predict_batch
    monkeypatch.setattr(DensityPredictor, "predict_batch", lambda self, tiles: threads.append(threading.get_ident()) or real(self, tiles))
    gaps = []
    last = [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer(interval=10)
    timer.timeout.connect(tick)
    timer.start()
    cancelled = run_detection(qtbot, window)
    timer.stop()
    assert not cancelled
    assert threads and threading.main_thread().ident not in threads  # never on the GUI thread
    assert len(window.store) > 50
    assert window.store.count_by_source() == {"fast": len(window.store)}
    qtbot.waitUntil(lambda: int(window.panel.total_label.text().replace(",", "")) == len(window.store))
    assert len(gaps) > 5 and max(gaps[1:]) < 1.0, f"event loop stalled {max(gaps[1:]) * 1000:.0f} ms"
    # the run is one undo step
    n = len(window.store)
    window.undo.undo()
    assert len(window.store) == 0
    window.undo.redo()
    assert len(window.store) == n


def test_add_delete_move_with_the_mouse_and_undo_redo(qtbot, window, sample_copy):
    window.open_slide(sample_copy)
    view = window.view
    window.tool_actions[Tool.ADD].trigger()
    for x, y in ((100, 100), (200, 150), (300, 300)):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=screen_pos(window, x, y))
    assert len(window.store) == 3
    assert window.store.count_by_source() == {MANUAL: 3}
    xy = window.store.coordinates()
    assert np.allclose(xy[0], [100, 100], atol=1.0)

    window.tool_actions[Tool.DELETE].trigger()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=screen_pos(window, 201, 151))
    assert len(window.store) == 2

    window.tool_actions[Tool.MOVE].trigger()
    start, end = screen_pos(window, 300, 300), screen_pos(window, 350, 320)
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view.viewport(), pos=end)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=end)
    moved = window.store.coordinates()[1]
    assert np.allclose(moved, [350, 320], atol=1.0)

    window.undo.undo()  # move
    assert np.allclose(window.store.coordinates()[1], [300, 300], atol=1.0)
    window.undo.undo()  # delete
    assert len(window.store) == 3
    window.undo.redo()
    window.undo.redo()
    assert len(window.store) == 2 and np.allclose(window.store.coordinates()[1], [350, 320], atol=1.0)

    # rectangle delete removes many in one step
    window.tool_actions[Tool.DELETE].trigger()
    a, b = screen_pos(window, 50, 50), screen_pos(window, 400, 400)
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(view.viewport(), pos=b)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=b)
    assert len(window.store) == 0
    window.undo.undo()
    assert len(window.store) == 2


def test_rerun_replaces_model_points_but_keeps_manual_ones(qtbot, window, sample_copy):
    window.open_slide(sample_copy)
    window.store.add(5.0, 5.0)  # a manual point
    run_detection(qtbot, window)
    first = len(window.store)
    run_detection(qtbot, window)
    assert len(window.store) == first
    assert window.store.count_by_source()[MANUAL] == 1


def test_export_and_reimport_geojson(qtbot, window, sample_copy, tmp_path):
    window.open_slide(sample_copy)
    run_detection(qtbot, window)
    window.store.add(10.0, 20.0)
    out = tmp_path / "export.geojson"
    assert window.export_geojson(out)
    doc = json.loads(out.read_text())
    assert all(f["properties"]["objectType"] == "detection" for f in doc["features"])
    other = NucleusStore()
    import_geojson(other, out)
    assert len(other) == len(window.store)
    window.store.clear()
    assert window.import_geojson(out, wait=True)
    assert len(window.store) == len(other)
    window.undo.undo()
    assert len(window.store) == 0


def test_corrupt_geojson_is_reported_and_changes_nothing(qtbot, window, sample_copy, tmp_path):
    window.open_slide(sample_copy)
    window.store.add(1.0, 2.0)
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": ["x", 1]}}]}')
    assert not window.import_geojson(bad, wait=True)
    assert "bad.geojson" in window.last_error and "feature 0" in window.last_error
    assert len(window.store) == 1


def test_unreadable_slide_is_reported_and_the_app_stays_up(qtbot, window, tmp_path, sample_copy):
    window.open_slide(sample_copy)
    window.store.add(1.0, 2.0)
    bad = tmp_path / "broken.svs"
    bad.write_text("not a slide")
    window.exported_revision = window.store.revision
    assert not window.open_slide(bad)
    assert "broken.svs" in window.last_error
    assert window.slide.path == sample_copy and len(window.store) == 1


def test_cancel_keeps_points_found_so_far(qtbot, window, tmp_path):
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1]))
    from helpers import sample_mosaic, write_pyramidal_tiff

    big = np.tile(sample_mosaic(), (3, 3, 1))
    path = write_pyramidal_tiff(tmp_path / "big.tif", big)
    window.open_slide(path)
    window.panel.region_combo.setCurrentIndex(2)  # whole slide
    seen = []
    window.panel.progress.valueChanged.connect(lambda v: seen.append(v) or (v >= 1 and window.cancel_run()))
    with qtbot.waitSignal(window.detectionFinished, timeout=120000) as blocker:
        qtbot.mouseClick(window.panel.detect_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0] is True
    done = max(seen)
    assert 1 <= done < window.panel.progress.maximum()
    assert len(window.store) > 0
    assert "cancelled" in window.panel.progress_label.text()


def test_autosave_and_restore(qtbot, window, sample_copy):
    from wnet_gui.annotations.autosave import autosave_path

    window.open_slide(sample_copy)
    window.store.add(11.0, 22.0)
    window.autosave()
    assert autosave_path(sample_copy).exists()
    window.exported_revision = window.store.revision
    window.store.clear()
    window.exported_revision = window.store.revision
    window.autosaver.saved_revision = window.store.revision  # pretend the clear was not saved
    assert window.open_slide(sample_copy)
    assert len(window.store) == 1 and window.store.coordinates()[0].tolist() == [11.0, 22.0]


def test_slide_unreadable_mid_run_stops_with_message_and_keeps_points(qtbot, window, tmp_path):
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1]))
    from helpers import sample_mosaic, write_pyramidal_tiff

    from wnet_gui.slides import SlideError

    path = write_pyramidal_tiff(tmp_path / "vanishing.tif", np.tile(sample_mosaic(), (2, 2, 1)))
    window.open_slide(path)
    window.panel.region_combo.setCurrentIndex(2)
    slide = window.slide
    real = slide.read_region
    calls = [0]

    def failing(*args, **kwargs):
        calls[0] += 1
        if calls[0] > 3:  # the file became unreadable after three tiles
            raise SlideError(slide.path, "file vanished")
        return real(*args, **kwargs)

    slide.read_region = failing
    with qtbot.waitSignal(window.detectionFinished, timeout=120000) as blocker:
        window.auto_detect()
    assert blocker.args[0] is True
    assert "vanishing.tif" in window.last_error and "file vanished" in window.last_error
    assert len(window.store) > 0  # the tiles read before the failure kept their points
    assert window._thread is None and window.panel.detect_button.isEnabled()


def test_draw_masks_then_editing_a_point_redraws_only_its_mask(qtbot, window, sample_copy, sample_truth):
    window.open_slide(sample_copy)
    window.store.add_many([100.0, 300.0, 200.0], [120.0, 250.0, 400.0])
    with qtbot.waitSignal(window.masksFinished, timeout=120000):
        qtbot.mouseClick(window.panel.masks_all, Qt.MouseButton.LeftButton)
    with_mask = [n.id for n in window.store if n.polygon is not None]
    assert len(with_mask) >= 2
    nid, other = with_mask[0], with_mask[1]
    other_polygon = window.store.get(other).polygon.copy()
    from wnet_gui.gui.commands import MovePointCommand

    from wnet_gui.annotations import read_geojson

    truth = read_geojson(sample_truth)
    centres = np.stack([truth.xs, truth.ys], axis=1)
    target = centres[np.argmin(np.linalg.norm(centres - [300, 400], axis=1))]  # a real nucleus
    steps = window.undo.count()
    with qtbot.waitSignal(window.masksFinished, timeout=60000):
        window.undo.push(MovePointCommand(window.store, nid, float(target[0]), float(target[1])))
    moved = window.store.get(nid)
    assert moved.polygon is not None  # redrawn at its new place ...
    assert np.linalg.norm(moved.polygon.mean(axis=0) - target) < 8
    assert np.array_equal(window.store.get(other).polygon, other_polygon)  # ... and only it
    assert window.undo.count() == steps + 1  # the redraw is part of the move
    window.undo.undo()
    assert np.allclose(window.store.coordinates(np.array([nid]))[0], [100, 120])
    window.undo.undo()  # the whole mask run
    qtbot.waitUntil(lambda: window._thread is None, timeout=60000)
    assert sum(n.polygon is not None for n in window.store) <= 1


def _drag(qtbot, view, a, b, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, modifier, pos=a)
    qtbot.mouseMove(view.viewport(), pos=b)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, modifier, pos=b)


def test_select_tool_then_masks_for_selected_points_only(qtbot, window, sample_copy):
    window.open_slide(sample_copy)
    ids = window.store.add_many([100.0, 140.0, 300.0, 420.0], [120.0, 110.0, 250.0, 400.0])
    view = window.view
    window.tool_actions[Tool.SELECT].trigger()
    _drag(qtbot, view, screen_pos(window, 80, 90), screen_pos(window, 160, 140))  # rectangle: first two
    assert list(view.selection.ids()) == list(ids[:2])
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, pos=screen_pos(window, 420, 400))
    assert list(view.selection.ids()) == [ids[0], ids[1], ids[3]]  # Ctrl-click adds ...
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, pos=screen_pos(window, 140, 110))
    assert list(view.selection.ids()) == [ids[0], ids[3]]  # ... and toggles off
    qtbot.waitUntil(lambda: window.panel.selected_label.text() == "2")

    with qtbot.waitSignal(window.masksFinished, timeout=120000):
        qtbot.mouseClick(window.panel.masks_selected, Qt.MouseButton.LeftButton)
    with_mask = sorted(n.id for n in window.store if n.polygon is not None)
    assert set(with_mask) <= {int(ids[0]), int(ids[3])} and len(with_mask) >= 1

    window.delete_selected()  # Delete key: one undo step, selection emptied
    assert len(window.store) == 2 and len(view.selection) == 0
    window.undo.undo()
    assert len(window.store) == 4


def test_overview_follows_the_view_and_moves_it(qtbot, window, sample_copy):
    window.open_slide(sample_copy)
    view, overview = window.view, window.overview
    view.scale_by(6.0)
    image = overview.image_rect()
    assert image.width() > 50
    target = QPointF(image.left() + image.width() * 0.8, image.top() + image.height() * 0.25)
    qtbot.mouseClick(overview, Qt.MouseButton.LeftButton, pos=target.toPoint())
    centre = view.visible_scene_rect().center()
    assert abs(centre.x() - 0.8 * 512) < 12 and abs(centre.y() - 0.25 * 512) < 12
    # the red box it draws is the visible area
    visible = view.visible_scene_rect()
    assert visible.width() < 200  # zoomed in: the view shows a part only


def test_drop_a_file_opens_it_and_it_joins_recent_files(qtbot, window, sample_copy):
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(sample_copy))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert window.slide is not None and window.slide.path == sample_copy
    recent = [a.text() for a in window.files.recent_menu.actions()]
    assert recent[0] == str(sample_copy)
    window.open_slide(sample_copy)  # reopening does not duplicate the entry
    assert [a.text() for a in window.files.recent_menu.actions()].count(str(sample_copy)) == 1


def test_large_export_runs_off_the_gui_thread_and_edits_go_on(qtbot, window, sample_copy, tmp_path):
    window.open_slide(sample_copy)
    rng = np.random.default_rng(0)
    window.store.add_many(rng.uniform(0, 511, 60000), rng.uniform(0, 511, 60000), source="fast")
    out = tmp_path / "big.geojson"
    start = time.perf_counter()
    with qtbot.waitSignal(window.exportFinished, timeout=60000) as blocker:
        window.export_geojson(out, background=True)
        returned = time.perf_counter() - start
        window.store.add(1.0, 2.0)  # editing while the file is written
    whole = time.perf_counter() - start
    assert returned < whole / 3, f"export blocked the GUI thread {returned:.2f} s of its {whole:.2f} s"
    assert blocker.args == [str(out), ""]
    assert len(json.loads(out.read_text())["features"]) == 60000  # the state when export began
    assert window.exported_revision < window.store.revision  # the later edit is not exported


def test_the_bundled_sample_is_autosaved_in_the_user_folder_not_beside_it(qtbot, window, tmp_path):
    from wnet_gui.gui.main_window import sample_path

    assert window.open_slide(sample_path())
    window.store.add(5.0, 6.0)
    window.autosave()
    assert window.autosaver.path.is_relative_to(tmp_path / "data-home")
    assert not list(sample_path().parent.glob("*.wnet-autosave.*"))


def test_region_outline_drawn_with_shift_limits_auto_detect_to_it(qtbot, window, sample_copy):
    """Draw region + Shift: an outline (here a triangle over the lower-left half); with
    'Region of interest' chosen, Auto-detect finds nuclei inside it only, and a manual point
    outside it survives the run."""
    from wnet_gui.geometry import PolygonRegion

    window.open_slide(sample_copy)
    view = window.view
    outside = window.store.add_many([450.0], [60.0])[0]  # manual, in the upper-right corner
    window.tool_actions[Tool.ROI].trigger()
    corners = [(5, 5), (5, 505), (505, 505)]
    shift = Qt.KeyboardModifier.ShiftModifier
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, shift, pos=screen_pos(window, *corners[0]))
    for x, y in corners[1:]:
        qtbot.mouseMove(view.viewport(), pos=screen_pos(window, x, y))
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, shift, pos=screen_pos(window, *corners[-1]))
    region = [(p.x(), p.y()) for p in view.roi]
    assert len(region) >= 3
    window.panel.region_combo.setCurrentIndex(window.panel.region_combo.findData("roi"))
    assert not run_detection(qtbot, window)
    detected = window.store.ids()[window.store.source_of(window.store.ids()) != MANUAL]
    xy = window.store.coordinates(detected)
    assert len(xy) > 40
    assert PolygonRegion.from_array(region).contains(xy[:, 0] + 0.5, xy[:, 1] + 0.5).all()
    assert outside in window.store


def test_model_info_shows_every_test_set_the_card_was_measured_on(qtbot, window):
    """Choosing a model shows the accuracy measured on each test set its card carries (the
    20× CRCHisto split and CoNSeP as well as MoNuSeg), with the card's own numbers; a typing
    model's card (type results beside the detection rows) also says how often its type is right."""
    from wnet_gui.gui.model_picker import detection_rows

    combo = window.panel.model_combo
    cards = [combo.itemData(i) for i in range(combo.count())]
    for index, card in enumerate(cards):
        combo.setCurrentIndex(index)
        text, hover = window.panel.model_info.text(), window.panel.model_info.toolTip()
        for key, dataset in (("monuseg_test", "MoNuSeg"), ("crchisto_test", "CRCHisto"), ("consep_test", "CoNSeP")):
            rows = detection_rows(card.metrics.get(key))
            for label, m in rows:  # the exact numbers on hover
                assert f"precision {m['precision']:.3f}, recall {m['recall']:.3f}, F1 {m['f1']:.3f}" in hover
            if rows:  # and in plain words: "finds about 95 % of the nuclei …"
                m = dict(rows).get("r=3um") or rows[0][1]
                assert f"Finds about {m['recall'] * 100:.0f} % of the nuclei in {dataset} test" in text
            assert (f"{dataset} test" in text) == bool(rows)
    fast = next(c for c in cards if c.name == "fast")
    combo.setCurrentIndex(cards.index(fast))
    assert "Finds about 95 % of the nuclei in MoNuSeg test; about 1 in 5 of its points is not a nucleus." in window.panel.model_info.text()
    accurate = next(c for c in cards if c.name == "accurate")
    assert "crchisto_test" in accurate.metrics and "Calls each nucleus" not in window.panel.model_info.text()
    typed = next(c for c in cards if c.name == "typed")
    combo.setCurrentIndex(cards.index(typed))
    accuracy = typed.metrics["crchisto_test"]["types"]["type_accuracy"]
    assert "Calls each nucleus Epithelial, Inflammatory, Stromal or Other; the type is right for about " \
           f"{accuracy * 100:.0f} % of the nuclei it finds in CRCHisto test" in window.panel.model_info.text()
    assert f"types over matched typed nuclei: accuracy {accuracy:.3f}" in window.panel.model_info.toolTip()


def test_sensitivity_follows_the_model_and_reaches_the_run(qtbot, window, sample_copy):
    """The Sensitivity box shows each model's own setting when chosen, and what the user sets
    is what the detection worker runs with: accurate at +2
    calls more of the sample's nuclei than at its card's 0."""
    panel = window.panel
    index = {panel.model_combo.itemData(i).name: i for i in range(panel.model_combo.count())}
    panel.model_combo.setCurrentIndex(index["accurate"])
    assert panel.sensitivity.value() == 0.0 and panel.sensitivity.isEnabled()
    window.open_slide(sample_copy)
    assert not run_detection(qtbot, window)
    at_card = len(window.store)
    panel.sensitivity.setValue(2.0)
    assert not run_detection(qtbot, window)  # the model's earlier points are replaced
    assert len(window.store) > at_card + 5
    panel.model_combo.setCurrentIndex(index["fast"])
    assert panel.sensitivity.value() == 0.0


def test_a_scale_the_user_states_shows_in_the_status_bar(qtbot, window, sample_copy, tmp_path, monkeypatch):
    """A PNG states no scale: Auto-detect asks for it, and the status bar says it from then on."""
    from PySide6.QtWidgets import QInputDialog

    from wnet_gui.slides.image_slide import load_rgb
    import cv2

    png = tmp_path / "tile.png"
    cv2.imwrite(str(png), load_rgb(sample_copy)[0][..., ::-1])
    assert window.open_slide(png)
    assert window.mpp_label.text().endswith("µm/px unknown")
    monkeypatch.setattr(QInputDialog, "getDouble", lambda *a, **k: (0.25, True))
    with qtbot.waitSignal(window.detectionFinished, timeout=120000):
        window.auto_detect()
    assert window.mpp_label.text().endswith("0.250 µm/px") and len(window.store) > 50
