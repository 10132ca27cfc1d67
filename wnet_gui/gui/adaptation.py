"""Adapt the model to this slide: fine-tune the current model on the reviewed regions in a
worker (progress, cancel), save it as a new card in the user's model folder, select it, show
the F1 before/after on held-back parts of the regions, and offer to re-run detection on the
rest of the slide. Going back to the base model is one click; adapted models are listed with
the others and can be adapted further. *Calibrate* is the same in seconds with no weight
moving: only the sensitivity and threshold are chosen on the reviewed regions."""

from __future__ import annotations

import dataclasses
import os

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDockWidget, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget

from ..adaptation.settings import AdaptSettings
from .context import FeatureContext
from .detection_runs import DetectionRuns
from .model_picker import ModelPicker
from .review import ReviewRegions
from .workers import Worker

MIN_NUCLEI = 200  # fewer reviewed nuclei teach too little and measure nothing


def base_of(card) -> str | None:
    """The model an adapted card came from (None: not adapted)."""
    adaptation = (card.training or {}).get("adaptation") if card is not None else None
    return adaptation.get("base_model") if isinstance(adaptation, dict) else None


class AdaptationTools(QObject):
    def __init__(self, ctx: FeatureContext, review: ReviewRegions, models: ModelPicker, detection: DetectionRuns):
        super().__init__(ctx)
        self.ctx, self.review, self.models, self.detection = ctx, review, models, detection
        self.min_nuclei = MIN_NUCLEI
        self.settings = AdaptSettings()  # tests shrink the budget
        self.out_dir = None  # None: the user's model folder
        self.last_card = None
        self.adapt_button = QPushButton("Adapt model to reviewed regions…")
        self.adapt_button.setObjectName("adaptButton")
        self.adapt_button.clicked.connect(lambda checked=False: self.start())
        self.calibrate_button = QPushButton("Calibrate sensitivity to reviewed regions")
        self.calibrate_button.setObjectName("calibrateButton")
        self.calibrate_button.clicked.connect(lambda: self.start(calibrate_only=True))
        self.revert_button = QPushButton("Back to the base model")
        self.revert_button.setObjectName("revertButton")
        self.revert_button.clicked.connect(self.revert)
        self.status = QLabel()
        self.status.setObjectName("adaptStatus")
        self.status.setWordWrap(True)
        self.widget = QWidget()
        layout = QVBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.adapt_button, self.calibrate_button, self.revert_button, self.status):
            layout.addWidget(w)
        review.changed.connect(self.refresh)
        ctx.runs.busyChanged.connect(lambda busy: self.refresh())
        ctx.panel.model_combo.currentIndexChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        ctx = self.ctx
        n = self.review.nuclei() if ctx.slide is not None else 0
        busy = ctx.runs.busy
        self.adapt_button.setEnabled(ctx.slide is not None and n >= self.min_nuclei and not busy)
        self.calibrate_button.setEnabled(self.adapt_button.isEnabled())
        self.calibrate_button.setToolTip(f"Choose the sensitivity and peak threshold that fit the {n:,} reviewed nuclei, in seconds; "
                                         "no weight changes. Saved as a calibrated model, selected like an adapted one")
        card = ctx.panel.current_card()
        types = card.architecture.types if card is not None else ()
        self.adapt_button.setToolTip(f"Fine-tune the current model on the {n:,} reviewed nuclei (needs {self.min_nuclei:,}); "
                                     f"about {self.settings.seconds / 60:.1f} min on this computer's CPU"
                                     + (f". Its encoder and types ({', '.join(types)}) are kept; the reviewed classes are "
                                        "scored before and after" if types else ""))
        if self.last_card is None:  # after an adaptation the status keeps its before/after numbers
            self.status.setText("" if ctx.slide is None else (
                f"Adapting needs {self.min_nuclei:,} reviewed nuclei: {self.min_nuclei - n:,} more." if n < self.min_nuclei
                else f"Ready: {n:,} reviewed nuclei."))
        base = base_of(card)
        self.revert_button.setVisible(base is not None)
        self.revert_button.setText(f"Back to the base model ({base})" if base else "Back to the base model")

    def start(self, calibrate_only: bool = False) -> None:
        ctx = self.ctx
        card = ctx.panel.current_card()
        if ctx.slide is None or card is None or ctx.runs.busy:
            return
        if self.review.nuclei() < self.min_nuclei:
            ctx.error("Not enough reviewed nuclei", f"Mark regions reviewed holding at least {self.min_nuclei} nuclei first.")
            return
        store = ctx.store
        cols = store.columns()
        import numpy as np

        from ..adaptation.examples import ReviewedSlide

        classes = [store.classes.names[c] for c in cols["cls"]]  # reviewed classes teach a typing model its types
        reviewed = [ReviewedSlide(ctx.slide.path, np.stack([cols["x"], cols["y"]], axis=1), list(store.reviewed), ctx.slide.mpp, classes)]
        token = ctx.runs.new_token(kind="adapt", base=card)
        settings = dataclasses.replace(self.settings, tune="none") if calibrate_only else self.settings
        out_dir = self.out_dir

        def work(report, cancel):
            """The adaptation, then the new card saved (None when cancelled); the result stays for the summary."""
            from ..adaptation import adapt, prepare, save_adapted

            examples = prepare(reviewed, card, seed=settings.seed)
            self.result = result = adapt(card, examples, settings, lambda stage, f: report((stage, f)), cancel)
            if result.cancelled:
                return None
            return save_adapted(card, result, [str(r.slide) for r in reviewed], len(examples), out_dir)

        self.result = None
        worker = Worker(token, work)
        worker.progress.connect(self._on_progress)
        self.worker = worker
        doing = "Calibrating" if calibrate_only else "Adapting"
        ctx.runs.start(worker, self._on_finished, self._on_failed, f"{doing} {card.title} to the reviewed regions…")
        ctx.panel.progress.setMaximum(1000)
        self.refresh()

    def _on_progress(self, token, progress: tuple[str, float]) -> None:
        if not self.ctx.runs.current(token):
            return
        stage, fraction = progress
        self.ctx.panel.say(stage)
        self.ctx.panel.progress.setValue(int(1000 * fraction))

    def _on_finished(self, token, card) -> None:
        ctx = self.ctx
        if not ctx.runs.current(token):
            return
        result = self.result
        base = ctx.runs.state["base"]
        ctx.runs.end()
        if card is None:
            ctx.panel.say("Adaptation cancelled; the model is unchanged")
            self.refresh()
            return
        self.last_card = card
        held = card.metrics["adaptation_held_back"]  # the numbers `wnet models` prints, to the same digits
        b, a = held["before"], held["after"]
        calibrated = result.calibrated_only
        what = "Calibrated" if calibrated else "Adapted"
        how = (f"sensitivity {result.sensitivity:+g}, threshold {result.threshold:g}, weights unchanged" if calibrated
               else f"{result.steps} steps, {result.seconds:.0f} s")
        base_title = base.title
        text = (f"F1 on held-back reviewed nuclei {b['f1']:.3f} → {a['f1']:.3f} "
                f"(precision {b['precision']:.2f} → {a['precision']:.2f}, recall {b['recall']:.2f} → {a['recall']:.2f}; "
                f"{result.nuclei:,} nuclei, {how})")
        if a.get("typed_pairs"):
            text += f"; type right for {b['type_accuracy']:.0%} → {a['type_accuracy']:.0%} of them"
        if not result.improved:  # the truth, and the better model stays
            self.models.reload(base.name)  # the new card is listed; the base stays selected
            self.status.setText(f"{what} model is not better: {text}. {base_title} stays selected; the result is saved as "
                                f"'{card.title}' for reference.")
            ctx.panel.say(f"{what} model not better; {base_title} kept")
            self.refresh()
            if not os.environ.get("WNET_NO_PROMPT"):
                QMessageBox.information(ctx.host, f"{what} model not better",
                                        f"The {what.lower()} model did no better than {base_title} on the reviewed nuclei held back "
                                        f"to check it: {text}.\n\n{base_title} stays selected. The result is saved as "
                                        f"'{card.title}' if you want to try it anyway. Reviewing more nuclei usually helps.")
            return
        self.models.reload(card.name)  # listed with the others, and selected
        self.status.setText(f"{card.title}: {text}")
        ctx.panel.say(f"{what} model saved and selected")
        self.refresh()
        if not os.environ.get("WNET_NO_PROMPT"):
            answer = QMessageBox.question(ctx.host, f"Model {what.lower()}", f"{card.title}: {text}\n\nRe-run detection on the rest of the "
                                          "slide with it? Reviewed regions keep their points.")
            if answer == QMessageBox.StandardButton.Yes:
                self.detection.start(whole_slide=True)  # the rest of the slide: reviewed regions keep their points

    def _on_failed(self, token, message: str) -> None:
        ctx = self.ctx
        if not ctx.runs.current(token):
            return
        ctx.runs.end("")
        self.refresh()
        ctx.error("Adaptation failed", f"{message}\n\nThe current model is unchanged.")

    def revert(self) -> None:
        base = base_of(self.ctx.panel.current_card())
        if base:
            self.models.reload(base)
            self.refresh()


def review_dock(host: QWidget, review: ReviewRegions, adaptation: AdaptationTools) -> QDockWidget:
    """The "Review & adapt" dock (the window places it beside the Classes dock)."""
    widget = QWidget()
    layout = QVBoxLayout(widget)
    layout.addWidget(review.widget)
    layout.addWidget(adaptation.widget)
    layout.addStretch(1)
    dock = QDockWidget("Review && adapt", host)
    dock.setObjectName("reviewDock")
    dock.setWidget(widget)
    return dock
