"""A classifier card: the user's classes (names, colours), the detector whose features it
reads (name and sha256), what it was trained on and how well it did, and its arrays in an
``.npz`` beside it with their sha256. Data, never code: the arrays load with
``allow_pickle=False`` and are checked for shape and finiteness, like a model's weights."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..annotations.atomic_file import replacing
from ..annotations.qupath import MAX_CLASS_NAME
from ..models.card import file_sha256
from ..regular_file import open_regular
from .features import FEATURE_KIND, of_tile
from .head import Head

FORMAT = "wnet-classifier"
MAX_CARD_BYTES = 1 << 20
MAX_ARRAY_BYTES = 64 << 20
MAX_CLASSES = 50  # a taught classifier tells a handful of classes apart


class ClassifierError(ValueError):
    """A classifier card or its arrays cannot be used."""


@dataclass
class ClassifierCard:
    name: str
    classes: list[str]
    colors: list[tuple[int, int, int]]
    detector: str  # the model card's name
    detector_sha256: str  # its weights: features of another detector mean nothing to this head
    head: Head
    counts: dict[str, int] = field(default_factory=dict)  # labelled nuclei per class
    cv_accuracy: float = float("nan")
    trained_on: list[str] = field(default_factory=list)  # slide names
    path: Path | None = None

    def classify(self, features: np.ndarray) -> tuple[list[str], np.ndarray]:
        """The class of each nucleus and the classifier's confidence in it (its probability)."""
        if features.shape[1:] != (self.head.n_features,):
            raise ClassifierError(f"{self.name}: features of size {features.shape[1:]} given, {self.head.n_features} expected")
        p = self.head.probabilities(features)
        best = p.argmax(axis=1)
        return [self.classes[k] for k in best], p[np.arange(len(p)), best]

    def classify_tile(self, result, mpp: float) -> tuple[list[str], np.ndarray]:
        """Classes and confidences of a detection tile's centres, from its encoder levels (the
        engine calls this; it imports nothing of this package)."""
        if len(result.centres) == 0:
            return [], np.zeros(0, np.float32)
        return self.classify(of_tile(result, mpp))

    def head_sha256(self) -> str:
        """What the head computes, for ids: another classifier, other ids."""
        digest = hashlib.sha256()
        for k in Head.ARRAYS:
            digest.update(np.ascontiguousarray(getattr(self.head, k)).tobytes())
        return digest.hexdigest()

    def save(self, path: str | Path) -> Path:
        """``NAME.json`` and ``NAME.npz`` side by side (written atomically)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = path.with_suffix(".npz")
        with replacing(arrays) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **{k: getattr(self.head, k) for k in Head.ARRAYS})
        doc = {"format": FORMAT, "version": 1, "name": self.name,
               "classes": [{"name": c, "color": list(rgb)} for c, rgb in zip(self.classes, self.colors)],
               "detector": {"name": self.detector, "sha256": self.detector_sha256},
               "features": {"kind": FEATURE_KIND, "size": self.head.n_features},
               "head": {"hidden": len(self.head.b1)},
               "training": {"counts": self.counts, "cross_validated_accuracy": None if np.isnan(self.cv_accuracy) else round(self.cv_accuracy, 4),
                            "slides": self.trained_on, "date": time.strftime("%Y-%m-%d")},
               "weights": arrays.name, "sha256": file_sha256(arrays)}
        with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1)
        self.path = path
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ClassifierCard":
        path = Path(path)
        try:
            with open_regular(path) as fh:
                text = fh.read(MAX_CARD_BYTES + 1)
            if len(text) > MAX_CARD_BYTES:
                raise ClassifierError("is larger than a classifier card can be")
            doc = json.loads(text.decode("utf-8-sig"))
            return cls._from(doc, path)
        except ClassifierError as exc:
            raise ClassifierError(f"classifier card {path}: {exc}") from None
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            raise ClassifierError(f"classifier card {path} cannot be read: {type(exc).__name__}: {str(exc)[:200]}") from None

    @classmethod
    def _from(cls, doc: Any, path: Path) -> "ClassifierCard":
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ClassifierError("is not a W-Net Annotator classifier card")
        classes = doc.get("classes")
        if not isinstance(classes, list) or not 2 <= len(classes) <= MAX_CLASSES:
            raise ClassifierError(f"needs 2 to {MAX_CLASSES} classes")
        names, colors = [], []
        for c in classes:
            name, rgb = c.get("name") if isinstance(c, dict) else None, c.get("color") if isinstance(c, dict) else None
            if not (isinstance(name, str) and 0 < len(name) <= MAX_CLASS_NAME) or name in names:
                raise ClassifierError("has a class without a name, with a name over 200 characters, or twice")
            if not (isinstance(rgb, list) and len(rgb) == 3 and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in rgb)):
                raise ClassifierError(f"class {name[:60]} has no RGB colour")
            names.append(name)
            colors.append(tuple(rgb))
        detector = doc.get("detector") or {}
        if not (isinstance(detector.get("name"), str) and isinstance(detector.get("sha256"), str)):
            raise ClassifierError("does not name its detector and the detector's sha256")
        features = doc.get("features") or {}
        if features.get("kind") != FEATURE_KIND:
            raise ClassifierError(f"reads features {features.get('kind')!r}; this version computes {FEATURE_KIND!r}")
        weights = doc.get("weights")
        if not (isinstance(weights, str) and weights.endswith(".npz") and Path(weights).name == weights):
            raise ClassifierError("its arrays must be an .npz file beside the card")
        arrays_path = path.parent / weights
        with open_regular(arrays_path) as fh:
            if fh.seek(0, 2) > MAX_ARRAY_BYTES:
                raise ClassifierError(f"{weights} is larger than {MAX_ARRAY_BYTES >> 20} MiB")
            fh.seek(0)
            data = fh.read()
        if hashlib.sha256(data).hexdigest() != doc.get("sha256"):
            raise ClassifierError(f"{weights} does not match the card's sha256")
        import io

        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if sorted(npz.files) != sorted(Head.ARRAYS):
                raise ClassifierError(f"{weights} holds {sorted(npz.files)}, not {list(Head.ARRAYS)}")
            head = Head(**{k: npz[k] for k in Head.ARRAYS})
        try:
            head.check()
        except ValueError as exc:
            raise ClassifierError(f"{weights}: {exc}") from None
        if head.n_classes != len(names) or head.n_features != features.get("size"):
            raise ClassifierError("its arrays do not fit its classes and features")
        training = doc.get("training") if isinstance(doc.get("training"), dict) else {}
        counts = {k: int(v) for k, v in (training.get("counts") or {}).items() if isinstance(k, str) and isinstance(v, int)} \
            if isinstance(training.get("counts"), dict) else {}
        cv = training.get("cross_validated_accuracy")
        slides = [s for s in training.get("slides", []) if isinstance(s, str)][:1000] if isinstance(training.get("slides"), list) else []
        name = doc.get("name") if isinstance(doc.get("name"), str) and doc.get("name") else path.stem
        return cls(name[:200], names, colors, detector["name"], detector["sha256"], head, counts,
                   float(cv) if isinstance(cv, (int, float)) and not isinstance(cv, bool) else float("nan"), slides, path)



def classifiers_dir() -> Path:
    """The user's classifier cards: in their model folder, reusable on any slide or project."""
    from ..models.zoo import user_models_dir

    return user_models_dir() / "classifiers"


def list_classifiers() -> list[ClassifierCard]:
    """Every readable classifier card the user has (damaged ones are left out)."""
    folder = classifiers_dir()
    cards = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            cards.append(ClassifierCard.load(path))
        except ClassifierError:
            continue
    return cards


def resolve_classifier(name_or_path: str | Path) -> ClassifierCard:
    """A card path, or the name of one of the user's classifiers."""
    path = Path(name_or_path)
    if path.suffix == ".json" or path.exists():
        return ClassifierCard.load(path)
    mine = classifiers_dir() / f"{name_or_path}.json"
    if mine.exists():
        return ClassifierCard.load(mine)
    known = ", ".join(c.name for c in list_classifiers()) or "none yet"
    raise ClassifierError(f"no classifier called '{name_or_path}' (yours: {known}); give a classifier card path instead")
