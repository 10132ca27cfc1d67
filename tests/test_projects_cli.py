"""The CLI reads the app's project: `wnet detect PROJECT` fills every new slide's annotations
(where the app will find them), `wnet export PROJECT -o OUT/` writes GeoJSON per slide and the
summary; the same functions the app's whole-project actions run."""

import csv
import json
import shutil

from wnet_gui.cli.main import main
from wnet_gui.projects import PROJECT_FILE, Project, load_annotations


def test_detect_and_export_a_project(tmp_path, sample_tiff, monkeypatch, capsys):
    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "home"))
    study = tmp_path / "study"
    study.mkdir()
    for name, source in (("a.tif", sample_tiff), ("b.tif", sorted(sample_tiff.parent.glob("*.tif"))[1])):
        shutil.copy(source, study / name)
    Project.open(study).save()
    assert main(["detect", str(study), "--device", "cpu"]) == 0
    assert "2 detected" in capsys.readouterr().out
    project = Project.open(study)
    assert [e.state for e in project.slides] == ["detected", "detected"]
    stores = [load_annotations(study / n) for n in ("a.tif", "b.tif")]
    assert [len(s) for s in stores] == [e.nuclei for e in project.slides] and min(len(s) for s in stores) > 50
    # a rerun leaves detected slides alone; --overwrite redoes them without doubling the points
    assert main(["detect", str(study / PROJECT_FILE), "--device", "cpu", "--overwrite"]) == 0
    assert len(load_annotations(study / "a.tif")) == len(stores[0])
    out = tmp_path / "out"
    assert main(["export", str(study), "-o", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert [(r["slide"], int(r["nuclei"]), int(r["n_Nucleus"])) for r in rows] == [
        ("a.tif", len(stores[0]), len(stores[0])),
        ("b.tif", len(stores[1]), len(stores[1])),
    ]
    assert len(json.loads((out / "a.geojson").read_text())["features"]) == len(stores[0])
    assert [e.state for e in Project.open(study).slides] == ["detected", "detected"]  # exporting is noted beside the state
    assert all(e.exported for e in Project.open(study).slides) and [r["state"] for r in rows] == ["detected", "detected"]


def test_a_slide_that_cannot_be_exported_is_named_and_the_others_go_on(tmp_path, sample_tiff, monkeypatch, capsys):
    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "home"))
    study = tmp_path / "study"
    study.mkdir()
    for name in ("a.tif", "b.tif"):
        shutil.copy(sample_tiff, study / name)
    from wnet_gui.annotations import NucleusStore
    from wnet_gui.projects import save_annotations

    for name in ("a.tif", "b.tif"):
        store = NucleusStore()
        store.add(3.0, 4.0)
        save_annotations(study / name, store)
    project = Project.open(study)
    project.slides[0].state = "reviewed"
    project.save()
    out = tmp_path / "out"
    (out / "a.geojson").mkdir(parents=True)  # a's file cannot be written there
    assert main(["export", str(study), "-o", str(out)]) == 1
    assert "error: a.tif: IsADirectoryError" in capsys.readouterr().err
    rows = {r["slide"]: r for r in csv.DictReader(open(out / "summary.csv"))}
    assert rows["a.tif"]["output"] == "" and "IsADirectoryError" in rows["a.tif"]["error"] and rows["a.tif"]["state"] == "reviewed"
    assert rows["b.tif"]["output"] == "b.geojson" and rows["b.tif"]["error"] == "" and rows["b.tif"]["nuclei"] == "1"
    states = {e.path: (e.state, bool(e.exported)) for e in Project.open(study).slides}
    assert states == {"a.tif": ("reviewed", False), "b.tif": ("new", True)}


def test_detect_without_output_outside_a_project_is_refused(tmp_path, sample_tiff, capsys):
    assert main(["detect", str(sample_tiff)]) == 2
    assert "-o/--output" in capsys.readouterr().err


