"""Model cards are untrusted files: each hostile card is refused with a clear ModelError,
quickly, before anything it names is opened, hashed, built or fetched."""

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from wnet_gui.models.card import ModelCard, ModelError
from wnet_gui.models.zoo import zoo_dir
from wnet_gui.nuclick.card import NuClickCard


@pytest.fixture
def card_dir(tmp_path):
    """A copy of the bundled 'fast' card and weights in a private folder."""
    for name in ("fast.json", "fast.pt"):
        shutil.copy(zoo_dir() / name, tmp_path / name)
    return tmp_path


def edited(card_dir: Path, change) -> Path:
    data = json.loads((card_dir / "fast.json").read_text())
    change(data)
    path = card_dir / "edited.json"
    path.write_text(json.dumps(data))
    return path


def test_the_unedited_copy_loads(card_dir):
    import torch

    with torch.inference_mode():
        out = ModelCard.load(card_dir / "fast.json").load_model()(torch.zeros(1, 3, 64, 64))
    assert out["density"].shape == (1, 1, 64, 64)


@pytest.mark.parametrize("weights, message", [
    ("/dev/zero", "beside the card"),
    ("../../etc/passwd", "beside the card"),
    ("sub/fast.pt", "beside the card"),
    ("fast.json", "beside the card"),  # not a .pt
    (7, "beside the card"),
])
def test_weights_must_be_a_file_beside_the_card(card_dir, weights, message):
    path = edited(card_dir, lambda d: d.update(weights=weights))
    start = time.monotonic()
    with pytest.raises(ModelError, match=message):
        ModelCard.load(path).load_model()
    assert time.monotonic() - start < 5


def test_a_link_out_of_the_folder_is_refused(card_dir):
    os.symlink("/dev/zero", card_dir / "zero.pt")
    path = edited(card_dir, lambda d: d.update(weights="zero.pt"))
    start = time.monotonic()
    with pytest.raises(ModelError, match="outside the card's folder|not a regular file"):
        ModelCard.load(path).load_model()
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("change, message", [
    (lambda d: d["architecture"]["stage1"].update(encoder="tu-hf-hub:timm/resnet18.a1_in1k"), "hub or URL"),
    (lambda d: d["architecture"]["stage1"].update(encoder="no_such_encoder"), "unknown encoder"),
    (lambda d: d["architecture"]["stage1"].update(encoder="tu-no_such_model"), "timm has no model"),
    (lambda d: d["architecture"].update(kind="transformer"), "kind"),
    (lambda d: d["architecture"]["stage2"].update(decoder_channels=[10**9, 16, 32, 64]), "decoder_channels"),
    (lambda d: d["architecture"]["stage2"].update(decoder_channels=list(range(1, 40))), "1 to 6 widths"),
    # issue 31 item 5: every size in range, but together 170 GiB of activations per tile
    (lambda d: (d["architecture"]["stage1"].update(decoder_channels=[1024] * 5), d["architecture"]["stage2"].update(decoder_channels=[1024] * 5),
                d.update(tile_size=4096, margin=1024)), "together they are not"),
    (lambda d: d.pop("architecture"), "missing 'architecture'"),
    (lambda d: d.update(mpp=0), "'mpp'"),
    (lambda d: d.update(mpp=float("nan")), "'mpp'"),
    (lambda d: d.update(tile_size=10**6), "tile_size"),
    (lambda d: d.update(sha256="abc"), "sha256"),
    (lambda d: d["peaks"].update(threshold=-1), "peaks.threshold"),
    (lambda d: d["peaks"].update(sensitivity=float("inf")), "peaks.sensitivity"),
    (lambda d: d["peaks"].update(sensitivity=9), "peaks.sensitivity"),
    (lambda d: (d["peaks"].update(sensitivity=1), d["architecture"].update(kind="unet")), "needs a two-stage"),
    (lambda d: d.update(std=[0, 0, 0]), "'std'"),
    (lambda d: d.update(surprise=1), "unknown field"),
])
def test_schema_refuses_before_building(card_dir, change, message):
    path = edited(card_dir, change)
    start = time.monotonic()
    with pytest.raises(ModelError, match=message) as info:
        ModelCard.load(path)
    assert str(path) in str(info.value)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("text", [
    "[" * 5000 + "]" * 5000,  # deep nesting
    '{"name": "x", "mpp": ' + "9" * 5000 + "}",  # an integer past Python's 4,300-digit limit
    "\ufeff{",  # a BOM, then garbage
    "not json",
])
def test_malformed_json_is_a_model_error(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelError, match="bad.json"):
        ModelCard.load(path)


def test_a_bom_before_a_good_card_is_fine(card_dir):
    text = (card_dir / "fast.json").read_text()
    (card_dir / "bom.json").write_text("\ufeff" + text, encoding="utf-8")
    assert ModelCard.load(card_dir / "bom.json").name == "fast"


def test_huge_card_file_is_refused_without_reading(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as fh:
        fh.truncate(64 << 20)  # sparse: 64 MiB of zeros
    with pytest.raises(ModelError, match="larger than"):
        ModelCard.load(path)


def test_nuclick_card_rules(tmp_path):
    shutil.copy(zoo_dir() / "nuclick.json", tmp_path / "nuclick.json")
    shutil.copy(zoo_dir() / "nuclick.pt", tmp_path / "nuclick.pt")
    import torch

    card = NuClickCard.load(tmp_path / "nuclick.json")
    with torch.inference_mode():
        out = card.load_model()(torch.zeros(1, 5, card.patch_size, card.patch_size))
    assert out.shape[-2:] == (card.patch_size, card.patch_size)
    data = json.loads((tmp_path / "nuclick.json").read_text())
    data["width"] = 10**6
    (tmp_path / "wide.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match="width"):
        NuClickCard.load(tmp_path / "wide.json")
