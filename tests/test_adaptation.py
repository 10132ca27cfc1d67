"""Adapting a model to reviewed regions (issue 19, headless): what is learned from where, the
held-back measurement, the saved card, and `wnet adapt`."""

import json

import numpy as np
import pytest

from wnet_gui.adaptation import AdaptSettings, ReviewedSlide, adapt, prepare, save_adapted
from wnet_gui.adaptation.finetune import measure
from wnet_gui.annotations import NucleusStore, import_geojson
from wnet_gui.cli.main import main
from wnet_gui.models.card import ModelCard
from wnet_gui.models.zoo import resolve_card


def truth_points(sample_truth):
    store = NucleusStore()
    import_geojson(store, sample_truth)
    return store.coordinates()


def test_examples_look_only_inside_reviewed_regions(sample_tiff, sample_truth):
    card = resolve_card("fast")
    points = truth_points(sample_truth)
    region = np.array([[0, 0], [300, 0], [300, 300], [0, 300]], float)
    [example] = prepare([ReviewedSlide(sample_tiff, points, [region])], card)
    ds = card.mpp / 0.25
    inside = (points[:, 0] <= 300) & (points[:, 1] <= 300)
    assert example.nuclei == inside.sum()  # only the reviewed points, in model pixels
    assert np.allclose(np.sort(example.centres[:, 0]), np.sort((points[inside, 0] - example.origin[0]) / ds))
    h, w = example.density.shape
    assert example.loss_mask.sum() < example.region_mask.sum()  # shrunk at the edge, held-back cells out
    assert not (example.loss_mask & example.held_back).any()
    assert example.held_back.any() and (example.held_back <= example.region_mask).all()
    assert example.density[~example.region_mask].max() < 1.0  # outside: no full-strength targets from unreviewed points


def test_adapt_improves_nothing_it_cannot_see_and_saves_a_checked_card(tmp_path, sample_tiff, sample_truth):
    base = resolve_card("fast")
    examples = prepare([ReviewedSlide(sample_tiff, truth_points(sample_truth))], base)
    result = adapt(base, examples, AdaptSettings(seconds=30, max_steps=3, crop=128))
    assert result.steps == 3 and result.after is not None and result.model is not None
    assert result.before.tp + result.before.fn == result.held_back_nuclei > 0
    card = save_adapted(base, result, [str(sample_tiff)], len(examples), tmp_path / "mine.json")
    again = ModelCard.load(tmp_path / "mine.json")
    again.load_model()  # the weights pass their sha256
    assert again.training["adaptation"]["base_sha256"] == base.sha256 and again.peaks.threshold == result.threshold
    assert again.training["adaptation"]["lineage"][-1]["model"] == "fast"
    # the held-back measurement of the saved card is what adapt reported
    from wnet_gui.engine.predict import DensityPredictor

    after = measure(DensityPredictor.from_card(again, "cpu", "auto"), examples, "held_back", (result.threshold,))[result.threshold]
    assert abs(after.f1 - result.after.f1) < 0.05  # fp16 weights on disk


def test_cancel_returns_no_model(sample_tiff, sample_truth):
    import threading

    base = resolve_card("fast")
    examples = prepare([ReviewedSlide(sample_tiff, truth_points(sample_truth))], base)
    cancel = threading.Event()
    seen = []

    def progress(stage, fraction):
        seen.append(stage)
        if "step 2" in stage:
            cancel.set()

    result = adapt(base, examples, AdaptSettings(seconds=60, max_steps=50, crop=128), progress, cancel)
    assert result.cancelled and result.model is None and result.steps == 0 and any("step 2" in s for s in seen)


def test_settings_are_checked():
    with pytest.raises(ValueError, match="tune"):
        AdaptSettings(tune="encoder")
    with pytest.raises(ValueError):
        AdaptSettings(seconds=0)


def test_wnet_adapt_cli(tmp_path, sample_tiff, sample_truth, monkeypatch, capsys):
    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "home"))
    regions = tmp_path / "regions.geojson"
    ring = [[0, 0], [400, 0], [400, 400], [0, 400], [0, 0]]
    regions.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {"objectType": "annotation"}}]}))
    code = main(["adapt", "--base", "fast", "--slide", str(sample_tiff), "--points", str(sample_truth), "--regions", str(regions),
                 "--seconds", "20", "--steps", "2", "--device", "cpu"])
    assert code == 0
    out = capsys.readouterr().out
    assert "before P" in out and "after P" in out
    cards = list((tmp_path / "home" / "wnet-annotator" / "models").glob("*.json"))
    assert len(cards) == 1 and cards[0].name.startswith("fast-adapted-")
    assert main(["models"]) == 0 and cards[0].stem in capsys.readouterr().out
    # too few nuclei: refused with a message
    assert main(["adapt", "--slide", str(sample_tiff), "--points", str(sample_truth), "--min-nuclei", "100000", "--steps", "1"]) == 2


def test_a_run_that_wrecks_the_model_falls_back_to_the_best_weights(sample_tiff, sample_truth):
    """A learning rate that destroys the network (as a flat density map would): the weights kept
    are the base's, scored on the training area — the adapted model is never the wreck."""
    base = resolve_card("fast")
    examples = prepare([ReviewedSlide(sample_tiff, truth_points(sample_truth))], base)
    result = adapt(base, examples, AdaptSettings(seconds=30, max_steps=4, crop=128, lr=0.5, check_seconds=0.0))
    assert result.steps == 4 and result.settings["best_step"] == 0
    assert result.after.f1 > 0.5 and result.after.f1 >= result.before.f1 - 0.05
