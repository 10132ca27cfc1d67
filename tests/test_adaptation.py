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
    assert (card.name, card.sha256) == (again.name, again.sha256)  # what was saved is what loads
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


def typed_review(sample_tiff, sample_truth):
    """The sample's nuclei typed by position (left Epithelial, right Inflammatory), a few left
    untyped ("Nucleus") and one of a class no model knows."""
    points = truth_points(sample_truth)
    types = ["Epithelial" if x < 256 else "Inflammatory" for x, _ in points]
    types[0], types[1], types[2] = "Nucleus", None, "Mitosis"
    return ReviewedSlide(sample_tiff, points, types=types), points, types


def test_reviewed_classes_become_type_targets_where_training_looks(tmp_path, sample_tiff, sample_truth):
    from helpers import TYPES, typed_card

    card = typed_card(tmp_path)
    review, points, types = typed_review(sample_tiff, sample_truth)
    [example] = prepare([review], card)
    assert example.centre_types == [None, None, "Mitosis"] + types[3:]
    assert example.stats["typed"] == len(points) - 3 and example.stats["unknown_types"] == ["Mitosis"]
    assert set(np.unique(example.type_map)) == {-1, TYPES.index("Epithelial"), TYPES.index("Inflammatory")}
    assert (example.type_map[~example.loss_mask] == -1).all()  # never on held-back cells nor outside the region
    labelled = [(c, t) for c, t in zip(example.centres, types) if t in TYPES]
    u, v = np.round(labelled[5][0]).astype(int)
    if example.loss_mask[v, u]:
        assert example.type_map[v, u] == TYPES.index(labelled[5][1])
    # a detector (no types) gets no type map, whatever the points' classes
    [plain] = prepare([review], resolve_card("fast"))
    assert plain.type_map is None and plain.stats["typed"] == 0


def fast_that_calls_everything_stromal(tmp_path) -> ModelCard:
    """``fast``'s detector (real peaks on the sample) with a type branch biased to Stromal."""
    import copy

    import torch

    from helpers import TYPES
    from wnet_gui.models.architectures import build_model
    from wnet_gui.models.spec import ArchitectureSpec

    fast = resolve_card("fast")
    spec = ArchitectureSpec.from_dict({**fast.architecture.to_dict(), "types": TYPES, "type_decoder_channels": [16]})
    model = build_model(spec)
    missing, unexpected = model.load_state_dict(fast.load_model().state_dict(), strict=False)
    assert not unexpected and all(k.startswith("type_branch.") for k in missing)
    with torch.no_grad():
        conv = model.type_branch.head[0]
        conv.weight.zero_()
        conv.bias[:] = -10.0
        conv.bias[TYPES.index("Stromal")] = 10.0
    card = copy.deepcopy(fast)
    card.name, card.architecture, card.path = "fast-typed-tiny", spec, None
    return card.export(model, tmp_path, half=False)


def test_adapting_a_typing_model_learns_the_reviewed_types(tmp_path, sample_tiff, sample_truth):
    """A typing model that calls everything Stromal (wrong for every reviewed point) learns
    the reviewed types with only its type branch learning; its detector stays exact."""
    import torch

    card = fast_that_calls_everything_stromal(tmp_path)
    review, _, _ = typed_review(sample_tiff, sample_truth)
    examples = prepare([review], card)
    result = adapt(card, examples, AdaptSettings(tune="types", seconds=120, max_steps=12, crop=96, lr=3e-3, check_seconds=0.0))
    assert result.before.typed_pairs > 10 and result.before.type_accuracy == 0.0
    assert result.after.typed_pairs > 10 and result.after.type_accuracy > 0.3
    base = card.load_model()
    for name, tensor in base.state_dict().items():
        if not name.startswith("type_branch."):
            assert torch.equal(tensor, result.model.state_dict()[name]), name
    saved = save_adapted(card, result, [str(sample_tiff)], len(examples), tmp_path / "typed-mine.json")
    after = json.loads((tmp_path / "typed-mine.json").read_text())["metrics"]["adaptation_held_back"]["after"]
    assert after["type_accuracy"] == round(result.after.type_accuracy, 4) and "type accuracy" in saved.description


def test_wnet_adapt_reads_the_points_classes_for_a_typing_model(tmp_path, sample_tiff, sample_truth, capsys):
    card = fast_that_calls_everything_stromal(tmp_path)
    review, points, types = typed_review(sample_tiff, sample_truth)
    csv_points = tmp_path / "corrected.csv"
    csv_points.write_text("x,y,class\n" + "".join(f"{x},{y},{t or ''}\n" for (x, y), t in zip(points, types)))
    code = main(["adapt", "--base", str(card.path), "--slide", str(sample_tiff), "--points", str(csv_points), "--tune", "types",
                 "--seconds", "30", "--steps", "3", "--lr", "3e-3", "--device", "cpu", "-o", str(tmp_path / "out.json")])
    assert code == 0
    captured = capsys.readouterr()
    assert f"({len(points) - 3} of a type the model knows)" in captured.err and "Mitosis" in captured.err
    assert "types of the matched held-back nuclei: accuracy 0.000 →" in captured.out


