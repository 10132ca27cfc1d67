"""Work off the GUI thread: one ``Worker`` runs a plain function in its own QThread and
reports with signals; cancellation is a threading.Event the work checks between tiles or
batches. What each feature runs (a detection pass, NuClick batches, an import, an adaptation,
teaching classes, a whole-project action) is a function of ``(report, cancel)`` built where the
feature lives, so no feature needs a worker class of its own.

Every signal carries the run's token so that results landing after the user opened another
slide (or started another run) are dropped, never drawn on the wrong image.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

Work = Callable[[Callable[[Any], None], threading.Event], Any]


class Worker(QObject):
    """Runs ``work(report, cancel)``: each ``report(x)`` becomes ``progress(token, x)``, the
    return value ``finished(token, value)``, an exception ``failed(token, message)``. An
    exception of one of the ``plain`` types is a message for the user as it stands (a refused
    file, too few labels); any other is reported with its type and its traceback printed."""

    progress = Signal(object, object)  # token, what the work reported
    finished = Signal(object, object)  # token, what the work returned
    failed = Signal(object, str)  # token, message

    def __init__(self, token, work: Work, plain: tuple[type[BaseException], ...] = ()):
        super().__init__()
        self.token, self.work, self.plain = token, work, plain
        self.cancel_event = threading.Event()

    @Slot()
    def run(self) -> None:
        try:
            result = self.work(lambda item: self.progress.emit(self.token, item), self.cancel_event)
        except self.plain as exc:
            self.failed.emit(self.token, str(exc))
            return
        except Exception as exc:  # never let a run take the app down; the work done so far stays
            traceback.print_exc()
            self.failed.emit(self.token, f"{type(exc).__name__}: {exc}")
            return
        self.finished.emit(self.token, result)


def start_in_thread(worker: QObject, parent: QObject) -> QThread:
    """Move ``worker`` to a new thread, run it, and clean both up when it ends."""
    thread = QThread(parent)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.finished.connect(thread.quit)
    worker.failed.connect(thread.quit)
    thread.finished.connect(worker.deleteLater)
    thread.start()
    return thread
