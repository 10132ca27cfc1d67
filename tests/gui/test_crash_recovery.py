"""kill -9 the real app, many times, with a large store, during export: every edit in a
snapshot the app acknowledged as durable comes back. No timing assumption: the app says
which edits are safe, and the test checks exactly those."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from wnet_gui.annotations import NucleusStore
from wnet_gui.annotations.autosave import Autosaver

HERE = Path(__file__).parent
KILLS = 6


def restored_edits(slide: Path) -> tuple[set[int], int]:
    store = NucleusStore()
    assert Autosaver(slide, NucleusStore(), lock=False).restore_into(store) is not None
    xy = store.coordinates()
    return {int(round(x - 1000)) for x, y in xy if y == 7.0 and x > 1000}, len(store)


def test_kill_minus_nine_never_loses_an_acknowledged_edit(tmp_path, sample_tiff):
    slide = tmp_path / sample_tiff.name
    shutil.copy(sample_tiff, slide)
    export = tmp_path / "export.geojson"
    rng = random.Random(0)
    env = dict(os.environ, WNET_AUTOSAVE_SECONDS="0.3", WNET_DATA_HOME=str(tmp_path / "home"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), QT_QPA_PLATFORM="offscreen")
    acknowledged: set[int] = set()
    next_edit = 1
    for attempt in range(KILLS):
        proc = subprocess.Popen([sys.executable, str(HERE / "crash_target.py"), str(slide), str(next_edit), "100000", str(export)],
                                stdout=subprocess.PIPE, text=True, env=env)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
        reader.start()
        deadline = time.monotonic() + 120
        while not any(line.startswith("durable") for line in list(lines)) and time.monotonic() < deadline:
            time.sleep(0.05)  # at least one snapshot acknowledged before the kill
        assert any(line.startswith("durable") for line in lines), "the app acknowledged no snapshot in 2 minutes"
        time.sleep(rng.random() * 1.5)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        reader.join(5)
        made = [int(line.split()[1]) for line in lines if line.startswith("edit ")]
        safe = max(int(line.split()[1]) for line in lines if line.startswith("durable"))
        acknowledged |= {k for k in made if k <= safe}
        back, total = restored_edits(slide)
        assert acknowledged <= back, f"kill {attempt}: lost acknowledged edits {sorted(acknowledged - back)[:5]}"
        assert total >= 100000  # the large store came back too
        if export.exists():  # an export interrupted by the kill never leaves half a file
            json.loads(export.read_text())
        next_edit = max(made, default=next_edit) + 1
    assert len(acknowledged) > KILLS  # the check had something to check
