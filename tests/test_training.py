"""A tiny W-Net learns on real MoNuSeg crops (the bundled sample) in a few steps."""

import json

import numpy as np
import pytest
import torch

from wnet_gui.training.config import TrainConfig
from wnet_gui.training.data import prepare_tile
from wnet_gui.training.trainer import Trainer, export_run

from helpers import TINY, sample_tile



def test_tiny_wnet_loss_falls_and_run_resumes_and_exports(tmp_path, sample_tiff, sample_truth):
    tile = sample_tile(sample_tiff, sample_truth)
    cfg = TrainConfig(name="tiny", architecture=TINY, mpp=0.5, pretrained_lite=None, crop=96, batch=4,
                      lr=3e-3, steps=40, val_every=20, threads=2, device="cpu", keep_validated=True)
    prepared = prepare_tile(tile, cfg.mpp, cfg.stage1_target, cfg.density_radius_um, cfg.density_alpha)
    assert prepared.image.shape == (256, 256, 3) and prepared.mask.mean() > 0.1
    trainer = Trainer(cfg, tmp_path / "run")
    before = batch_loss(trainer.model, cfg, prepared)
    best = trainer.run([prepared], [prepared])
    after = batch_loss(trainer.model, cfg, prepared)
    assert after < 0.7 * before
    logged = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if "val" in r] == [20, 40]
    scored = {r["step"]: r["val"]["score"] for r in logged if "val" in r}
    assert best["step"] == max(scored, key=scored.get) and best["f1"] == next(r["val"]["f1"] for r in logged if r["step"] == best["step"] and "val" in r)
    # resume: a second trainer continues from the checkpoint instead of starting again
    cfg.steps = 45
    again = Trainer(cfg, tmp_path / "run")
    again.run([prepared], [prepared])
    assert again.step == 45
    card = export_run(tmp_path / "run", tmp_path / "zoo")
    assert card.load_model() is not None and card.peaks.threshold == best["threshold"]
    # a step picked afterwards by a rule: exactly the weights and threshold that validation saw
    val20 = next(r["val"] for r in logged if r.get("step") == 20)
    at20 = export_run(tmp_path / "run", tmp_path / "zoo", name="tiny20", step=20)
    assert at20.training["best_step"] == 20 and at20.peaks.threshold == val20["threshold"]
    kept = torch.load(tmp_path / "run" / "step-20.pt", weights_only=False)["model"]
    assert all(torch.equal(v.half().float(), kept[k].half().float()) for k, v in at20.load_model().state_dict().items() if v.is_floating_point())
    with pytest.raises(FileNotFoundError, match="steps 20, 40"):
        export_run(tmp_path / "run", tmp_path / "zoo", step=30)


def batch_loss(model, cfg, prepared) -> float:
    """Loss of ``model`` on one fixed augmented batch (seed 123)."""
    from wnet_gui.engine.predict import DensityPredictor
    from wnet_gui.training.data import CropSampler
    from wnet_gui.training.trainer import card_from_config, detection_loss

    images, masks, dens, has = CropSampler([prepared], cfg.crop, 123).batch(8)
    pred = DensityPredictor(model, card_from_config(cfg))
    model.train()
    with torch.no_grad():
        out = model(pred.to_tensor(images))
        return float(detection_loss(out, torch.from_numpy(masks)[:, None], torch.from_numpy(dens)[:, None], torch.from_numpy(has), cfg.loss_alpha))


def test_fine_tuning_starts_from_the_given_weights(tmp_path):
    """``init_weights`` (a card or a checkpoint) is what a joint/fine-tuning run starts from."""
    import torch

    from wnet_gui.models.zoo import resolve_card
    from wnet_gui.training.trainer import initial_weights

    card = resolve_card("fast")
    state = initial_weights(card.path)
    model = card.load_model()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    torch.save({"model": state}, tmp_path / "best.pt")
    assert initial_weights(tmp_path / "best.pt").keys() == state.keys()


