"""Fine-tune a detection model on reviewed regions, within a time budget, on whatever device.

Before any weight moves, a two-stage model's sensitivity (the stage-1 logit offset that
stage 2 sees) is calibrated with the threshold on the training part of the regions: a new
lab's stain often weakens stage 1's evidence for whole kinds of nuclei, which stage 2 then
gates out, and one scalar recovers much of it in seconds (CoNSeP: recall 0.52 → 0.68 for
accurate). Training then starts from the calibrated model; ``tune="none"`` stops there (the
app's *Calibrate*: seconds, no weight moves).

The loss is the density term of the W-Net loss (L1 to the map made from the corrected
points) inside the reviewed regions only; stage 1 has no mask target here (points carry
none) and learns through stage 2. Batch-norm statistics stay frozen: with 4 crops a batch
they would be noise. The peak threshold is re-chosen on the training part of the regions
(a new lab often shifts the density's scale more than its shape), and the F1 before and
after is measured on held-back cells the training never saw. A typing model keeps its encoder
and, unless asked (``type_weight``, ``tune="types"``: cross-entropy of its type branch on discs
around typed points), its types; its type accuracy on the held-back cells is measured before
and after either way.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from ..detection.metrics import DetectionCounts
from ..detection.typed_metrics import TypedTally
from ..evaluation import Annotated, detect_all, pooled_tally, tally_runs
from ..models.card import ModelCard
from ..training.augment import appearance, random_dihedral
from .examples import RegionExample, count_nuclei
from .settings import TUNE_CHOICES, AdaptSettings

THRESHOLDS = (0.0003, 0.001, 0.003, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)  # accurate's is 0.0003
SENSITIVITIES = (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0)  # stage-1 logit offsets tried by the calibration


@dataclass(frozen=True)
class Score(DetectionCounts):
    """Detection counts at one peak threshold and, for a typing model on typed reviewed points,
    how often the type of a matched nucleus is right (``typed_pairs`` = 0: not measured)."""

    threshold: float = 0.0
    typed_pairs: int = 0
    type_accuracy: float = 0.0
    type_weighted_f1: float = 0.0

    @classmethod
    def of(cls, tally: TypedTally, threshold: float) -> "Score":
        c, n = tally.detection, len(tally.typed_pairs())
        return cls(c.tp, c.fp, c.fn, threshold, n, tally.accuracy() if n else 0.0, tally.weighted_f1() if n else 0.0)

    @property
    def selection(self) -> float:
        """What the kept weights maximise: detection F1, averaged with the weighted type F1 when types are measured."""
        return 0.5 * (self.f1 + self.type_weighted_f1) if self.typed_pairs else self.f1

    def as_dict(self) -> dict:
        out = {"threshold": self.threshold, **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in super().as_dict().items()}}
        if self.typed_pairs:
            out.update(typed_pairs=self.typed_pairs, type_accuracy=round(self.type_accuracy, 4), type_weighted_f1=round(self.type_weighted_f1, 4))
        return out


@dataclass
class AdaptResult:
    model: torch.nn.Module | None
    before: Score
    after: Score | None
    threshold: float
    sensitivity: float = 0.0  # stage-1 logit offset of the adapted model (the base's unless calibrated)
    steps: int = 0
    seconds: float = 0.0
    nuclei: int = 0
    held_back_nuclei: int = 0
    cancelled: bool = False
    settings: dict = field(default_factory=dict)

    @property
    def calibrated_only(self) -> bool:
        """No weight moved (tune "none"): only the sensitivity and threshold were chosen."""
        return self.settings.get("tune") == "none"

    @property
    def improved(self) -> bool:
        """Better than the base on the held-back reviewed cells (as the card records it:
        F1 to 4 decimals); a result that is not is saved marked so and never selected."""
        return self.after is not None and round(self.after.f1, 4) > round(self.before.f1, 4)


class _Crops:
    """Random augmented crops from the examples, drawn by trainable area."""

    def __init__(self, examples: list[RegionExample], crop: int, rng: np.random.Generator):
        self.examples = [e for e in examples if e.loss_mask.any()]
        if not self.examples:
            raise ValueError("the reviewed regions leave nothing to train on (too small once held-back cells are set aside)")
        areas = np.array([e.loss_mask.sum() for e in self.examples], float)
        self.weights = areas / areas.sum()
        self.crop, self.rng = crop, rng
        self._dot_cache: dict[int, np.ndarray] = {}

    def sample(self) -> tuple[np.ndarray, ...]:
        e = self.examples[int(self.rng.choice(len(self.examples), p=self.weights))]
        h, w = e.density.shape
        c = self.crop
        image, density, mask, dots = e.image, e.density, e.loss_mask, self._dots(e)
        kinds = e.type_map if e.type_map is not None else np.full((h, w), -1, np.int8)
        if h < c or w < c:  # pad: reflected tissue, but no loss on the padding
            ph, pw = max(0, c - h), max(0, c - w)
            image = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode="reflect")
            density = np.pad(density, ((0, ph), (0, pw)))
            mask = np.pad(mask, ((0, ph), (0, pw)))
            dots = np.pad(dots, ((0, ph), (0, pw)))
            kinds = np.pad(kinds, ((0, ph), (0, pw)), constant_values=-1)
            h, w = density.shape
        ys, xs = np.nonzero(mask[: h - c + 1, : w - c + 1]) if mask[: h - c + 1, : w - c + 1].any() else (np.array([0]), np.array([0]))
        k = int(self.rng.integers(len(ys)))  # a window whose corner lies on trainable ground, then jittered
        y = int(np.clip(ys[k] - self.rng.integers(0, c // 2 + 1), 0, h - c))
        x = int(np.clip(xs[k] - self.rng.integers(0, c // 2 + 1), 0, w - c))
        arrays = [a[y : y + c, x : x + c] for a in (image, density, mask, dots, kinds)]
        image_c, density_c, mask_c, dots_c, kinds_c = random_dihedral(arrays, self.rng)
        return appearance(image_c, self.rng, "light"), density_c, mask_c, dots_c, kinds_c

    def _dots(self, e: RegionExample) -> np.ndarray:
        if id(e) not in self._dot_cache:
            from ..detection.targets import dot_mask

            self._dot_cache[id(e)] = dot_mask(e.density.shape, e.centres, 2.0).astype(np.float32)
        return self._dot_cache[id(e)]

    def batch(self, n: int) -> tuple[np.ndarray, ...]:
        samples = [self.sample() for _ in range(n)]
        return tuple(np.stack(s) for s in zip(*samples))  # type: ignore[return-value]


def _balanced_type_weights(examples: list[RegionExample], card: ModelCard, device: torch.device) -> torch.Tensor | None:
    """Cross-entropy weights that give each reviewed type the same total weight: a few regions'
    mix of types (one tile all tumour, another all stroma) is not the lab's, and learning it
    as a prior made CoNSeP test types worse after one tile (accuracy 0.80 → 0.61)."""
    types = list(card.architecture.types)
    if not types:
        return None
    counts = np.zeros(len(types))
    for e in examples:
        for t in e.centre_types:
            if t in types:
                counts[types.index(t)] += 1
    present = counts > 0
    if not present.any():
        return None
    weights = np.ones(len(types))
    weights[present] = counts[present].sum() / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32, device=device)


def _learning_parameters(model: torch.nn.Module, tune: str) -> list[torch.nn.Parameter]:
    """The parameters that learn for ``tune``, by the trainer's rule (``freeze_all_but``): all;
    the decoders (every submodule but stage 1's encoder); stage 2; or the type branch."""
    from ..training.trainer import freeze_all_but

    if tune != "all":
        if tune == "decoders":
            encoders = {name for name, _ in model.named_modules() if name in ("stage1.encoder", "stage1.net.encoder")}
            parts: list[str] = []

            def around(prefix: str, module: torch.nn.Module) -> None:  # the largest submodules that hold no encoder
                for name, child in module.named_children():
                    path = prefix + name
                    if path in encoders:
                        continue
                    if any(e.startswith(path + ".") for e in encoders):
                        around(path + ".", child)
                    else:
                        parts.append(path)

            around("", model)
        else:
            parts = ["stage2" if tune == "stage2" else "type_branch"]
        try:
            freeze_all_but(model, parts)
        except ValueError:
            raise ValueError(f"tune={tune!r}: this model has no {parts[0]}") from None
    else:
        for p in model.parameters():
            p.requires_grad_(True)
    return [p for p in model.parameters() if p.requires_grad]


def _freeze_batchnorm(model: torch.nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()


def measure(predictor, examples: list[RegionExample], where: str, thresholds=THRESHOLDS) -> dict[float, Score]:
    """Detection counts per threshold inside each example's held-back cells (``where="held_back"``)
    or the rest of its region (``"train"``); 3 µm one-to-one matching, as everywhere. A typing
    model on typed reviewed points is also scored on the types of the matched nuclei (the
    reviewed classes only against a model that types, else every pair would count as wrong)."""
    images = []
    for e in examples:
        area = e.held_back if where == "held_back" else (e.region_mask & ~e.held_back)
        if area.any():
            images.append(Annotated("reviewed", e.image, predictor.card.mpp, e.centres, (e.centre_types or None) if predictor.types else None, area))
    tallies = tally_runs(detect_all(predictor, images, min(thresholds)), images, thresholds)
    return {t: Score.of(pooled_tally(v), t) for t, v in tallies.items()}


def _score_on_training(predictor, examples: list[RegionExample], card: ModelCard) -> Score:
    """F1 on the reviewed area the model learns from (never the held-back cells), at the threshold
    that detects best there (the card's on a tie)."""
    predictor.model.eval()
    scores = measure(predictor, examples, "train", tuple(sorted(set(THRESHOLDS) | {card.peaks.threshold})))
    return max(scores.values(), key=lambda s: (s.f1, -abs(s.threshold - card.peaks.threshold)))


def calibrate(predictor, examples: list[RegionExample], card: ModelCard, share: float, progress, cancel: threading.Event) -> dict[float, Score] | None:
    """Each sensitivity of ``SENSITIVITIES`` (and the card's) scored on the training area; None
    when cancelled. ``share``: how much of the progress bar calibrating takes."""
    tried: dict[float, Score] = {}
    candidates = sorted(set(SENSITIVITIES) | {float(card.peaks.sensitivity)})
    for k, s in enumerate(candidates):
        if cancel.is_set():
            return None
        progress(f"calibrating the sensitivity ({s:+g})", share * k / len(candidates))
        tried[s] = _score_on_training(predictor.with_sensitivity(s), examples, card)
    return tried


@dataclass
class BestWeights:
    """The weights kept: the best scored on the training area so far, the base's included. A run
    that overfits or collapses (a density map gone flat, which the L1 term alone can reach on a
    few hundred nuclei) falls back to the best earlier weights, never below the base."""

    score: Score
    state: dict
    step: int = 0

    def offer(self, score: Score, model: torch.nn.Module, step: int) -> None:
        if score.selection > self.score.selection:
            self.score, self.state, self.step = score, copy.deepcopy(model.state_dict()), step


def _learn(model, ema, crops: _Crops, examples: list[RegionExample], card: ModelCard, settings: AdaptSettings, tune: str, sensitivity: float,
           predictor, kept: BestWeights, progress, cancel: threading.Event) -> tuple[int, float]:
    """The training loop, within the settings' step and time budget; scores the weights every
    ``check_seconds`` (and at the end) and offers them to ``kept``. Returns (steps, seconds)."""
    from ..engine.device import autocast, memory_format
    from ..training.trainer import detection_loss

    device, precision = predictor.device, predictor.precision
    optimizer = torch.optim.AdamW(_learning_parameters(model, tune), lr=settings.lr, weight_decay=1e-4)
    class_weights = _balanced_type_weights(examples, card, device)
    type_weight = settings.type_weight if tune != "types" else (settings.type_weight or 1.0)
    scored_model = ema.module if ema is not None else model
    start = last_check = time.monotonic()
    step = 0
    while step < settings.max_steps and time.monotonic() - start < settings.seconds:
        if cancel.is_set():
            break
        model.train()
        _freeze_batchnorm(model)
        images, densities, masks, dots, kinds = crops.batch(settings.batch)
        x = predictor.to_tensor(images).contiguous(memory_format=memory_format(precision))
        region = torch.from_numpy(masks.astype(np.float32))[:, None].to(device)
        with autocast(device, precision):
            out = model(x, stage1_offset=sensitivity) if sensitivity else model(x)
        typed = type_weight > 0 and bool((kinds >= 0).any())  # the reviewed classes, where the model knows them
        loss = detection_loss(out, torch.from_numpy(dots)[:, None].to(device), torch.from_numpy(densities)[:, None].to(device),
                              torch.full((len(images),), settings.stage1 == "dots", device=device), 1.0,
                              torch.from_numpy(kinds.astype(np.int64)).to(device) if typed else None, type_weight,
                              region=region, positive_weight=settings.positive_weight, class_weights=class_weights)
        optimizer.zero_grad(set_to_none=True)
        if loss.requires_grad:  # tune="types" on a crop without typed points has nothing to learn
            loss.backward()
            optimizer.step()
        if ema is not None:
            ema.update_parameters(model)
        step += 1
        elapsed = time.monotonic() - start
        progress(f"learning from the reviewed regions (step {step})", min(0.95, max(step / settings.max_steps, elapsed / settings.seconds)))
        last_step = step >= settings.max_steps or time.monotonic() - start >= settings.seconds
        if (time.monotonic() - last_check >= settings.check_seconds or last_step) and not cancel.is_set():
            kept.offer(_score_on_training(predictor, examples, card), scored_model, step)
            last_check = time.monotonic()
    return step, time.monotonic() - start


def adapt(card: ModelCard, examples: list[RegionExample], settings: AdaptSettings | None = None,
          progress: Callable[[str, float], None] | None = None, cancel: threading.Event | None = None) -> AdaptResult:
    """Fine-tune ``card``'s model on the examples; the base card and its files are not touched.

    The base is measured on the held-back cells; a two-stage model's sensitivity is calibrated
    on the training area (``calibrate``); the weights learn (``_learn``), the best scored kept
    (``BestWeights``); the kept model is measured on the held-back cells again.
    ``progress(stage, fraction)`` is called as work goes on; with ``cancel`` set the run stops
    at the next step and returns ``cancelled`` with no model."""
    from ..engine.device import memory_format, select_device, select_precision
    from ..engine.predict import DensityPredictor

    settings = settings or AdaptSettings()
    cancel = cancel or threading.Event()
    progress = progress or (lambda stage, fraction: None)
    device = select_device(settings.device)
    precision = select_precision(settings.precision, device)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)

    base = card.load_model(device).eval()
    progress("measuring the base model", 0.0)
    before = measure(DensityPredictor(base, card, device, precision), examples, "held_back", (card.peaks.threshold,))[card.peaks.threshold]
    result = AdaptResult(None, before, None, card.peaks.threshold, nuclei=count_nuclei(examples), held_back_nuclei=before.tp + before.fn,
                         settings=settings.__dict__.copy())
    if cancel.is_set():
        result.cancelled = True
        return result

    model = copy.deepcopy(base).to(memory_format=memory_format(precision))
    tune = settings.tune if settings.tune != "auto" else ("decoders" if card.architecture.types else "all")
    result.settings["tune"] = tune
    crops = _Crops(examples, settings.crop, rng) if tune != "none" else None  # before any work: regions too small say so at once
    ema = None
    if settings.ema_decay > 0:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(settings.ema_decay))
    scored_model = ema.module if ema is not None else model
    predictor = DensityPredictor(scored_model, card, device, precision)

    sensitivity = float(card.peaks.sensitivity)
    if settings.calibrate and card.architecture.two_stage and tune != "types":
        tried = calibrate(predictor, examples, card, 0.95 if tune == "none" else 0.02, progress, cancel)  # calibrating alone is the whole run
        if tried is None:
            result.cancelled = True
            return result
        sensitivity = max(tried, key=lambda s: (tried[s].selection, -abs(s - card.peaks.sensitivity)))
        result.settings["calibration"] = {f"{s:g}": tried[s].as_dict() for s in tried}
    result.sensitivity = sensitivity
    predictor = predictor.with_sensitivity(sensitivity)

    kept = BestWeights(_score_on_training(predictor, examples, card), copy.deepcopy(scored_model.state_dict()))
    if crops is not None:
        steps, seconds = _learn(model, ema, crops, examples, card, settings, tune, sensitivity, predictor, kept, progress, cancel)
        if cancel.is_set():  # a cancelled run has no model and no steps to report
            result.cancelled = True
            return result
        result.steps, result.seconds = steps, seconds
    result.settings["best_step"] = kept.step
    model.load_state_dict(kept.state)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    progress("measuring on the held-back cells", 0.97)
    result.threshold = kept.score.threshold
    after_predictor = DensityPredictor(model, card, device, precision).with_sensitivity(sensitivity)
    result.after = measure(after_predictor, examples, "held_back", (result.threshold,))[result.threshold]
    result.model = model.float().to(memory_format=torch.contiguous_format)
    progress("done", 1.0)
    return result


__all__ = ["AdaptResult", "AdaptSettings", "BestWeights", "Score", "TUNE_CHOICES", "adapt", "calibrate", "measure"]