def test_detect_a_project_on_a_local_dask_cluster(tmp_path, sample_tiff, monkeypatch, capsys):
    """`wnet detect PROJECT --workers 2`: the new slides run as a cohort, results merged into
    each slide's annotations exactly as the in-process path does (hand points and reviewed regions kept)."""
    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "home"))
    study = tmp_path / "study"
    study.mkdir()
    for name in ("a.tif", "b.tif"):
        shutil.copy(sample_tiff, study / name)
    from wnet_gui.projects import save_annotations

    from wnet_gui.annotations import NucleusStore

    hand = NucleusStore()
    hand.add(3.0, 4.0)  # a pathologist's point on a, before any detection
    save_annotations(study / "a.tif", hand)
    Project.open(study).save()
    assert main(["detect", str(study), "--device", "cpu", "--workers", "2"]) == 0
    project = Project.open(study)
    assert [e.state for e in project.slides] == ["detected", "detected"]
    a, b = (load_annotations(study / n) for n in ("a.tif", "b.tif"))
    assert len(a) == len(b) + 1 and len(b) > 50  # same image; a also keeps its hand point
    assert (study / ".wnet-results" / "summary.csv").exists()


def test_reading_a_projects_annotations_skips_a_bad_snapshot_and_moves_nothing(tmp_path, sample_tiff, monkeypatch):
    """A project's look at a slide (counts, export) takes the newest readable autosave and leaves an
    unreadable newer one where it is: only the window that holds the slide may move it aside."""
    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "home"))
    from wnet_gui.annotations import NucleusStore
    from wnet_gui.annotations.autosave import Autosaver
    from wnet_gui.projects import save_annotations

    slide = tmp_path / "a.tif"
    shutil.copy(sample_tiff, slide)
    store = NucleusStore()
    store.add(3.0, 4.0)
    store.add(30.0, 40.0)
    save_annotations(slide, store)
    saver = Autosaver(slide, NucleusStore(), lock=False)
    good = saver.snapshots()[0]
    good.rename(good.with_name(good.name + ".1"))  # the older snapshot of the series
    good.write_bytes(b"garbage")  # the newest one is unreadable
    before = sorted(p.name for p in tmp_path.iterdir())
    assert len(load_annotations(slide)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_options_a_project_cannot_honour_are_refused_not_ignored(tmp_path, sample_tiff, monkeypatch, capsys):
    """`wnet detect PROJECT --mpp/--roi/--format/--points-as/-o` once ran and silently ignored them."""
    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "home"))
    study = tmp_path / "study"
    study.mkdir()
    shutil.copy(sample_tiff, study / "a.tif")
    Project.open(study).save()
    for extra in (["--mpp", "0.5"], ["--roi", "0,0,100,100"], ["--format", "csv"], ["--points-as", "annotations"], ["-o", str(tmp_path / "x")]):
        assert main(["detect", str(study), "--device", "cpu", *extra]) == 2, extra
        flag = "-o/--output" if extra[0] == "-o" else extra[0]
        assert f"{flag} apply to slides and files, not to a project" in capsys.readouterr().err
    assert [e.state for e in Project.open(study).slides] == ["new"]  # nothing ran


def test_hand_labelled_nuclei_of_a_project_are_found_on_every_slide_with_a_scale(tmp_path, sample_tiff, monkeypatch):
    """What *Train classifier* reads from a project's other slides: only nuclei classed by
    hand (a model's class is not a label), at each slide's scale; a slide whose scale nobody
    knows is named, not guessed; the slide open in the app is left out (it is read from memory)."""
    import numpy as np
    from PIL import Image

    from wnet_gui.annotations import NucleusStore
    from wnet_gui.projects import save_annotations
    from wnet_gui.projects.work import hand_labelled_slides

    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "home"))
    study = tmp_path / "study"
    study.mkdir()
    shutil.copy(sample_tiff, study / "a.tif")  # states 0.25 µm/px
    shutil.copy(sample_tiff, study / "open.tif")
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(study / "c.png")  # no scale
    for name in ("a.tif", "open.tif", "c.png"):
        store = NucleusStore()
        ids = store.add_many([10.0, 20.0, 30.0], [5.0, 6.0, 7.0])
        store.set_classes({int(ids[0]): "Tumour", int(ids[1]): "Stroma", int(ids[2]): "Tumour"})
        for i in ids[:2]:
            store.extras[int(i)] = {"class_by_hand": True}  # the third is a model's class
        save_annotations(study / name, store)
    labelled, unscaled = hand_labelled_slides(Project.open(study), exclude=study / "open.tif")
    assert [item.path.name for item in labelled] == ["a.tif"] and unscaled == ["c.png"]
    assert labelled[0].classes == ["Tumour", "Stroma"] and labelled[0].mpp == 0.25
    assert np.allclose(labelled[0].xy, [[10, 5], [20, 6]])
