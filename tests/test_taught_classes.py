"""Classes taught from labelled nuclei (issue 28): features from the detection pass, a head
learned in seconds, a classifier card of JSON and arrays, `wnet classes train` and
`wnet detect --classifier`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers import SAMPLE_TIFF, SAMPLE_TIFF_2, darkness
from wnet_gui.annotations import read_geojson
from wnet_gui.classify.card import ClassifierCard, ClassifierError
from wnet_gui.classify.teach import LabelledSlide, teach
from wnet_gui.cli.main import main
from wnet_gui.annotations.geojson_export import CONFIDENCE
from wnet_gui.engine.detect import DetectOptions, detect_slide
from wnet_gui.models.zoo import resolve_card

CONSEP = Path(__file__).resolve().parents[2] / "shared" / "data" / "consep"


def dark_or_pale(path: Path, xy: np.ndarray, cut: float) -> list[str]:
    return ["dense" if d > cut else "pale" for d in darkness(path, xy)]


@pytest.fixture(scope="module")
def taught(tmp_path_factory):
    """A classifier taught on one tile's true nuclei, labelled dense or pale."""
    truth = read_geojson(SAMPLE_TIFF.with_name(SAMPLE_TIFF.stem + "_truth.geojson"))
    xy = np.stack([truth.xs, truth.ys], axis=1)
    cut = float(np.median(darkness(SAMPLE_TIFF, xy)))
    labels = dark_or_pale(SAMPLE_TIFF, xy, cut)
    detector = resolve_card("fast")
    card = teach([LabelledSlide(SAMPLE_TIFF, xy, labels, colors={"dense": (10, 20, 30)})], detector, "chromatin",
                 DetectOptions(device="cpu"))
    path = card.save(tmp_path_factory.mktemp("classifier") / "chromatin.json")
    return path, cut, detector


def test_a_taught_class_carries_to_another_slide(taught, tmp_path):
    """Taught on one tile, applied by the detection pass on another (another organ, another
    lab): the nuclei are classed as the rule says far more often than by chance."""
    path, cut, detector = taught
    card = ClassifierCard.load(path)
    assert card.classes == ["dense", "pale"] or card.classes == ["pale", "dense"]
    assert dict(zip(card.classes, card.colors))["dense"] == (10, 20, 30)  # the user's colour kept
    assert sum(card.counts.values()) > 100 and card.cv_accuracy > 0.8
    out = tmp_path / "classed.geojson"
    run = detect_slide(SAMPLE_TIFF_2, detector, out, options=DetectOptions(device="cpu"), classifier=card)
    assert len(run.types) == len(run.centres) == len(run.confidences) > 50
    expected = dark_or_pale(SAMPLE_TIFF_2, run.centres, cut)
    agreement = float(np.mean([a == b for a, b in zip(run.types, expected)]))
    print(f"agreement {agreement:.3f}, cross-validated {card.cv_accuracy:.3f}")
    assert agreement > 0.75, agreement
    assert ((run.confidences >= 0.5) & (run.confidences <= 1.0)).all()
    feature = json.loads(out.read_text())["features"][0]
    names = {m["name"] for m in feature["properties"]["measurements"]}
    assert CONFIDENCE in names and feature["properties"]["classification"]["name"] in card.classes


def test_the_detection_pass_is_the_same_with_or_without_a_classifier(taught, tmp_path):
    path, _, detector = taught
    plain = detect_slide(SAMPLE_TIFF_2, detector, tmp_path / "a.geojson", options=DetectOptions(device="cpu"))
    classed = detect_slide(SAMPLE_TIFF_2, detector, tmp_path / "b.geojson", options=DetectOptions(device="cpu"),
                           classifier=ClassifierCard.load(path))
    assert np.array_equal(plain.centres, classed.centres) and np.array_equal(plain.scores, classed.scores)


def test_a_classifier_reads_only_its_own_detectors_features(taught, tmp_path):
    path, _, _ = taught
    out = tmp_path / "x.geojson"
    assert main(["detect", str(SAMPLE_TIFF_2), "--model", "accurate", "--classifier", str(path), "--device", "cpu", "-o", str(out)]) == 2
    assert not out.exists()
    assert main(["detect", str(SAMPLE_TIFF_2), "--model", "fast", "--classifier", str(path), "--device", "cpu", "-o", str(out)]) == 0
    assert {f["properties"]["classification"]["name"] for f in json.loads(out.read_text())["features"]} <= {"dense", "pale"}


