"""Training NuClick on MoNuSeg instance masks (CPU-sized, resumable).

Each sample is one nucleus: a click at a random pixel of its inner core (jittered ±3 px),
exclusion points at the other nuclei's centroids in the patch (half of them dropped, each
jittered), target = that nucleus' mask. Loss = weighted BCE + soft Dice, as in the paper.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from tqdm import tqdm

from ..datasets.tiles import NucleiTile
from ..models.checkpoint import load_checkpoint
from ..detection.segmentation_metrics import dice
from ..training.augment import hed_jitter, random_dihedral
from .card import NuClickCard
from .network import NuClickNet
from .patches import click_maps, stack_input


@dataclass
class NucleusSample:
    tile: int
    label: int
    core: np.ndarray  # (K, 2) x, y pixels of the nucleus' inner core


def index_nuclei(tiles: list[NucleiTile], min_area: int = 12) -> list[NucleusSample]:
    samples = []
    for t, tile in enumerate(tiles):
        objects = ndimage.find_objects(tile.instances)
        for label, sl in enumerate(objects, start=1):
            if sl is None:
                continue
            m = tile.instances[sl] == label
            if m.sum() < min_area:
                continue
            dist = ndimage.distance_transform_edt(np.pad(m, 1))[1:-1, 1:-1]
            core = dist >= 0.5 * dist.max()
            rows, cols = np.nonzero(core)
            samples.append(NucleusSample(t, label, np.stack([cols + sl[1].start, rows + sl[0].start], axis=1)))
    return samples


def crop_centered(array: np.ndarray, cx: int, cy: int, size: int, fill) -> np.ndarray:
    """size×size window whose centre pixel is (cx, cy); outside the array is ``fill``."""
    half = size // 2
    out = np.full((size, size) + array.shape[2:], fill, dtype=array.dtype)
    h, w = array.shape[:2]
    x0, y0 = cx - half, cy - half
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + size, w), min(y0 + size, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = array[sy0:sy1, sx0:sx1]
    return out


def make_sample(tile: NucleiTile, s: NucleusSample, size: int, rng: np.random.Generator | None, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """(5, size, size) input and (size, size) target for one nucleus."""
    if train:
        cx, cy = s.core[rng.integers(len(s.core))] + rng.integers(-3, 4, size=2)
    else:
        cx, cy = np.round(s.core.mean(axis=0)).astype(int)
    cx, cy = int(cx), int(cy)
    rgb = crop_centered(tile.image, cx, cy, size, 255)
    target = (crop_centered(tile.instances, cx, cy, size, 0) == s.label).astype(np.float32)
    own = np.argmin(((tile.centres - s.core.mean(axis=0)) ** 2).sum(axis=1))
    others = np.delete(tile.centres, own, axis=0)
    if train:
        others = others[rng.random(len(others)) >= 0.5]
        others = others + rng.normal(0, 1.5, others.shape)
    uv = others - [cx - size // 2, cy - size // 2]
    inclusion, exclusion = click_maps(size, uv)
    if train:
        rgb, inclusion, exclusion, target = random_dihedral([rgb, inclusion, exclusion, target], rng)
        rgb = hed_jitter(rgb, rng)
    return stack_input(rgb, inclusion, exclusion), target


def nuclick_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Weighted BCE (foreground weighted by its rarity) + soft Dice."""
    pos = target.mean().clamp(min=1e-3)
    weight = torch.where(target > 0.5, (1 - pos) / pos, torch.ones_like(target)).clamp(max=10.0)
    bce = F.binary_cross_entropy_with_logits(logits, target, weight=weight)
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum(dim=(1, 2, 3))
    dice = 1 - (2 * inter + 1) / (prob.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3)) + 1)
    return bce + dice.mean()


