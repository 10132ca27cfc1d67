"""A W-Net that also types: its type map is read at each detected centre, and the engine,
detect_slide and the card carry the types through (groundwork for the typed model, issue 17)."""

import json

import numpy as np
import torch

from wnet_gui.annotations import read_geojson
from wnet_gui.engine.detect import DetectOptions, detect_slide, run_detection
from wnet_gui.engine.predict import DensityPredictor
from wnet_gui.models.architectures import ArchitectureSpec, build_model
from wnet_gui.models.card import ModelCard, PeakSettings
from wnet_gui.slides import ArraySlide
from wnet_gui.slides.image_slide import load_rgb

from test_models import TINY

TYPES = ["Epithelial", "Inflammatory", "Stromal", "Other"]


def typed_card(tmp_path, forced_type: int | None = 2) -> ModelCard:
    """A tiny typed W-Net whose type head always says ``forced_type`` (bias), exported as a card."""
    spec = ArchitectureSpec.from_dict({**TINY, "types": TYPES})
    torch.manual_seed(0)
    model = build_model(spec)
    head = model.stage1.head
    assert head.out_channels == 1 + len(TYPES)
    with torch.no_grad():
        head.weight[1:].zero_()
        head.bias[1:] = -10.0
        head.bias[1 + forced_type] = 10.0
    card = ModelCard(name="typed-tiny", architecture=spec, mpp=0.5, margin=0, peaks=PeakSettings(threshold=0.0, min_distance_um=4.0))
    return card.export(model, tmp_path, half=False)


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
    monkeypatch.setattr(DensityPredictor, "predict_batch_typed", lambda self, tiles: synthetic_maps(tiles))
    out = tmp_path / "typed.geojson"
    run = detect_slide(sample_tiff, card, out, options=DetectOptions(device="cpu"))
    parsed = read_geojson(out)
    assert len(parsed) == len(run.centres) > 4 and set(parsed.classes) == {"Epithelial", "Stromal"}


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
    from test_training import sample_tile
    from wnet_gui.training.config import TrainConfig
    from wnet_gui.training.data import CropSampler, prepare_tile
    from wnet_gui.training.trainer import Trainer, detection_loss

    tile = sample_tile(sample_tiff, sample_truth)
    tile.types = ["Epithelial" if x < 256 else "Stromal" for x, _ in tile.centres]  # left/right halves
    arch = {**TINY, "types": TYPES}
    cfg = TrainConfig(name="typed", architecture=arch, mpp=0.5, pretrained_lite=None, crop=96, batch=4, lr=3e-3, steps=60,
                      val_every=60, threads=2, device="cpu")
    prepared = prepare_tile(tile, cfg.mpp, cfg.stage1_target, cfg.density_radius_um, cfg.density_alpha, "sample", tuple(TYPES), 3.0)
    assert set(np.unique(prepared.types)) == {-1, 0, 2}
    trainer = Trainer(cfg, tmp_path / "run")

    def type_loss():
        images, masks, dens, has, types = CropSampler([prepared], cfg.crop, 7).batch_typed(8)
        from wnet_gui.engine.predict import DensityPredictor
        from wnet_gui.training.trainer import card_from_config

        pred = DensityPredictor(trainer.model, card_from_config(cfg))
        with torch.no_grad():
            out = trainer.model(pred.to_tensor(images))
        full = detection_loss(out, torch.from_numpy(masks)[:, None], torch.from_numpy(dens)[:, None], torch.from_numpy(has), 1.0,
                              torch.from_numpy(types), 1.0)
        base = detection_loss(out, torch.from_numpy(masks)[:, None], torch.from_numpy(dens)[:, None], torch.from_numpy(has), 1.0)
        return float(full - base)

    before = type_loss()
    trainer.run([prepared], [prepared])
    assert type_loss() < 0.6 * before


def test_benchmark_reports_type_metrics_for_a_typing_model(tmp_path, sample_tiff, monkeypatch):
    from wnet_gui.cli.benchmark_cmd import evaluate_card
    from wnet_gui.datasets.monuseg import NucleiTile

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


def test_widened_head_keeps_the_detectors_mask_channel(tmp_path):
    from wnet_gui.training.trainer import widen_heads

    torch.manual_seed(0)
    detector = build_model(ArchitectureSpec.from_dict(TINY))
    typed = build_model(ArchitectureSpec.from_dict({**TINY, "types": TYPES}))
    filled = widen_heads(typed, detector.state_dict())
    assert filled == ["stage1.head.weight", "stage1.head.bias"]
    assert torch.equal(typed.stage1.head.weight[:1], detector.stage1.head.weight)
    typed.stage1.load_state_dict({k: v for k, v in detector.stage1.state_dict().items() if not k.startswith("head")}, strict=False)
    typed.stage2.load_state_dict(detector.stage2.state_dict())
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(typed(x)["density"], detector(x)["density"], atol=1e-6)  # detection intact from step 0
