"""Synthetic artefacts: painted only where the targets hold no nucleus, and really painted."""

import numpy as np
import pytest

from wnet_gui.detection.targets import density_map
from wnet_gui.training.artefacts import free_space, paint_artefacts
from wnet_gui.training.config import TrainConfig
from wnet_gui.training.data import CropSampler, PreparedTile


def test_free_space_keeps_clear_of_every_nucleus():
    centres = np.array([[20.0, 20.0], [60.0, 40.0]])
    density = density_map((80, 80), centres, d=10, alpha=3.0)
    free = free_space(density, np.zeros((80, 80), np.float32), keep_um=2.5, mpp=0.25)  # 10 px beyond the density's 10
    yy, xx = np.mgrid[:80, :80]
    nearest = np.min([np.hypot(xx - x, yy - y) for x, y in centres], axis=0)
    assert not free[nearest <= 19].any()
    assert free[nearest >= 22].all()


def test_paint_changes_only_free_pixels_and_reports_them():
    rng = np.random.default_rng(0)
    image = np.full((320, 320, 3), (220, 170, 210), np.uint8)  # eosin pink
    free = np.ones((320, 320), bool)
    free[:, :160] = False  # the left half holds nuclei
    painted_any = 0
    for _ in range(20):
        painted, coverage = paint_artefacts(image, free, 0.25, rng)
        changed = np.abs(painted.astype(int) - image).max(axis=2) > 0
        assert not changed[:, :160].any()
        assert np.array_equal(coverage, np.abs(painted.astype(int) - image).max(axis=2) > 24)
        painted_any += int(coverage.sum() > 0)
    assert painted_any >= 15  # almost every call leaves something that is not tissue


def test_artefacts_are_dark_or_glass_never_haematoxylin_blue():
    rng = np.random.default_rng(1)
    image = np.full((400, 400, 3), (230, 180, 220), np.uint8)
    painted, coverage = paint_artefacts(image, np.ones((400, 400), bool), 0.25, rng, count=(8, 9))
    pixels = painted[coverage].astype(int)
    dark = pixels.sum(axis=1) < 300
    assert dark.any()
    # pigment is brown to black: its blue never stands well above its red, as haematoxylin's does
    assert np.mean(pixels[dark][:, 2] - pixels[dark][:, 0] > 30) < 0.1


def test_sampler_paints_the_configured_share_of_crops():
    image = np.full((256, 256, 3), (220, 170, 210), np.uint8)
    empty = np.zeros((256, 256), np.float32)
    tile = PreparedTile("t", image, np.zeros((0, 2)), empty, empty)
    for share, low, high in ((0.0, 0, 0), (0.5, 25, 75), (1.0, 90, 100)):
        sampler = CropSampler([tile], 128, seed=3, stain_jitter=False, artefacts=share, mpp=0.25)
        painted = sum(int((sampler.sample()[0] != image[:128, :128]).any()) for _ in range(100))
        assert low <= painted <= high


def test_config_refuses_a_share_outside_0_1():
    with pytest.raises(ValueError, match="artefacts"):
        TrainConfig(name="x", architecture={}, artefacts=1.5)


def test_clean_twin_gets_the_same_jitter_and_differs_only_where_painted():
    rng_image = np.random.default_rng(4).integers(120, 230, (256, 256, 3)).astype(np.uint8)
    empty = np.zeros((256, 256), np.float32)
    tile = PreparedTile("t", rng_image, np.zeros((0, 2)), empty, empty)
    sampler = CropSampler([tile], 128, seed=5, stain_jitter=True, artefacts=1.0, mpp=0.25)
    differed = 0
    for _ in range(10):
        image, _, _, _, clean, covered = sampler.sample(with_clean=True)
        outside = ~covered
        assert np.abs(image.astype(int) - clean)[outside].max() <= 1  # the same stain jitter on both
        differed += int((np.abs(image.astype(int) - clean).max(axis=2) > 24)[covered].any())
    assert differed >= 8