def test_crop_sampler_draws_each_dataset_in_its_share(sample_tiff, sample_truth):
    """Joint training: crops come from each dataset in the configured share, and crops of
    a dataset without masks (CRCHisto) are flagged so stage 1's BCE skips them."""
    import pytest

    from wnet_gui.training.data import CropSampler, PreparedTile

    tile = sample_tile(sample_tiff, sample_truth)
    with_mask = prepare_tile(tile, 0.5, "nucleus", 2.5, 3.0, "monuseg")
    centres_only = PreparedTile("c", with_mask.image, with_mask.centres, None, with_mask.density, "crchisto")
    sampler = CropSampler([with_mask, centres_only], 64, seed=0, shares={"monuseg": 1, "crchisto": 3})
    has_mask = [sampler.sample()[3] for _ in range(400)]
    assert 60 <= sum(has_mask) <= 140  # expected 100 of 400 (1 : 3), binomial sd 8.7
    equal = CropSampler([with_mask, centres_only], 64, seed=0)
    assert np.allclose(equal.weights, [0.5, 0.5])
    with pytest.raises(ValueError, match="pannuke"):
        CropSampler([with_mask], 64, seed=0, shares={"pannuke": 1.0})


def test_macro_selection_keeps_the_small_dataset_in_view(monkeypatch):
    """With 'macro' the threshold maximises the mean of the datasets' F1, so a dataset with
    few validation nuclei is not sacrificed to the pooled count of a large one."""
    from types import SimpleNamespace

    import wnet_gui.engine.detect as detect
    from wnet_gui.training.data import PreparedTile
    from wnet_gui.training.trainer import validate

    rng = np.random.default_rng(0)
    big_truth = rng.uniform(0, 900, (100, 2)) // 30 * 30 + 15  # on a 30 px grid: no two within 3 µm
    big_truth = np.unique(big_truth, axis=0)
    small_truth = big_truth[:10]
    false_pos = big_truth[:30] + 12.0  # 12 px = 6 µm from any truth at 0.5 µm/px
    runs = {
        "big": detect.DetectionRun(centres=np.concatenate([big_truth, false_pos]),
                                   scores=np.r_[np.full(len(big_truth), 0.5), np.full(30, 0.035)]),
        "small": detect.DetectionRun(centres=small_truth, scores=np.full(10, 0.04)),
    }
    monkeypatch.setattr(detect, "run_detection", lambda slide, *a, **k: runs[slide.path.name])
    blank = np.zeros((900, 900, 3), np.uint8)
    tiles = [PreparedTile("big", blank, big_truth, None, blank[..., 0], "monuseg"),
             PreparedTile("small", blank, small_truth, None, blank[..., 0], "crchisto")]
    predictor = SimpleNamespace(card=SimpleNamespace(mpp=0.5), device=torch.device("cpu"))
    pooled_choice = validate(predictor, tiles, (0.03, 0.1), "pooled")
    macro_choice = validate(predictor, tiles, (0.03, 0.1), "macro")
    assert pooled_choice["threshold"] == 0.1 and pooled_choice["f1_crchisto"] == 0.0
    assert macro_choice["threshold"] == 0.03 and macro_choice["f1_crchisto"] == 1.0
    assert macro_choice["score"] == np.mean([macro_choice["f1_monuseg"], macro_choice["f1_crchisto"]])


def test_model_card_states_how_a_joint_run_used_its_datasets():
    from wnet_gui.training.trainer import joint_scheme

    base = dict(name="j", architecture=TINY, datasets=["monuseg", "crchisto"])
    masks = joint_scheme(TrainConfig(**base))
    dots = joint_scheme(TrainConfig(**base, stage1_target="dots", dataset_shares={"monuseg": 1, "crchisto": 3}, selection="macro"))
    assert "only from MoNuSeg" in masks and "monuseg 50%, crchisto 50%" in masks and "pooled" in masks
    assert "dots" in dots and "monuseg 25%, crchisto 75%" in dots and "mean of the datasets" in dots


