"""Exports in the shapes QuPath shows as the user chose, and round trips through what QuPath
keeps (ids, classes, names, measurements; never our own block)."""

import csv
import json

import numpy as np

from wnet_gui.annotations import NucleusStore, import_geojson, read_geojson, store_to_geojson, write_geojson
from wnet_gui.annotations.qupath import packed_of_rgb, rgb_of_packed, write_counting_tsv
from wnet_gui.cli.main import main


def typed_store(namespace="slide-a.svs:100") -> NucleusStore:
    store = NucleusStore()
    store.namespace = namespace
    store.add_many([10, 20, 30], [10, 20, 30], source="fast", scores=[0.9, 0.8, 0.7], classes=["Tumor", "Tumor", "Lymphocyte"])
    store.add(40.0, 40.0, cls="Tumor")  # manual
    nid = store.add(50.0, 50.0, source="fast", score=0.6)
    store.set_polygons({nid: np.array([[45, 45], [55, 45], [55, 55], [45, 55]], float)})
    return store


def test_points_for_counting_are_one_points_annotation_per_class():
    doc = store_to_geojson(typed_store(), points_as="annotations")
    points = [f for f in doc["features"] if f["properties"]["objectType"] == "annotation"]
    assert sorted((f["properties"]["classification"]["name"], f["geometry"]["type"], len(f["geometry"]["coordinates"])) for f in points) == [
        ("Lymphocyte", "Point", 2), ("Tumor", "MultiPoint", 3)]
    split = store_to_geojson(typed_store(), points_as="annotations", split_sources=True)
    names = sorted(f["properties"]["name"] for f in split["features"] if f["properties"]["objectType"] == "annotation")
    assert names == ["Lymphocyte (fast)", "Tumor (fast)", "Tumor (manual)"]


def test_masks_are_cells_with_a_nucleus_geometry_or_detections():
    cell = [f for f in store_to_geojson(typed_store())["features"] if f["geometry"]["type"] == "Polygon"][0]
    assert cell["properties"]["objectType"] == "cell" and cell["nucleusGeometry"] == cell["geometry"]
    det = [f for f in store_to_geojson(typed_store(), masks_as="detections")["features"] if f["geometry"]["type"] == "Polygon"][0]
    assert det["properties"]["objectType"] == "detection" and "nucleusGeometry" not in det


def test_ids_are_unique_per_slide_and_stable_across_exports():
    a1, a2 = store_to_geojson(typed_store("a.svs:1")), store_to_geojson(typed_store("a.svs:1"))
    b = store_to_geojson(typed_store("b.svs:1"))
    ids_a = [f["id"] for f in a1["features"]]
    assert ids_a == [f["id"] for f in a2["features"]]  # stable
    assert not set(ids_a) & {f["id"] for f in b["features"]}  # nucleus 1 of slide b is not nucleus 1 of slide a
    assert len(set(ids_a)) == len(ids_a)


def test_what_qupath_keeps_is_enough_to_come_back(tmp_path):
    """QuPath drops unknown properties when it saves: without our block, source (name) and
    score (measurement) still come back."""
    doc = store_to_geojson(typed_store())
    for f in doc["features"]:
        del f["properties"]["wnet"]
    path = tmp_path / "after_qupath.geojson"
    path.write_text(json.dumps(doc))
    back = NucleusStore()
    import_geojson(back, path)
    rows = sorted((n.x, n.source, None if np.isnan(n.score) else round(n.score, 4), n.cls) for n in back)
    assert [r[1:] for r in rows] == [("fast", 0.9, "Tumor"), ("fast", 0.8, "Tumor"), ("fast", 0.7, "Lymphocyte"), ("manual", None, "Tumor"),
                                     ("fast", 0.6, "Nucleus")]


def test_every_class_gets_its_own_colour():
    from wnet_gui.annotations.qupath import assign_colors

    classes = ["Tumor", "Lymphocyte", "Stroma", "Necrosis", "Epithelial", "Inflammatory", "Spindle", "Mitosis"]
    colours = assign_colors(classes, {})
    assert len(set(colours.values())) == len(classes)  # all distinct
    assert colours["Tumor"] == (200, 0, 0)  # QuPath's own default for its own class
    assert assign_colors(classes, {"Tumor": (1, 2, 3)})["Tumor"] == (1, 2, 3)  # a class's own colour wins
    # the typing models' four classes alone take the colours of QuPath's nearest classes
    assert assign_colors(["Epithelial", "Inflammatory", "Stromal", "Other"], {}) == {
        "Epithelial": (200, 0, 0), "Inflammatory": (0, 120, 255), "Stromal": (150, 200, 150), "Other": (255, 200, 0)}
    doc = store_to_geojson(typed_store())
    written = {f["properties"]["classification"]["name"]: tuple(f["properties"]["classification"]["color"]) for f in doc["features"]}
    assert len(set(written.values())) == len(written) == 3
    assert rgb_of_packed(packed_of_rgb((196, 65, 127))) == (196, 65, 127) and packed_of_rgb((196, 65, 127)) == -3915393


def test_counting_tsv_is_what_qupaths_load_points_reads(tmp_path):
    path = tmp_path / "points.tsv"
    write_counting_tsv(typed_store(), path)
    lines = path.read_text().splitlines()
    assert lines[0].split("\t") == ["x", "y", "class", "name", "color"]
    rows = list(csv.reader(lines[1:], delimiter="\t"))
    assert rows[0] == ["10.00", "10.00", "Tumor", "Tumor", str(packed_of_rgb((200, 0, 0)))]
    assert len(rows) == 5 and all(len(r) == 5 for r in rows)
    # QuPath groups rows by (class, name, colour) into Points annotations: one per class here
    assert len({tuple(r[2:]) for r in rows}) == 3  # Tumor, Lymphocyte, Nucleus


def test_cli_points_as_annotations_and_tsv(tmp_path, sample_tiff):
    out = tmp_path / "p.geojson"
    assert main(["detect", str(sample_tiff), "--device", "cpu", "--points-as", "annotations", "-o", str(out)]) == 0
    features = json.loads(out.read_text())["features"]
    assert len(features) == 1 and features[0]["geometry"]["type"] == "MultiPoint" and features[0]["properties"]["objectType"] == "annotation"
    n = len(features[0]["geometry"]["coordinates"])
    assert len(read_geojson(out)) == n > 50
    tsv = tmp_path / "p.tsv"
    assert main(["detect", str(sample_tiff), "--device", "cpu", "--format", "tsv", "-o", str(tsv)]) == 0
    assert len(tsv.read_text().splitlines()) == n + 1


def test_reimporting_our_own_export_updates_instead_of_doubling(tmp_path):
    from wnet_gui.annotations import merge_parsed

    store = typed_store()
    path = tmp_path / "ours.geojson"
    write_geojson(store, path)
    edited = json.loads(path.read_text())
    for f in edited["features"]:  # as if edited in QuPath: our block gone, a class changed
        del f["properties"]["wnet"]
        f["properties"]["classification"]["name"] = "Edited"
    path.write_text(json.dumps(edited))
    merged = merge_parsed(store, read_geojson(path))
    assert len(store) == 5 and len(merged.updated) == 5 and len(merged.added) == 0 and {n.cls for n in store} == {"Edited"}