def test_calibration_undoes_a_stage_one_that_is_too_shy(tmp_path, sample_tiff, sample_truth):
    """accurate set 3 logits too shy (as a new lab's stain can make it) calls few nuclei; the
    calibration, before any weight moves, finds a sensitivity that calls them again, and the
    adapted card keeps it."""
    base = resolve_card("accurate")
    base.peaks.sensitivity = -3.0
    examples = prepare([ReviewedSlide(sample_tiff, truth_points(sample_truth))], base)
    result = adapt(base, examples, AdaptSettings(seconds=30, max_steps=1, crop=64, lr=1e-9))
    assert set(result.settings["calibration"]) == {"-3", "-2", "-1", "0", "1", "2", "3"}
    assert result.sensitivity >= -1.0
    assert result.after.recall > result.before.recall + 0.1 and result.after.f1 > result.before.f1
    card = save_adapted(base, result, [str(sample_tiff)], len(examples), tmp_path / "calibrated.json")
    assert ModelCard.load(card.path).peaks.sensitivity == result.sensitivity


def test_calibrating_only_moves_the_sensitivity_not_a_weight(tmp_path, sample_tiff, sample_truth, monkeypatch, capsys):
    """tune="none" (`wnet adapt --tune none`): the shy stage 1 is corrected by the sensitivity
    alone, in no training step; the saved card says so and its weights are the base's."""
    import torch

    base = resolve_card("accurate")
    base.peaks.sensitivity = -3.0
    examples = prepare([ReviewedSlide(sample_tiff, truth_points(sample_truth))], base)
    seen = []
    result = adapt(base, examples, AdaptSettings(tune="none"), lambda stage, f: seen.append(f))
    assert max(f for f in seen if f < 1) > 0.5 and seen == sorted(seen)  # the progress bar moves through the calibration
    assert result.steps == 0 and result.settings["tune"] == "none" and result.sensitivity >= -1.0
    assert result.after.f1 > result.before.f1 + 0.05
    reference = base.load_model().state_dict()
    assert all(torch.equal(v, reference[k]) for k, v in result.model.state_dict().items())
    card = save_adapted(base, result, [str(sample_tiff)], len(examples), tmp_path / "calibrated.json")
    again = ModelCard.load(card.path)
    assert "calibrated to" in again.display_name and "weights unchanged" in again.description
    assert again.peaks.sensitivity == result.sensitivity and again.training["adaptation"]["base_model"] == "accurate"
    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "home"))
    assert main(["adapt", "--base", "fast", "--slide", str(sample_tiff), "--points", str(sample_truth), "--tune", "none", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "0 steps" in out and "weights unchanged (--tune none)" in out
    assert [c.name.startswith("fast-calibrated-") for c in (tmp_path / "home" / "wnet-annotator" / "models").glob("*.json")] == [True]


def test_each_reviewed_type_weighs_the_same_in_the_type_loss():
    from types import SimpleNamespace

    import torch

    from wnet_gui.adaptation.finetune import _balanced_type_weights

    card = SimpleNamespace(architecture=SimpleNamespace(types=("Epithelial", "Inflammatory", "Stromal", "Other")))
    examples = [SimpleNamespace(centre_types=["Epithelial"] * 25 + [None] * 7 + ["Mitosis"]),
                SimpleNamespace(centre_types=["Epithelial"] * 5 + ["Inflammatory"] * 10)]
    weights = _balanced_type_weights(examples, card, torch.device("cpu"))
    assert torch.allclose(weights, torch.tensor([40 / 60, 40 / 20, 1.0, 1.0]))  # 30 × 0.667 = 10 × 2
    assert _balanced_type_weights([SimpleNamespace(centre_types=[None])], card, "cpu") is None


def test_by_default_a_typing_model_keeps_its_encoder_and_its_types(tmp_path, sample_tiff, sample_truth):
    """tune auto = decoders for a typing model, and the reviewed classes teach nothing unless
    asked (type_weight 0): the encoder its type branch reads and the branch stay exact while
    the detection decoders learn."""
    import torch

    card = fast_that_calls_everything_stromal(tmp_path)
    review, _, _ = typed_review(sample_tiff, sample_truth)
    result = adapt(card, prepare([review], card), AdaptSettings(seconds=30, max_steps=3, crop=96, lr=1e-3, calibrate=False))
    assert result.settings["tune"] == "decoders"
    before, after = card.load_model().state_dict(), result.model.state_dict()
    kept = [k for k in before if k.startswith(("stage1.encoder.", "type_branch."))]
    assert kept and all(torch.equal(before[k], after[k]) for k in kept)
    if result.settings["best_step"]:  # the trained weights were kept: the decoders moved
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("stage2."))
    assert result.after.type_accuracy == result.before.type_accuracy == 0.0  # still all Stromal
