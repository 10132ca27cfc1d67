"""Python's cyclic garbage collector, run on the GUI thread only.

Automatic collection runs in whichever thread happens to allocate. When that is a worker
(an export serialising 60,000 features, a tile loader) and the garbage holds Qt objects (an
old window's widgets, kept alive by a cycle through a lambda), Qt objects are destroyed on
the wrong thread while the GUI thread paints, and the app crashes. pyqtgraph solves this
the same way: switch automatic collection off and collect from a GUI-thread timer.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

_guard = None


class GuiThreadCollector(QObject):
    def __init__(self, interval_ms: int = 1000):
        super().__init__()
        self.threshold = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self, interval=interval_ms)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> None:
        """Collect the generations whose allocation counts passed their thresholds."""
        l0, l1, l2 = gc.get_count()
        if l0 > self.threshold[0]:
            gc.collect(2 if l2 > self.threshold[2] else 1 if l1 > self.threshold[1] else 0)


def collect_on_gui_thread() -> GuiThreadCollector:
    """Install once per process (idempotent); call on the GUI thread."""
    global _guard
    if _guard is None:
        _guard = GuiThreadCollector()
    return _guard
