"""Classes by hand: hotkeys set the class of the selection (one undo step), new points take
the active class, counts per class in the drawn region, a typed round trip keeps classes and
colours, and a pathologist's class stays told apart from a model's."""

import json

from PySide6.QtCore import QPointF, QRectF, Qt

from wnet_gui.annotations import NucleusStore, import_geojson
from wnet_gui.gui.commands import AddPointsCommand
from wnet_gui.gui.mouse_bindings import Tool


def screen(win, x, y):
    return win.view.mapFromScene(QPointF(x + 0.5, y + 0.5))


def test_hotkey_sets_the_class_of_the_selection_and_undo_restores_it(qtbot, window, sample_copy):
    window.open_slide(sample_copy)
    ids = window.store.add_many([100.0, 140.0, 300.0], [120.0, 110.0, 250.0], source="fast")
    window.view.selection.set(ids[:2])
    assert window.classes.names[:5] == ["Nucleus", "Epithelial", "Inflammatory", "Stromal", "Other"]
    window.view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_3)  # Inflammatory
    assert window.store.classes_of(ids) == ["Inflammatory", "Inflammatory", "Nucleus"]
    assert all(window.store.extras[int(i)]["class_by_hand"] for i in ids[:2])
    window.undo.undo()
    assert window.store.classes_of(ids) == ["Nucleus"] * 3 and int(ids[0]) not in window.store.extras
    window.undo.redo()
    assert window.store.classes_of(ids[:2]) == ["Inflammatory"] * 2


def test_new_points_take_the_active_class(qtbot, window, sample_copy):
    window.open_slide(sample_copy)
    window.view.selection.clear()
    qtbot.keyClick(window, Qt.Key.Key_2)  # nothing selected: Epithelial becomes the active class
    assert window.classes.active == "Epithelial"
    window.tool_actions[Tool.ADD].trigger()
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=screen(window, 200, 200))
    assert [n.cls for n in window.store] == ["Epithelial"]


def test_counts_per_class_in_a_drawn_region(qtbot, window, sample_copy):
    window.open_slide(sample_copy)
    window.undo.push(AddPointsCommand(window.store, [50, 60, 70, 400], [50, 60, 70, 400], cls="Epithelial"))
    window.undo.push(AddPointsCommand(window.store, [80, 410], [80, 410], cls="Stromal"))
    window.view.set_roi(QRectF(40, 40, 60, 60))  # holds (50..80): 3 Epithelial, 1 Stromal
    window.update_counts()
    table = window.classes.table
    row = {window.classes.names[r]: r for r in range(table.rowCount())}
    cell = lambda name, col: table.item(row[name], col).text()  # noqa: E731
    assert (cell("Epithelial", 3), cell("Epithelial", 5)) == ("4", "3")
    assert (cell("Stromal", 3), cell("Stromal", 5)) == ("2", "1")
    # and set everything inside the region to the active class, as one step
    window.classes.set_active("Other")
    window.classes.set_class_in_region("Other")
    window.update_counts()
    assert cell("Other", 5) == "4" and cell("Epithelial", 3) == "1"
    window.undo.undo()
    window.update_counts()
    assert cell("Epithelial", 5) == "3"


def test_typed_geojson_round_trip_keeps_classes_colours_and_who_set_them(qtbot, window, sample_copy, tmp_path):
    window.open_slide(sample_copy)
    ids = window.store.add_many([10.0, 20.0, 30.0], [10.0, 20.0, 30.0], source="fast", classes=["Epithelial", "Stromal", "Other"])
    window.classes.recolour("Stromal", (10, 200, 30))
    window.view.selection.set(ids[2:])
    window.classes.number_key(3)  # Other → Inflammatory, by hand
    out = tmp_path / "typed.geojson"
    assert window.export_geojson(out)
    doc = json.loads(out.read_text())
    by_class = {f["properties"]["classification"]["name"]: f for f in doc["features"]}
    assert tuple(by_class["Stromal"]["properties"]["classification"]["color"]) == (10, 200, 30)
    assert {"name": "Class set by hand", "value": 1} in by_class["Inflammatory"]["properties"]["measurements"]
    assert "Class set by hand" not in by_class["Epithelial"]["properties"].get("measurements", {})
    back = NucleusStore()
    import_geojson(back, out)
    assert sorted(n.cls for n in back) == ["Epithelial", "Inflammatory", "Stromal"]
    assert back.class_colors["Stromal"] == (10, 200, 30)
    hand = [n for n in back if (back.extras.get(n.id) or {}).get("class_by_hand")]
    assert [n.cls for n in hand] == ["Inflammatory"]


