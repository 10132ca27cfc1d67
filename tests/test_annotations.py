import gzip
import json
import time

import numpy as np
import pytest

from wnet_gui.annotations import GeoJSONError, NucleusStore, import_geojson, read_geojson, store_to_geojson, write_geojson

DATA = __import__("pathlib").Path(__file__).parent / "data"


def _square(x, y, s=6.0):
    return np.array([[x, y], [x + s, y], [x + s, y + s], [x, y + s]], float)


def make_store() -> NucleusStore:
    store = NucleusStore()
    store.add_many([10.5, 20.25, 30.0], [11.0, 22.0, 33.75], source="fast", scores=[0.9, 0.8, 0.7])
    store.add(100.0, 200.0)  # manual
    store.add_many([50.0], [60.0], source="accurate", scores=[0.5], cls="Tumor", polygons=[_square(47, 57)])
    store.class_colors["Tumor"] = (200, 0, 0)
    return store


def assert_same_store(a: NucleusStore, b: NucleusStore) -> None:
    ra, rb = list(a), list(b)
    assert len(ra) == len(rb)
    for x, y in zip(ra, rb):
        assert x.same_as(y, tol=0.006), (x, y)


@pytest.mark.parametrize("masks_as", ["cells", "detections"])
@pytest.mark.parametrize("points_as", ["detections", "annotations"])
def test_round_trip_points_and_polygons(tmp_path, masks_as, points_as):
    store = make_store()
    path = tmp_path / "out.geojson"
    write_geojson(store, path, points_as=points_as, masks_as=masks_as)
    restored = NucleusStore()
    import_geojson(restored, path)
    assert_same_store(store, restored)


def test_round_trip_gzip(tmp_path):
    store = make_store()
    write_geojson(store, tmp_path / "out.geojson.gz")
    restored = NucleusStore()
    import_geojson(restored, tmp_path / "out.geojson.gz")
    assert_same_store(store, restored)


def test_export_shape_is_what_qupath_reads():
    doc = store_to_geojson(make_store())
    assert doc["type"] == "FeatureCollection"
    f = doc["features"][4]
    assert f["type"] == "Feature" and len(f["id"]) == 36
    assert f["properties"]["objectType"] == "cell"  # inside properties, not at feature level
    assert "objectType" not in f
    assert f["nucleusGeometry"] == f["geometry"]  # the NuClick mask is the cell's nucleus
    assert f["properties"]["classification"] == {"name": "Tumor", "color": [200, 0, 0], "colorRGB": -3670016}  # both forms: 0.2/0.3 read colorRGB
    assert f["properties"]["color"] == [200, 0, 0]  # an object colour: QuPath 0.2 cannot re-export a named object without one
    assert f["geometry"]["type"] == "Polygon"
    ring = f["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 5
    assert doc["features"][0]["geometry"] == {"type": "Point", "coordinates": [10.5, 20.25 and 11.0]}
    assert doc["features"][0]["properties"]["measurements"] == [{"name": "score", "value": 0.9}]  # the list every QuPath reads


def test_import_the_exact_shape_qupath_writes():
    store = NucleusStore()
    ids = import_geojson(store, DATA / "qupath_export.geojson")
    assert len(ids) == 6
    recs = list(store)
    assert [r.cls for r in recs] == ["Tumor", "Tumor", "Tumor", "Immune cells", "Tumor", "Stroma"]
    assert (recs[0].x, recs[0].y) == (1024.5, 2048.25)
    assert recs[0].source == "manual" and recs[4].source == "imported"
    assert recs[4].polygon is not None and (recs[4].x, recs[4].y) == pytest.approx((15.0, 15.0))
    assert recs[4].score == pytest.approx(0.87) and recs[5].score == pytest.approx(0.5)
    assert store.class_colors["Immune cells"] == (160, 90, 160)


def test_bare_array_single_feature_and_bare_geometry(tmp_path):
    doc = json.loads((DATA / "qupath_export.geojson").read_text())
    (tmp_path / "array.json").write_text(json.dumps(doc["features"]))
    assert len(read_geojson(tmp_path / "array.json")) == 6
    (tmp_path / "one.geojson").write_text(json.dumps(doc["features"][1]))
    assert len(read_geojson(tmp_path / "one.geojson")) == 1
    (tmp_path / "geom.geojson").write_text(json.dumps({"type": "Point", "coordinates": [1, 2]}))
    assert read_geojson(tmp_path / "geom.geojson").xs == [1.0]


@pytest.mark.parametrize(
    "geometry, message",
    [
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, "a"], [1, 1], [0, 0]]]}, "finite number"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}, "fewer than 3"),
        ({"type": "Point", "coordinates": [1]}, "not an [x, y]"),
        ({"type": "Point", "coordinates": [float("nan"), 1]}, "finite number"),
    ],
)
def test_broken_geometry_names_feature_and_leaves_store_untouched(tmp_path, geometry, message):
    doc = json.loads((DATA / "qupath_export.geojson").read_text())
    doc["features"].insert(2, {"type": "Feature", "id": "bad-one", "geometry": geometry, "properties": {}})
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(doc))
    store = make_store()
    before = list(store)
    with pytest.raises(GeoJSONError) as info:
        import_geojson(store, path)
    assert "feature 2 (id bad-one)" in str(info.value) and message in str(info.value)
    assert "bad.geojson" in str(info.value)
    assert_same_store(store, _store_of(before))


