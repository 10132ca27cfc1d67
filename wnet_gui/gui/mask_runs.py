"""NuClick masks: for all points, the points in view or the selection, in a worker with an
ETA; a point the user adds or moves next to masked nuclei gets its own mask redrawn."""

from __future__ import annotations

import os
import time

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox

from ..annotations import MANUAL
from ..models.errors import ModelError
from .commands import SetMasksCommand
from .context import FeatureContext
from .detection_runs import format_eta
from .scale import ScaleTools
from .workers import Worker

ASK_ABOVE = 3000  # masks: past this many points, say how long it will take and ask
SECONDS_PER_MASK_CPU = 0.021  # BENCHMARKS.md: `wnet benchmark-nuclick` drew ≈10,600 masks in 222 s on 1 thread


class MaskRuns(QObject):
    finished = Signal(bool)  # cancelled

    def __init__(self, ctx: FeatureContext, scale: ScaleTools):
        super().__init__(ctx)
        self.ctx = ctx
        self.scale = scale
        self.runs = ctx.runs
        self._segmenter = None
        self._pending: set[int] = set()
        self._timer = QTimer(self, singleShot=True, interval=300)
        self._timer.timeout.connect(self._remask)
        ctx.store.listeners.append(self._queue_remask)

    def segmenter(self):
        if self._segmenter is None:
            from ..nuclick.card import resolve_nuclick_card
            from ..nuclick.engine import NuClickSegmenter

            self._segmenter = NuClickSegmenter(resolve_nuclick_card(), self.ctx.panel.device())
        return self._segmenter

    def _confirm_size(self, n: int) -> bool:
        """Thousands of masks take minutes: say so first."""
        if n <= ASK_ABOVE or os.environ.get("WNET_NO_PROMPT"):
            return True
        minutes = n * SECONDS_PER_MASK_CPU / 60
        answer = QMessageBox.question(
            self.ctx.host, "Draw many masks",
            f"Drawing masks for {n:,} points takes about {max(1, round(minutes))} min on this computer's CPU.\n"
            "You can keep working meanwhile and cancel at any time (Esc). Start?")
        return answer == QMessageBox.StandardButton.Yes

    def stop(self) -> None:
        """The window is closing: forget pending redraws."""
        self._timer.stop()
        self._pending.clear()

    def start(self, which: str = "all", ids: np.ndarray | None = None, undoable: bool = True) -> None:
        ctx = self.ctx
        if ctx.slide is None or self.runs.busy or ctx.closing:
            return
        if ids is None:
            ids = {"view": ctx.view.ids_in_view, "selected": ctx.view.selection.ids}.get(which, ctx.store.ids)()
        if len(ids) == 0:
            hint = " (select some with the Select tool, S)" if which == "selected" else ""
            ctx.status(f"No points to draw masks for{hint}", 4000)
            return
        if not self.scale.ensure_known() or (undoable and not self._confirm_size(len(ids))):
            return
        try:
            segmenter = self.segmenter()
        except (ModelError, ValueError) as exc:
            ctx.error("NuClick unavailable", str(exc))
            return
        store = ctx.store
        before = {int(i): store.polygons.get(int(i)) for i in ids}
        token = self.runs.new_token(kind="masks", before=before, after={}, start=time.monotonic(), undoable=undoable)
        slide, points, all_points = ctx.slide, store.coordinates(ids), store.coordinates()

        def work(report, cancel) -> bool:
            for batch in segmenter.segment(slide, ids, points, all_points, cancel=cancel, batch_size=8):
                report(batch)
            return cancel.is_set()

        worker = Worker(token, work)
        worker.progress.connect(self._on_batch)
        self.runs.start(worker, self._on_finished, self._on_failed, f"NuClick on {len(ids):,} points…")

    def _on_batch(self, token, batch) -> None:
        """NuClick's masks for one batch of points (``nuclick.engine`` batch: ids, polygons, done, total)."""
        ids, polygons, done, total = batch.ids, batch.polygons, batch.done, batch.total
        if not self.runs.current(token):
            return
        store = self.ctx.store
        update = {int(i): p for i, p in zip(ids, polygons) if int(i) in store}
        store.set_polygons(update)
        state = self.runs.state
        state["after"].update(update)
        panel = self.ctx.panel
        elapsed = time.monotonic() - state["start"]
        eta = format_eta(elapsed / done * (total - done)) if done else ""
        panel.say(f"{done:,}/{total:,} masks" + (f", {eta}" if eta else ""))
        panel.show_progress(done, total)

    def _conclude(self) -> int:
        state = self.runs.state
        if state["undoable"]:  # a redraw that follows an edit is part of that edit, not a step
            self.ctx.undo.push(SetMasksCommand(self.ctx.store, {i: state["before"][i] for i in state["after"]}, state["after"]))
        return sum(p is not None for p in state["after"].values())

    def _on_finished(self, token, cancelled: bool) -> None:
        if not self.runs.current(token):
            return
        state = self.runs.state
        n = self._conclude()
        self.runs.end(f"{n} masks in {time.monotonic() - state['start']:.1f} s" + (" (cancelled)" if cancelled else ""))
        self.finished.emit(cancelled)

    def cancel(self) -> bool:
        if not self.runs.busy or self.runs.state.get("kind") != "masks":
            return False
        n = self._conclude()
        self.runs.detach()
        self.ctx.panel.say(f"Masks cancelled: {n} kept")
        self.finished.emit(True)
        return True

    def _on_failed(self, token, message: str) -> None:
        if not self.runs.current(token):
            return
        self._conclude()
        self.runs.end()
        self.ctx.error("Run stopped", f"{message}\n\nMasks drawn so far are kept.")
        self.finished.emit(True)

    # -- masks follow edited points -------------------------------------------------------
    def _queue_remask(self, what: str, ids: np.ndarray) -> None:
        """A hand-edited point whose neighbours have masks gets its own mask redrawn (only
        that one): masks follow points without the user asking."""
        store = self.ctx.store
        if what not in ("move", "add") or not store.polygons or len(ids) > 50 or self._segmenter is None:
            return
        ids = [int(i) for i in ids if int(i) in store and int(i) not in store.polygons]
        if what == "add":
            ids = [i for i in ids if store.get(i).source == MANUAL]
        if ids:
            self._pending.update(ids)
            self._timer.start()

    def _remask(self) -> None:
        if self.ctx.closing:
            return
        if self.runs.busy:  # busy: try again shortly
            self._timer.start()
            return
        store = self.ctx.store
        # an undo may have put the old outline back meanwhile: only outline-less points
        ids = np.array(sorted(i for i in self._pending if i in store and i not in store.polygons), np.int64)
        self._pending.clear()
        if len(ids):
            self.start(ids=ids, undoable=False)
