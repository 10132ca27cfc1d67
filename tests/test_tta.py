"""Test-time flips (``--tta``): the maps are averaged over the four flips of each tile, so the
points of a flipped tile are the flipped points; what a run depends on records it."""

import numpy as np

from wnet_gui.engine.detect import DetectOptions, run_key
from wnet_gui.engine.predict import DensityPredictor
from wnet_gui.models.zoo import resolve_card


def test_flip_averaged_maps_follow_a_flipped_tile(sample_tiff):
    import cv2

    tile = cv2.cvtColor(cv2.imread(str(sample_tiff)), cv2.COLOR_BGR2RGB)[:128, :160]
    card = resolve_card("fast")
    plain = DensityPredictor.from_card(card, "cpu", "fp32")
    tta = plain.with_tta(True)
    assert plain.with_tta(False) is plain and tta.model is plain.model
    both = np.stack([tile, tile[:, ::-1]])
    averaged = tta.predict_batch(both)
    assert np.allclose(averaged[1], averaged[0][:, ::-1], atol=1e-5)  # equivariant by construction
    single = plain.predict_batch(both)
    assert not np.allclose(single[1], single[0][:, ::-1], atol=1e-5)  # the plain model is not
    assert np.allclose(averaged[0], np.mean([plain.predict_batch(np.stack([f]))[0][::sy, ::sx] for f, sx, sy in
                                             ((tile, 1, 1), (tile[:, ::-1], -1, 1), (tile[::-1], 1, -1), (tile[::-1, ::-1], -1, -1))], axis=0),
                       atol=1e-5)


def test_what_a_run_depends_on_names_tta_only_when_on():
    card = resolve_card("fast")
    off, on = DetectOptions(), DetectOptions(tta=True)
    assert "tta" not in off.affecting_results() and on.affecting_results()["tta"] is True
    assert run_key(card, None, off) != run_key(card, None, on)
    assert not run_key(card, None, off)[2].endswith("tta=True") and run_key(card, None, on)[2].endswith("tta=True")


def test_a_cohort_redoes_a_slide_when_the_sensitivity_or_tta_changes(sample_tiff):
    from wnet_gui.cohort.manifest import fingerprint

    card = resolve_card("fast")
    base = fingerprint(sample_tiff, card.sha256, DetectOptions(), None, "geojson", "detections")
    assert fingerprint(sample_tiff, card.sha256, DetectOptions(), None, "geojson", "detections") == base
    assert fingerprint(sample_tiff, card.sha256, DetectOptions(sensitivity=1.0), None, "geojson", "detections") != base
    assert fingerprint(sample_tiff, card.sha256, DetectOptions(tta=True), None, "geojson", "detections") != base


def test_wnet_detect_tta(tmp_path, sample_tiff):
    import json

    from wnet_gui.cli.main import main

    for flag, out in (([], "plain.geojson"), (["--tta"], "tta.geojson")):
        assert main(["detect", str(sample_tiff), "--device", "cpu", "-o", str(tmp_path / out), *flag]) == 0
    plain, tta = (json.loads((tmp_path / n).read_text())["features"] for n in ("plain.geojson", "tta.geojson"))
    assert 0.8 * len(plain) < len(tta) < 1.2 * len(plain)
    assert {f["id"] for f in plain}.isdisjoint(f["id"] for f in tta)  # another run, other ids


def test_a_flip_averaging_predictor_keeps_averaging_through_the_engine(sample_tiff):
    """What `benchmark-accuracy --tta` and the training validation hand the engine: a predictor
    that averages flips, with the default options (tta off) — the run must still average."""
    from wnet_gui.engine.detect import run_detection
    from wnet_gui.slides import open_slide

    card = resolve_card("fast")
    plain = DensityPredictor.from_card(card, "cpu", "fp32")
    seen = []
    original = DensityPredictor._forward_once

    def counting(self, x, levels):
        seen.append(self.tta)
        return original(self, x, levels)

    DensityPredictor._forward_once = counting
    try:
        with open_slide(sample_tiff) as slide:
            run_detection(slide, card, options=DetectOptions(device="cpu", skip_background=False), predictor=plain.with_tta(True))
    finally:
        DensityPredictor._forward_once = original
    assert seen and all(seen) and len(seen) % 4 == 0  # four passes a batch, all on the averaging predictor
