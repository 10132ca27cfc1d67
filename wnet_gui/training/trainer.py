"""The training loop: BCE(mask) + α·L1(density), Adam, reduce-on-plateau on validation F1.

With ``ema_decay`` > 0 an exponential moving average of the weights (and BatchNorm
statistics) is what gets validated, selected and exported: at batch 4 on a CPU the raw
weights' validation F1 swings by several points from one check to the next.

Runs unchanged on CPU (here, 2 cores) and CUDA. A run lives in one folder: ``last.pt``
(everything needed to resume, written every few minutes), ``best.pt`` (the weights with
the best validation F1 and the peak threshold that gave it) and ``log.jsonl``.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..detection.metrics import MATCH_RADIUS_UM
from ..evaluation import Annotated, detect_all, pooled_tally, tally_runs
from ..engine.device import autocast, memory_format, select_device
from ..engine.predict import DensityPredictor
from ..models.architectures import build_model, stage1_encoder
from ..models.spec import ArchitectureSpec
from ..models.card import ModelCard, PeakSettings
from ..models.checkpoint import load_checkpoint
from .config import SELECTIONS, TrainConfig
from .data import CropSampler, PreparedTile, prepare_tile

DATASET_NOTES = {
    "monuseg": {"data": "MoNuSeg 2018 training tiles (24 fit / 6 validation by tile), 40x, masks and centres",
                "licence": "Weights derived from MoNuSeg (CC BY-NC-SA 4.0): non-commercial, share-alike, attribute Kumar et al. 2017/2019."},
    "crchisto": {"data": "CRCHisto train split (70 images; its 10 validation images join validation), 20x, centres only",
                 "licence": "Also derived from CRCHisto, released for research purposes only: cite Sirinukunwattana et al., IEEE TMI 2016."},
    "consep": {"data": "CoNSeP train tiles (23 fit / 4 validation), 40x, instance masks, centroids and types",
               "licence": "Also derived from CoNSeP (research use): cite Graham et al., Medical Image Analysis 2019."},
}
def joint_scheme(cfg: TrainConfig) -> str:
    """How a joint run combined its datasets, for the model card."""
    shares = cfg.dataset_shares or {name: 1.0 for name in cfg.datasets}
    total = sum(shares.get(name, 1.0) for name in cfg.datasets)
    share_text = ", ".join(f"{name} {shares.get(name, 1.0) / total:.0%}" for name in cfg.datasets)
    selection = {"macro": "the mean of the datasets' validation F1 at 3 µm, so neither organ is traded away for the one "
                          "with more validation nuclei",
                 "typed": "the mean of the datasets' validation F1 at 3 µm averaged with the weighted F1 of type over "
                          "matched typed validation nuclei"}.get(cfg.selection, "the pooled validation F1 at 3 µm")
    if cfg.train_parts:
        terms = (f"Only {', '.join(cfg.train_parts)} learned, from the types: cross-entropy on discs of "
                 f"{cfg.type_radius_um:g} µm around each typed centre (untyped centres ignored); every other weight "
                 "stayed as initialised.")
    elif cfg.stage1_target == "dots":
        terms = ("Joint training with the paper's targets, both made from centres alone: stage 1 learns dots "
                 "of radius 2 px (BCE) and stage 2 the density map (L1), so every crop of either dataset "
                 "contributes both terms.")
    else:
        terms = ("Joint training: every crop contributes the loss terms it has targets for — density L1 from "
                 "both datasets, stage-1 mask BCE only from MoNuSeg (CRCHisto has no masks) — so stage 1 keeps "
                 "learning real nucleus masks while the density learns both labs' centres.")
    return (f"{terms} Crops drawn {share_text}; CRCHisto images are resampled from 0.55 to the model's µm/px "
            f"like any 20x input. Weights and peak threshold selected on {selection}.")


def load_training_tiles(cfg: TrainConfig, split: str) -> list[PreparedTile]:
    """Every image of the configured datasets' ``split`` ('fit' or 'val'), at the model's µm/px
    (a dataset that yields no image stops the run at once: ``datasets.load``)."""
    from .. import datasets

    tiles = []
    for name in cfg.datasets:
        tiles += [(name, t) for t in datasets.load(name, split, typed=bool(cfg.architecture.get("types")))]
    types = tuple(cfg.architecture.get("types", ()))
    return [prepare_tile(t, cfg.mpp, cfg.stage1_target, cfg.density_radius_um, cfg.density_alpha, name, types, cfg.type_radius_um)
            for name, t in tiles]


def card_from_config(cfg: TrainConfig, threshold: float | None = None) -> ModelCard:
    return ModelCard(
        name=cfg.name,
        architecture=ArchitectureSpec.from_dict(cfg.architecture),
        mpp=cfg.mpp,
        mean=cfg.mean,
        std=cfg.std,
        tile_size=cfg.tile_size,
        margin=cfg.margin,
        peaks=PeakSettings(threshold=threshold if threshold is not None else 0.3, min_distance_um=cfg.min_distance_um),
        density_radius_um=cfg.density_radius_um,
        density_alpha=cfg.density_alpha,
    )


def detection_loss(out: dict[str, torch.Tensor], mask: torch.Tensor, density: torch.Tensor, has_mask: torch.Tensor, alpha: float,
                   types: torch.Tensor | None = None, type_weight: float = 1.0, region: torch.Tensor | None = None,
                   positive_weight: float = 1.0, class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. (5): BCE on the stage-1 mask (samples that have one) + α·L1 on the density map;
    for a typing model + cross-entropy of the type map on typed pixels (−1 ignored).

    Adaptation learns only inside reviewed regions: with ``region`` (B, 1, H, W, 0/1) the BCE
    and L1 are means over it, and ``positive_weight`` weighs the L1 up where the target is
    above 0 (near a reviewed point); ``class_weights`` balance the types' cross-entropy."""
    error = (out["density"].float() - density).abs()
    if region is None and positive_weight == 1.0:
        l1 = error.mean()
    else:
        weight = torch.ones_like(density) if region is None else region
        if positive_weight != 1.0:  # the L1 minimiser on an ambiguous nucleus is zero: weigh the nuclei up
            weight = weight * (1.0 + (positive_weight - 1.0) * (density > 0).float())
        l1 = (error * weight).sum() / weight.sum().clamp(min=1.0)
    loss = alpha * l1
    if "mask_logits" in out and bool(has_mask.any()):
        bce = F.binary_cross_entropy_with_logits(out["mask_logits"][has_mask].float(), mask[has_mask], reduction="none")
        if region is None:
            loss = loss + bce.mean()
        else:
            inside = region[has_mask]
            loss = loss + (bce * inside).sum() / inside.sum().clamp(min=1.0)
    if types is not None and "type_logits" in out and bool((types >= 0).any()):
        loss = loss + type_weight * F.cross_entropy(out["type_logits"].float(), types.long(), weight=class_weights, ignore_index=-1)
    return loss


