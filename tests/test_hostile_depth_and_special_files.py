"""Issue 31, items 1 and 4: JSON nested 100,000 deep is refused in bounded memory (it once took
past 8 GB), and a FIFO given as GeoJSON is refused at once (it once hung the CLI and the app)."""

import json
from pathlib import Path
import os
import subprocess
import sys

import numpy as np
import pytest

from wnet_gui.annotations.geojson import GeoJSONError, read_geojson
from wnet_gui.annotations.json_depth import DepthGuard, TooDeep


def depth_of(text: str, chunk: int) -> int:
    guard = DepthGuard(limit=10**9)
    data = text.encode()
    top = 0
    for k in range(0, len(data), chunk):
        guard.feed(data[k:k + chunk])
        top = max(top, guard.depth)
    return guard.depth, guard


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1 << 20])
def test_brackets_in_strings_and_escapes_do_not_count_whatever_the_chunks(chunk):
    doc = {"a": [{"name": 'x[[[{{"' + "\\" + "[", "b": [[1, 2], [3]]}], "c": "\\", "d": "]]]}}}" + "\\" + '"'}
    text = json.dumps(doc)
    depth, guard = depth_of(text, chunk)
    assert depth == 0 and not guard.in_string
    DepthGuard(limit=5).feed(text.encode())  # five levels: { [ { [ [
    with pytest.raises(TooDeep):
        DepthGuard(limit=4).feed(text.encode())


def hostile_files(tmp_path):
    deep = tmp_path / "deep.geojson"
    deep.write_text('{"type": "FeatureCollection", "features": [' + "[" * 100_000 + "]" * 100_000 + "]}")
    chain = tmp_path / "chain.geojson"
    cls = "{}"
    for _ in range(2_000):
        cls = '{"name": "c", "parentClass": ' + cls + "}"
    chain.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]}, "properties": {"objectType": "detection"}}]})
        .replace('"objectType": "detection"', '"objectType": "detection", "classification": ' + cls))
    return deep, chain


def test_deep_nesting_is_refused_in_bounded_memory(tmp_path):
    deep, chain = hostile_files(tmp_path)
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))\n"
            "from wnet_gui.annotations.geojson import read_geojson, GeoJSONError\n"
            "for p in sys.argv[1:]:\n"
            "    try:\n        read_geojson(p)\n        print('read', p)\n"
            "    except GeoJSONError as exc:\n        print('refused', exc)\n")
    out = subprocess.run([sys.executable, "-c", code, str(deep), str(chain)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("refused") and "nested more than" in line for line in lines), lines


def test_the_cli_says_so_and_exits_2(tmp_path, capsys):
    from wnet_gui.cli.main import main

    deep, _ = hostile_files(tmp_path)
    assert main(["evaluate", "--pred", str(deep), "--truth", str(deep)]) == 2
    assert "nested more than" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_at_once(tmp_path, capsys, sample_tiff):
    from wnet_gui.cli.main import main

    fifo = tmp_path / "points.geojson"
    os.mkfifo(fifo)
    with pytest.raises(GeoJSONError, match="not a regular file"):
        read_geojson(fifo)  # no writer: it would block for ever if opened the ordinary way
    assert main(["evaluate", "--pred", str(fifo), "--truth", str(fifo)]) == 2
    assert "not a regular file" in capsys.readouterr().err
    assert main(["detect", str(sample_tiff), "--roi", str(fifo), "-o", str(tmp_path / "o.geojson")]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_ordinary_geojson_still_reads(tmp_path):
    from wnet_gui.annotations import NucleusStore, write_geojson

    store = NucleusStore()
    store.add_many(np.arange(50.0), np.arange(50.0), classes=["Tumor [grade 2]"] * 50)
    write_geojson(store, tmp_path / "ok.geojson")
    parsed = read_geojson(tmp_path / "ok.geojson")
    assert len(parsed) == 50 and set(parsed.classes) == {"Tumor [grade 2]"}


def test_a_symlink_loop_fails_as_one_slide_and_the_others_are_done(tmp_path, sample_tiff, capsys):
    """Issue 31 item 6: a link loop given as an input or in a manifest once stopped the whole run
    with a RuntimeError traceback."""
    import shutil

    from wnet_gui.cli.main import main

    shutil.copy(sample_tiff, tmp_path / "good.tif")
    (tmp_path / "loop-a.tif").symlink_to(tmp_path / "loop-b.tif")
    (tmp_path / "loop-b.tif").symlink_to(tmp_path / "loop-a.tif")
    (tmp_path / "list.csv").write_text("path\nloop-a.tif\ngood.tif\n")
    out = tmp_path / "out"
    for inputs in ([str(tmp_path / "loop-a.tif"), str(tmp_path / "good.tif")], [str(tmp_path / "list.csv")]):
        shutil.rmtree(out, ignore_errors=True)
        assert main(["detect", *inputs, "-o", str(out), "--scheduler", "none", "--device", "cpu"]) == 1
        err = capsys.readouterr().err
        assert "loop-a.tif" in err and "Traceback" not in err and "1 of 2 slides failed" in err
        assert (out / "good.geojson").exists()


def test_an_autosave_compression_bomb_is_refused_before_it_inflates(tmp_path, sample_tiff, monkeypatch):
    """Issue 31 item 3: a small .npz beside a slide that inflates a hundredfold is refused
    unread; the newest readable autosave is used instead, and `wnet export FOLDER` goes on."""
    import shutil
    import zipfile

    from wnet_gui.annotations import NucleusStore
    from wnet_gui.annotations.autosave import Autosaver
    from wnet_gui.annotations.snapshot_io import SnapshotError, read_snapshot
    from wnet_gui.cli.main import main
    from wnet_gui.projects import Project, load_annotations, save_annotations

    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "home"))
    study = tmp_path / "study"
    study.mkdir()
    slide = study / "a.tif"
    shutil.copy(sample_tiff, slide)
    store = NucleusStore()
    store.add_many([10.0, 20.0], [10.0, 20.0])
    save_annotations(slide, store)
    good = Autosaver(slide, NucleusStore(), lock=False).snapshots()[0]
    good.rename(good.with_name(good.name + ".1"))  # the older one of the series
    with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("x.npy", "w", force_zip64=True) as member:
        block = bytes(1 << 20)
        for _ in range(256):  # 256 MiB of zeros in well under 1 MiB
            member.write(block)
    assert good.stat().st_size < (1 << 20)
    with pytest.raises(SnapshotError, match="compression bomb"):
        read_snapshot(good, NucleusStore())
    assert len(load_annotations(slide)) == 2  # the readable one before it
    Project.open(study).save()
    assert main(["export", str(study), "-o", str(tmp_path / "out")]) == 0
    assert good.exists()  # a project's read moves nothing


