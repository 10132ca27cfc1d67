"""A real app process for the kill -9 test: opens a slide (restoring its autosave), edits on a
timer (adds points), runs Auto-detect and exports in the background, autosaves often, and
reports on stdout each edit and each snapshot made durable (written, synced, renamed).

    python crash_target.py SLIDE FIRST_EDIT PRELOAD EXPORT_PATH
"""

import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["WNET_NO_PROMPT"] = "1"
os.environ.setdefault("WNET_AUTOSAVE_SECONDS", "0.3")

import threading  # noqa: E402

import numpy as np  # noqa: E402
from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from wnet_gui.gui.commands import AddPointsCommand  # noqa: E402
from wnet_gui.gui.main_window import MainWindow  # noqa: E402

slide, first, preload, export_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
app = QApplication([])
window = MainWindow()
window.warm_up.start()  # as wnet-gui does: torch loads behind the window, not on the GUI thread
window.open_slide(slide)
if preload and len(window.store) < preload:  # a large store: snapshots take real work
    rng = np.random.default_rng(0)
    window.undo.push(AddPointsCommand(window.store, rng.uniform(0, 500, preload), rng.uniform(20, 500, preload)))
edits: list[tuple[int, int]] = []  # (store revision after the edit, edit number)
_out = threading.Lock()


def say(line: str) -> None:
    """One whole line at a time: the autosave thread reports too."""
    with _out:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def on_durable(revision: int, path) -> None:
    """Called by the autosave thread once a snapshot is on disk for good."""
    done = [k for rev, k in list(edits) if rev <= revision]
    say(f"durable {max(done) if done else first - 1}")


window.autosaver.on_durable = on_durable
count = [first - 1]


def edit() -> None:
    count[0] += 1
    k = count[0]
    window.undo.push(AddPointsCommand(window.store, [1000.0 + k], [7.0]))
    edits.append((window.store.revision, k))
    say(f"edit {k} {time.time():.3f}")


timer = QTimer(interval=20)
timer.timeout.connect(edit)
timer.start()
window.detectionFinished.connect(lambda _c: QTimer.singleShot(50, window.auto_detect))
exporter = QTimer(interval=250)
exporter.timeout.connect(lambda: window.export_geojson(export_path, background=True))
exporter.start()
QTimer.singleShot(0, window.auto_detect)
say("ready")
app.exec()
