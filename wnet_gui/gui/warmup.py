"""The window comes up before torch: the engine is imported on a background thread once the
window shows (about 2 s on 2 cores), so the first Auto-detect does not wait for it either,
and the device list gains the accelerators torch finds."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal


class EngineWarmUp(QObject):
    ready = Signal(list)  # the devices torch found ('cpu', 'cuda', 'mps')

    def start(self) -> None:
        threading.Thread(target=self._load, daemon=True, name="engine-warm-up").start()

    def _load(self) -> None:
        try:
            from ..engine import detect  # noqa: F401  (torch, the networks, the engine)
            from ..engine.device import available_devices

            self.ready.emit(available_devices())
        except Exception:  # nothing lost: the first run imports the same and reports what fails
            return
