"""A W-Net that also types: its type map is read at each detected centre, and the engine,
detect_slide and the card carry the types through (groundwork for the typed model, issue 17)."""

import json

import numpy as np
import torch

from wnet_gui.annotations import read_geojson
from wnet_gui.engine.detect import DetectOptions, detect_slide, run_detection
from wnet_gui.engine.predict import DensityPredictor
from wnet_gui.models.architectures import build_model
from wnet_gui.models.spec import ArchitectureSpec
from wnet_gui.models.card import ModelCard
from wnet_gui.slides import ArraySlide
from wnet_gui.slides.image_slide import load_rgb

from helpers import TINY, TYPES, typed_card



def type_loss(trainer, prepared) -> float:
    """Cross-entropy of the trainer's type map on one fixed augmented batch (seed 7)."""
    from wnet_gui.training.data import CropSampler

    images, _, _, _, types = CropSampler([prepared], trainer.cfg.crop, 7).batch_typed(8)
    x = DensityPredictor(trainer.model, trainer.card).to_tensor(images)
    with torch.no_grad():
        logits = trainer.model.eval()(x)["type_logits"]
    return float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(types).long(), ignore_index=-1))


def test_typed_architecture_outputs_a_type_map(tmp_path):
    spec = ArchitectureSpec.from_dict({**TINY, "types": TYPES})
    out = build_model(spec)(torch.rand(1, 3, 64, 64))
    assert out["type_logits"].shape == (1, 4, 64, 64) and out["density"].shape == (1, 1, 64, 64)
    assert spec.to_dict()["types"] == TYPES and "types" not in ArchitectureSpec.from_dict(TINY).to_dict()


def test_card_round_trip_and_schema(tmp_path):
    card = typed_card(tmp_path)
    loaded = ModelCard.load(card.path)
    assert list(loaded.architecture.types) == TYPES
    data = json.loads(card.path.read_text())
    data["architecture"]["types"] = ["A", "A"]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    import pytest

    from wnet_gui.models.card import ModelError

    with pytest.raises(ModelError, match="distinct"):
        ModelCard.load(tmp_path / "bad.json")


def synthetic_maps(tiles: np.ndarray):
    """Density with a blob every 64 px, and a type map: left half Epithelial (0), right half
    Stromal (2) — so every centre's type is known from its x."""
    n, h, w = tiles.shape[:3]
    yy, xx = np.mgrid[0:h, 0:w]
    density = np.zeros((h, w), np.float32)
    for cy in range(32, h, 64):
        for cx in range(32, w, 64):
            density = np.maximum(density, np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 18.0).astype(np.float32))
    types = np.where(xx < w // 2, 0, 2).astype(np.int8)
    return np.repeat(density[None], n, 0), np.repeat(types[None], n, 0)


def test_engine_reads_the_type_at_each_centre(tmp_path, sample_tiff, monkeypatch):
    card = ModelCard.load(typed_card(tmp_path).path)
    predictor = DensityPredictor.from_card(card)
    monkeypatch.setattr(predictor, "predict_batch_typed", synthetic_maps)
    image = load_rgb(sample_tiff)[0][:256, :256]  # one tile at the model's 0.5 µm/px: 128 px
    run = run_detection(ArraySlide("s", image, 0.25), card, options=DetectOptions(skip_background=False, tile_size=128), predictor=predictor)
    assert len(run.centres) >= 4
    for (x, _), t in zip(run.centres, run.types):
        assert t == ("Epithelial" if x < 128 else "Stromal")


def test_detect_slide_writes_the_types_as_classes(tmp_path, sample_tiff, monkeypatch):
    card = ModelCard.load(typed_card(tmp_path).path)
    card.type_colors = {"Epithelial": [200, 0, 0], "Stromal": [10, 20, 30]}  # the card's colours, not the defaults
    monkeypatch.setattr(DensityPredictor, "predict_batch_typed", lambda self, tiles: synthetic_maps(tiles))
    out = tmp_path / "typed.geojson"
    run = detect_slide(sample_tiff, card, out, options=DetectOptions(device="cpu"))
    parsed = read_geojson(out)
    assert len(parsed) == len(run.centres) > 4 and set(parsed.classes) == {"Epithelial", "Stromal"}
    assert parsed.class_colors["Stromal"] == (10, 20, 30) and parsed.class_colors["Epithelial"] == (200, 0, 0)


def test_a_real_forward_pass_gives_one_type_per_centre(tmp_path):
    """Without the synthetic maps: the tiny typed model's own type map, biased to Stromal."""
    card = ModelCard.load(typed_card(tmp_path, forced_type=2).path)
    predictor = DensityPredictor.from_card(card)
    density, types = predictor.predict_batch_typed(np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3), dtype=np.uint8))
    assert density.shape == (2, 64, 64) and types.shape == (2, 64, 64) and (types == 2).all()
    assert predictor.types_at(types[0], np.array([[3.2, 60.7], [63.9, 0.0]])) == ["Stromal", "Stromal"]