def teacher_loss(out: dict[str, torch.Tensor], teacher: dict[str, torch.Tensor], keep: torch.Tensor, alpha: float,
                 type_weight: float = 1.0) -> torch.Tensor:
    """Learning without forgetting: the student matches the teacher's outputs on the clean crop
    where ``keep`` (B, 1, H, W) is 1 and says "nothing here" where it is 0 (a painted artefact).
    Density by L1, stage 1 by BCE against the teacher's probabilities, types by the squared
    difference of logits outside the artefacts."""
    loss = alpha * (out["density"].float() - teacher["density"].float() * keep).abs().mean()
    if "mask_logits" in out:
        loss = loss + F.binary_cross_entropy_with_logits(out["mask_logits"].float(), torch.sigmoid(teacher["mask_logits"].float()) * keep)
    if "type_logits" in out:
        difference = (out["type_logits"].float() - teacher["type_logits"].float()) ** 2
        loss = loss + type_weight * (difference * keep).sum() / (keep.sum() * difference.shape[1]).clamp(min=1.0)
    return loss


def validate(predictor: DensityPredictor, tiles: list[PreparedTile], thresholds: tuple[float, ...], selection: str = "pooled") -> dict:
    """F1 at 3 µm for each peak threshold; the threshold with the best score is kept.

    The score is the pooled F1, or with ``selection="macro"`` the mean of each dataset's
    pooled F1, so that a model meant to be good on both organs is not chosen for the
    dataset that happens to hold more nuclei in validation; ``"typed"`` averages that with
    the weighted F1 of type over matched typed nuclei, so a typing model is not chosen for
    its detection alone (its types can still be improving while detection drifts)."""
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, not {selection!r}")
    typed = selection == "typed"
    images = [Annotated(t.name, t.image, predictor.card.mpp, t.centres, t.centre_types if typed else None, group=t.dataset) for t in tiles]
    if typed and not (predictor.types and any(t.centre_types and any(c is not None for c in t.centre_types) for t in tiles)):
        raise ValueError("selection 'typed' needs a typing model and typed validation tiles")
    tallies = tally_runs(detect_all(predictor, images, min(thresholds)), images, thresholds)
    datasets = sorted({t.dataset for t in tiles})
    records = {}
    for thr, per_image in tallies.items():
        record = {"threshold": thr, **pooled_tally(per_image).detection.as_dict()}
        if len(datasets) > 1:  # joint training: each dataset's own score
            for name in datasets:
                record[f"f1_{name}"] = pooled_tally([k for k, a in zip(per_image, images) if a.group == name]).detection.f1
        macro = selection in ("macro", "typed") and len(datasets) > 1
        record["score"] = float(np.mean([record[f"f1_{n}"] for n in datasets])) if macro else record["f1"]
        if typed:  # a typing model is chosen for its types too, not only its detection
            record["type_weighted_f1"] = pooled_tally(per_image).weighted_f1()
            record["score"] = 0.5 * (record["score"] + record["type_weighted_f1"])
        records[thr] = record
    return max(records.values(), key=lambda r: r["score"])


