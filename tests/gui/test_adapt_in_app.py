"""Issue 19 in the app: mark a region reviewed (undoable, autosaved, exported), adapt the model
on it in a worker, the new card appears selected and can be reverted; cancel leaves the model
as it was; detection never touches a reviewed region; the bundled files are never written."""

import hashlib
import json

import numpy as np
from PySide6.QtCore import QRectF, Qt

from wnet_gui.annotations import NucleusStore
from wnet_gui.annotations.snapshot_io import read_snapshot, write_snapshot
from wnet_gui.models.card import ModelCard
from wnet_gui.models.zoo import user_models_dir, zoo_dir


def zoo_fingerprint() -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(zoo_dir().iterdir()) if p.is_file()}


def reviewed_sample(qtbot, window, sample_copy, sample_truth, rect=QRectF(0, 0, 300, 300)):
    window.open_slide(sample_copy)
    assert window.import_geojson(sample_truth, wait=True)
    window.view.set_roi(rect)
    window.view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    return window.store.reviewed_ids()


def test_mark_reviewed_is_undoable_autosaved_and_exported(qtbot, window, sample_copy, sample_truth, tmp_path):
    inside = reviewed_sample(qtbot, window, sample_copy, sample_truth)
    assert len(window.store.reviewed) == 1 and 30 < len(inside) < len(window.store)
    xy = window.store.coordinates(inside)
    assert (xy >= 0).all() and (xy <= 300).all()
    assert window.review.summary.text() == f"1 reviewed region(s), {len(inside):,} nuclei"
    window.undo.undo()
    assert window.store.reviewed == [] and window.review.summary.text() == "No reviewed regions yet"
    window.undo.redo()
    assert len(window.store.reviewed) == 1
    # autosave snapshot keeps it
    snap = tmp_path / "s.npz"
    write_snapshot(window.store, snap)
    back = NucleusStore()
    read_snapshot(snap, back)
    assert len(back.reviewed) == 1 and np.allclose(back.reviewed[0], window.store.reviewed[0])
    # GeoJSON export carries it as a QuPath annotation; re-import restores it once, not twice
    out = tmp_path / "out.geojson"
    assert window.export_geojson(out)
    features = json.loads(out.read_text())["features"]
    regions = [f for f in features if f["properties"].get("classification", {}).get("name") == "Reviewed"]
    assert len(regions) == 1 and regions[0]["properties"]["objectType"] == "annotation"
    window.open_slide(sample_copy)  # the autosave brings it back ...
    assert len(window.store.reviewed) == 1
    assert window.import_geojson(out, wait=True)  # ... and importing the export adds no second copy
    assert len(window.store.reviewed) == 1


def test_detection_leaves_reviewed_regions_alone(qtbot, window, sample_copy, sample_truth):
    inside = reviewed_sample(qtbot, window, sample_copy, sample_truth, QRectF(0, 0, 200, 200))
    before = window.store.coordinates(inside)
    window.panel.region_combo.setCurrentIndex(window.panel.region_combo.findData("slide"))
    with qtbot.waitSignal(window.detectionFinished, timeout=120000):
        window.auto_detect()
    now = window.store.reviewed_ids()
    assert np.array_equal(np.sort(now), np.sort(inside))  # none replaced, none added inside
    assert np.allclose(window.store.coordinates(now), before)
    assert len(window.store) > len(inside)  # the rest of the slide was detected


def test_adapt_on_a_tiny_budget_selects_the_new_card_and_reverts(qtbot, window, sample_copy, sample_truth, monkeypatch):
    from wnet_gui.adaptation.finetune import AdaptResult

    monkeypatch.setattr(AdaptResult, "improved", property(lambda self: True))  # two steps rarely help: the selecting path
    zoo_before = zoo_fingerprint()
    inside = reviewed_sample(qtbot, window, sample_copy, sample_truth, QRectF(0, 0, 512, 512))  # the whole 512² sample
    tools = window.adaptation
    tools.settings.seconds, tools.settings.max_steps, tools.settings.crop = 20.0, 2, 128
    tools.min_nuclei = len(inside) + 1
    tools.refresh()
    assert not tools.adapt_button.isEnabled()  # not enough reviewed nuclei yet
    tools.min_nuclei = 50
    tools.refresh()
    assert tools.adapt_button.isEnabled() and not tools.revert_button.isVisible()
    qtbot.mouseClick(tools.adapt_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.runs.busy, timeout=180000)
    card = window.panel.current_card()
    assert tools.last_card is not None and card.name == tools.last_card.name and card.name.startswith("fast-adapted-")
    assert card.path.parent == user_models_dir()
    assert "adapted to" in card.display_name and "Fast" in card.display_name
    provenance = card.training["adaptation"]
    assert provenance["base_model"] == "fast" and provenance["nuclei"] == len(inside) and provenance["steps"] == 2
    assert set(card.metrics["adaptation_held_back"]) == {"before", "after"}
    assert "→" in tools.status.text()
    ModelCard.load(card.path).load_model()  # sha256 and schema checked like a bundled card
    names = [window.panel.model_combo.itemData(i).name for i in range(window.panel.model_combo.count())]
    assert card.name in names and "fast" in names
    assert tools.revert_button.isVisible()
    qtbot.mouseClick(tools.revert_button, Qt.MouseButton.LeftButton)
    assert window.panel.current_card().name == "fast" and not tools.revert_button.isVisible()
    assert zoo_fingerprint() == zoo_before  # adaptation never touches the bundled files