def test_the_csv_carries_each_class_and_its_confidence(taught, tmp_path):
    """`wnet detect --classifier --format csv`: a spreadsheet row per nucleus with its class and
    the classifier's confidence in it (what the GeoJSON keeps as a measurement)."""
    import csv

    path, _, _ = taught
    out = tmp_path / "classed.csv"
    assert main(["detect", str(SAMPLE_TIFF_2), "--model", "fast", "--classifier", str(path), "--device", "cpu", "--format", "csv",
                 "-o", str(out)]) == 0
    rows = list(csv.DictReader(open(out, newline="")))
    assert len(rows) > 50 and {r["class"] for r in rows} <= {"dense", "pale"}
    confidences = [float(r["class_confidence"]) for r in rows]
    assert all(0.5 <= c <= 1.0 for c in confidences) and len(set(confidences)) > 10
    plain = tmp_path / "plain.csv"
    assert main(["detect", str(SAMPLE_TIFF_2), "--model", "fast", "--device", "cpu", "--format", "csv", "-o", str(plain)]) == 0
    assert {r["class_confidence"] for r in csv.DictReader(open(plain, newline=""))} == {""}  # no classifier, no confidence


@pytest.mark.parametrize("damage, message", [
    (lambda doc, npz: doc.update(sha256="0" * 64), "does not match"),
    (lambda doc, npz: doc.update(weights="../elsewhere.npz"), "beside the card"),
    (lambda doc, npz: doc.update(classes=[{"name": "only", "color": [1, 2, 3]}]), "2 to"),
    (lambda doc, npz: doc["features"].update(kind="other"), "this version computes"),
    (lambda doc, npz: doc.update(format="wnet-model"), "not a W-Net Annotator classifier"),
])
def test_a_damaged_card_is_refused_with_a_message(taught, tmp_path, damage, message):
    path, _, _ = taught
    folder = tmp_path / "copy"
    shutil.copytree(path.parent, folder)
    card = folder / path.name
    doc = json.loads(card.read_text())
    damage(doc, folder / doc["weights"])
    card.write_text(json.dumps(doc))
    with pytest.raises(ClassifierError, match=message):
        ClassifierCard.load(card)


def test_arrays_are_data_never_code(taught, tmp_path):
    """An .npz holding a pickled object, or arrays of the wrong shape, with a matching sha256."""
    import hashlib

    path, _, _ = taught
    for arrays in ({"mean": np.array([object()], dtype=object)}, {k: np.zeros(3, np.float32) for k in ("mean", "std", "w1", "b1", "w2", "b2")}):
        folder = tmp_path / f"bad{len(arrays)}"
        shutil.copytree(path.parent, folder)
        card = folder / path.name
        doc = json.loads(card.read_text())
        with open(folder / doc["weights"], "wb") as fh:
            np.savez(fh, **arrays)
        doc["sha256"] = hashlib.sha256((folder / doc["weights"]).read_bytes()).hexdigest()
        card.write_text(json.dumps(doc))
        with pytest.raises(ClassifierError):
            ClassifierCard.load(card)


def test_too_few_labels_say_what_is_missing():
    xy = np.array([[100.0, 100.0], [200.0, 200.0], [300.0, 300.0], [400.0, 400.0]])
    with pytest.raises(ClassifierError, match="at least two classes"):
        teach([LabelledSlide(SAMPLE_TIFF, xy, ["a", "a", "a", "b"])], resolve_card("fast"), "x", DetectOptions(device="cpu"))


@pytest.mark.skipif(not (CONSEP / "train").exists(), reason=f"CoNSeP not found at {CONSEP} (../shared is absent)")
def test_the_command_line_teaches_from_a_qupath_style_export(tmp_path, capsys):
    """Labelled points as QuPath exports them (class names; unclassified points ignored) →
    `wnet classes train` → `wnet detect --classifier` → `wnet evaluate` reads the classes."""
    from wnet_gui.datasets.typed_truth import read_consep

    xy, types = read_consep(CONSEP / "train" / "train_1_inst.png")
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
                 "properties": {"objectType": "annotation", **({"classification": {"name": t, "color": [9, 9, 9]}} if t else {})}}
                for (x, y), t in zip(xy, types)]
    features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [5.0, 5.0]}, "properties": {"objectType": "annotation"}})
    labels = tmp_path / "train_1.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    card = tmp_path / "models" / "colon.json"
    assert main(["classes", "train", "--slide", str(CONSEP / "train" / "train_1.jpg"), "--points", str(labels), "--mpp", "0.25",
                 "--model", "fast", "--device", "cpu", "-o", str(card)]) == 0
    said = capsys.readouterr().out
    assert f"{sum(1 for t in types if t)} labelled nuclei of {len(xy) + 1}" in said and "cross-validated accuracy" in said
    out = tmp_path / "test_1.geojson"
    assert main(["detect", str(CONSEP / "test" / "test_1.jpg"), "--mpp", "0.25", "--model", "fast", "--classifier", str(card),
                 "--device", "cpu", "-o", str(out)]) == 0
    assert main(["evaluate", "--pred", str(out), "--truth", str(CONSEP / "test" / "test_1_inst.png"), "--radius", "12"]) == 0
    accuracy = float(capsys.readouterr().out.split("type accuracy ")[1].split(",")[0])
    assert accuracy > 0.5  # four classes from one tile of another slide; the majority class alone gives about 0.4