def lineage_datasets(cfg: TrainConfig) -> list[str]:
    """The data sets behind a run's weights: its own and, when it starts from another run's
    checkpoint (with that run's ``config.json`` beside it) or a card, those too — a licence
    follows the weights, not just the last fine-tuning."""
    names = list(cfg.datasets)
    source = Path(cfg.init_weights) if cfg.init_weights else None
    earlier: list[str] = []
    if source is not None and source.suffix == ".json" and source.exists():
        config = ModelCard.load(source).training.get("config", {})
        earlier = config.get("datasets", []) if isinstance(config, dict) else []
    elif source is not None and (source.parent / "config.json").exists():
        earlier = lineage_datasets(TrainConfig.load(source.parent / "config.json"))
    return [d for d in DATASET_NOTES if d in earlier or d in names]


def initial_weights(source: str | Path) -> dict[str, torch.Tensor]:
    """Weights to fine-tune from: a run checkpoint (``best.pt``/``last.pt``) or a model card."""
    source = Path(source)
    if source.suffix == ".json":
        return {k: v.float() for k, v in ModelCard.load(source).load_model("cpu").state_dict().items()}
    state = load_checkpoint(source, "cpu")
    return state["model"]


def select_parts(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor], parts: list[str]) -> dict[str, torch.Tensor]:
    """The tensors of ``source`` under the submodules ``parts``, which must match ``target``
    there tensor for tensor and shape for shape: a partial load is asked for, never silent."""
    chosen = {}
    for part in parts:
        prefix = part + "."
        have = {k for k in source if k.startswith(prefix)}
        want = {k for k in target if k.startswith(prefix)}
        if not want:
            raise ValueError(f"init_parts: the model has no submodule {part!r}")
        if have != want:
            raise ValueError(f"init_parts: {part!r} differs: missing {sorted(want - have)[:3]}, unexpected {sorted(have - want)[:3]}")
        wrong = [k for k in want if source[k].shape != target[k].shape]
        if wrong:
            raise ValueError(f"init_parts: {part!r} shapes differ, e.g. {wrong[0]}: {tuple(source[wrong[0]].shape)} vs {tuple(target[wrong[0]].shape)}")
        chosen.update({k: source[k] for k in want})
    return chosen