def test_teacher_loss_is_zero_where_nothing_was_painted_and_teaches_nothing_on_artefacts():
    import torch

    from wnet_gui.training.trainer import teacher_loss

    torch.manual_seed(0)
    out = {"density": torch.rand(2, 1, 16, 16), "mask_logits": torch.randn(2, 1, 16, 16), "type_logits": torch.randn(2, 4, 16, 16)}
    same = {k: v.clone() for k, v in out.items()}
    keep = torch.ones(2, 1, 16, 16)
    bce_floor = torch.nn.functional.binary_cross_entropy_with_logits(out["mask_logits"], torch.sigmoid(out["mask_logits"]))
    assert float(teacher_loss(out, same, keep, 1.0)) == pytest.approx(float(bce_floor), abs=1e-6)  # BCE's own entropy: no gradient
    keep[:, :, :8] = 0  # an artefact over the top half: there the student must say "nothing"
    out["density"].requires_grad_(True)
    teacher_loss(out, same, keep, 1.0).backward()
    grad = out["density"].grad
    assert (grad[:, :, :8] > 0).all() and (grad[:, :, 8:] == 0).all()


def test_teacher_targets_need_a_teacher_and_artefacts():
    with pytest.raises(ValueError, match="teacher"):
        TrainConfig(name="x", architecture={}, targets="teacher", artefacts=0.5)
    with pytest.raises(ValueError, match="teacher"):
        TrainConfig(name="x", architecture={}, targets="teacher", init_weights="w.pt")
    with pytest.raises(ValueError, match="targets"):
        TrainConfig(name="x", architecture={}, targets="pseudo")


def test_a_teacher_run_keeps_the_model_where_there_are_no_artefacts(tmp_path, sample_tiff, sample_truth):
    """A tiny W-Net taught by its own initial weights drifts on the clean sample far less than
    the same run taught by the labels (same steps, same crops)."""
    import torch

    from helpers import TINY, sample_tile
    from wnet_gui.models.architectures import build_model
    from wnet_gui.models.spec import ArchitectureSpec
    from wnet_gui.training.data import prepare_tile
    from wnet_gui.training.trainer import Trainer

    torch.manual_seed(0)
    initial = build_model(ArchitectureSpec.from_dict(TINY)).eval()
    torch.save({"model": initial.state_dict(), "best": {"step": 0}}, tmp_path / "init.pt")
    drift = {}
    for targets in ("teacher", "labels"):
        cfg = TrainConfig(name="t", architecture=TINY, mpp=0.5, pretrained_lite=None, crop=64, batch=4, lr=3e-3, steps=12,
                          val_every=12, threads=2, device="cpu", init_weights=str(tmp_path / "init.pt"), targets=targets,
                          artefacts=1.0, val_thresholds=(0.3,))
        tile = prepare_tile(sample_tile(sample_tiff, sample_truth), cfg.mpp, cfg.stage1_target, cfg.density_radius_um, cfg.density_alpha)
        trainer = Trainer(cfg, tmp_path / targets)
        trainer.run([tile], [tile])
        x = torch.from_numpy(tile.image[None].copy()).permute(0, 3, 1, 2).float() / 127.5 - 1
        with torch.no_grad():
            drift[targets] = float((trainer.model.eval()(x)["density"] - initial(x)["density"]).abs().mean())
    print(drift)
    assert drift["teacher"] < 0.3 * drift["labels"], drift


def test_frozen_batchnorm_keeps_its_statistics_while_weights_learn(tmp_path, sample_tiff, sample_truth):
    import torch

    from helpers import TINY, sample_tile
    from wnet_gui.training.data import prepare_tile
    from wnet_gui.training.trainer import Trainer

    cfg = TrainConfig(name="t", architecture=TINY, mpp=0.5, pretrained_lite=None, crop=64, batch=2, lr=3e-3, steps=3, val_every=3,
                      threads=2, device="cpu", freeze_batchnorm=True, val_thresholds=(0.3,))
    tile = prepare_tile(sample_tile(sample_tiff, sample_truth), cfg.mpp, cfg.stage1_target, cfg.density_radius_um, cfg.density_alpha)
    trainer = Trainer(cfg, tmp_path / "run")
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.run([tile], [tile], resume=False)
    after = trainer.model.state_dict()
    running = [k for k in before if k.endswith(("running_mean", "running_var"))]
    assert running and all(torch.equal(before[k], after[k]) for k in running)
    assert any(not torch.equal(before[k], after[k]) for k in before if k.endswith("weight"))