def test_a_classifier_is_kept_in_the_users_model_folder(tmp_path, monkeypatch, capsys):
    """`wnet classes train --name` without -o keeps the card with the user's models: `wnet models`
    lists it and `wnet detect --classifier NAME` finds it."""
    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "home"))
    truth = read_geojson(SAMPLE_TIFF.with_name(SAMPLE_TIFF.stem + "_truth.geojson"))
    xy = np.stack([truth.xs, truth.ys], axis=1)
    labels = dark_or_pale(SAMPLE_TIFF, xy, float(np.median(darkness(SAMPLE_TIFF, xy))))
    points = tmp_path / "labels.geojson"
    points.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
         "properties": {"objectType": "annotation", "classification": {"name": c}}} for (x, y), c in zip(xy, labels)]}))
    assert main(["classes", "train", "--slide", str(SAMPLE_TIFF), "--points", str(points), "--model", "fast", "--device", "cpu",
                 "--name", "chromatin"]) == 0
    assert (tmp_path / "home" / "wnet-annotator" / "models" / "classifiers" / "chromatin.json").is_file()
    capsys.readouterr()
    assert main(["models"]) == 0
    assert "chromatin    classifier of fast: " in capsys.readouterr().out
    out = tmp_path / "b.geojson"
    assert main(["detect", str(SAMPLE_TIFF_2), "--model", "fast", "--classifier", "chromatin", "--device", "cpu", "-o", str(out)]) == 0
    assert main(["detect", str(SAMPLE_TIFF_2), "--model", "fast", "--classifier", "nobody", "--device", "cpu", "-o", str(out), "--overwrite"]) == 2
    assert "no classifier called 'nobody' (yours: chromatin)" in capsys.readouterr().err


def test_a_folder_is_classed_slide_by_slide_and_a_new_classifier_redoes_it(taught, tmp_path, capsys):
    """`wnet detect FOLDER --classifier` (the cohort path, as a Dask worker runs it): every
    slide's nuclei classed; a rerun with the same classifier skips, another one redoes."""
    path, _, _ = taught
    folder = tmp_path / "slides"
    folder.mkdir()
    shutil.copy(SAMPLE_TIFF, folder / "a.tif")
    shutil.copy(SAMPLE_TIFF_2, folder / "b.tif")
    out = tmp_path / "out"
    args = ["detect", str(folder), "--model", "fast", "--classifier", str(path), "--device", "cpu", "--scheduler", "none", "-o", str(out)]
    assert main(args) == 0
    for name in ("a.geojson", "b.geojson"):
        features = json.loads((out / name).read_text())["features"]
        assert len(features) > 50 and {f["properties"]["classification"]["name"] for f in features} <= {"dense", "pale"}
    capsys.readouterr()
    assert main(args) == 0
    assert "2 skipped" in capsys.readouterr().out
    other = tmp_path / "other" / "chromatin.json"
    shutil.copytree(path.parent, other.parent)
    card = ClassifierCard.load(other)
    card.head.b2[:] = card.head.b2[::-1].copy()  # another classifier
    card.save(other)
    assert main([*args[:5], str(other), *args[6:]]) == 0
    assert "2 skipped" not in capsys.readouterr().out