def validate(model: NuClickNet, tiles: list[NucleiTile], samples: list[NucleusSample], card: NuClickCard, device) -> float:
    from .postprocess import clean_mask

    model.eval()
    scores = []
    with torch.inference_mode():
        for start in range(0, len(samples), 32):
            chunk = samples[start : start + 32]
            pairs = [make_sample(tiles[s.tile], s, card.patch_size, None, False) for s in chunk]
            x = torch.from_numpy(np.stack([p[0] for p in pairs])).to(device)
            probs = torch.sigmoid(model(x))[:, 0].cpu().numpy()
            for prob, (_, target) in zip(probs, pairs):
                mask = clean_mask(prob, (card.patch_size // 2, card.patch_size // 2), card.threshold)
                scores.append(dice(mask, target > 0.5))
    return float(np.mean(scores))


def train_nuclick(run_dir: str | Path, width: int = 8, steps: int = 1500, batch: int = 16, lr: float = 4e-4,
                  val_every: int = 100, threads: int = 1, seed: int = 0, n_val: int = 400, precision: str = "auto") -> dict:
    """Train (or resume) NuClick in ``run_dir``; 'auto' precision uses bf16 autocast with
    channels-last where the hardware has native bf16 (2–3× faster steps on this CPU)."""
    from .. import datasets
    from ..engine.allocator import keep_freed_memory
    from ..engine.device import autocast, memory_format, select_device, select_precision

    torch.set_num_threads(threads)
    keep_freed_memory()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = select_device("auto")
    last = run_dir / "last.pt"
    resumed = load_checkpoint(last, device) if last.exists() else None  # before the data: a bad file fails at once
    card = NuClickCard(width=width)
    fit, val = datasets.load("monuseg", "fit"), datasets.load("monuseg", "val")
    fit_samples, val_samples = index_nuclei(fit), index_nuclei(val)
    val_samples = [val_samples[i] for i in np.random.default_rng(1).choice(len(val_samples), min(n_val, len(val_samples)), replace=False)]
    precision = select_precision(precision, device)
    layout = memory_format(precision)
    model = NuClickNet(width).to(device, memory_format=layout)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=4, min_lr=1e-7)
    step, best = 0, {"dice": -1.0}
    if resumed is not None:
        state = resumed
        model.load_state_dict(state["model"]), opt.load_state_dict(state["opt"]), sched.load_state_dict(state["sched"])
        step, best = state["step"], state["best"]
        rng.bit_generator.state = state["rng"]
    (run_dir / "config.json").write_text(json.dumps({"width": width, "steps": steps, "batch": batch, "lr": lr, "patch_size": card.patch_size, "mpp": card.mpp}))
    saved = time.monotonic()
    bar = tqdm(total=steps, initial=step, desc="nuclick", mininterval=10)
    while step < steps:
        model.train()
        chosen = rng.integers(len(fit_samples), size=batch)
        pairs = [make_sample(fit[fit_samples[i].tile], fit_samples[i], card.patch_size, rng, True) for i in chosen]
        x = torch.from_numpy(np.stack([p[0] for p in pairs])).to(device).contiguous(memory_format=layout)
        y = torch.from_numpy(np.stack([p[1] for p in pairs]))[:, None].to(device)
        with autocast(device, precision):
            logits = model(x)
        loss = nuclick_loss(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        bar.update(1)
        if step % val_every == 0 or step == steps:
            score = validate(model, val, val_samples, card, device)
            sched.step(score)
            with open(run_dir / "log.jsonl", "a") as fh:
                fh.write(json.dumps({"step": step, "loss": float(loss), "val_dice": score, "lr": opt.param_groups[0]["lr"]}) + "\n")
            if score > best["dice"]:
                best = {"dice": score, "step": step}
                torch.save(model.state_dict(), run_dir / "best.pt")
        if time.monotonic() - saved > 180 or step == steps:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "step": step,
                        "best": best, "rng": rng.bit_generator.state}, run_dir / "last.pt.tmp")
            (run_dir / "last.pt.tmp").replace(last)
            saved = time.monotonic()
    bar.close()
    return best


def export_nuclick(run_dir: str | Path, zoo: str | Path) -> NuClickCard:
    run_dir = Path(run_dir)
    cfg = json.loads((run_dir / "config.json").read_text())
    card = NuClickCard(width=cfg["width"], patch_size=cfg["patch_size"], mpp=cfg["mpp"], display_name="NuClick (slim)")
    model = card.build()
    model.load_state_dict(load_checkpoint(run_dir / "best.pt", "cpu"))
    card.training = {"config": cfg, "data": "MoNuSeg 2018 training tiles (24 fit / 6 validation); CC BY-NC-SA 4.0"}
    card.licence = "Weights derived from MoNuSeg (CC BY-NC-SA 4.0): non-commercial, share-alike, attribute Kumar et al. 2017/2019."
    return card.export(model, zoo)
