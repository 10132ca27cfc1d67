"""A project file is data from strangers (issue 31, item 8): its entries stay inside the
project folder, a "folder" key redirects nothing, every field is checked like the command
line's options, one entry per slide, and a damaged file gives a message, not a traceback."""

import json
import shutil

import pytest

from wnet_gui.cli.main import main
from wnet_gui.projects import PROJECT_FILE, Project, ProjectError


@pytest.fixture
def study(tmp_path, sample_tiff, monkeypatch):
    monkeypatch.setenv("WNET_DATA_HOME", str(tmp_path / "home"))
    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(sample_tiff, folder / "a.tif")
    return folder


def write(folder, data):
    (folder / PROJECT_FILE).write_text(json.dumps({"format": "wnet-project", "version": 2, **data}))


def test_entries_outside_the_folder_are_refused_and_nothing_is_written_there(study, tmp_path, sample_tiff):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(sample_tiff, outside / "x.tif")
    write(study, {"slides": [{"path": "../outside/x.tif"}, {"path": str(outside / "x.tif")}, {"path": "sub/../../outside/x.tif"},
                             {"path": "a.tif"}, {"path": "./a.tif"}, {"path": str(study / "a.tif")}]})
    project = Project.open(study)
    assert [e.path for e in project.slides] == ["a.tif"]  # one entry per slide, none outside
    assert main(["detect", str(study), "--device", "cpu"]) == 0
    assert sorted(p.name for p in outside.iterdir()) == ["x.tif"]  # no autosave written beside a stranger's path


def test_a_folder_key_beside_the_slides_redirects_nothing(study, tmp_path, sample_tiff):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(sample_tiff, elsewhere / "secret.tif")
    write(study, {"folder": str(elsewhere), "slides": [{"path": "secret.tif"}]})
    project = Project.open(study / PROJECT_FILE)
    assert project.folder == study.resolve()
    assert project.missing(project.entry_for(study / "secret.tif"))
    assert [e.path for e in project.slides if not project.missing(e)] == ["a.tif"]


def test_every_field_is_checked(study):
    write(study, {"current": "../../etc/passwd", "slides": [{"path": "a.tif", "mpp": 0, "state": "owned", "nuclei": "lots", "width": -5,
                                                            "height": 10**12, "classes": {"Tumor": 3, "x": -1, "y": "2"},
                                                            "view": {"x": float("nan"), "y": 0, "scale": 1}, "reviewed_mm2": float("inf")}]})
    entry = Project.open(study).slides[0]
    assert (entry.mpp, entry.state, entry.nuclei, entry.width, entry.height, entry.view, entry.reviewed_mm2) == (None, "new", 0, None, None, None, 0.0)
    assert entry.classes == {"Tumor": 3}
    assert Project.open(study).current is None
    for bad in (1e-6, 0.001, -1, 11, "0.25", True):
        write(study, {"slides": [{"path": "a.tif", "mpp": bad}]})
        assert Project.open(study).slides[0].mpp is None, bad  # not a ZeroDivisionError or a 6 PiB allocation later
    write(study, {"slides": [{"path": "a.tif", "mpp": 0.25}]})
    assert Project.open(study).slides[0].mpp == 0.25


def test_damaged_files_give_a_message(study, capsys):
    write(study, {"version": "2", "slides": []})
    with pytest.raises(ProjectError, match="not a whole number"):
        Project.open(study)
    (study / PROJECT_FILE).write_text('{"format": "wnet-project", "slides": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ProjectError, match="nested too deeply"):
        Project.open(study)
    assert main(["export", str(study), "-o", str(study / "out")]) == 2
    assert "nested too deeply" in capsys.readouterr().err
