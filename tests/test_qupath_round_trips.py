"""Round trips through QuPath: every export shape, saved again by QuPath HEAD, 0.4, 0.3 and 0.2
(as ``qupath_resave`` does what their readers and writers do), comes back as the same
nuclei — ids, classes, sources, scores and centres — and a re-import updates, never doubles."""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from qupath_resave import VERSIONS, resave  # noqa: E402

from wnet_gui.annotations import NucleusStore, merge_parsed, read_geojson, store_to_geojson  # noqa: E402
from wnet_gui.annotations.qupath import new_namespace, object_id, run_namespace, slide_identity, write_counting_tsv  # noqa: E402

WRITTEN = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "qupath" / "written-by-qupath"
SHAPES = {  # name → (points_as, masks_as, split_sources)
    "detections+cells": ("detections", "cells", False),
    "detections+mask detections": ("detections", "detections", False),
    "counting": ("annotations", "cells", False),
    "counting by source": ("annotations", "detections", True),
}


def slide_store() -> NucleusStore:
    """A reviewed slide: a model's typed points, hand-placed ones, masks (one self-touching),
    a class set by hand, and two nuclei closer than any rounding could confuse."""
    rng = np.random.default_rng(7)
    store = NucleusStore()
    store.namespace = new_namespace()
    xy = rng.uniform(50, 4000, size=(60, 2))
    xy[1] = xy[0] + [3.0, 0.0]  # neighbours 3 px apart stay two nuclei
    classes = [("Tumor", "Lymphocyte", "Stroma")[i % 3] for i in range(60)]
    ids = store.add_many(xy[:, 0], xy[:, 1], source="fast", scores=rng.uniform(0.3, 1.0, 60).round(4), classes=classes)
    for x, y in ((20.25, 30.5), (4100.0, 4100.75)):
        store.add(x, y, cls="Tumor")  # manual
    masked = {int(i): np.array([[x - 4, y - 3], [x + 5, y - 3], [x + 5, y + 4], [x - 4, y + 4]], float) for i, (x, y) in zip(ids[:10], xy[:10])}
    store.set_polygons(masked)
    store.set_classes({int(ids[3]): "Lymphocyte"})
    store.extras[int(ids[3])] = {"class_by_hand": True}
    return store


def facts(store: NucleusStore) -> dict:
    """Exported id → (x, y, source, score, class, class set by hand, has an outline)."""
    doc = store_to_geojson(store)
    out = {}
    for f in doc["features"]:
        w = f["properties"].get("wnet", {})
        if "id" not in w:
            continue
        n = store.get(w["id"])
        extra = store.extras.get(n.id) or {}
        out[f["id"]] = (n.x, n.y, n.source, None if math.isnan(n.score) else round(n.score, 4), n.cls,
                        bool(extra.get("class_by_hand")), n.id in store.polygons)
    return out


def same_nucleus(a: tuple, b: tuple) -> bool:
    """Centres within the 0.01 px grid files keep; everything else equal."""
    return abs(a[0] - b[0]) <= 0.006 and abs(a[1] - b[1]) <= 0.006 and a[2:6] == b[2:6]


def through_qupath(store: NucleusStore, tmp_path: Path, shape: str, version: str) -> Path:
    points_as, masks_as, split = SHAPES[shape]
    saved = resave(store_to_geojson(store, points_as, masks_as, split), version)
    path = tmp_path / f"{shape}-{version}.geojson".replace(" ", "_").replace("+", "_")
    path.write_text(json.dumps(saved))
    return path


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_reimport_after_qupath_saves_changes_nothing(tmp_path, shape, version):
    store = slide_store()
    before = facts(store)
    path = through_qupath(store, tmp_path, shape, version)
    parsed = read_geojson(path)
    assert len(parsed) == len(store) and not parsed.regions and not parsed.skipped
    merged = merge_parsed(store, parsed)
    assert len(merged.added) == 0 and len(merged.updated) == len(before) == len(store)  # every nucleus updated, none doubled
    after = facts(store)
    assert after.keys() == before.keys()  # the same ids
    changed = {k: (before[k], after[k]) for k in before if not same_nucleus(before[k], after[k])}
    assert not changed, f"{len(changed)} nuclei came back different, e.g. {next(iter(changed.values()))}"
    assert sum(v[6] for v in after.values()) == 10  # outlines kept


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("shape", ["detections+cells", "counting by source"])
def test_a_fresh_store_gets_what_qupath_kept(tmp_path, shape, version):
    """On another machine, without the slide's annotations: centres, classes and sources come
    back from what QuPath keeps; ids too where QuPath keeps them (0.4+)."""
    store = slide_store()
    before = facts(store)
    back = NucleusStore()
    merge_parsed(back, read_geojson(through_qupath(store, tmp_path, shape, version)))
    assert len(back) == len(before)
    found = {}
    for key, (x, y, source, score, cls, *_ ) in before.items():
        nid = back.nearest(x, y, 0.01)
        assert nid is not None, (x, y)
        n = back.get(nid)
        assert (n.source, n.cls) == (source, cls)
        if shape == "detections+cells" and score is not None:  # a detection's score is its measurement
            assert n.score == pytest.approx(score, abs=1e-4)
        found[key] = nid
    assert len(set(found.values())) == len(before)
    if version in ("HEAD", "0.4") and shape == "detections+cells":  # ids QuPath keeps (one per object) come back
        back.namespace = new_namespace()
        assert facts(back).keys() == before.keys()


