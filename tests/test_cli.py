"""The headless CLI end to end, as a user runs it."""

import shutil
import subprocess
import sys

import numpy as np

from wnet_gui.annotations import NucleusStore, import_geojson
from wnet_gui.cli.main import main

from helpers import sample_mosaic, write_pyramidal_tiff


def test_detect_folder_is_resumable_and_survives_a_bad_slide(tmp_path, sample_tiff, capsys):
    slides = tmp_path / "slides"
    slides.mkdir()
    shutil.copy(sample_tiff, slides / "a.tif")
    shutil.copy(sample_tiff, slides / "b.tif")
    (slides / "broken.svs").write_text("not a slide")
    out = tmp_path / "out"
    code = main(["detect", str(slides), "-o", str(out), "--device", "cpu"])
    assert code == 1  # one slide failed ...
    err = capsys.readouterr().err
    assert "broken.svs" in err
    assert (out / "a.geojson").exists() and (out / "b.geojson").exists()  # ... the others were done
    stamp = (out / "a.geojson").stat().st_mtime_ns
    (out / "b.geojson").unlink()
    main(["detect", str(slides / "a.tif"), str(slides / "b.tif"), "-o", str(out) + "/"])
    assert sum(line.endswith("), skipped") for line in capsys.readouterr().out.splitlines()) == 1
    assert (out / "a.geojson").stat().st_mtime_ns == stamp and (out / "b.geojson").exists()


def test_detect_pyramidal_tiff_roi_csv(tmp_path):
    slide = write_pyramidal_tiff(tmp_path / "slide.tif", sample_mosaic())
    out = tmp_path / "p.csv"
    assert main(["detect", str(slide), "--roi", "0,0,512,512", "--format", "csv", "-o", str(out)]) == 0
    rows = out.read_text().splitlines()
    assert rows[0] == "id,x,y,score,source,class,color,class_by_hand,class_confidence" and len(rows) > 50
    xy = np.array([[float(r.split(",")[1]), float(r.split(",")[2])] for r in rows[1:]])
    assert xy.max() <= 512


def test_detect_inside_a_region_drawn_in_qupath(tmp_path, sample_tiff, capsys):
    """--roi FILE.geojson: a QuPath annotation polygon outlines where to detect; a file with
    no polygon is a clear error (exit 2) naming it."""
    import json

    from wnet_gui.geometry import PolygonRegion

    outline = [[0, 0], [512, 0], [0, 512], [0, 0]]  # the upper-left half of the 512² sample
    roi = tmp_path / "tumour.geojson"
    roi.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Polygon", "coordinates": [outline]},
        "properties": {"objectType": "annotation", "classification": {"name": "Tumor"}}}]}))
    out = tmp_path / "inside.geojson"
    assert main(["detect", str(sample_tiff), "--roi", str(roi), "-o", str(out), "--device", "cpu"]) == 0
    store = NucleusStore()
    import_geojson(store, out)
    xs, ys = store.coordinates().T
    assert len(xs) > 40 and (xs + ys <= 512 + 1).all()
    assert PolygonRegion.from_array(outline[:-1]).contains(xs, ys).all()
    empty = tmp_path / "points.geojson"
    empty.write_text(json.dumps({"type": "Feature", "geometry": {"type": "Point", "coordinates": [5, 5]}, "properties": {}}))
    assert main(["detect", str(sample_tiff), "--roi", str(empty), "-o", str(tmp_path / "x.geojson")]) == 2
    assert "points.geojson" in capsys.readouterr().err


def test_detect_without_mpp_fails_clearly(tmp_path, capsys):
    import cv2

    path = tmp_path / "plain.png"
    cv2.imwrite(str(path), sample_mosaic()[:128, :128])
    assert main(["detect", str(path), "-o", str(tmp_path / "x.geojson")]) == 2
    assert "plain.png" in capsys.readouterr().err


def test_evaluate_prints_table(tmp_path, sample_truth, capsys):
    store = NucleusStore()
    import_geojson(store, sample_truth)
    xy = store.coordinates()
    pred = NucleusStore()
    pred.add_many(xy[:100, 0] + 1, xy[:100, 1], source="fast")
    pred.add(1.0, 1.0)
    from wnet_gui.annotations import write_geojson

    write_geojson(pred, tmp_path / "pred.geojson")
    assert main(["evaluate", "--pred", str(tmp_path / "pred.geojson"), "--truth", str(sample_truth), "--radius", "5"]) == 0
    out = capsys.readouterr().out
    line = [l for l in out.splitlines() if l.startswith("pred.geojson")][0].split()
    assert line[1:4] == ["100", "1", str(len(xy) - 100)]


def test_evaluate_against_aperio_xml(tmp_path, monuseg_root, capsys):
    xml = monuseg_root / "test" / "TCGA-2Z-A9J9-01A-01-TS1.xml"
    from wnet_gui.datasets.monuseg import polygon_centroid, read_aperio_xml

    centres = np.array([polygon_centroid(p) for p in read_aperio_xml(xml)])
    store = NucleusStore()
    store.add_many(centres[:, 0], centres[:, 1])
    from wnet_gui.annotations import write_geojson

    write_geojson(store, tmp_path / "p.geojson")
    main(["evaluate", "--pred", str(tmp_path / "p.geojson"), "--truth", str(xml), "--radius", "3", "--unit", "um", "--mpp", "0.25"])
    assert " 1.000 " in capsys.readouterr().out


def test_corrupt_geojson_exits_non_zero(tmp_path, sample_tiff):
    bad = tmp_path / "bad.geojson"
    bad.write_text("{")
    result = subprocess.run([sys.executable, "-m", "wnet_gui.cli.main", "segment", str(sample_tiff), "--points", str(bad), "-o", str(tmp_path / "o.geojson")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "bad.geojson" in result.stderr and "Traceback" not in result.stderr


def test_model_help_lists_every_bundled_model(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["detect", "--help"])
    assert "fast, accurate, fastest, typed, or a model card path" in " ".join(capsys.readouterr().out.split())


def test_a_folder_named_like_a_model_does_not_hide_it(tmp_path, monkeypatch):
    from wnet_gui.models.zoo import resolve_card
    from wnet_gui.nuclick.card import resolve_nuclick_card

    monkeypatch.chdir(tmp_path)
    (tmp_path / "fast").mkdir()
    (tmp_path / "nuclick").mkdir()
    assert resolve_card("fast").name == "fast"
    assert resolve_nuclick_card("nuclick").name == "nuclick"


def test_segment_without_scale_says_how_and_prints_no_bar(tmp_path, capsys):
    import cv2

    from wnet_gui.annotations import write_geojson

    cv2.imwrite(str(tmp_path / "tile.png"), np.full((64, 64, 3), 200, np.uint8))
    store = NucleusStore()
    store.add(10.0, 10.0)
    write_geojson(store, tmp_path / "p.geojson")
    assert main(["segment", str(tmp_path / "tile.png"), "--points", str(tmp_path / "p.geojson"), "-o", str(tmp_path / "m.geojson")]) == 2
    err = capsys.readouterr().err
    assert "give it with --mpp (0.25 at 40×" in err and "NuClick:" not in err and "0%" not in err


def test_a_benchmark_without_its_data_says_where_it_looked(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WNET_DATA", str(tmp_path))
    assert main(["benchmark-accuracy", "fast", "--dataset", "consep"]) == 2
    err = capsys.readouterr().err
    assert f"no consep images for the 'test' split under {tmp_path / 'consep'}" in err and "WNET_DATA" in err
