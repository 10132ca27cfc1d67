"""An adapted model as a card of its own: new weights with their sha256, the base's settings,
the chosen threshold, and where it came from (base model and sha256, slides, regions, counts,
steps, time, the before/after numbers) — so it can be checked, reused and adapted further."""

from __future__ import annotations

import copy
import re
import time
from datetime import datetime
from pathlib import Path

from ..models.card import ModelCard
from ..models.errors import ModelError
from ..models.zoo import user_models_dir
from .finetune import AdaptResult


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "slide"


def adapted_card(base: ModelCard, result: AdaptResult, slides: list[str], regions: int, when: datetime | None = None) -> ModelCard:
    """The new card (not yet saved): named after the base and the first slide, dated."""
    when = when or datetime.now()
    first = Path(slides[0]).stem if slides else "slides"
    card = copy.deepcopy(base)
    card.path = None
    calibrated = result.calibrated_only  # the weights are the base's; only the sensitivity and threshold moved
    how = "calibrated" if calibrated else "adapted"
    card.name = f"{base.name}-{how}-{_slug(first)}-{when:%Y%m%d-%H%M%S}"
    base_title = base.display_name or base.name.capitalize()
    more = f" +{len(slides) - 1}" if len(slides) > 1 else ""
    card.display_name = (f"{re.split(' · (?:adapted|calibrated)', base_title)[0]} · {how} to {first}{more} · {when:%Y-%m-%d}"
                         + ("" if result.improved else " · not better"))
    done = (f"calibrated (sensitivity {result.sensitivity:+g}, threshold {result.threshold:g}; weights unchanged) on" if calibrated
            else "fine-tuned on")
    card.description = (f"{base_title} {done} {result.nuclei} reviewed nuclei in {regions} region(s) of {len(slides)} slide(s). "
                        f"F1 on held-back reviewed cells {round(result.before.f1, 4):.3f} before, {round(result.after.f1, 4):.3f} after"
                        + (f"; type accuracy {result.before.type_accuracy:.3f} before, {result.after.type_accuracy:.3f} after."
                           if result.after is not None and result.after.typed_pairs else ".")
                        + ("" if result.improved else f" Not better than {base_title} on those cells: kept for reference, not selected."))
    card.peaks = copy.deepcopy(base.peaks)
    card.peaks.threshold = float(result.threshold)
    card.peaks.sensitivity = float(result.sensitivity)
    provenance = {
        "base_model": base.name, "base_sha256": base.sha256, "base_title": base_title,
        "slides": [str(s) for s in slides], "regions": regions, "nuclei": result.nuclei,
        "held_back_nuclei": result.held_back_nuclei, "steps": result.steps, "seconds": round(result.seconds, 1),
        "settings": result.settings, "date": when.isoformat(timespec="seconds"), "improved": result.improved,
    }
    lineage = list(base.training.get("adaptation", {}).get("lineage", [])) if isinstance(base.training.get("adaptation"), dict) else []
    provenance["lineage"] = lineage + [{"model": base.name, "sha256": base.sha256}]
    card.training = {**{k: v for k, v in base.training.items() if k != "adaptation"}, "adaptation": provenance}
    card.metrics = {"adaptation_held_back": {"before": result.before.as_dict(), "after": result.after.as_dict() if result.after else None}}
    card.throughput = dict(base.throughput)
    return card


def save_adapted(base: ModelCard, result: AdaptResult, slides: list[str], regions: int, out: str | Path | None = None) -> ModelCard:
    """Write the adapted weights and card: to ``out`` (a card path) or the user's model folder."""
    if result.model is None or result.after is None:
        raise ValueError("the adaptation did not finish: nothing to save")
    card = adapted_card(base, result, slides, regions)
    if out is not None:
        out = Path(out)
        card.name = out.stem if out.suffix == ".json" else card.name
        directory = out.parent if out.suffix == ".json" else out
    else:
        directory = user_models_dir()
    started = time.monotonic()
    if result.calibrated_only and _share_weights(base, card, Path(directory)):
        pass  # the base's own file, linked: a calibration costs no disk
    else:
        card.export(result.model, directory)
    card.path = directory / f"{card.name}.json"
    card.training["adaptation"]["export_seconds"] = round(time.monotonic() - started, 2)
    card.save(card.path)
    return card


def _share_weights(base: ModelCard, card: ModelCard, directory: Path) -> bool:
    """A calibrated card's weights are the base's, byte for byte: a hard link to the base's
    file beside the card (weights stay in the card's own folder and keep their sha256).
    False where links are not possible (another file system): the caller writes a copy."""
    import os

    try:
        source = base.weights_path
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{card.name}.pt"
        os.link(source, target)
    except (OSError, ModelError):
        return False
    card.weights, card.sha256 = target.name, base.sha256
    return True


__all__ = ["adapted_card", "save_adapted"]
