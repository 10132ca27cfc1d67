"""A real app process for the kill -9 test: opens a slide, edits on a timer (adds points),
runs Auto-detect in the background, autosaves often, and logs each edit to stdout."""

import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["WNET_NO_PROMPT"] = "1"
os.environ.setdefault("WNET_AUTOSAVE_SECONDS", "0.3")

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from wnet_gui.gui.commands import AddPointsCommand  # noqa: E402
from wnet_gui.gui.main_window import MainWindow  # noqa: E402

app = QApplication([])
window = MainWindow()
window.open_slide(sys.argv[1])
count = [0]


def edit() -> None:
    count[0] += 1
    k = count[0]
    window.undo.push(AddPointsCommand(window.store, [1000.0 + k], [7.0]))
    print(f"edit {k} {time.time():.3f}", flush=True)


def detect_again(_cancelled=False) -> None:
    QTimer.singleShot(50, window.auto_detect)


timer = QTimer(interval=20)
timer.timeout.connect(edit)
timer.start()
window.detectionFinished.connect(detect_again)
QTimer.singleShot(0, window.auto_detect)
print("ready", flush=True)
app.exec()