def _store_of(records):
    s = NucleusStore()
    for r in records:
        s.add_many([r.x], [r.y], source=r.source, scores=[r.score], cls=r.cls, ids=[r.id], polygons=[r.polygon])
    return s


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2, 3]", '{"type": "Topology"}', '{"type": "FeatureCollection"}'])
def test_corrupt_documents(tmp_path, text):
    path = tmp_path / "corrupt.geojson"
    path.write_text(text)
    with pytest.raises(GeoJSONError, match="corrupt.geojson"):
        read_geojson(path)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "t.geojson.gz"
    path.write_bytes(gzip.compress(b'{"type": "FeatureCollection", "features": []}')[:20])
    with pytest.raises(GeoJSONError):
        read_geojson(path)


def test_import_into_non_empty_store_gets_fresh_ids(tmp_path):
    """Another slide's nuclei join with fresh ids; the same file again merges instead (issue 16)."""
    store = make_store()
    store.namespace = "a.svs:1"
    write_geojson(store, tmp_path / "a.geojson")
    other = NucleusStore()
    other.namespace = "b.svs:1"
    other.add_many([1000.0 + 10 * k for k in range(5)], [500.0] * 5)  # its own nuclei, elsewhere
    ids = import_geojson(other, tmp_path / "a.geojson")
    assert len(other) == 10 and ids.min() > 5
    import_geojson(store, tmp_path / "a.geojson")
    assert len(store) == 5


# ------------------------------------------------------------------------- store
def test_store_edit_remove_restore_move():
    store = make_store()
    events = []
    store.listeners.append(lambda what, ids: events.append((what, list(ids))))
    store.remove([2])
    assert 2 not in store and len(store) == 4
    store.restore([2])
    assert store.get(2).x == 20.25
    store.move(1, 5.0, 6.0)
    assert (store.get(1).x, store.get(1).y) == (5.0, 6.0)
    assert [e[0] for e in events] == ["remove", "add", "move"]
    with pytest.raises(KeyError):
        store.get(999)
    assert store.count_by_source() == {"fast": 3, "manual": 1, "accurate": 1}


def test_spatial_queries_match_brute_force_after_edits():
    rng = np.random.default_rng(0)
    store = NucleusStore()
    xy = rng.uniform(0, 10000, (30000, 2))
    store.add_many(xy[:, 0], xy[:, 1], source="fast")
    store.query_rect(0, 0, 1, 1)  # builds the index
    more = rng.uniform(0, 10000, (500, 2))
    store.add_many(more[:, 0], more[:, 1])
    store.remove(np.arange(1, 200))
    for i in range(300, 320):
        store.move(i, 5000.0 + i, 5000.0)
    all_xy = store.coordinates()
    ids = store.ids()
    for x0, y0, x1, y1 in [(4000, 4000, 6000, 6000), (0, 0, 300, 10000), (9990, 0, 10000, 10000)]:
        expect = ids[(all_xy[:, 0] >= x0) & (all_xy[:, 0] <= x1) & (all_xy[:, 1] >= y0) & (all_xy[:, 1] <= y1)]
        assert np.array_equal(store.query_rect(x0, y0, x1, y1), np.sort(expect))
    assert store.nearest(5310.4, 5000.2, 3) == 310
    assert store.nearest(-100, -100, 3) is None
    inside = store.query_polygon(np.array([[4000, 4000], [6000, 4000], [5000, 6000]]))
    assert 310 in inside and len(inside) > 0


