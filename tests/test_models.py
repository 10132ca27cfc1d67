import json

import pytest
import torch

from wnet_gui.models.architectures import BasicUNet
from wnet_gui.models.card import ModelCard, ModelError, file_sha256
from wnet_gui.models.zoo import BUNDLED, list_cards, resolve_card, zoo_dir

from helpers import tiny_card


def test_weights_round_trip_through_card(tmp_path):
    card = tiny_card(tmp_path)
    loaded = ModelCard.load(tmp_path / "tiny.json")
    model = loaded.load_model()
    x = torch.randn(1, 3, 40, 40)
    reference = card.build()
    reference.load_state_dict({k: v.float() for k, v in torch.load(tmp_path / "tiny.pt").items()})
    with torch.no_grad():
        assert torch.allclose(model(x)["density"], reference.eval()(x)["density"])
    assert loaded.sha256 == file_sha256(tmp_path / "tiny.pt")


def test_tampered_weights_are_refused(tmp_path):
    tiny_card(tmp_path)
    data = bytearray((tmp_path / "tiny.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "tiny.pt").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum"):
        ModelCard.load(tmp_path / "tiny.json").load_model()


def test_missing_weights_and_bad_card(tmp_path):
    tiny_card(tmp_path)
    (tmp_path / "tiny.pt").unlink()
    with pytest.raises(ModelError, match="missing"):
        ModelCard.load(tmp_path / "tiny.json").load_model()
    (tmp_path / "broken.json").write_text("{ nope")
    with pytest.raises(ModelError, match="not valid JSON"):
        ModelCard.load(tmp_path / "broken.json")
    (tmp_path / "partial.json").write_text(json.dumps({"name": "x"}))
    with pytest.raises(ModelError, match="invalid model card"):
        ModelCard.load(tmp_path / "partial.json")
    with pytest.raises(ModelError, match="no model called"):
        resolve_card("no-such-model")


def test_basic_unet_is_local_so_tiles_agree():
    torch.manual_seed(0)
    net = BasicUNet(1, (8, 16, 32)).eval()
    x = torch.randn(1, 1, 200, 200)
    with torch.no_grad():
        whole = net(x)
        part = net(x[:, :, 40:160, 40:160])
    assert torch.allclose(whole[..., 80:120, 80:120], part[..., 40:80, 40:80], atol=1e-5)
    assert net(torch.randn(1, 1, 37, 53)).shape == (1, 1, 37, 53)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_cards_match_their_weights(name):
    card = resolve_card(name)
    assert card.sha256 == file_sha256(card.weights_path)
    assert card.weights_path.stat().st_size < 30e6
    assert card.metrics, "bundled cards state their measured accuracy"
    assert "MoNuSeg" in card.licence
    model = card.load_model()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 64))["density"]
    assert out.shape == (1, 1, 64, 64)


def test_zoo_lists_bundled_models_first():
    names = [c.name for c in list_cards()]
    assert names[: len(BUNDLED)] == list(BUNDLED)
    assert zoo_dir().name == "model_zoo"