def test_a_mistyped_choice_fails_when_the_config_is_read():
    import pytest

    base = dict(name="j", architecture=TINY)
    with pytest.raises(ValueError, match="selection"):
        TrainConfig(**base, selection="mean")
    with pytest.raises(ValueError, match="amp"):
        TrainConfig(**base, amp="fp16")
    with pytest.raises(ValueError, match="ema_decay"):
        TrainConfig(**base, ema_decay=1.0)


def test_ema_run_validates_and_keeps_the_averaged_weights(tmp_path, sample_tiff, sample_truth):
    """With ema_decay the weights validated and saved as best are the moving average, not
    the last step's, and the average survives a resume."""
    tile = sample_tile(sample_tiff, sample_truth)
    cfg = TrainConfig(name="tiny-ema", architecture=TINY, mpp=0.5, pretrained_lite=None, crop=96, batch=4,
                      lr=3e-3, steps=10, val_every=10, threads=2, device="cpu", ema_decay=0.9)
    prepared = prepare_tile(tile, cfg.mpp, cfg.stage1_target, cfg.density_radius_um, cfg.density_alpha)
    trainer = Trainer(cfg, tmp_path / "run")
    trainer.run([prepared], [prepared])
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=False)["model"]
    averaged = trainer.ema.module.state_dict()
    raw = trainer.model.state_dict()
    weights = [k for k, v in raw.items() if v.is_floating_point()]
    assert all(torch.equal(best[k], averaged[k]) for k in weights)
    assert any(not torch.allclose(averaged[k], raw[k]) for k in weights)
    assert int(trainer.ema.n_averaged) == 10
    cfg.steps = 12
    again = Trainer(cfg, tmp_path / "run")
    again.run([prepared], [prepared])
    assert int(again.ema.n_averaged) == 12


