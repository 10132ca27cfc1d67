"""Train classifier (Classes dock): the classes a pathologist set by hand on this slide — and,
in a project, on its other slides too — teach a classifier (``classify``), which is shown
(labelled nuclei per class and a cross-validated accuracy) before it classes the other nuclei
of this slide, as one undo step; hand-set classes never change. The classifier is kept in the
user's model folder for other slides, ``wnet detect --classifier`` and ``wnet detect PROJECT``."""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QMessageBox, QPushButton

from .classes import ClassTools
from .commands import UpdateNucleiCommand
from .context import FeatureContext
from .project_panel import ProjectPanel
from .scale import ScaleTools


class TeachTools(QObject):
    def __init__(self, ctx: FeatureContext, classes: ClassTools, scale: ScaleTools, project: ProjectPanel):
        super().__init__(ctx)
        self.ctx = ctx
        self.classes, self.scale, self.project = classes, scale, project
        self.button = QPushButton("Train classifier")
        self.button.setObjectName("trainClassifier")
        self.button.setToolTip("Learn your classes from the nuclei whose class you set by hand (keys 1–9), then class the others")
        self.button.clicked.connect(self.train)
        self.status = QLabel("")  # one line: a wrapped label outgrew the tabbed dock and drew over its tabs
        row = QHBoxLayout()  # one row: the Classes dock shares its height with the Review tab
        row.addWidget(self.button)
        row.addWidget(self.status, 1)
        classes.layout.addLayout(row)
        self.across = QCheckBox("Learn from every slide of the project")
        self.across.setObjectName("trainAcrossProject")
        self.across.setToolTip("Also the nuclei you classed by hand on the project's other slides (their saved annotations)")
        self.across.setChecked(True)
        self.across.setVisible(False)  # shown while the open slide belongs to an open project
        classes.layout.addWidget(self.across)
        project.shown.connect(self._show_across)
        ctx.slideOpened.connect(self._show_across)
        ctx.runs.busyChanged.connect(lambda busy: self.button.setEnabled(not busy))
        self.last_card = None
        from ..classify.feature_cache import FeatureCache  # (numpy only)

        self.features = FeatureCache()
        self._visited: set[int] = set()  # nuclei Next uncertain showed since the last training

    def _show_across(self, *_) -> None:
        self.across.setVisible(self.project.current_entry() is not None)

    def next_uncertain(self) -> None:
        """Centre the view on the least certain nucleus the classifier classed (not yet shown,
        not set by hand) and select it: a label there teaches the classifier most."""
        from ..annotations.geojson_export import CONFIDENCE

        ctx = self.ctx
        store = ctx.store
        best, best_p = None, 2.0
        for nid, extra in store.extras.items():
            p = ((extra or {}).get("measurements") or {}).get(CONFIDENCE)
            if p is None or extra.get("class_by_hand") or nid in self._visited or nid not in store:
                continue
            if p < best_p:
                best, best_p = nid, p
        if best is None:
            ctx.status("No classed nucleus left to check: train the classifier (Classes dock) first", 6000)
            return
        self._visited.add(best)
        from PySide6.QtCore import QPointF

        x, y = store.coordinates([best])[0]
        ctx.view.centerOn(QPointF(x, y))
        ctx.view.selection.set([best])
        ctx.status(f"Least certain: {store.get(best).cls} at {best_p:.0%} — press its class's number to set it, "
                                       "U for the next", 8000)

    def train(self) -> None:
        ctx = self.ctx
        store, slide = ctx.store, ctx.slide
        if slide is None:
            ctx.error("Train classifier", "Open a slide first.")
            return
        if ctx.runs.busy:
            ctx.status("Wait for the current run to finish (or cancel it) first", 5000)
            return
        ids = store.ids()
        from ..classify.teach import MIN_PER_CLASS  # (loads the engine: only when asked to train)

        by_hand = store.classed_by_hand(ids)
        names = store.classes_of(ids[by_hand]) if by_hand.any() else []
        counts = {c: names.count(c) for c in dict.fromkeys(names)}
        # a project's labels teach the slides of that project, not one opened from elsewhere
        project = self.project.project if self.across.isChecked() and self.project.current_entry() is not None else None
        if project is None and len([c for c, n in counts.items() if n >= MIN_PER_CLASS]) < 2:
            have = ", ".join(f"{c}: {n}" for c, n in counts.items()) or "none yet"
            ctx.error("Train classifier", f"Set the class of at least {MIN_PER_CLASS} nuclei of each of two classes by hand first "
                                             f"(select them and press the class's number, 1–9). Set by hand so far: {have}.")
            return
        detector = ctx.panel.current_card()
        if detector is None or detector.architecture.kind != "wnet":
            ctx.error("Train classifier", "Choose a W-Net model (fast, accurate, typed or one of yours): a classifier reads its features.")
            return
        if not self.scale.ensure_known():
            return
        from ..engine.detect import DetectOptions
        from .workers import Worker

        order = np.concatenate([ids[by_hand], ids[~by_hand]])
        labelled = np.zeros(len(order), bool)
        labelled[: int(by_hand.sum())] = True
        options = DetectOptions(device=ctx.panel.device(), mpp=slide.mpp)
        token = ctx.runs.new_token(kind="teach", others=ids[~by_hand], path=slide.path)
        xy, colors = store.coordinates(order), {c: store.class_colors[c] for c in counts if c in store.class_colors}
        title = project.folder.name if project is not None else slide.path.stem
        cache = self.features

        def work(report, cancel):
            """Features at every nucleus of this slide in one detection pass (and at the hand-set nuclei
            of the project's other slides), a classifier from the hand-set ones, this slide's others
            classed; (card, classes, confidences, note), or None when cancelled. The store changes only
            on the GUI thread."""
            from ..classify.card import ClassifierError
            from ..classify.features import at_points
            from ..classify.teach import feature_source, from_features, labelled_features, read_missing

            read: list = []  # (source, points, features) to keep for the next training
            features = np.zeros((0, 0), np.float32)
            if len(xy):
                source = feature_source(slide.path, slide.mpp, detector)
                features = read_missing(cache, source, xy, lambda pts: at_points(slide, detector, pts, options, cancel))
                read.append((source, xy, features))
            taught, taught_names, taught_colors, slides, note = features[labelled], list(names), dict(colors), [slide.path.name], ""
            if project is not None:
                from ..projects.work import hand_labelled_slides

                elsewhere, unscaled = hand_labelled_slides(project, exclude=slide.path)
                if elsewhere:
                    more, more_names, more_colors = labelled_features(elsewhere, detector, options, cancel, cache=cache, read=read)
                    taught = np.concatenate([taught, more]) if len(taught) else more
                    taught_names += more_names
                    taught_colors = {**more_colors, **taught_colors}  # this slide's colours win
                    slides += [item.path.name for item in elsewhere]
                if unscaled:
                    note = f"; left out (scale unknown): {', '.join(unscaled)}"
            if cancel.is_set():
                return None
            if not len(taught_names):
                raise ClassifierError(f"no nucleus has a class set by hand {'in the project' if project is not None else 'on this slide'} yet "
                                      f"(select nuclei and press the class's number, 1–9){note}")
            card = from_features(taught, taught_names, taught_colors, detector, f"{title} classes", slides)
            others = features[~labelled]
            classes, confidences = card.classify(others) if len(others) else ([], np.zeros(0, np.float32))
            return card, classes, confidences, note, read

        worker = Worker(token, work, plain=(ValueError,))  # too few labels, no tissue: said plainly
        self.status.setText("")
        where = "this slide and the project's others" if project is not None else f"{int(by_hand.sum())} nuclei"
        ctx.runs.start(worker, self._taught, self._failed, f"Teaching your classes from {where}…")

    def _failed(self, token, message: str) -> None:
        if not self.ctx.runs.current(token):
            return
        self.ctx.runs.end("")
        self.ctx.error("Train classifier", message)

    def _taught(self, token, result) -> None:
        ctx = self.ctx
        if not ctx.runs.current(token):
            return
        others = ctx.runs.state["others"]
        ctx.runs.end("")
        if result is None:  # cancelled
            return
        card, classes, confidences, note, read = result
        for source, points, features in read:  # the next training reads only nuclei added or moved since
            self.features.store(source, points, features)
        from ..classify.card import classifiers_dir

        self._visited.clear()
        self.last_card = card
        try:
            card.save(classifiers_dir() / f"{card.name.replace(' ', '-')}.json")
        except OSError as exc:  # a read-only home: the classes still apply here
            ctx.status(f"The classifier could not be kept: {exc}", 8000)
        counts = ", ".join(f"{c} {n}" for c, n in card.counts.items())
        accuracy = "not measured (too few labels)" if np.isnan(card.cv_accuracy) else f"{card.cv_accuracy:.0%}"
        on = f" on {len(card.trained_on)} slides" if len(card.trained_on) > 1 else ""
        self.status.setText(f"{sum(card.counts.values())} nuclei{on}, cross-validated accuracy {accuracy}")
        self.status.setToolTip(f"{card.name}: {counts}{note}; kept with your models for other slides and `wnet detect --classifier`")
        alive = np.array([int(i) in ctx.store for i in others], bool) if len(others) else np.zeros(0, bool)
        others, classes = others[alive], [c for c, keep in zip(classes, alive) if keep]
        confidences = np.asarray(confidences)[alive]
        if not len(others):
            return
        text = (f"Taught from the nuclei you classed{on} ({counts}{note}); cross-validated accuracy {accuracy}.\n\n"
                f"Class the {len(others):,} other nuclei with it? Classes you set by hand stay.")
        if not os.environ.get("WNET_NO_PROMPT"):
            answer = QMessageBox.question(ctx.host, "Apply classifier", text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                          QMessageBox.StandardButton.Yes)
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.apply(others, classes, confidences, card)

    def apply(self, ids: np.ndarray, classes: list[str], confidences: np.ndarray, card) -> None:
        """Classes and confidences to ``ids`` as one undo step."""
        from ..annotations.geojson_export import CONFIDENCE

        store = self.ctx.store
        for name, rgb in zip(card.classes, card.colors):
            store.class_colors.setdefault(name, tuple(rgb))
            if name not in self.classes.names:
                self.classes.add(name, tuple(rgb))
        before = store.fields(ids)
        extras = []
        for extra, p in zip(before.extras, confidences.tolist()):
            e = dict(extra or {})
            e["measurements"] = {**(e.get("measurements") or {}), CONFIDENCE: round(float(p), 4)}
            e.pop("class_by_hand", None)
            extras.append(e)
        from dataclasses import replace

        after = replace(before, classes=list(classes), extras=extras)
        self.ctx.undo.push(UpdateNucleiCommand(store, ids, before, after, f"Class {len(ids):,} nuclei with {card.name}"))
        self.classes.sync_from_store()
        self.ctx.status(f"Classed {len(ids):,} nuclei with {card.name}", 8000)