def test_a_masked_nucleus_keeps_its_detected_centre(tmp_path):
    store = NucleusStore()
    store.namespace = new_namespace()
    nid = store.add(100.37, 200.81, source="fast", score=0.5)
    store.set_polygons({nid: np.array([[90, 190], [130, 190], [130, 205], [90, 205]], float)})  # centroid (110, 197.5)
    for version in VERSIONS:
        back = NucleusStore()
        merge_parsed(back, read_geojson(through_qupath(store, tmp_path, "detections+cells", version)))
        (n,) = list(back)
        assert (n.x, n.y) == (100.37, 200.81), version
        assert not (back.extras.get(n.id) or {}).get("measurements")  # the centre is the centre, not a stray measurement


def test_ids_belong_to_one_nucleus_of_one_run_of_one_slide(tmp_path):
    """Two runs (another model) never share ids; the same command gives the same ids; two
    slides with one name and one size (a/slide.tif, b/slide.tif) never share ids."""
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    a, b = tmp_path / "a" / "slide.tif", tmp_path / "b" / "slide.tif"
    a.write_bytes(b"II*\x00" + bytes(range(256)) * 40)
    b.write_bytes(b"II*\x00" + bytes(range(255, -1, -1)) * 40)
    assert a.stat().st_size == b.stat().st_size and slide_identity(a) != slide_identity(b)
    assert slide_identity(a) == slide_identity(a)
    copy = tmp_path / "renamed.tif"
    copy.write_bytes(a.read_bytes())
    assert slide_identity(copy) == slide_identity(a)  # content, not name

    def ids(namespace: str) -> set[str]:
        return {object_id(namespace, f"nucleus/{i}") for i in range(1, 503)}

    fast, typed = run_namespace(a, "fast:aaa", "whole slide", "t=None"), run_namespace(a, "typed:bbb", "whole slide", "t=None")
    assert not ids(fast) & ids(typed)
    assert ids(fast) == ids(run_namespace(a, "fast:aaa", "whole slide", "t=None"))
    assert not ids(run_namespace(a, "fast:aaa", "whole slide", "t=None")) & ids(run_namespace(b, "fast:aaa", "whole slide", "t=None"))
    assert new_namespace() != new_namespace()


def test_two_models_exports_of_one_slide_add_up_instead_of_replacing(tmp_path, sample_tiff):
    """`wnet detect --model fast` and `--model typed` on one slide: importing one over the other
    keeps both runs' nuclei (before, 500 of fast's were silently replaced by typed's)."""
    from wnet_gui.cli.main import main

    outs = {}
    for model in ("fast", "typed"):
        outs[model] = tmp_path / f"{model}.geojson"
        assert main(["detect", str(sample_tiff), "--device", "cpu", "--model", model, "-o", str(outs[model])]) == 0
    fast_ids = {f["id"] for f in json.loads(outs["fast"].read_text())["features"]}
    typed_ids = {f["id"] for f in json.loads(outs["typed"].read_text())["features"]}
    assert len(fast_ids) > 50 and len(typed_ids) > 50 and not fast_ids & typed_ids
    again = tmp_path / "fast-again.geojson"
    assert main(["detect", str(sample_tiff), "--device", "cpu", "--model", "fast", "-o", str(again)]) == 0
    assert {f["id"] for f in json.loads(again.read_text())["features"]} == fast_ids  # the same run, the same ids
    store = NucleusStore()
    merge_parsed(store, read_geojson(outs["fast"]))
    merged = merge_parsed(store, read_geojson(outs["typed"]))
    assert len(store) == len(fast_ids) + len(typed_ids) - len(merged.updated)
    assert len(merged.updated) <= 2  # only a nucleus both put at the very same spot (within 0.02 px) is one nucleus