def test_untyped_models_are_unchanged(sample_tiff):
    from wnet_gui.models.zoo import resolve_card

    card = resolve_card("fast")
    run = run_detection(ArraySlide("s", load_rgb(sample_tiff)[0][:256, :256], 0.25), card, options=DetectOptions(skip_background=False))
    assert run.types is None and len(run.centres) > 5


def test_type_targets_ignore_untyped_centres():
    from wnet_gui.detection.targets import type_target

    t = type_target((20, 40), np.array([[5, 5], [20, 10], [35, 15]], float), np.array([0, -1, 2]), radius=2)
    assert t[5, 5] == 0 and t[15, 35] == 2 and t[10, 20] == -1 and (t == -1).mean() > 0.8


def test_a_tiny_typed_wnet_learns_types(tmp_path, sample_tiff, sample_truth):
    """Typed training end to end on the bundled sample (its nuclei given made-up types by
    position): the type loss falls and the trained model types by position."""
    from helpers import sample_tile
    from wnet_gui.training.config import TrainConfig
    from wnet_gui.training.data import prepare_tile
    from wnet_gui.training.trainer import Trainer

    tile = sample_tile(sample_tiff, sample_truth)
    tile.types = ["Epithelial" if x < 256 else "Stromal" for x, _ in tile.centres]  # left/right halves
    arch = {**TINY, "types": TYPES}
    cfg = TrainConfig(name="typed", architecture=arch, mpp=0.5, pretrained_lite=None, crop=96, batch=4, lr=3e-3, steps=60,
                      val_every=60, threads=2, device="cpu")
    prepared = prepare_tile(tile, cfg.mpp, cfg.stage1_target, cfg.density_radius_um, cfg.density_alpha, "sample", tuple(TYPES), 3.0)
    assert set(np.unique(prepared.types)) == {-1, 0, 2}
    trainer = Trainer(cfg, tmp_path / "run")
    before = type_loss(trainer, prepared)
    trainer.run([prepared], [prepared])
    assert type_loss(trainer, prepared) < 0.6 * before


def test_benchmark_reports_type_metrics_for_a_typing_model(tmp_path, sample_tiff, monkeypatch):
    from wnet_gui.cli.benchmark_cmd import evaluate_card
    from wnet_gui.datasets.tiles import NucleiTile

    card = ModelCard.load(typed_card(tmp_path).path)
    monkeypatch.setattr(DensityPredictor, "predict_batch_typed", lambda self, tiles: synthetic_maps(tiles))
    image = load_rgb(sample_tiff)[0][:256, :256]
    # truth where the synthetic blobs are (every 64 model px = 128 px at 0.25 µm/px), typed by side
    xy = np.array([[x, y] for y in range(64, 256, 128) for x in range(64, 256, 128)], float)
    types = ["Epithelial" if x < 128 else "Inflammatory" for x, _ in xy]
    tile = NucleiTile("t", image, xy, 0.25, types=types)
    result = evaluate_card(card, [tile], device="cpu", dataset="consep")
    t = result["types"]
    assert result["r=12px@40x"]["tp"] == 4
    assert t["type_accuracy"] == 0.5  # left ones right (Epithelial), right ones wrong (Stromal vs Inflammatory)
    assert t["per_type"]["Epithelial"]["f1"] == 1.0 and t["per_type"]["Inflammatory"]["recall"] == 0.0