def test_training_without_its_data_says_where_it_looked(tmp_path, monkeypatch):
    import pytest

    from wnet_gui.training.trainer import load_training_tiles

    monkeypatch.setenv("WNET_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=f"no monuseg images.*{tmp_path}.*WNET_DATA"):
        load_training_tiles(TrainConfig(name="j", architecture=TINY), "fit")


def test_init_parts_moves_a_trained_stage_under_a_new_encoder(tmp_path):
    """A larger stage 1 with the trained stage 2 of an earlier model: exactly the named
    submodule is taken, and a part that does not fit is refused, never loaded in part."""
    import pytest

    from wnet_gui.models.architectures import build_model
    from wnet_gui.models.spec import ArchitectureSpec

    wider = {**TINY, "stage1": {"encoder": "basic", "decoder_channels": [12, 24, 48], "encoder_depth": 3}}
    torch.manual_seed(1)
    old = build_model(ArchitectureSpec.from_dict(TINY))
    torch.save({"model": old.state_dict()}, tmp_path / "old.pt")
    cfg = TrainConfig(name="w", architecture=wider, pretrained_lite=None, device="cpu",
                      init_weights=str(tmp_path / "old.pt"), init_parts=["stage2"])
    trainer = Trainer(cfg, tmp_path / "run")
    fresh_stage1 = {k: v.clone() for k, v in trainer.model.state_dict().items() if k.startswith("stage1.")}
    trainer.initialise()
    now = trainer.model.state_dict()
    assert all(torch.equal(now[k], v) for k, v in old.state_dict().items() if k.startswith("stage2."))
    assert all(torch.equal(now[k], v) for k, v in fresh_stage1.items())
    cfg.init_parts = ["stage1"]
    with pytest.raises(ValueError, match="shapes differ"):
        Trainer(cfg, tmp_path / "run2").initialise()
    cfg.init_parts = ["stage3"]
    with pytest.raises(ValueError, match="no submodule"):
        Trainer(cfg, tmp_path / "run3").initialise()


def test_scaled_crops_resize_nuclei_and_keep_targets_aligned():
    """Scale jitter: a disc of known radius comes out scaled by the drawn factor, and the
    target drawn on the same disc lands on the same pixels."""
    from wnet_gui.training.augment import random_scaled_crop

    size, radius = 64, 8
    yy, xx = np.mgrid[:160, :160]
    disc = ((yy - 80) ** 2 + (xx - 80) ** 2 <= radius**2)
    image = np.repeat((disc * 255).astype(np.uint8)[..., None], 3, axis=2)
    target = disc.astype(np.float32)
    areas = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        out_image, out_target = random_scaled_crop([image[32:128, 32:128], target[32:128, 32:128]], size, rng, 0.3)
        assert out_image.shape == (size, size, 3) and out_target.shape == (size, size)
        np.testing.assert_allclose(out_image[..., 0] / 255.0, out_target, atol=0.01)
        edges = np.concatenate([out_target[0], out_target[-1], out_target[:, 0], out_target[:, -1]])
        if edges.max() == 0:  # the whole disc in view
            areas.append(out_target.sum())
    assert len(areas) > 20
    ratio = np.sqrt(np.array(areas) / (np.pi * radius**2))  # the radius' scale factor
    assert ratio.min() < 0.85 and ratio.max() > 1.15 and 0.65 < ratio.min() and ratio.max() < 1.4


def test_lab_appearance_changes_only_the_image_and_is_reproducible():
    from wnet_gui.training.augment import appearance, gaussian_defocus, jpeg_roundtrip
    from wnet_gui.training.config import TrainConfig

    from helpers import sample_mosaic

    image = np.ascontiguousarray(sample_mosaic()[:256, :256])
    a = appearance(image, np.random.default_rng(3), "lab")
    b = appearance(image, np.random.default_rng(3), "lab")
    assert a.shape == image.shape and a.dtype == np.uint8 and np.array_equal(a, b)
    assert np.abs(a.astype(int) - image).mean() > 2  # it does change the look
    blurred = gaussian_defocus(image, np.random.default_rng(0), max_sigma=1.5)
    sharpness = lambda im: np.abs(np.diff(im.astype(float), axis=1)).mean()  # noqa: E731
    assert sharpness(blurred) < 0.8 * sharpness(image)
    jpeg = jpeg_roundtrip(image, np.random.default_rng(0), quality=(30, 30))
    assert jpeg.shape == image.shape and 0 < np.abs(jpeg.astype(int) - image).mean() < 10
    with pytest.raises(ValueError, match="appearance"):
        TrainConfig(name="x", architecture={}, appearance="strong")


def test_typed_selection_weighs_types_with_detection(monkeypatch):
    """selection='typed': the score is the mean of the detection score and the weighted type F1
    over matched typed nuclei (untyped truth counts for detection only)."""
    import wnet_gui.engine.detect as detect
    from wnet_gui.engine.detect import DetectionRun
    from wnet_gui.training.data import PreparedTile
    from wnet_gui.training.trainer import validate

    centres = np.array([[10.0, 10.0], [40.0, 10.0], [70.0, 10.0], [100.0, 10.0]])
    truth_types = ["Epithelial", "Epithelial", "Stromal", None]
    said = ["Epithelial", "Stromal", "Stromal", "Other"]  # 2 of the 3 typed right

    def fake_run(slide, card, options=None, predictor=None, **kw):
        return DetectionRun(centres=centres.copy(), scores=np.full(4, 0.9, np.float32), types=list(said))

    monkeypatch.setattr(detect, "run_detection", fake_run)

    class Predictor:
        types = ("Epithelial", "Inflammatory", "Stromal", "Other")
        device = torch.device("cpu")

        class card:
            mpp = 0.5

    zero = np.zeros((128, 128), np.float32)
    tile = PreparedTile("t", np.zeros((128, 128, 3), np.uint8), centres, None, zero, "crchisto", None, truth_types)
    best = validate(Predictor(), [tile], (0.5,), "typed")
    assert best["f1"] == 1.0  # every centre found
    # weighted F1 over the 3 typed pairs: Epithelial (support 2) F1 = 2/3, Stromal (support 1) F1 = 2/3
    assert best["type_weighted_f1"] == pytest.approx(2 / 3)
    assert best["score"] == pytest.approx(0.5 * (1.0 + 2 / 3))
    with pytest.raises(ValueError, match="typing model"):
        validate(Predictor(), [PreparedTile("u", tile.image, centres, None, zero, "monuseg")], (0.5,), "typed")
