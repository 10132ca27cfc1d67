"""The one background run a window has at a time (detection, masks or an import).

Each run gets a token; results that arrive after the run was superseded (the user opened
another slide, started another run) carry an old token and are dropped, never drawn on the
wrong image. The panel shows progress while a run is alive.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread, Signal

from .panel import SidePanel
from .workers import start_in_thread


class RunSlot(QObject):
    busyChanged = Signal(bool)  # whatever a run greys out (Adapt, Calibrate) comes back when it ends

    def __init__(self, panel: SidePanel, parent: QObject):
        super().__init__(parent)
        self.panel = panel
        self.token = 0
        self.state: dict = {}  # what the current run needs to finish (its feature's business)
        self.worker = None
        self.thread: QThread | None = None
        self.draining: list[QThread] = []  # cancelled runs finishing their last batch

    @property
    def busy(self) -> bool:
        return self.thread is not None

    def new_token(self, **state) -> int:
        """Start a new run's bookkeeping (or just make older results stale)."""
        self.token += 1
        self.state = {"token": self.token, **state}
        return self.token

    def current(self, token) -> bool:
        return token == self.state.get("token")

    def start(self, worker, on_finished, on_failed, label: str) -> None:
        """Run ``worker`` in its own thread; the panel shows progress until it ends."""
        worker.finished.connect(on_finished)
        worker.failed.connect(on_failed)
        self.worker = worker
        self.panel.set_running(True)
        self.panel.say(label)
        self.thread = start_in_thread(worker, self.parent())
        self.busyChanged.emit(True)

    def finish(self) -> None:
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait(5000)
        self.thread = None
        self.worker = None
        self.panel.set_running(False)
        self.busyChanged.emit(False)

    def end(self, label: str | None = None) -> None:
        """The current run is over: its thread goes, later results from it are stale, and the
        panel's progress line says ``label`` (left as it is when None)."""
        self.finish()
        self.new_token()
        if label is not None:
            self.panel.say(label)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel_event.set()

    def detach(self) -> None:
        """Cancel and forget the current run at once: the window is free immediately while
        the worker winds down its current batch (its results carry a stale token)."""
        self.cancel()
        thread = self.thread
        if thread is not None:
            thread.quit()
            self.draining.append(thread)
            thread.finished.connect(lambda t=thread: t in self.draining and self.draining.remove(t))
        self.thread, self.worker = None, None
        self.panel.set_running(False)
        self.new_token()
        self.busyChanged.emit(False)

    def wait(self, msecs: int = 10000) -> None:
        """Before closing: let every thread end (a QThread destroyed while running aborts)."""
        for thread in ([self.thread] if self.thread is not None else []) + list(self.draining):
            thread.quit()
            thread.wait(msecs)
