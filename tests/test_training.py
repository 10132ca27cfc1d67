"""A tiny W-Net learns on real MoNuSeg crops (the bundled sample) in a few steps."""

import json

import numpy as np
import torch

from wnet_gui.annotations import read_geojson
from wnet_gui.datasets.monuseg import NucleiTile, rasterise_instances
from wnet_gui.slides.image_slide import load_rgb
from wnet_gui.training.config import TrainConfig
from wnet_gui.training.data import prepare_tile
from wnet_gui.training.trainer import Trainer, export_run

from test_models import TINY


def sample_tile(sample_tiff, sample_truth) -> NucleiTile:
    image = load_rgb(sample_tiff)[0]
    parsed = read_geojson(sample_truth)
    polygons = [p for p in parsed.polygons]
    centres = np.stack([parsed.xs, parsed.ys], axis=1)
    return NucleiTile("sample", image, centres, 0.25, rasterise_instances(polygons, image.shape[:2]), polygons)


def test_tiny_wnet_loss_falls_and_run_resumes_and_exports(tmp_path, sample_tiff, sample_truth):
    tile = sample_tile(sample_tiff, sample_truth)
    cfg = TrainConfig(name="tiny", architecture=TINY, mpp=0.5, pretrained_lite=None, crop=96, batch=4,
                      lr=3e-3, steps=40, val_every=20, threads=2, device="cpu")
    prepared = prepare_tile(tile, cfg.mpp, cfg.stage1_target, cfg.density_radius_um, cfg.density_alpha)
    assert prepared.image.shape == (256, 256, 3) and prepared.mask.mean() > 0.1
    trainer = Trainer(cfg, tmp_path / "run")
    before = batch_loss(trainer.model, cfg, prepared)
    best = trainer.run([prepared], [prepared])
    after = batch_loss(trainer.model, cfg, prepared)
    assert after < 0.7 * before
    logged = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if "val" in r] == [20, 40]
    assert best["step"] in (20, 40) and 0 <= best["f1"] <= 1
    # resume: a second trainer continues from the checkpoint instead of starting again
    cfg.steps = 45
    again = Trainer(cfg, tmp_path / "run")
    again.run([prepared], [prepared])
    assert again.step == 45
    card = export_run(tmp_path / "run", tmp_path / "zoo")
    assert card.load_model() is not None and card.peaks.threshold == best["threshold"]


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