def load_initial(model: torch.nn.Module, state: dict[str, torch.Tensor], partial: bool) -> list[str]:
    """Load ``state``; a typing model started from a detector leaves only its type branch
    at its initial weights (anything else missing is an error, never a silent half-load).
    Returns the keys left out."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise ValueError(f"init_weights: unexpected tensors {sorted(unexpected)[:3]}")
    if not partial and any(not k.startswith("type_branch.") for k in missing):
        raise ValueError(f"init_weights: missing tensors {sorted(k for k in missing if not k.startswith('type_branch.'))[:3]}")
    return missing


def freeze_all_but(model: torch.nn.Module, parts: list[str]) -> list[torch.nn.Module]:
    """Only the submodules ``parts`` learn; the rest keep their weights and BatchNorm
    statistics (returned so the loop can put them back in eval mode after ``train()``)."""
    names = dict(model.named_modules())
    for part in parts:
        if part not in names:
            raise ValueError(f"train_parts: the model has no submodule {part!r}")
    for p in model.parameters():
        p.requires_grad_(False)
    for part in parts:
        for p in names[part].parameters():
            p.requires_grad_(True)
    trained = {id(m) for part in parts for m in names[part].modules()}
    return [m for m in model.modules() if id(m) not in trained]


class Trainer:
    def __init__(self, cfg: TrainConfig, run_dir: str | Path):
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        random.seed(cfg.seed)
        torch.set_num_threads(cfg.threads)
        self.device = select_device(cfg.device)
        self.model = build_model(ArchitectureSpec.from_dict(cfg.architecture)).to(self.device)
        self.types = tuple(cfg.architecture.get("types", ()))
        self.precision = "bf16" if cfg.amp == "bf16" else "fp32"
        self.memory_format = memory_format(self.precision)  # the layout inference uses too
        self.model.to(memory_format=self.memory_format)
        self.ema = (
            torch.optim.swa_utils.AveragedModel(
                self.model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True
            )
            if cfg.ema_decay > 0
            else None
        )
        self.frozen = freeze_all_but(self.model, cfg.train_parts) if cfg.train_parts else []
        self.optimizer = torch.optim.Adam([p for p in self.model.parameters() if p.requires_grad], lr=cfg.lr)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="max", factor=0.5, patience=cfg.plateau_patience, min_lr=cfg.min_lr
        )
        self.step = 0
        self.best: dict = {"score": -1.0}
        self.sampler_state = None
        self.card = card_from_config(cfg)
        (self.run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))

    # -- persistence ------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        state = {
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "step": self.step,
            "best": self.best,
            "rng": self.sampler.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        }
        tmp = self.run_dir / "last.pt.tmp"
        torch.save(state, tmp)
        tmp.replace(self.run_dir / "last.pt")

    def try_resume(self) -> bool:
        path = self.run_dir / "last.pt"
        if not path.exists():
            return False
        state = load_checkpoint(path, self.device)
        self.model.load_state_dict(state["model"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = state["step"]
        self.best = state["best"]
        self.best.setdefault("score", self.best.get("f1", -1.0))  # runs from before "score"
        self.sampler_state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        return True

    def log(self, record: dict) -> None:
        with open(self.run_dir / "log.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")

    def _label_step(self, predictor: DensityPredictor) -> torch.Tensor:
        """The loss of one batch against the data sets' labels."""
        cfg = self.cfg
        types_t = None
        if self.types:
            images, masks, densities, has_mask, type_maps = self.sampler.batch_typed(cfg.batch)
            types_t = torch.from_numpy(type_maps).to(self.device)
        else:
            images, masks, densities, has_mask = self.sampler.batch(cfg.batch)
        x = predictor.to_tensor(images).contiguous(memory_format=self.memory_format)
        mask_t = torch.from_numpy(masks)[:, None].to(self.device)
        dens_t = torch.from_numpy(densities)[:, None].to(self.device)
        with autocast(self.device, self.precision):
            out = self.model(x, **self._offset())
        return detection_loss(out, mask_t, dens_t, torch.from_numpy(has_mask).to(self.device), cfg.loss_alpha, types_t, cfg.type_weight)

    def _teacher_step(self, predictor: DensityPredictor, teacher: torch.nn.Module) -> torch.Tensor:
        """The loss of one batch against the teacher's outputs on the same crops unpainted."""
        cfg = self.cfg
        images, clean, covered = self.sampler.batch_with_clean(cfg.batch)
        x = predictor.to_tensor(images).contiguous(memory_format=self.memory_format)
        with torch.no_grad(), autocast(self.device, self.precision):
            taught = teacher(predictor.to_tensor(clean).contiguous(memory_format=self.memory_format))
        keep = torch.from_numpy(~covered)[:, None].float().to(self.device)
        with autocast(self.device, self.precision):
            out = self.model(x, **self._offset())
        return teacher_loss(out, taught, keep, cfg.loss_alpha, cfg.type_weight)

    def _offset(self) -> dict:
        """This batch's stage-1 logit shift (``stage1_offset_jitter``), drawn from the run's seeded
        torch generator so that a resumed run draws on; the targets stay those of the unshifted crop."""
        jitter = self.cfg.stage1_offset_jitter
        if not jitter:
            return {}
        return {"stage1_offset": float((torch.rand(()) * 2 - 1) * jitter)}

    def _teacher(self) -> torch.nn.Module:
        """The initial weights, frozen: what the run must keep doing away from artefacts."""
        teacher = build_model(ArchitectureSpec.from_dict(self.cfg.architecture)).to(self.device)
        load_initial(teacher, initial_weights(self.cfg.init_weights), partial=False)
        teacher.to(memory_format=self.memory_format).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        return teacher

    def initialise(self) -> None:
        """Starting weights of a new run: ImageNet for the stage-1 encoder, then ``init_weights``
        (all of them, or only the submodules in ``init_parts``, e.g. a trained stage 2 under a
        new, larger stage-1 encoder)."""
        cfg = self.cfg
        if cfg.pretrained_lite is not None and (not cfg.init_weights or cfg.init_parts):
            from ..models.pretrained import load_lite_into_encoder

            n = load_lite_into_encoder(stage1_encoder(self.model), cfg.pretrained_lite)
            self.log({"event": "pretrained", "variant": cfg.pretrained_lite, "tensors": n})
        if cfg.init_weights:
            source = initial_weights(cfg.init_weights)
            state = select_parts(source, self.model.state_dict(), cfg.init_parts) if cfg.init_parts else source
            left = load_initial(self.model, state, partial=bool(cfg.init_parts))
            self.log({"event": "init_weights", "from": cfg.init_weights, "parts": cfg.init_parts, "tensors": len(state),
                      "left_at_init": len(left)})



    # -- loop ---------------------------------------------------------------------------
    def run(self, fit_tiles: list[PreparedTile], val_tiles: list[PreparedTile], resume: bool = True) -> dict:
        cfg = self.cfg
        self.sampler = CropSampler(fit_tiles, cfg.crop, cfg.seed, shares=cfg.dataset_shares, scale_jitter=cfg.scale_jitter,
                                   appearance_level=cfg.appearance, artefacts=cfg.artefacts, mpp=cfg.mpp)
        resumed = resume and self.try_resume()
        if resumed and self.sampler_state is not None:
            self.sampler.rng.bit_generator.state = self.sampler_state
        if not resumed:
            self.initialise()
        teacher = self._teacher() if cfg.targets == "teacher" else None
        # the average starts from the weights of the first step (AveragedModel copies them then)
        evaluated = self.ema.module if self.ema is not None else self.model
        # validation runs as inference will: same precision and memory layout as training
        predictor = DensityPredictor(evaluated, self.card, self.device, self.precision)
        if not resumed and cfg.init_weights:  # the bar a fine-tune's stop rule measures it against, same protocol
            # the starting weights themselves: an average holds them only from its first update
            start = DensityPredictor(self.model.eval(), self.card, self.device, self.precision)
            self.log({"step": 0, "val": validate(start, val_tiles, cfg.val_thresholds, cfg.selection), "time": time.time()})
        last_save = time.monotonic()
        running = None
        bar = tqdm(total=cfg.steps, initial=self.step, desc=cfg.name, mininterval=10)
        while self.step < cfg.steps:
            self.model.train()
            for module in self.frozen:
                module.training = False  # this module only (not .eval(): a parent holds the trained parts)
            if cfg.freeze_batchnorm:
                for module in self.model.modules():
                    if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                        module.training = False
            if teacher is not None:
                loss = self._teacher_step(predictor, teacher)
            else:
                loss = self._label_step(predictor)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if self.ema is not None:
                self.ema.update_parameters(self.model)
            self.step += 1
            running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4f}", best=f"{self.best['score']:.3f}")
            if self.step % cfg.val_every == 0 or self.step == cfg.steps:
                evaluated.eval()
                val = validate(predictor, val_tiles, cfg.val_thresholds, cfg.selection)
                self.scheduler.step(val["score"])
                record = {"step": self.step, "loss": running, "lr": self.optimizer.param_groups[0]["lr"], "val": val, "time": time.time()}
                self.log(record)
                if val["score"] > self.best["score"]:
                    self.best = {"step": self.step, **val}
                    torch.save({"model": evaluated.state_dict(), "best": self.best}, self.run_dir / "best.pt")
                if cfg.keep_validated:  # exactly the weights this validation scored, for a rule applied later
                    torch.save({"model": evaluated.state_dict(), "best": {"step": self.step, **val}}, self.run_dir / f"step-{self.step}.pt")
            if time.monotonic() - last_save > cfg.checkpoint_minutes * 60:
                self.save_checkpoint()
                last_save = time.monotonic()
        bar.close()
        self.save_checkpoint()
        return self.best


