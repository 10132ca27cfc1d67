"""The app under hostile conditions: two instances, a full disk, a file that cannot be
opened, unreadable autosaves, hostile cards and files. Annotations are never lost and the
user is always told the truth."""

import errno
import json
import shutil

import numpy as np
import pytest

from wnet_gui.annotations import NucleusStore
from wnet_gui.annotations import autosave as autosave_module
from wnet_gui.annotations.autosave import Autosaver, autosave_path
from wnet_gui.annotations.snapshot_io import write_snapshot
from wnet_gui.gui.commands import AddPointsCommand

from helpers import png_header_only


def add_points(window, n, x0=10.0):
    window.undo.push(AddPointsCommand(window.store, x0 + np.arange(n), np.full(n, 20.0)))


@pytest.fixture
def second_window(qtbot):
    from wnet_gui.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    yield win


def test_second_instance_on_the_same_slide_is_read_only(qtbot, window, second_window, sample_copy):
    assert window.open_slide(sample_copy)
    add_points(window, 5)
    window.autosave()
    assert second_window.open_slide(sample_copy)
    assert second_window.autosaver.read_only and "open in another" in second_window.last_error
    assert "read-only" in second_window.windowTitle()
    assert second_window.autosave_status.label.isVisible() or second_window.autosave_status.problem()
    assert len(second_window.store) == 5  # it sees what the first saved
    add_points(second_window, 100, x0=300.0)
    second_window.autosave()  # writes nothing
    add_points(window, 2, x0=50.0)
    window.autosave()
    store = NucleusStore()
    Autosaver(sample_copy, NucleusStore(), lock=False).restore_into(store)
    assert len(store) == 7  # the owner's edits, none of the read-only window's
    assert "NOT autosaved" in second_window.autosave_status.leave_prompt(sample_copy.name)
    # once the owner lets go, the slide can be owned again
    window.close()
    third = Autosaver(sample_copy, NucleusStore())
    assert not third.read_only
    third.close()


def test_unique_temp_names_for_concurrent_writers(tmp_path):
    slide = tmp_path / "s.tif"
    slide.write_bytes(b"x")
    names = []
    real = autosave_module.write_snapshot
    autosave_module.write_snapshot = lambda snap, path: (names.append(path.name), real(snap, path))[1]
    try:
        for _ in range(3):
            store = NucleusStore()
            store.add(1.0, 2.0)
            Autosaver(slide, store, lock=False).save(force=True)
    finally:
        autosave_module.write_snapshot = real
    assert len(set(names)) == 3
    assert not [p for p in tmp_path.iterdir() if p.name.endswith((".next", ".writing"))]


def full_disk_beside(slide_dir):
    """write_snapshot that fails with ENOSPC in ``slide_dir`` (a full disk), works elsewhere."""

    def write(store, path):
        if path.parent == slide_dir:
            (path.with_name(path.name + ".writing")).write_bytes(b"partial")  # as a real failure leaves
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_snapshot(store, path)

    return write


def test_full_disk_falls_back_to_the_user_folder(qtbot, window, sample_copy, monkeypatch, tmp_path):
    window.open_slide(sample_copy)
    monkeypatch.setattr(autosave_module, "write_snapshot", full_disk_beside(sample_copy.parent))
    add_points(window, 3000)
    window.autosave()
    saver = window.autosaver
    assert saver.error is None and saver.path.is_relative_to(tmp_path / "data-home")
    assert "No space left" in saver.notice
    assert not [p for p in sample_copy.parent.iterdir() if ".next" in p.name or p.name.endswith(".writing")]
    assert window.autosave_status.safe()
    # reopening restores from the fallback
    monkeypatch.setenv("WNET_NO_PROMPT", "1")
    window.exported_revision = window.store.revision
    window.open_slide(sample_copy)
    assert len(window.store) == 3000


