"""Teaching and applying classes: features at the nuclei a pathologist labelled (on one or
more slides) → a head → a classifier card; and the classes of a detection run's nuclei."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..annotations.qupath import assign_colors
from ..engine.detect import DetectOptions
from . import features as F
from .card import ClassifierCard, ClassifierError
from .head import cross_validated_accuracy, train

MIN_PER_CLASS = 3  # fewer labelled nuclei than this cannot teach a class


@dataclass
class LabelledSlide:
    """Nuclei of one slide whose class a person set: level-0 centres and class names."""

    path: Path
    xy: np.ndarray
    classes: list[str]
    mpp: float | None = None
    colors: dict[str, tuple[int, int, int]] = field(default_factory=dict)


def teach(labelled: list[LabelledSlide], detector, name: str, options: DetectOptions | None = None,
          cancel: threading.Event | None = None, progress=None) -> ClassifierCard:
    """A classifier card taught from the labelled nuclei of every slide, with its
    cross-validated accuracy; ``ClassifierError`` when the labels cannot teach anything."""
    x, names, colors = labelled_features(labelled, detector, options, cancel, progress)
    return from_features(x, names, colors, detector, name, [item.path.name for item in labelled if len(item.xy)])


def labelled_features(labelled: list[LabelledSlide], detector, options: DetectOptions | None = None,
                      cancel: threading.Event | None = None, progress=None, cache=None,
                      read: list | None = None) -> tuple[np.ndarray, list[str], dict]:
    """The detector's features at every slide's labelled nuclei, their classes and colours
    (each slide opened at its own scale, one at a time); with a ``FeatureCache``, only the
    nuclei it does not hold are read. The cache is not written here (a worker thread may run
    this): each slide's (source, points, features) is appended to ``read`` for the caller to store."""
    feats, names, colors = [], [], {}
    for k, item in enumerate(labelled):
        if progress:
            progress(k, len(labelled), item.path.name)
        if not len(item.xy) or (cancel is not None and cancel.is_set()):
            continue
        mpp = item.mpp if item.mpp else (options.mpp if options else None)
        source = feature_source(item.path, mpp, detector)
        feats.append(read_missing(cache, source, item.xy, lambda xy: features_on(item.path, mpp, xy, detector, options, cancel)))
        if read is not None:
            read.append((source, item.xy, feats[-1]))
        names += list(item.classes)
        colors.update(item.colors)
    return (np.concatenate(feats) if feats else np.zeros((0, 0), np.float32)), names, colors


def read_missing(cache, source, xy: np.ndarray, read) -> np.ndarray:
    """Features at ``xy``: what ``cache`` (a ``FeatureCache``, or None) holds for ``source``, and
    ``read(points)`` for the rest."""
    known, missing = cache.lookup(source, xy) if cache is not None else (None, np.ones(len(xy), bool))
    if known is None:
        return read(xy)
    if missing.any():
        known[missing] = read(xy[missing])
    return known


def features_on(path: Path, mpp: float | None, xy: np.ndarray, detector, options: DetectOptions | None = None,
                cancel: threading.Event | None = None) -> np.ndarray:
    """The detector's features at points of a slide file, opened at ``mpp`` for the reading."""
    from ..slides import open_slide

    slide = open_slide(path, mpp=mpp)
    try:
        return F.at_points(slide, detector, xy, options, cancel)
    finally:
        slide.close()


def feature_source(path: Path, mpp: float | None, detector) -> tuple:
    """What features at a slide's nuclei depend on besides the positions (``FeatureCache``)."""
    return (str(Path(path).resolve()), None if mpp is None else round(float(mpp), 6), detector.sha256)


def hand_set(store) -> np.ndarray:
    """Ids of the nuclei whose class a person set (hotkeys, a drawn region, an imported class)."""
    ids = store.ids()
    return ids[store.classed_by_hand(ids)]


def from_features(x: np.ndarray, names: list[str], colors: dict, detector, name: str, slides: list[str]) -> ClassifierCard:
    """A classifier card from features already read at the labelled nuclei (``names``: their
    classes), with its cross-validated accuracy."""
    counts = {c: names.count(c) for c in dict.fromkeys(names)}
    classes = [c for c, n in counts.items() if n >= MIN_PER_CLASS]
    if len(classes) < 2:
        raise ClassifierError(f"needs at least two classes with {MIN_PER_CLASS} or more labelled nuclei each; the labels hold "
                              + (", ".join(f"{c}: {n}" for c, n in counts.items()) or "none"))
    keep = np.array([c in classes for c in names])
    x, y = x[keep], np.array([classes.index(c) for c, k in zip(names, keep) if k])
    head = train(x, y, len(classes))
    cv = cross_validated_accuracy(x, y, len(classes))
    palette = assign_colors(classes, {c: tuple(v) for c, v in colors.items()})
    return ClassifierCard(name, classes, [palette[c] for c in classes], detector.name, detector.sha256, head,
                          {c: counts[c] for c in classes}, cv, slides)


def check_detector(classifier: ClassifierCard, detector) -> None:
    """A head reads one detector's features: refuse another detector (or other weights)."""
    if classifier.detector_sha256 != detector.sha256:
        raise ClassifierError(f"classifier {classifier.name} was taught on the features of {classifier.detector} "
                              f"(sha256 {classifier.detector_sha256[:12]}…), not {detector.name} (sha256 {detector.sha256[:12]}…); "
                              f"use --model {classifier.detector} or teach it again")