def test_type_branch_leaves_the_detector_exact(tmp_path):
    """A typing model loads a detector's stage 1 and stage 2 unchanged (its type branch is
    separate), so its density equals the detector's whatever the branch has learned."""
    torch.manual_seed(0)
    detector = build_model(ArchitectureSpec.from_dict(TINY)).eval()
    typed = build_model(ArchitectureSpec.from_dict({**TINY, "types": TYPES, "type_decoder_channels": [12, 6]})).eval()
    missing, unexpected = typed.load_state_dict(detector.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("type_branch.") for k in missing)
    x = torch.rand(1, 3, 40, 36)
    with torch.no_grad():
        out = typed(x)
        assert torch.equal(out["density"], detector(x)["density"])
        assert out["type_logits"].shape == (1, 4, 40, 36)
        typed.type_branch.head.bias += 5.0  # the branch changes, detection does not
        assert torch.equal(typed(x)["density"], detector(x)["density"])


def test_training_the_type_branch_alone_keeps_the_detector_bit_for_bit(tmp_path, sample_tiff, sample_truth):
    """``train_parts: ["type_branch"]`` on a detector's weights: the type loss falls while every
    other tensor — BatchNorm running statistics included — stays exactly the detector's."""
    from helpers import sample_tile

    from wnet_gui.training.config import TrainConfig
    from wnet_gui.training.data import prepare_tile
    from wnet_gui.training.trainer import Trainer, export_run

    torch.manual_seed(3)
    detector = build_model(ArchitectureSpec.from_dict(TINY))
    torch.save({"model": detector.state_dict()}, tmp_path / "detector.pt")
    tile = sample_tile(sample_tiff, sample_truth)
    tile.types = ["Epithelial" if x < 128 else "Inflammatory" for x, _ in tile.centres]  # typed by side
    cfg = TrainConfig(name="branch", architecture={**TINY, "types": TYPES}, mpp=0.5, pretrained_lite=None, crop=96, batch=4,
                      lr=3e-3, steps=30, val_every=30, threads=2, device="cpu", init_weights=str(tmp_path / "detector.pt"),
                      train_parts=["type_branch"], selection="typed")
    prepared = prepare_tile(tile, cfg.mpp, cfg.stage1_target, cfg.density_radius_um, cfg.density_alpha, "t", tuple(TYPES))
    trainer = Trainer(cfg, tmp_path / "run")
    trainer.initialise()
    before = type_loss(trainer, prepared)
    trainer.run([prepared], [prepared], resume=False)
    assert type_loss(trainer, prepared) < 0.7 * before
    now = trainer.model.state_dict()
    kept = detector.state_dict()
    assert kept and all(torch.equal(now[k], v) for k, v in kept.items())
    assert any(not torch.equal(now[k], v) for k, v in build_model(ArchitectureSpec.from_dict({**TINY, "types": TYPES})).state_dict().items()
               if k.startswith("type_branch.") and v.is_floating_point())
    card = export_run(tmp_path / "run", tmp_path / "zoo")  # the card names the types' colours
    assert card.type_colors == {"Epithelial": [200, 0, 0], "Inflammatory": [0, 120, 255], "Stromal": [150, 200, 150], "Other": [255, 200, 0]}
    assert ModelCard.load(card.path).type_colors == card.type_colors
    # the same run's detector alone (wnet export-model --detector-only): no types, the same centres
    from wnet_gui.cli.main import main as wnet

    assert wnet(["export-model", str(tmp_path / "run"), "--name", "plain", "--detector-only", "--to", str(tmp_path / "zoo")]) == 0
    plain = ModelCard.load(tmp_path / "zoo" / "plain.json")
    assert not plain.architecture.types and not plain.type_colors
    assert not any(k.startswith("type_branch.") for k in plain.load_model().state_dict())
    slide = ArraySlide("t", tile.image, tile.mpp)
    typed_run = run_detection(slide, card, options=DetectOptions(device="cpu", precision="fp32", threshold=0.01))
    plain_run = run_detection(slide, plain, options=DetectOptions(device="cpu", precision="fp32", threshold=0.01))
    assert len(typed_run.centres) > 0 and np.array_equal(typed_run.centres, plain_run.centres) and plain_run.types is None
    import pytest

    cfg.train_parts = ["type_brunch"]
    with pytest.raises(ValueError, match="no submodule 'type_brunch'"):
        Trainer(cfg, tmp_path / "run2")