def test_the_old_qupath_03_round_trip_of_point_detections_is_read_as_nuclei(tmp_path):
    """Files exported before `object_type` was written: QuPath 0.3 made our point detections
    named point annotations and our cells polygon annotations. They are nuclei, not landmarks
    or regions."""
    store = slide_store()
    doc = store_to_geojson(store)
    for f in doc["features"]:
        f["properties"].pop("object_type")  # as files were written before
    path = tmp_path / "old-0.3.geojson"
    path.write_text(json.dumps(resave(doc, "0.3")))
    saved = json.loads(path.read_text())["features"]
    assert {f["properties"]["object_type"] for f in saved} == {"annotation"}
    parsed = read_geojson(path)
    assert len(parsed) == len(store) and not parsed.regions and not parsed.skipped
    assert sum(p is not None for p in parsed.polygons) == 10


def test_a_landmark_is_still_a_landmark():
    from wnet_gui.annotations.geojson import parse_geojson

    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [5, 5]}, "properties": {"objectType": "annotation", "name": "calibration"}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [9, 0], [9, 9], [0, 0]]]},
         "properties": {"objectType": "annotation", "name": "tumour", "measurements": {"Area px^2": 40.5}}}]}
    parsed = parse_geojson(doc)
    assert len(parsed) == 0 and len(parsed.regions) == 1 and sum(parsed.skipped.values()) == 1


def test_class_colours_and_measurements_in_the_forms_every_version_reads():
    doc = store_to_geojson(slide_store())
    cell = next(f for f in doc["features"] if f["properties"]["objectType"] == "cell")
    assert cell["properties"]["object_type"] == "cell"
    names = [m["name"] for m in cell["properties"]["measurements"]]
    assert names[:1] == ["score"] and {"Centre X px", "Centre Y px"} <= set(names)
    cls = cell["properties"]["classification"]
    assert set(cls) == {"name", "color", "colorRGB"} and all(isinstance(f["properties"].get("color"), list) for f in doc["features"])


def test_counting_tsv_writes_no_formula(tmp_path):
    store = NucleusStore()
    store.add(1, 2, cls="=HYPERLINK(\"http://x\")")
    store.add(3, 4, cls="@cmd")
    store.add(5, 6, cls="Tumor")
    path = tmp_path / "points.tsv"
    write_counting_tsv(store, path, split_sources=True)
    rows = list(csv.reader(path.read_text().splitlines()[1:], delimiter="\t"))
    assert [r[2] for r in rows] == ["'=HYPERLINK(\"http://x\")", "'@cmd", "Tumor"]
    assert all(not r[3].startswith(("=", "@", "+", "-")) for r in rows)


@pytest.mark.skipif(not WRITTEN.exists(), reason=f"QuPath's own files not found at {WRITTEN} (../shared is absent)")
@pytest.mark.parametrize("version,fixture", [("0.2", "qupath_v0.2.3_written_noline.geojson"), ("0.3", "qupath_v0.3.2_written_noline.geojson"),
                                             ("0.4", "qupath_v0.4.4_written_noline.geojson")])
def test_the_resave_helper_writes_what_that_qupath_wrote(version, fixture):
    """The emulation checked against QuPath's own files: a file that version wrote comes out of
    its re-save as it went in (types, ids, names, classes and measurements in its form)."""
    doc = json.loads((WRITTEN / fixture).read_text())
    real = doc if isinstance(doc, list) else doc["features"]
    ours = resave({"type": "FeatureCollection", "features": real}, version)
    ours = ours if isinstance(ours, list) else ours["features"]
    assert len(ours) == len(real)

    def shape(f: dict) -> tuple:
        p = f["properties"]
        m = p.get("measurements")
        cls = p.get("classification") or {}
        return (f.get("id") if version == "0.2" else "id" in f, p.get("objectType") or p.get("object_type"), p.get("name"),
                type(m).__name__ if m else None, tuple(sorted(cls)), p.get("isLocked"))

    for o, r in zip(ours, real):
        assert shape(o) == shape(r)
