"""The CLI refuses bad options with a message naming them, and a folder run survives any
one bad slide and never confuses two inputs with the same stem."""

import shutil

import cv2
import numpy as np
import pytest

from wnet_gui.annotations import NucleusStore, import_geojson
from wnet_gui.cli.main import main
from wnet_gui.engine.detect import DetectOptions, OptionError


@pytest.mark.parametrize("args, message", [
    (["--mpp", "0"], "--mpp"),
    (["--mpp", "0.0001"], "--mpp"),
    (["--mpp", "1000"], "--mpp"),
    (["--mpp", "nan"], "--mpp"),
    (["--threads", "-1"], "--threads"),
    (["--threshold", "nan"], "--threshold"),
    (["--threshold", "2"], "--threshold"),
])
def test_bad_options_exit_2_with_the_option_named(tmp_path, sample_tiff, capsys, args, message):
    with pytest.raises(SystemExit) as info:
        main(["detect", str(sample_tiff), "-o", str(tmp_path / "x.geojson"), *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.geojson").exists()


@pytest.mark.parametrize("roi, message", [
    ("10000,10000,100,100", "outside"),
    ("nan,0,100,100", "finite"),
    ("0,0,-5,100", "no area"),
])
def test_bad_regions_exit_2(tmp_path, sample_tiff, capsys, roi, message):
    assert main(["detect", str(sample_tiff), "--mpp", "0.25", "--roi", roi, "-o", str(tmp_path / "x.geojson")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.geojson").exists()


def test_engine_options_are_checked_where_they_are_made():
    for bad in ({"mpp": 0}, {"threads": -1}, {"threshold": float("nan")}, {"batch_size": 0}, {"precision": "fp8"}):
        with pytest.raises(OptionError):
            DetectOptions(**bad)
    DetectOptions(mpp=0.25, threads=2, threshold=0.1)


def test_folder_run_survives_a_bad_slide_a_missing_scale_and_duplicate_stems(tmp_path, sample_tiff, capsys, monkeypatch):
    slides = tmp_path / "slides"
    (slides / "a").mkdir(parents=True)
    (slides / "b").mkdir()
    shutil.copy(sample_tiff, slides / "x.tif")
    cv2.imwrite(str(slides / "x.png"), cv2.imread(str(sample_tiff)))  # same stem, and states no µm/px
    shutil.copy(sample_tiff, slides / "a" / "slide.tif")
    shutil.copy(sample_tiff, slides / "b" / "slide.tif")
    shutil.copy(sample_tiff, slides / "opencv_fails.tif")
    import wnet_gui.engine.detect as detect

    real = detect.run_detection

    def flaky(slide, *args, **kwargs):  # an OpenCV error inside one slide's run, as a corrupt tile gives
        if slide.path.name == "opencv_fails.tif":
            raise cv2.error("OpenCV(5.0.0) resize.cpp: error: (-215:Assertion failed) inv_scale_x > 0")
        return real(slide, *args, **kwargs)

    monkeypatch.setattr(detect, "run_detection", flaky)
    out = tmp_path / "out"
    inputs = [str(slides / "x.tif"), str(slides / "x.png"), str(slides / "a" / "slide.tif"), str(slides / "b" / "slide.tif"),
              str(slides / "opencv_fails.tif")]
    # in this process (--scheduler none), where the monkeypatched failure reaches; test_cohort runs the same on a cluster
    assert main(["detect", *inputs, "-o", str(out), "--device", "cpu", "--scheduler", "none"]) == 1
    captured = capsys.readouterr()
    assert "x.png does not state its microns per pixel" in captured.err
    assert "opencv_fails.tif" in captured.err and "2 of 5 slides failed" in captured.err
    written = sorted(p.name for p in out.glob("*.geojson"))
    assert written == ["a__slide.tif.geojson", "b__slide.tif.geojson", "x.tif.geojson"]
    assert sorted(p.name for p in out.iterdir() if p.suffix != ".geojson") == ["cohort-manifest.json", "summary.csv"]  # no temporary files left
    for name in written:
        store = NucleusStore()
        import_geojson(store, out / name)
        assert len(store) > 50
    # a re-run skips what is done and reports the same failures
    assert main(["detect", *inputs, "-o", str(out), "--device", "cpu", "--scheduler", "none"]) == 1
    assert sum(line.endswith("), skipped") for line in capsys.readouterr().out.splitlines()) == 3


def test_single_output_is_not_overwritten_without_asking(tmp_path, sample_tiff, capsys):
    out = tmp_path / "one.geojson"
    out.write_text("{}")
    assert main(["detect", str(sample_tiff), "-o", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_text() == "{}"
    assert main(["detect", str(sample_tiff), "-o", str(out), "--overwrite", "--device", "cpu"]) == 0
    assert out.read_text() != "{}"


def test_no_empty_progress_bar_before_an_error(tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "nompp.png"), np.full((64, 64, 3), 200, np.uint8))
    assert main(["detect", str(tmp_path / "nompp.png"), "-o", str(tmp_path / "o.geojson")]) == 2
    err = capsys.readouterr().err
    assert "--mpp" in err and "tile/s" not in err and "0%" not in err
