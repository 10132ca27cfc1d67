"""GeoJSON from elsewhere is untrusted: bombs, deep nesting, absurd numbers, BOMs and
formula-like class names are read safely or refused with a GeoJSONError, store untouched."""

import gzip
import json
import subprocess
import sys

import pytest

from wnet_gui.annotations import GeoJSONError, NucleusStore, import_geojson
from wnet_gui.annotations import geojson as gj
from wnet_gui.annotations.csv_io import write_csv


def point(x, y, cls="Nucleus"):
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
            "properties": {"objectType": "detection", "classification": {"name": cls, "color": [1, 2, 3]}}}


def collection(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def store_with_one():
    store = NucleusStore()
    store.add(5.0, 5.0)
    return store


def test_gzip_bomb_is_refused_at_the_limit(tmp_path):
    """A few MB of gzip that expand past the limit stop there, in bounded memory (measured in a
    fresh process, whose peak before the import is only its imports)."""
    path = tmp_path / "bomb.geojson.gz"
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(b'{"type":"FeatureCollection","features":[')
        chunk = b" " * (1 << 20)
        for _ in range(256):  # 256 MB of white space
            fh.write(chunk)
        fh.write(b"]}")
    assert path.stat().st_size < 2 << 20
    code = ("import resource, sys\n"
            "from wnet_gui.annotations import NucleusStore, geojson as gj\n"
            "gj.MAX_GEOJSON_BYTES = 64 << 20\n"
            "store = NucleusStore(); store.add(5.0, 5.0)\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "try:\n    gj.import_geojson(store, sys.argv[1]); print('read')\n"
            "except gj.GeoJSONError as exc:\n    print('refused' if 'more than 64 MB' in str(exc) else exc)\n"
            "print(len(store), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    verdict, counts = out.stdout.split("\n")[:2]
    kept, grown_kb = (int(v) for v in counts.split())
    assert verdict == "refused" and kept == 1
    assert grown_kb < 200 * 1024, f"the refusal peaked {grown_kb / 1024:.0f} MB above the imports"


def test_gzip_bomb_of_the_issue_size_in_a_fresh_process(tmp_path):
    """4 MB of gzip expanding to 4 GB: refused at the default 1 GiB limit, under 300 MB peak."""
    path = tmp_path / "bomb4g.geojson.gz"
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(b'{"type":"FeatureCollection","features":[')
        chunk = b" " * (4 << 20)
        for _ in range(1024):
            fh.write(chunk)
        fh.write(b"]}")
    code = ("import resource\nfrom wnet_gui.annotations import GeoJSONError, NucleusStore, import_geojson\n"
            f"try:\n    import_geojson(NucleusStore(), {str(path)!r})\nexcept GeoJSONError as e:\n    print('refused', e)\n"
            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))\n")  # own peak, kB
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("refused") and "1024 MB" in lines[0]
    assert int(lines[-1]) < 300 * 1024


@pytest.mark.parametrize("text", [
    '{"type":"FeatureCollection","features":[' + "[" * 1000 + "]" * 1000 + "]}",
    "[" * 20000 + "]" * 20000,
    '{"type":"Feature","geometry":{"type":"Point","coordinates":[' + "1" * 5000 + ',1]},"properties":{}}',
    '{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[' + "1" * 5000 + ',1]}}]}',
    '{"type":"Feature","properties":' + '{"a":' * 1000 + "1" + "}" * 1000 + ',"geometry":{"type":"Point","coordinates":[1,1]}}',
], ids=["nested-feature", "nested-list", "huge-int-feature", "huge-int-collection", "nested-properties"])
def test_deep_nesting_and_huge_integers_are_geojson_errors(tmp_path, text):
    path = tmp_path / "deep.geojson"
    path.write_text(text)
    store = store_with_one()
    try:
        import_geojson(store, path)
    except GeoJSONError as exc:
        assert "deep.geojson" in str(exc)
        assert len(store) == 1
    else:  # parsed: only if nothing absurd came in
        assert len(store) >= 1


@pytest.mark.parametrize("x, y", [(-1e6, 5), (1e308, 5), (5, 1e12), (-200_000, 0)])
def test_coordinates_outside_any_slide_are_refused(tmp_path, x, y):
    path = tmp_path / "far.geojson"
    path.write_text(json.dumps(collection(point(10, 10), point(x, y))))
    store = store_with_one()
    with pytest.raises(GeoJSONError, match="feature 1.*outside any slide"):
        import_geojson(store, path)
    assert len(store) == 1


def test_slightly_negative_border_vertices_are_fine(tmp_path):
    path = tmp_path / "border.geojson"
    ring = [[-1, 0], [10, 0], [10, 10], [-1, 10], [-1, 0]]
    path.write_text(json.dumps(collection({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                                           "properties": {"objectType": "detection"}})))
    store = NucleusStore()
    assert len(import_geojson(store, path)) == 1


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.geojson"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(collection(point(1, 2), point(3, 4))).encode())
    store = NucleusStore()
    assert len(import_geojson(store, path)) == 2
    single = tmp_path / "single.geojson"
    single.write_bytes(b"\xef\xbb\xbf" + json.dumps(point(5, 6)).encode())
    assert len(import_geojson(store, single)) == 1


def test_streaming_matches_whole_reading(tmp_path):
    """The streaming reader gives what the document-at-once parser gives."""
    doc = collection(*[point(i, 2 * i, cls=f"c{i % 3}") for i in range(1, 500)])
    path = tmp_path / "many.geojson"
    path.write_text(json.dumps(doc))
    streamed = gj.read_geojson(path)
    whole = gj.parse_geojson(doc)
    assert streamed.xs == whole.xs and streamed.ys == whole.ys and streamed.classes == whole.classes
    assert streamed.class_colors == whole.class_colors == {"c0": (1, 2, 3), "c1": (1, 2, 3), "c2": (1, 2, 3)}
    as_list = tmp_path / "list.geojson"
    as_list.write_text(json.dumps(doc["features"]))
    assert gj.read_geojson(as_list).xs == whole.xs


def test_csv_escapes_formula_like_text(tmp_path):
    store = NucleusStore()
    for name in ("=HYPERLINK(\"http://x\",\"click\")", "+cmd", "-1+1", "@SUM(A1)", "Tumor", "\tTab"):
        store.add(1.0, 2.0, cls=name)
    store.add(3.0, 4.0, source="=evil()")
    path = tmp_path / "out.csv"
    write_csv(store, path)
    import csv

    rows = list(csv.DictReader(open(path, newline="")))
    assert [r["class"] for r in rows[:6]] == ["'=HYPERLINK(\"http://x\",\"click\")", "'+cmd", "'-1+1", "'@SUM(A1)", "Tumor", "'\tTab"]
    assert rows[6]["source"] == "'=evil()"
    assert all(not r["class"].startswith(("=", "+", "-", "@")) for r in rows)
    assert rows[0]["x"] == "1.00"