def test_cancel_mid_adaptation_keeps_the_old_model(qtbot, window, sample_copy, sample_truth):
    reviewed_sample(qtbot, window, sample_copy, sample_truth, QRectF(0, 0, 512, 512))
    tools = window.adaptation
    tools.settings.seconds, tools.settings.max_steps, tools.settings.crop = 120.0, 10_000, 128
    tools.min_nuclei = 50
    tools.refresh()
    stages = []
    tools.start()
    tools.worker.progress.connect(lambda token, progress: stages.append(progress[0]))
    qtbot.waitUntil(lambda: any("step" in s for s in stages), timeout=120000)
    window.cancel_run()
    qtbot.waitUntil(lambda: not window.runs.busy, timeout=60000)
    assert window.panel.current_card().name == "fast"
    assert "cancelled" in window.panel.progress_label.text()
    assert not user_models_dir().exists() or not list(user_models_dir().glob("*.json"))


def test_calibrate_button_sets_a_calibrated_card_with_the_base_weights(qtbot, window, sample_copy, sample_truth, monkeypatch):
    """The Calibrate button: seconds, no training step; the new card is selected, named
    "calibrated", carries the chosen sensitivity and the base's weights (the same file, linked:
    no copy), and reverts in one click."""
    import os

    import torch

    from wnet_gui.adaptation.finetune import AdaptResult

    monkeypatch.setattr(AdaptResult, "improved", property(lambda self: True))
    inside = reviewed_sample(qtbot, window, sample_copy, sample_truth, QRectF(0, 0, 512, 512))
    tools = window.adaptation
    tools.min_nuclei = 50
    tools.refresh()
    assert tools.calibrate_button.isEnabled() and len(inside) >= 50
    qtbot.mouseClick(tools.calibrate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.runs.busy, timeout=120000)
    card = window.panel.current_card()
    assert card.name.startswith("fast-calibrated-") and "calibrated to" in card.display_name
    provenance = card.training["adaptation"]
    assert provenance["steps"] == 0 and provenance["settings"]["tune"] == "none"
    assert "weights unchanged" in tools.status.text() and "Calibrated model saved" in window.panel.progress_label.text()
    assert window.panel.sensitivity.value() == card.peaks.sensitivity  # the panel follows the calibrated card
    assert "Calibrated (weights unchanged) from Fast" in window.panel.model_info.text()
    base = ModelCard.load(zoo_dir() / "fast.json").load_model().state_dict()
    mine = ModelCard.load(card.path).load_model().state_dict()
    assert all(torch.equal(mine[k].half(), v.half()) for k, v in base.items() if v.is_floating_point())
    bundled = ModelCard.load(zoo_dir() / "fast.json").weights_path
    if os.stat(bundled).st_dev == os.stat(card.path.parent).st_dev:  # one file system: a link, not an 11 MB copy
        assert os.path.samefile(card.weights_path, bundled)
    qtbot.mouseClick(tools.revert_button, Qt.MouseButton.LeftButton)
    assert window.panel.current_card().name == "fast"


def test_a_result_that_is_not_better_is_said_plainly_and_not_selected(qtbot, window, sample_copy, sample_truth, monkeypatch):
    """Calibrate (through the Analysis menu, as Qt fires it) ends no better on the held-back
    cells: the base stays selected, the status says so in plain words, and the saved card is
    marked "not better"."""
    from wnet_gui.adaptation.finetune import AdaptResult

    monkeypatch.setattr(AdaptResult, "improved", property(lambda self: False))
    reviewed_sample(qtbot, window, sample_copy, sample_truth, QRectF(0, 0, 512, 512))
    tools = window.adaptation
    tools.min_nuclei = 50
    tools.refresh()
    action = next(a for m in window.menuBar().actions() if m.menu() for a in m.menu().actions()
                  if a.text().replace("&", "") == "Calibrate sensitivity to reviewed regions")
    action.trigger()
    qtbot.waitUntil(lambda: not window.runs.busy, timeout=120000)
    assert window.panel.current_card().name == "fast"
    assert "not better" in tools.status.text() and f"{window.panel.current_card().title} stays selected" in tools.status.text()
    saved = ModelCard.load(tools.last_card.path)
    assert saved.display_name.endswith("· not better") and saved.training["adaptation"]["improved"] is False
    names = [window.panel.model_combo.itemData(i).name for i in range(window.panel.model_combo.count())]
    assert saved.name in names  # listed for whoever wants to try it
    assert not tools.revert_button.isVisible()