def test_a_fine_tune_validates_its_starting_weights_first(tmp_path, sample_tiff, sample_truth):
    """The step-0 record is the bar a stop rule holds a fine-tune to (``pick_step.py --reference
    start``): it must score the initial weights, not the moving average that holds them only
    after its first update."""
    import json

    import torch

    from helpers import TINY, sample_tile
    from wnet_gui.engine.predict import DensityPredictor
    from wnet_gui.models.architectures import build_model
    from wnet_gui.models.spec import ArchitectureSpec
    from wnet_gui.training.data import prepare_tile
    from wnet_gui.training.trainer import Trainer, validate

    torch.manual_seed(1)
    initial = build_model(ArchitectureSpec.from_dict(TINY)).eval()
    torch.save({"model": initial.state_dict(), "best": {"step": 0}}, tmp_path / "init.pt")
    cfg = TrainConfig(name="t", architecture=TINY, mpp=0.5, pretrained_lite=None, crop=64, batch=2, lr=3e-3, steps=2,
                      val_every=2, threads=2, device="cpu", init_weights=str(tmp_path / "init.pt"), ema_decay=0.9,
                      val_thresholds=(0.05, 0.3))
    tile = prepare_tile(sample_tile(sample_tiff, sample_truth), cfg.mpp, cfg.stage1_target, cfg.density_radius_um, cfg.density_alpha)
    trainer = Trainer(cfg, tmp_path / "run")
    expected = validate(DensityPredictor(initial, trainer.card, torch.device("cpu"), trainer.precision), [tile], cfg.val_thresholds)
    trainer.run([tile], [tile], resume=False)
    records = [json.loads(line) for line in open(tmp_path / "run" / "log.jsonl") if '"val"' in line]
    assert [r["step"] for r in records] == [0, 2]
    assert records[0]["val"]["tp"] == expected["tp"] and records[0]["val"]["fp"] == expected["fp"]
    assert expected["tp"] + expected["fp"] > 0  # the untrained model marks something, so the counts say which weights ran


def test_stage1_offset_jitter_shifts_each_batch_within_its_range(tmp_path, sample_tiff, sample_truth):
    """With ``stage1_offset_jitter`` every training batch reaches stage 2 through a different
    shift of stage 1's logits, within ±j, drawn from the run's seed; without it, none."""
    import torch

    from helpers import TINY, sample_tile
    from wnet_gui.training.data import prepare_tile
    from wnet_gui.training.trainer import Trainer

    shifts = {}
    for jitter in (0.0, 1.5):
        cfg = TrainConfig(name="t", architecture=TINY, mpp=0.5, pretrained_lite=None, crop=64, batch=2, lr=3e-3, steps=6,
                          val_every=6, threads=2, device="cpu", stage1_offset_jitter=jitter, val_thresholds=(0.3,))
        tile = prepare_tile(sample_tile(sample_tiff, sample_truth), cfg.mpp, cfg.stage1_target, cfg.density_radius_um, cfg.density_alpha)
        trainer = Trainer(cfg, tmp_path / f"run{jitter}")
        seen = []
        forward = trainer.model.forward

        def spy(x, stage1_offset=0.0, levels=False, seen=seen, forward=forward):
            if torch.is_grad_enabled():  # a training step, not validation
                seen.append(stage1_offset)
            return forward(x, stage1_offset=stage1_offset, levels=levels)

        trainer.model.forward = spy
        trainer.run([tile], [tile], resume=False)
        shifts[jitter] = seen
    assert shifts[0.0] == [0.0] * 6
    assert len(shifts[1.5]) == 6 and all(-1.5 <= s <= 1.5 for s in shifts[1.5]) and len(set(shifts[1.5])) == 6


def test_stage1_offset_jitter_needs_a_w_net_and_a_sane_range():
    with pytest.raises(ValueError, match="two-stage"):
        TrainConfig(name="x", architecture={"kind": "unet"}, stage1_offset_jitter=1.0)
    with pytest.raises(ValueError, match="stage1_offset_jitter"):
        TrainConfig(name="x", architecture={"kind": "wnet"}, stage1_offset_jitter=-1.0)