@pytest.mark.parametrize("on_dask", [False, True])
def test_a_project_is_classed_and_hand_set_classes_stay(taught, tmp_path, monkeypatch, on_dask):
    """`wnet detect PROJECT --classifier` (in process and on a local Dask cluster): the model's
    points get the taught classes in the classifier's colours, each with its confidence; a
    nucleus whose class was set by hand keeps it."""
    from wnet_gui.projects import Project, load_annotations, save_annotations

    path, _, _ = taught
    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "home"))
    study = tmp_path / "study"
    study.mkdir()
    shutil.copy(SAMPLE_TIFF_2, study / "b.tif")
    Project.open(study).save()
    store = load_annotations(study / "b.tif")
    hand = store.add(40.0, 40.0, cls="mitosis")
    save_annotations(study / "b.tif", store)
    extra = ["--workers", "1"] if on_dask else []
    assert main(["detect", str(study), "--model", "fast", "--classifier", str(path), "--device", "cpu", *extra]) == 0
    store = load_annotations(study / "b.tif")
    ids = store.ids()
    model = ids[store.source_of(ids) == "fast"]
    names = [store.classes.names[c] for c in store.columns()["cls"]]
    by_id = dict(zip(ids.tolist(), names))
    assert len(model) > 50 and {by_id[int(i)] for i in model} <= {"dense", "pale"} and len({by_id[int(i)] for i in model}) == 2
    assert by_id[hand] == "mitosis"
    confidences = [store.extras[int(i)]["measurements"][CONFIDENCE] for i in model]
    assert min(confidences) >= 0.5 - 1e-6 and max(confidences) <= 1.0  # the probability of the class given, of two
    assert store.class_colors["dense"] == (10, 20, 30)


def test_feature_cache_gives_back_what_it_was_given_and_reads_only_new_or_moved_nuclei():
    from wnet_gui.classify.feature_cache import FeatureCache
    from wnet_gui.classify.teach import read_missing

    cache = FeatureCache(max_sources=2)
    xy = np.array([[10.0, 20.0], [30.5, 40.25], [50.0, 60.0]])
    rows = np.arange(9, dtype=np.float32).reshape(3, 3)
    asked = []

    def read(points):
        asked.append(points.copy())
        return np.full((len(points), 3), -1.0, np.float32)

    assert np.array_equal(read_missing(cache, "a", xy, read), np.full((3, 3), -1.0)) and len(asked[-1]) == 3  # empty cache: all read
    cache.store("a", xy, rows)
    again = np.array([[50.0, 60.0], [10.0, 20.0], [30.5, 40.25], [31.0, 40.25]])  # reordered, one moved
    got = read_missing(cache, "a", again, read)
    assert np.allclose(asked[-1], [[31.0, 40.25]])  # only the moved one was read
    assert np.array_equal(got, np.vstack([rows[2], rows[0], rows[1], [-1, -1, -1]]))
    assert read_missing(cache, "b", xy, read).shape == (3, 3) and len(asked[-1]) == 3  # another slide or detector: nothing known
    cache.store("b", xy[:1], rows[:1])
    cache.store("c", xy[:1], rows[:1])  # beyond two sources the oldest goes
    assert cache.lookup("a", xy)[0] is None and not cache.lookup("c", xy[:1])[1].any()


def test_classes_train_reads_a_projects_hand_set_classes(tmp_path, monkeypatch, capsys):
    """`wnet classes train --project FOLDER`: the nuclei classed by hand in the app on every
    slide of a project (their saved annotations) teach the classifier, as the dock's *Train
    classifier* does; a model's classes are not labels; a folder that is not a project is refused."""
    from wnet_gui.annotations import NucleusStore
    from wnet_gui.projects import Project, save_annotations

    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "home"))
    study = tmp_path / "study"
    study.mkdir()
    taught_counts = {}
    for name, source in (("a.tif", SAMPLE_TIFF), ("b.tif", SAMPLE_TIFF_2)):
        shutil.copy(source, study / name)
        truth = read_geojson(source.with_name(source.stem + "_truth.geojson"))
        xy = np.stack([truth.xs, truth.ys], axis=1)
        labels = dark_or_pale(source, xy, float(np.median(darkness(source, xy))))
        store = NucleusStore()
        ids = store.add_many(xy[:, 0], xy[:, 1])
        store.set_classes({int(i): c for i, c in zip(ids, labels)})
        for i in ids[: len(ids) // 2]:  # half by hand; the rest stand for a model's classes
            store.extras[int(i)] = {"class_by_hand": True}
        save_annotations(study / name, store)
        for c in labels[: len(ids) // 2]:
            taught_counts[c] = taught_counts.get(c, 0) + 1
    assert main(["classes", "train", "--project", str(study), "--model", "fast", "--device", "cpu"]) == 2  # not a project yet
    assert "is not a project" in capsys.readouterr().err
    Project.open(study).save()  # what opening it in the app does
    out = tmp_path / "chromatin.json"
    assert main(["classes", "train", "--project", str(study), "--model", "fast", "--device", "cpu", "-o", str(out)]) == 0
    card = ClassifierCard.load(out)
    assert card.counts == taught_counts and sorted(card.trained_on) == ["a.tif", "b.tif"] and card.cv_accuracy > 0.75
