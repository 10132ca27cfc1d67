"""kill -9 the real app at random moments: no edit older than the autosave interval is lost,
and the newest snapshot (or its predecessor) always reads back."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path


from wnet_gui.annotations import NucleusStore
from wnet_gui.annotations.autosave import Autosaver

INTERVAL = 0.3
HERE = Path(__file__).parent


def test_kill_minus_nine_loses_nothing_older_than_the_autosave_interval(tmp_path, sample_tiff):
    slide = tmp_path / sample_tiff.name
    shutil.copy(sample_tiff, slide)
    rng = random.Random(0)
    env = dict(os.environ, WNET_AUTOSAVE_SECONDS=str(INTERVAL), WNET_DATA_HOME=str(tmp_path / "home"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), QT_QPA_PLATFORM="offscreen")
    for attempt in range(4):
        proc = subprocess.Popen([sys.executable, str(HERE / "crash_target.py"), str(slide)], stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0 + rng.random() * 2.0)
        killed_at = time.time()
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        edits = [(int(line.split()[1]), float(line.split()[2])) for line in out.splitlines() if line.startswith("edit ")]
        assert edits, "the app made no edits before it was killed"
        store = NucleusStore()
        snapshot = Autosaver(slide, NucleusStore()).restore_into(store)
        assert snapshot is not None
        xs = store.coordinates()[:, 0]
        restored_edits = {int(round(x - 1000)) for x, y in store.coordinates() if y == 7.0 and x > 1000}
        # every edit made more than two autosave intervals before the kill survived
        old = {k for k, t in edits if t < killed_at - 2 * INTERVAL}
        assert old <= restored_edits, f"lost edits {sorted(old - restored_edits)[:5]}"
        assert len(xs) >= len(restored_edits)
        Autosaver(slide, NucleusStore()).discard()  # the next attempt starts clean
