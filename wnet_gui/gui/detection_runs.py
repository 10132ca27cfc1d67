"""Auto-detect: which region, the slide's scale, and a run whose results replace the model's
earlier points tile by tile.

A re-run never clears points up front: each finished tile replaces the model points inside
its own core, so Cancel (or an error) leaves every point that was not yet replaced, and the
whole run is one undo step either way. Cancel takes effect at once in the window; the
worker finishes its current batch in the background and its results are dropped.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QRectF, Signal
from PySide6.QtGui import QPolygonF

from ..annotations.run_merge import outside_reviewed, replaceable
from ..geometry import PolygonRegion, Rect
from ..models.errors import ModelError
from .classes import ClassTools
from .commands import DetectionRunCommand
from .context import FeatureContext
from .region_list import RegionList
from .scale import ScaleTools
from .workers import Worker


def format_eta(seconds: float) -> str:
    if not np.isfinite(seconds):
        return ""
    if seconds < 90:
        return f"{seconds:.0f} s left"
    return f"{seconds / 60:.0f} min left"


class DetectionRuns(QObject):
    finished = Signal(bool)  # cancelled

    def __init__(self, ctx: FeatureContext, regions: RegionList, scale: ScaleTools, classes: ClassTools):
        super().__init__(ctx)
        self.ctx = ctx
        self.regions, self.scale, self.classes = regions, scale, classes
        self.runs = ctx.runs

    # -- region -----------------------------------------------------------------------
    def region(self, mode: str | None = None) -> Rect | PolygonRegion | None:
        """The panel's choice (or ``mode``): the drawn region (rectangle or outline), the
        view, or None for the whole slide."""
        view, slide = self.ctx.view, self.ctx.slide
        mode = str(self.ctx.panel.region_combo.currentData()) if mode is None else mode
        if mode.startswith("region:"):  # imported from QuPath
            outline = self.regions.outline(mode)
            return PolygonRegion.from_array([(p.x(), p.y()) for p in outline])
        if mode == "roi" and isinstance(view.roi, QPolygonF):
            return PolygonRegion.from_array([(p.x(), p.y()) for p in view.roi])
        if mode == "roi" and view.roi is not None:
            r = view.roi
        elif mode == "slide":
            return None
        else:
            r = view.visible_scene_rect()
        w, h = slide.dimensions
        r = r.intersected(QRectF(0, 0, w, h))
        return Rect(r.left(), r.top(), r.width(), r.height()) if not r.isEmpty() else None

    # -- run ----------------------------------------------------------------------------
    def start(self, whole_slide: bool = False) -> None:
        """Auto-detect on the panel's region, or with ``whole_slide`` on all of it (the panel's
        choice left as the user set it); reviewed regions keep their points either way."""
        ctx = self.ctx
        if ctx.slide is None:
            ctx.error("No slide", "Open a slide or File › Open sample first.")
            return
        if self.runs.busy or ctx.closing:
            return
        card = ctx.panel.current_card()
        if card is None:
            ctx.error("No model", "No detection model is available: add a model card.")
            return
        if not self.scale.ensure_known():
            return
        region = self.region("slide" if whole_slide else None)
        try:
            from ..engine.detect import DetectOptions
            from ..engine.device import select_device
            from ..engine.predict import DensityPredictor

            # every core, as `wnet detect`: the GUI thread only draws, and keeps drawing (BENCHMARKS.md, The app)
            options = DetectOptions(device=ctx.panel.device(), sensitivity=ctx.panel.sensitivity_for(card), tta=ctx.panel.flip_averaging())
            # the engine's own precision, as `wnet detect` and cohorts run it: the same nuclei either way
            predictor = DensityPredictor.from_card(card, select_device(options.device), options.precision)
        except (ModelError, ValueError) as exc:
            ctx.error("Model cannot be used", str(exc))
            return
        store = ctx.store
        w, h = ctx.slide.dimensions
        if isinstance(region, PolygonRegion):
            in_region = store.query_polygon(np.array(region.vertices) - 0.5)  # outline on pixel edges → pixel-centre coordinates
        else:
            r = region or Rect(0, 0, w, h)
            in_region = store.query_rect(r.x, r.y, r.x1, r.y1)
        candidates = replaceable(store, in_region)  # replaced as tiles finish (annotations.run_merge has the rule)
        token = self.runs.new_token(kind="detect", candidates=set(int(i) for i in candidates), replaced=[], added=[], card=card,
                                    start=time.monotonic(), outline=region if isinstance(region, PolygonRegion) else None)
        slide = ctx.slide

        def work(report, cancel) -> bool:
            from ..engine.detect import iter_detections

            for result in iter_detections(slide, card, region, options, cancel, predictor):
                report(result)
            return cancel.is_set()

        worker = Worker(token, work)
        worker.progress.connect(self._on_tile)
        self.runs.start(worker, self._on_finished, self._on_failed, f"Detecting with {card.title}…")

    def _replace_in(self, core: Rect) -> None:
        """Remove the run's candidates that lie in a finished tile's core."""
        state, store = self.runs.state, self.ctx.store
        if not state["candidates"]:
            return
        ids = store.query_rect(core.x, core.y, core.x1, core.y1)
        gone = np.array([i for i in ids.tolist() if i in state["candidates"]], np.int64)
        if state["outline"] is not None and len(gone):
            xy = store.coordinates(gone)
            gone = gone[state["outline"].contains(xy[:, 0] + 0.5, xy[:, 1] + 0.5)]
        if len(gone):
            store.remove(gone)
            state["candidates"].difference_update(gone.tolist())
            state["replaced"].append(gone)

    def _on_tile(self, token, result) -> None:
        """A finished tile (``engine.detect.TileResult``): its core's old points go, its new ones come."""
        if not self.runs.current(token):
            return
        tile, centres, scores, types = result.tile, result.centres, result.scores, result.types
        done, total, skipped, eta = result.done, result.total, result.skipped, result.eta
        state = self.runs.state
        self._replace_in(tile.core)
        if len(centres) and self.ctx.store.reviewed:
            keep = outside_reviewed(self.ctx.store, centres)
            centres, scores = centres[keep], scores[keep]
            types = None if types is None else [t for t, k in zip(types, keep) if k]
        if len(centres):
            ids = self.ctx.store.add_many(centres[:, 0], centres[:, 1], source=state["card"].name, scores=scores, classes=types)
            state["added"].append(ids)
        panel = self.ctx.panel
        eta_text = format_eta(eta)
        panel.say(f"{done - skipped}/{total - skipped} tissue tiles" + (f", {eta_text}" if eta_text else ""))
        panel.show_progress(done - skipped, total - skipped)

    def _conclude(self, label: str) -> int:
        """Push the run as one undo step; returns how many points it added."""
        state = self.runs.state
        added = np.concatenate(state["added"]) if state["added"] else np.zeros(0, np.int64)
        replaced = np.concatenate(state["replaced"]) if state["replaced"] else np.zeros(0, np.int64)
        self.ctx.undo.push(DetectionRunCommand(self.ctx.store, replaced, added, label))
        return len(added)

    def _on_finished(self, token, cancelled: bool) -> None:
        if not self.runs.current(token):
            return
        state = self.runs.state
        n = self._conclude(f"Auto-detect ({state['card'].title}): {sum(len(a) for a in state['added'])} nuclei")
        if state["card"].architecture.types:  # a typing model: its types (and their colours) join the class list
            for name, rgb in state["card"].type_colors.items():
                self.ctx.store.class_colors.setdefault(name, tuple(rgb))
        self.classes.sync_from_store()  # typed or not, the colours follow what the slide now holds
        self.runs.end()  # nothing more from this run
        seconds = time.monotonic() - state["start"]
        self.ctx.panel.say(f"{n:,} nuclei in {seconds:.1f} s")
        self.finished.emit(cancelled)

    def cancel(self) -> bool:
        """Stop now: keep what is found and every earlier point not yet replaced. The worker
        stops after its current batch; its late results are ignored."""
        if not self.runs.busy or self.runs.state.get("kind") != "detect":
            return False
        state = self.runs.state
        n = self._conclude(f"Auto-detect ({state['card'].title}, cancelled): {sum(len(a) for a in state['added'])} nuclei")
        kept = len(state["candidates"])
        self.runs.detach()
        self.ctx.panel.say(f"Detection cancelled: {n} new nuclei kept" + (f", {kept} earlier ones not replaced" if kept else ""))
        self.finished.emit(True)
        return True

    def _on_failed(self, token, message: str) -> None:
        if not self.runs.current(token):
            return
        self._conclude("Auto-detect (stopped by an error)")
        self.runs.end()
        self.ctx.error("Run stopped", f"{message}\n\nPoints found so far are kept, and earlier points not yet replaced stay.")
        self.finished.emit(True)
