"""Sensitivity: a stage-1 logit offset before stage 2 (W-Net), for labs whose stain weakens
stage 1's evidence so that stage 2 gates whole kinds of nuclei out (issue 17, part 3)."""

import json

import numpy as np
import pytest
import torch

from wnet_gui.cli.main import main
from wnet_gui.engine.detect import DetectOptions, OptionError, run_detection
from wnet_gui.engine.predict import DensityPredictor
from wnet_gui.models.architectures import build_model
from wnet_gui.models.spec import ArchitectureSpec
from wnet_gui.models.card import ModelCard
from wnet_gui.models.zoo import resolve_card
from wnet_gui.slides import ArraySlide
from wnet_gui.slides.image_slide import load_rgb

from helpers import TINY


def test_the_offset_moves_stage_two_input_only():
    torch.manual_seed(0)
    model = build_model(ArchitectureSpec.from_dict(TINY)).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        plain, same, shifted = model(x), model(x, stage1_offset=0.0), model(x, stage1_offset=2.0)
    assert torch.equal(plain["density"], same["density"])
    assert torch.equal(plain["mask_logits"], shifted["mask_logits"])  # stage 1 itself is untouched
    assert torch.allclose(shifted["mask"], torch.sigmoid(plain["mask_logits"] + 2.0))
    assert not torch.allclose(plain["density"], shifted["density"])


def test_predictor_twin_shares_the_model():
    card = resolve_card("fast")
    predictor = DensityPredictor.from_card(card)
    assert predictor.with_sensitivity(None) is predictor and predictor.with_sensitivity(0.0) is predictor
    twin = predictor.with_sensitivity(1.5)
    assert twin.model is predictor.model and twin.sensitivity == 1.5 and predictor.sensitivity == 0.0


def test_raising_the_sensitivity_of_accurate_finds_more_nuclei(sample_tiff):
    """accurate (stage 1 trained to dots) on the bundled MoNuSeg sample: +2 calls nuclei the
    card's setting leaves out; -2 fewer. The predictor's own sensitivity is not changed."""
    card = resolve_card("accurate")
    image = load_rgb(sample_tiff)[0][:384, :384]
    predictor = DensityPredictor.from_card(card)
    counts = {}
    for s in (-2.0, None, 2.0):
        run = run_detection(ArraySlide("s", image, 0.25), card, options=DetectOptions(skip_background=False, sensitivity=s),
                            predictor=predictor)
        counts[s] = len(run.centres)
    assert counts[-2.0] < counts[None] < counts[2.0] and predictor.sensitivity == 0.0


def test_options_and_one_stage_models_are_checked(tmp_path):
    with pytest.raises(OptionError, match="sensitivity"):
        DetectOptions(sensitivity=20)
    with pytest.raises(OptionError, match="sensitivity"):
        DetectOptions(sensitivity=float("nan"))
    spec = ArchitectureSpec.from_dict({"kind": "unet", "stage1": TINY["stage1"]})
    card = ModelCard(name="one-stage", architecture=spec, mpp=0.5).export(build_model(spec), tmp_path, half=False)
    with pytest.raises(OptionError, match="two-stage"):
        run_detection(ArraySlide("s", np.zeros((64, 64, 3), np.uint8), 0.5), card, options=DetectOptions(sensitivity=1.0))


def test_a_card_keeps_its_sensitivity(tmp_path):
    card = resolve_card("fast")
    card.peaks.sensitivity = -1.5
    card.save(tmp_path / "fast.json")
    assert ModelCard.load(tmp_path / "fast.json").peaks.sensitivity == -1.5
    assert json.loads((tmp_path / "fast.json").read_text())["peaks"]["sensitivity"] == -1.5


def test_cli_detect_and_benchmark_take_a_sensitivity(tmp_path, sample_tiff, capsys):
    counts = {}
    for s in ("0", "2"):
        out = tmp_path / f"s{s}.geojson"
        assert main(["detect", str(sample_tiff), "--model", "accurate", "--sensitivity", s, "-o", str(out)]) == 0
        counts[s] = len(json.loads(out.read_text())["features"])
    assert counts["2"] > counts["0"]
    with pytest.raises(SystemExit) as info:  # argparse refuses it with the range
        main(["detect", str(sample_tiff), "--sensitivity", "12", "-o", str(tmp_path / "x.geojson")])
    assert info.value.code == 2 and "from -8 to 8" in capsys.readouterr().err
    assert main(["benchmark-accuracy", "fast", "--sensitivity", "1", "--update-card"]) == 2
    assert "drop --sensitivity" in capsys.readouterr().err