def test_class_list_is_kept_with_the_slide_and_per_user(qtbot, window, sample_copy):
    window.open_slide(sample_copy)
    window.classes.add("Mitosis", (255, 0, 255))
    window.store.add(5.0, 5.0, cls="Mitosis")
    window.autosave()
    assert "Mitosis" in json.loads(window.settings.value("classes/list"))[-1]["name"]
    window.exported_revision = window.store.revision
    window.open_slide(sample_copy)  # restored from autosave
    assert window.store.class_list[-1] == "Mitosis" and window.store.class_colors["Mitosis"] == (255, 0, 255)
    assert "Mitosis" in window.classes.names


def test_hidden_classes_are_not_drawn(qtbot, window, sample_copy):
    window.open_slide(sample_copy)
    window.store.add_many([256.0], [256.0], classes=["Stromal"])
    row = window.classes.names.index("Stromal")
    shown = lambda: window.view.grab().toImage().pixelColor(screen(window, 256, 256))  # noqa: E731
    before = shown()
    window.classes.table.item(row, 2).setCheckState(Qt.CheckState.Unchecked)
    qtbot.wait(20)
    assert window.view.style.hidden_classes and shown() != before


def test_a_hand_set_class_is_marked_apart_from_the_selection(qtbot, window, sample_copy):
    """A hand-set class: a dark square's corner; the selection: a round white halo. Clearing
    the selection (Edit › Clear selection, Ctrl+Shift+A) leaves no ring at all."""
    window.open_slide(sample_copy)
    ids = window.store.add_many([200.0, 300.0], [200.0, 300.0], source="fast", classes=["Epithelial", "Epithelial"])
    window.classes.by_class.setChecked(True)
    window.view.one_to_one()
    window.view.centerOn(250, 250)
    qtbot.wait(20)
    half = window.view.style.size / 2 + 2.0
    corner = lambda x, y: window.view.grab().toImage().pixelColor(window.view.mapFromScene(QPointF(x + 0.5 + half, y + 0.5 + half)))  # noqa: E731
    ring = lambda x, y: window.view.grab().toImage().pixelColor(window.view.mapFromScene(QPointF(x + 0.5 + (window.view.style.size + 6) / 2, y + 0.5)))  # noqa: E731
    before, other_before, ring_before = corner(200, 200), corner(300, 300), ring(300, 300)
    window.view.selection.set(ids[:1])
    window.classes.number_key(2)  # the same class, now by hand
    window.view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)  # Clear selection
    assert len(window.view.selection) == 0
    qtbot.wait(20)
    assert corner(200, 200).lightness() < 40 and corner(200, 200) != before  # the dark square of "set by hand"
    assert corner(300, 300) == other_before  # the model's one has none
    window.view.selection.set(ids[1:])
    qtbot.wait(20)
    assert ring(300, 300).lightness() > 200 and ring(300, 300) != ring_before  # selected: a white halo, not a square


def test_class_colours_switch_off_again_for_untyped_nuclei_unless_the_user_chose(qtbot, window, sample_copy, tmp_path):
    """After `typed` (by class, switched on by the app) a slide of untyped points is drawn by
    source again (model and manual colours); a choice the user clicked stays."""
    window.open_slide(sample_copy)
    window.store.add_many([100.0], [100.0], source="typed", classes=["Epithelial"])
    window.classes.sync_from_store()
    assert window.classes.by_class.isChecked()
    window.store.clear()
    window.store.add_many([50.0], [50.0], source="fast")
    window.classes.sync_from_store()
    assert not window.classes.by_class.isChecked()
    qtbot.mouseClick(window.classes.by_class, Qt.MouseButton.LeftButton)  # the user wants class colours
    assert window.classes.by_class.isChecked()
    window.classes.sync_from_store()
    assert window.classes.by_class.isChecked()