def test_class_names_and_counts_are_bounded_and_nothing_persists(tmp_path, qtbot, monkeypatch):
    """Issue 31 item 2: one 10 MB class name or 5,000 classes in a file are refused with a message
    (they once cost gigabytes and were saved into the settings, slowing every later start);
    giving colours to thousands of classes is linear."""
    import time

    from PySide6.QtCore import QSettings

    from wnet_gui.annotations.qupath import assign_colors

    def features(classes):
        return {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [k % 500, k // 500]},
             "properties": {"objectType": "detection", "classification": {"name": c}}} for k, c in enumerate(classes)]}

    long_name = tmp_path / "long.geojson"
    long_name.write_text(json.dumps(features(["x" * 10_000_000])))
    many = tmp_path / "many.geojson"
    many.write_text(json.dumps(features([f"class {k}" for k in range(5000)])))
    with pytest.raises(GeoJSONError, match="class name of 10,000,000 characters"):
        read_geojson(long_name)
    with pytest.raises(GeoJSONError, match="more than 1,000 different classes"):
        read_geojson(many)
    ok = tmp_path / "ok.geojson"
    ok.write_text(json.dumps(features([f"class {k % 50}" for k in range(500)])))
    assert len(set(read_geojson(ok).classes)) == 50

    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "home"))
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    from wnet_gui.gui.main_window import MainWindow

    settings = QSettings("wnet-annotator", "wnet-annotator")
    settings.setValue("classes/list", json.dumps([{"name": "y" * 1000}] + [{"name": f"c{k}"} for k in range(500)]))
    settings.sync()
    window = MainWindow()
    qtbot.addWidget(window)
    names = window.classes.names
    assert len(names) <= 100 and all(len(n) <= 200 for n in names)  # a polluted settings file is not loaded whole

    known: dict = {}
    start = time.perf_counter()
    assign_colors([f"k{i}" for i in range(8000)], known)
    assert len(known) == 8000 and time.perf_counter() - start < 5  # it was quadratic: 0.75 s at 8k, minutes at 100k


def test_the_cohort_summary_never_writes_a_formula_nor_a_file_it_did_not_make(tmp_path, sample_tiff, monkeypatch):
    """Issue 31 item 10 (and 27's "names output files for slides that failed")."""
    import csv
    import shutil

    from wnet_gui.cli.main import main

    shutil.copy(sample_tiff, tmp_path / "=HYPERLINK(1).tif")
    (tmp_path / "@cmd.tif").write_bytes(b"not a tiff")
    monkeypatch.chdir(tmp_path)  # relative names, as a study's manifest often has them
    out = Path("out")
    assert main(["detect", "=HYPERLINK(1).tif", "@cmd.tif", "-o", "out", "--scheduler", "none", "--device", "cpu"]) == 1
    rows = {Path(r["slide"].lstrip("'")).name: r for r in csv.DictReader(open(out / "summary.csv", encoding="utf-8"))}
    assert set(rows) == {"=HYPERLINK(1).tif", "@cmd.tif"}
    for r in rows.values():
        assert not any(v.startswith(("=", "+", "-", "@")) for v in r.values() if v), r
    assert rows["@cmd.tif"]["slide"] == "'@cmd.tif"
    assert rows["@cmd.tif"]["status"] == "failed" and rows["@cmd.tif"]["output"] == ""
    assert rows["=HYPERLINK(1).tif"]["status"] == "done" and Path(rows["=HYPERLINK(1).tif"]["output"].lstrip("'")).exists()
