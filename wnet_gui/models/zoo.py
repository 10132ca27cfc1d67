"""The bundled models: cards and weights in ``model_zoo/``, found by name or path."""

from __future__ import annotations

import os
from pathlib import Path

from ..settings import BUNDLED_MODELS as BUNDLED, packaged, user_data_dir
from .card import ModelCard, ModelError


def zoo_dir() -> Path:
    """$WNET_MODEL_ZOO, else the repository's model_zoo/, else the copy inside the package."""
    env = os.environ.get("WNET_MODEL_ZOO")
    if env:
        return Path(env)
    return packaged("model_zoo") or Path(__file__).resolve().parents[2] / "model_zoo"


def user_models_dir() -> Path:
    """Where models made on this machine (adapted to a user's slides) are kept: beside the
    autosaves, in the user's data folder — never in the bundled zoo, which stays untouched."""
    return user_data_dir("models")


def list_cards(directory: Path | None = None) -> list[ModelCard]:
    """Every readable card in the zoo (bundled ones first), then the user's own models."""
    folders = [directory] if directory is not None else [zoo_dir(), user_models_dir()]
    cards = []
    for folder in folders:
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                cards.append(ModelCard.load(path))
            except ModelError:
                continue
    order = {name: i for i, name in enumerate(BUNDLED)}
    return sorted(cards, key=lambda c: (order.get(c.name, len(order)), c.path is None or zoo_dir() not in c.path.parents, c.name))


def resolve_card(name_or_path: str | os.PathLike) -> ModelCard:
    """'fast' / 'accurate' / a card name in the zoo, or a path to a card JSON."""
    text = str(name_or_path)
    path = Path(text)
    candidate = zoo_dir() / f"{text}.json"
    if path.suffix == ".json" or (path.is_file() and not candidate.exists()):
        return ModelCard.load(path)
    if candidate.exists():  # a bundled name wins over a folder that happens to share it
        return ModelCard.load(candidate)
    mine = user_models_dir() / f"{text}.json"
    if mine.exists():
        return ModelCard.load(mine)
    known = ", ".join(c.name for c in list_cards()) or "none"
    raise ModelError(f"no model called '{text}' (bundled: {known}); give a model card path instead")