def test_million_point_queries_are_fast():
    rng = np.random.default_rng(0)
    store = NucleusStore()
    xy = rng.uniform(0, 100000, (1_000_000, 2))
    store.add_many(xy[:, 0], xy[:, 1], source="fast")
    store.query_rect(0, 0, 1, 1)
    # against what the index saves, measured in the same process (a loaded machine slows both)
    start = time.perf_counter()
    for k in range(5):
        np.flatnonzero((xy[:, 0] >= 1000 * k) & (xy[:, 0] < 1000 * k + 2000) & (xy[:, 1] >= 1000 * k) & (xy[:, 1] < 1000 * k + 2000))
    scan = (time.perf_counter() - start) / 5
    start = time.perf_counter()
    for _ in range(3):
        np.argsort(xy[:, 0], kind="stable")
    resort = (time.perf_counter() - start) / 3
    start = time.perf_counter()
    for k in range(50):
        ids = store.query_rect(1000 * k, 1000 * k, 1000 * k + 2000, 1000 * k + 2000)
        store.nearest(1000 * k + 500, 1000 * k + 500, 50)
    per_query = (time.perf_counter() - start) / 50
    assert len(ids) > 0
    assert per_query < scan / 3, f"a viewport query took {per_query * 1e3:.1f} ms, a scan of the million {scan * 1e3:.1f} ms"
    start = time.perf_counter()
    for k in range(20):  # the mean includes one geometric growth of the columns
        store.add(5.0 + k, 5.0)
        store.query_rect(0, 0, 10, 10)
    per_edit = (time.perf_counter() - start) / 20
    assert per_edit < resort / 3, f"an edit took {per_edit * 1e3:.1f} ms, sorting the million {resort * 1e3:.1f} ms"


def test_snapshot_is_independent_of_later_edits():
    store = NucleusStore()
    ids = store.add_many([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], source="fast", scores=[0.5, 0.6, 0.7])
    store.set_polygons({int(ids[0]): np.array([[0, 0], [2, 0], [2, 2]], float)})
    snap = store.snapshot()
    store.move(int(ids[1]), 50.0, 60.0)
    store.remove([ids[2]])
    store.add(9.0, 9.0)
    assert len(snap) == 3 and snap.revision < store.revision
    assert np.allclose(snap.coordinates(), [[1, 4], [2, 5], [3, 6]])
    assert snap.get(int(ids[0])).polygon is not None and snap.get(int(ids[2])).source == "fast"
    assert list(snap.query_rect(0, 0, 10, 10)) == list(ids)  # its spatial index works


def test_background_autosave_writes_the_state_at_snapshot_time(tmp_path):
    from wnet_gui.annotations.autosave import Autosaver

    slide = tmp_path / "slide.tif"
    slide.write_bytes(b"")
    store = NucleusStore()
    saver = Autosaver(slide, store)
    assert not saver.save_in_background()  # nothing changed yet
    store.add_many(np.arange(20000, dtype=float), np.ones(20000), source="fast")
    assert saver.save_in_background()
    store.add(5.0, 5.0)  # an edit while the save runs: not in this snapshot, still dirty after
    saver.wait()
    restored = NucleusStore()
    saver.restore_into(restored)
    assert len(restored) == 20000 and saver.dirty and saver.error is None
    assert saver.save_in_background()
    saver.wait()
    assert not saver.dirty


def test_binary_snapshot_round_trip_and_truncation(tmp_path):
    from wnet_gui.annotations.snapshot_io import SnapshotError, read_snapshot, write_snapshot

    store = NucleusStore()
    ids = store.add_many([1.5, 2.5, 3.5], [4.0, 5.0, 6.0], source="fast", scores=[0.5, 0.6, 0.7])
    store.add(7.0, 8.0, cls="Tumor")
    store.class_colors["Tumor"] = (200, 0, 0)
    store.set_polygons({int(ids[1]): np.array([[0, 0], [3, 0], [3, 3], [0, 3]], float)})
    store.remove([ids[0]])
    path = tmp_path / "s.npz"
    write_snapshot(store, path)
    back = NucleusStore()
    read_snapshot(path, back)
    assert list(back.ids()) == list(store.ids())
    for a, b in zip(store, back):
        assert a.same_as(b) and a.source == b.source and a.cls == b.cls
    assert back.class_colors["Tumor"] == (200, 0, 0)
    path.write_bytes(path.read_bytes()[:-40])  # cut short, as by a crash mid-write
    untouched = NucleusStore()
    with pytest.raises(SnapshotError, match="s.npz"):
        read_snapshot(path, untouched)
    assert len(untouched) == 0


def test_reviewed_regions_include_their_edge_and_refuse_outlines_without_an_area():
    store = NucleusStore()
    ids = store.add_many([10.0, 20.0, 30.0, 50.0], [10.0, 20.0, 15.0, 50.0])
    store.add_reviewed([[0, 0], [20, 0], [20, 40], [0, 40]])  # (20, 20) lies on its edge
    store.add_reviewed([[25, 10], [35, 10], [35, 20]])  # a triangle holding (30, 15)
    assert store.reviewed_ids().tolist() == [int(ids[0]), int(ids[1]), int(ids[2])]
    assert store.inside_reviewed([[10, 10], [20, 20], [30, 15], [50, 50], [21, 39]]).tolist() == [True, True, True, False, False]
    with pytest.raises(ValueError):
        store.add_reviewed([[0, 0], [10, 10], [20, 20]])  # three points on a line: no area
    assert len(store.reviewed) == 2
