"""Issue 31, items 1 and 4: JSON nested 100,000 deep is refused in bounded memory (it once took
past 8 GB), and a FIFO given as GeoJSON is refused at once (it once hung the CLI and the app)."""

import json
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
