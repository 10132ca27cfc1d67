"""One rule for which points a detection re-run replaces (annotations.run_merge), the same in
the app (tile by tile) and in projects (whole slides): model points go, whichever model;
hand-placed points, imported points and reviewed regions stay."""

import numpy as np

from wnet_gui.annotations import NucleusStore
from wnet_gui.annotations.run_merge import merge_run, replaceable
from wnet_gui.annotations.store import IMPORTED, MANUAL


def _store() -> NucleusStore:
    store = NucleusStore()
    store.add(10, 10, source=MANUAL)
    store.add(20, 10, source=IMPORTED)
    store.add(30, 10, source="fast")
    store.add(40, 10, source="accurate")
    store.add(105, 105, source="fast")  # inside the reviewed square below
    store.add_reviewed([(100, 100), (120, 100), (120, 120), (100, 120)])
    return store


def _by_source(store: NucleusStore) -> dict[str, int]:
    sources = store.source_of(store.ids()).tolist()
    return {s: sources.count(s) for s in sorted(set(sources))}


def test_a_run_replaces_every_models_points_and_keeps_what_a_person_said():
    store = _store()
    assert sorted(store.coordinates(replaceable(store, store.ids()))[:, 0].tolist()) == [30.0, 40.0]
    new = np.array([[31.0, 11.0], [41.0, 11.0], [110.0, 110.0], [60.0, 60.0]])
    gone, added = merge_run(store, "accurate", new, np.full(4, 0.9, np.float32))
    assert len(gone) == 2 and len(added) == 3  # the point inside the reviewed region is not added
    assert _by_source(store) == {"accurate": 3, "fast": 1, IMPORTED: 1, MANUAL: 1}  # the fast point left is the reviewed one
    assert store.inside_reviewed(store.coordinates(store.ids()[store.source_of(store.ids()) == "fast"])).all()


def test_a_run_over_a_region_leaves_the_rest_of_the_slide():
    store = _store()
    region = store.query_rect(25, 0, 35, 20)  # only the fast point at x = 30
    gone, added = merge_run(store, "accurate", np.array([[32.0, 12.0]]), np.ones(1, np.float32), region_ids=region)
    assert store.coordinates(gone).tolist() == [[30.0, 10.0]] and len(added) == 1
    assert _by_source(store) == {"accurate": 2, "fast": 1, IMPORTED: 1, MANUAL: 1}


def test_a_project_rerun_with_another_model_does_not_double_the_points(tmp_path, sample_tiff, monkeypatch):
    import shutil

    from wnet_gui.cli.main import main
    from wnet_gui.projects import Project, load_annotations

    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "home"))
    study = tmp_path / "study"
    study.mkdir()
    shutil.copy(sample_tiff, study / "a.tif")
    Project.open(study).save()
    assert main(["detect", str(study), "--device", "cpu", "--model", "fast"]) == 0
    first = load_annotations(study / "a.tif")
    assert main(["detect", str(study), "--device", "cpu", "--model", "fastest", "--overwrite"]) == 0
    second = load_annotations(study / "a.tif")
    assert set(second.source_of(second.ids()).tolist()) == {"fastest"}
    assert 0.5 * len(first) < len(second) < 1.5 * len(first)  # the other model's count, not both together