def train(config_path: str | Path, run_dir: str | Path | None = None, resume: bool = True) -> dict:
    cfg = TrainConfig.load(config_path)
    run_dir = Path(run_dir or Path("runs") / cfg.name)
    trainer = Trainer(cfg, run_dir)
    fit = load_training_tiles(cfg, "fit")
    val = load_training_tiles(cfg, "val")
    return trainer.run(fit, val, resume=resume)


def export_run(run_dir: str | Path, zoo_dir: str | Path, name: str | None = None, display_name: str = "", description: str = "",
               step: int | None = None, detector_only: bool = False) -> ModelCard:
    """Best weights of a run → ``zoo_dir/NAME.pt`` (fp16) + ``NAME.json`` card; with ``step``, the
    weights validated at that step instead (``step-N.pt``, kept by ``keep_validated`` runs).
    ``detector_only``: a typing model's detector without its type branch — the same centres,
    without the branch's cost, and no colorectal types called on other organs."""
    run_dir = Path(run_dir)
    cfg = TrainConfig.load(run_dir / "config.json")
    chosen = run_dir / ("best.pt" if step is None else f"step-{step}.pt")
    if not chosen.exists():
        kept = sorted(int(p.stem[5:]) for p in run_dir.glob("step-*.pt") if p.stem[5:].isdigit())
        raise FileNotFoundError(f"{chosen} does not exist" + (f"; validated weights kept for steps {', '.join(map(str, kept))}" if kept
                                                               else "; this run did not keep its validated weights (keep_validated)"))
    best = load_checkpoint(chosen, "cpu")
    card = card_from_config(cfg, threshold=best["best"]["threshold"])
    card.name = name or cfg.name
    card.display_name = display_name
    card.description = description
    card.training = {
        "config": cfg.to_dict(),
        "best_step": best["best"]["step"],
        "validation": {k: v for k, v in best["best"].items() if k != "step"},
        "validation_radius_um": MATCH_RADIUS_UM,
        "data": "; ".join(DATASET_NOTES[d]["data"] for d in cfg.datasets),
    }
    if cfg.init_weights:
        card.training["initialised_from"] = cfg.init_weights
        if cfg.init_parts:
            rest = f"ImageNet EfficientNet-Lite{cfg.pretrained_lite} encoder" if cfg.pretrained_lite is not None else "random"
            card.training["initialised_from"] += f" ({', '.join(cfg.init_parts)} only; the rest: {rest})"
    if len(cfg.datasets) > 1:
        card.training["scheme"] = joint_scheme(cfg)
    if cfg.train_parts:
        card.training["trained_parts"] = f"only {', '.join(cfg.train_parts)}; every other weight as initialised"
    card.licence = " ".join(DATASET_NOTES[d]["licence"] for d in lineage_datasets(cfg))
    weights = best["model"]
    if detector_only:
        if not card.architecture.types:
            raise ValueError(f"{run_dir} trains a detector without types: --detector-only has nothing to leave out")
        card.architecture = ArchitectureSpec.from_dict({k: v for k, v in cfg.architecture.items() if k not in ("types", "type_decoder_channels")})
        weights = {k: v for k, v in weights.items() if not k.startswith("type_branch.")}
        card.training["detector_only"] = "the run's detector without its type branch (its centres are the typing model's)"
    if card.architecture.types:
        from ..annotations.qupath import TYPE_COLORS
        from ..datasets.typed_truth import TYPE_LABELS

        card.type_colors = {t: list(TYPE_COLORS[t]) for t in card.architecture.types if t in TYPE_COLORS}
        card.type_labels = {d: TYPE_LABELS[d] for d in cfg.datasets if d in TYPE_LABELS}
    model = card.build()
    model.load_state_dict(weights)
    return card.export(model, zoo_dir)
