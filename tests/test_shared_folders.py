"""Issue 31 items 9 and 11: two users (two data folders) on one shared slide folder see each
other's lock, which lives beside the slide like its autosaves; file names of any length get
their autosaves and outputs; names with terminal escapes are printed harmless."""

import shutil

import numpy as np

from wnet_gui.annotations import NucleusStore
from wnet_gui.annotations.autosave import Autosaver


def test_a_second_user_on_a_shared_folder_gets_the_slide_read_only(tmp_path, sample_tiff, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    slide = shared / "a.tif"
    shutil.copy(sample_tiff, slide)
    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "alice"))
    alice_store = NucleusStore()
    alice = Autosaver(slide, alice_store)
    assert not alice.read_only
    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "bob"))
    bob = Autosaver(slide, NucleusStore())
    assert bob.read_only and "open in another W-Net Annotator" in bob.error  # was: both wrote the same autosave
    alice_store.add_many(np.arange(5.0), np.arange(5.0))
    assert alice.save(force=True) and not bob.save(force=True)
    alice.close()
    bob.close()
    carol = Autosaver(slide, NucleusStore())  # once Alice closes it, the next one may write
    assert not carol.read_only
    carol.close()
    assert sorted(p.name for p in shared.iterdir() if not p.name.startswith(".")) == ["a.tif", "a.tif.wnet-autosave.npz"]


def test_file_names_of_any_length_get_their_autosave_and_outputs(tmp_path, sample_tiff, monkeypatch):
    from wnet_gui.cli.main import main

    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "home"))
    name = "TCGA-" + "x" * 240 + ".tif"  # 249 characters: the autosave and temporary names exceed 255
    slide = tmp_path / name
    shutil.copy(sample_tiff, slide)
    store = NucleusStore()
    store.add(1.0, 2.0)
    saver = Autosaver(slide, store)
    assert saver.save(force=True), saver.error
    assert len(saver.path.name.encode()) <= 255 and saver.path.parent == tmp_path  # beside the slide, not the fallback
    back = NucleusStore()
    Autosaver(slide, back, lock=False).restore(back)
    assert len(back) == 1
    saver.close()
    assert main(["detect", str(slide), "-o", str(tmp_path / ("y" * 246 + ".geojson")), "--device", "cpu"]) == 0


def test_names_with_terminal_escapes_are_printed_harmless(tmp_path, capsys):
    from wnet_gui.cli.main import main

    evil = tmp_path / "\x1b]0;owned\x07\x1b[31mred.tif"
    evil.write_bytes(b"not a slide")
    assert main(["detect", str(evil), "-o", str(tmp_path / "o.geojson")]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and "red.tif" in err