def test_when_no_save_is_possible_the_app_says_so_and_never_claims_it(qtbot, window, sample_copy, monkeypatch):
    window.open_slide(sample_copy)
    monkeypatch.setattr(autosave_module, "write_snapshot", lambda store, path: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    add_points(window, 10)
    window.autosave()
    status = window.autosave_status
    assert status.label.isVisible() and status.label.text() == "⚠ Not autosaved"
    assert "No space left" in status.label.toolTip()
    prompt = status.leave_prompt(sample_copy.name)
    assert "NOT autosaved" in prompt and "will be restored" not in prompt
    # it stays up until a save works again
    add_points(window, 1, x0=400.0)
    window.autosave()
    assert status.label.isVisible()
    monkeypatch.undo()
    window.autosave()
    assert not status.label.isVisible() and status.safe()  # leaving now asks nothing: the edits come back on reopening


def test_a_failed_open_keeps_the_current_slide(qtbot, window, sample_copy, tmp_path, monkeypatch):
    window.open_slide(sample_copy)
    add_points(window, 4)
    title, undo_count = window.windowTitle(), window.undo.count()
    bad = png_header_only(tmp_path / "huge.png", 100_000, 100_000)
    assert not window.open_slide(bad)
    assert "too large" in window.last_error
    import wnet_gui.gui.main_window as mw

    monkeypatch.setattr(mw, "open_slide", lambda *a, **k: (_ for _ in ()).throw(MemoryError("10^12 pixels")))
    assert not window.open_slide(tmp_path / "anything.tif")
    assert "MemoryError" in window.last_error
    assert window.slide.path == sample_copy and window.windowTitle() == title
    assert len(window.store) == 4 and window.undo.count() == undo_count
    add_points(window, 1, x0=99.0)
    window.autosave()
    assert autosave_path(sample_copy).exists()  # new edits still autosave under the right slide
    assert not list(tmp_path.glob("*.wnet-autosave*"))


def write_raw_snapshot(path, **override):
    cols = {"ids": np.array([1, 2, 3]), "x": np.array([1.0, 2.0, 3.0]), "y": np.array([4.0, 5.0, 6.0]), "score": np.full(3, np.nan),
            "source": np.zeros(3, np.int64), "cls": np.zeros(3, np.int64), "poly_ids": np.zeros(0, np.int64),
            "poly_offsets": np.zeros(1, np.int64), "poly_xy": np.zeros((0, 2))}
    cols.update(override)
    meta = {"format": 1, "sources": ["manual"], "classes": ["Nucleus"], "class_colors": {}}
    with open(path, "wb") as fh:
        np.savez(fh, meta=np.array(json.dumps(meta)), **cols)


@pytest.mark.parametrize("bad", [
    {"x": np.array([1.0, np.nan, 3.0])},
    {"ids": np.array([3, 2, 1])},
    {"source": np.array([0, 5, 0])},
    {"poly_ids": np.array([9]), "poly_offsets": np.array([0, 3]), "poly_xy": np.zeros((3, 2))},
], ids=["nan", "descending-ids", "bad-index", "dangling-outline"])
def test_a_readable_but_wrong_newest_snapshot_falls_back_to_the_previous(qtbot, window, sample_copy, bad):
    newest = autosave_path(sample_copy)
    good = newest.with_name(newest.name + ".1")
    write_raw_snapshot(good)
    write_raw_snapshot(newest, **bad)
    import os

    os.utime(good, ns=(1, 1))  # older
    window.open_slide(sample_copy)
    assert len(window.store) == 3
    assert "could not be read" in window.last_error and "kept aside" in window.last_error
    assert list(sample_copy.parent.glob("*.unreadable-*"))  # kept, not deleted


def test_all_snapshots_unreadable_is_said_not_silent(qtbot, window, sample_copy):
    newest = autosave_path(sample_copy)
    newest.write_bytes(b"garbage")
    window.open_slide(sample_copy)
    assert len(window.store) == 0
    assert "None could be read" in window.last_error
    assert list(sample_copy.parent.glob("*.unreadable-*"))[0].read_bytes() == b"garbage"


@pytest.mark.parametrize("change", [
    lambda d: d.update(weights="/dev/zero"),
    lambda d: d["architecture"]["stage1"].update(encoder="tu-hf-hub:timm/x"),
    lambda d: d["architecture"].update(kind="bogus"),
    lambda d: d["architecture"]["stage2"].update(decoder_channels=[10**9] * 4),
    lambda d: d.pop("architecture"),
], ids=["dev-zero", "hub", "kind", "channels", "missing"])
def test_hostile_cards_get_a_model_not_added_message(qtbot, window, tmp_path, monkeypatch, change):
    from wnet_gui.models.zoo import zoo_dir

    data = json.loads((zoo_dir() / "fast.json").read_text())
    change(data)
    path = tmp_path / "bogus.json"
    path.write_text(json.dumps(data))
    shutil.copy(zoo_dir() / "fast.pt", tmp_path / "fast.pt")
    import wnet_gui.gui.main_window as mw

    monkeypatch.setattr(mw.QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    before = window.panel.model_combo.count()
    window.add_model_file()
    assert window.last_error.startswith("Model not added") and "bogus.json" in window.last_error
    assert window.panel.model_combo.count() == before


def test_import_runs_on_a_worker_and_refuses_another_slides_file(qtbot, window, sample_copy, tmp_path):
    window.open_slide(sample_copy)
    far = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(x), float(x)]}, "properties": {"objectType": "detection"}}
        for x in range(100, 18000, 10)]}
    path = tmp_path / "other_slide.geojson"
    path.write_text(json.dumps(far))
    assert not window.import_geojson(path, wait=True)
    assert "outside" in window.last_error and len(window.store) == 0
    near = {"type": "FeatureCollection", "features": far["features"][:30]}
    path.write_text(json.dumps(near))
    assert window.import_geojson(path, wait=True) and len(window.store) == 30


def test_the_lock_holds_across_processes_and_dies_with_its_owner(tmp_path, sample_copy, monkeypatch):
    """Two app processes: the second sees the slide owned; after kill -9 of the first it can take it."""
    import os
    import signal
    import subprocess
    import sys

    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "home"))
    code = ("import sys, time\nfrom wnet_gui.annotations import NucleusStore\nfrom wnet_gui.annotations.autosave import Autosaver\n"
            f"a = Autosaver({str(sample_copy)!r}, NucleusStore())\nprint('owner' if not a.read_only else 'read-only', flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert proc.stdout.readline().strip() == "owner"
        second = Autosaver(sample_copy, NucleusStore())
        assert second.read_only and f"pid {proc.pid}" in second.error
        second.close()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    third = Autosaver(sample_copy, NucleusStore())
    assert not third.read_only
    third.close()
