"""What a model card may say, checked before anything it names is opened or built.

A card is a file users download and add ("Add model file…"), so it is untrusted input: a
weights entry of ``/dev/zero`` would hash forever, ``../../etc/passwd`` reads outside the
card's folder, an encoder ``tu-hf-hub:…`` makes timm fetch from the network, and a
channel count of 10⁹ allocates until the machine dies. Each rule below closes one of those.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..settings import MPP_RANGE

KINDS = ("unet", "wnet")
SENSITIVITY_RANGE = 8.0  # stage-1 logit offset: ±8 already turns every pixel into nucleus or none
MAX_WEIGHTS_BYTES = 2 << 30  # 2 GiB: 20× the largest network we know of for this task
_WEIGHTS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\.(pt|pth)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TIMM_NAME = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)?$")


class CardSchemaError(ValueError):
    """The card breaks a rule; the message names the field and the rule."""


def require(condition: bool, message: str) -> None:
    if not condition:
        raise CardSchemaError(message)


def number(value: Any, field: str, low: float, high: float) -> float:
    """A finite real in [low, high] (booleans are not numbers here)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and low <= value <= high
    require(ok, f"'{field}' must be a number from {low:g} to {high:g}, not {str(value)[:40]!r}")
    return float(value)


def integer(value: Any, field: str, low: int, high: int) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    require(ok, f"'{field}' must be a whole number from {low} to {high}, not {str(value)[:40]!r}")
    return int(value)


def text(value: Any, field: str, max_len: int = 10_000) -> str:
    require(isinstance(value, str) and len(value) <= max_len, f"'{field}' must be text of at most {max_len} characters")
    return value


def weights_name(value: Any) -> str:
    """A plain file name beside the card: no folders, no '..', a .pt/.pth suffix."""
    require(isinstance(value, str) and bool(_WEIGHTS_NAME.match(value)) and ".." not in value,
            f"'weights' must be the name of a .pt file beside the card (no folders), not {str(value)[:80]!r}")
    return value


def sha256(value: Any) -> str:
    require(isinstance(value, str) and bool(_SHA256.match(value)), "'sha256' must be 64 lowercase hex digits")
    return value


# encoders the bundled models and configs use, known without importing timm or
# segmentation-models-pytorch (and with them torch): listing models at start-up stays instant
KNOWN_ENCODERS = frozenset({"basic", "resnet18", "tu-tf_efficientnet_lite0", "tu-tf_efficientnet_lite1", "tu-tf_efficientnet_lite2"})


def encoder_name(value: Any, field: str) -> str:
    """'basic', an encoder segmentation-models-pytorch ships, or a timm model name that timm
    knows locally ('tu-NAME'); nothing that names a hub or a URL."""
    require(isinstance(value, str) and 0 < len(value) <= 100, f"'{field}' must be an encoder name")
    if value in KNOWN_ENCODERS:
        return value
    if value.startswith("tu-"):
        name = value[3:]
        require(bool(_TIMM_NAME.match(name)), f"'{field}': {value!r} is not a timm model name (hub or URL names are not allowed)")
        import timm

        require(timm.is_model(name.split(".")[0]), f"'{field}': timm has no model {name!r}")
        return value
    import segmentation_models_pytorch as smp

    require(value in smp.encoders.get_encoder_names(), f"'{field}': unknown encoder {value!r}")
    return value


def stage(d: Any, field: str) -> None:
    require(isinstance(d, dict), f"'{field}' must be an object")
    unknown = set(d) - {"encoder", "decoder_channels", "encoder_depth"}
    require(not unknown, f"'{field}' has unknown keys {sorted(unknown)}")
    encoder_name(d.get("encoder", "tu-tf_efficientnet_lite0"), f"{field}.encoder")
    channels = d.get("decoder_channels", [128, 64, 32, 16, 16])
    require(isinstance(channels, (list, tuple)) and 1 <= len(channels) <= 6, f"'{field}.decoder_channels' must list 1 to 6 widths")
    for c in channels:
        integer(c, f"{field}.decoder_channels", 1, 1024)
    integer(d.get("encoder_depth", 5), f"{field}.encoder_depth", 1, 6)


def architecture(d: Any) -> None:
    require(isinstance(d, dict), "'architecture' must be an object")
    unknown = set(d) - {"kind", "stage1", "stage2", "types", "type_decoder_channels"}
    require(not unknown, f"'architecture' has unknown keys {sorted(unknown)}")
    kind = d.get("kind", "wnet")
    require(kind in KINDS, f"'architecture.kind' must be one of {KINDS}, not {str(kind)[:40]!r}")
    types = d.get("types", [])
    require(isinstance(types, list) and len(types) <= 16 and all(isinstance(t, str) and 0 < len(t) <= 60 for t in types)
            and len(set(types)) == len(types), "'architecture.types' must list at most 16 distinct type names")
    require(not types or kind == "wnet", "'architecture.types' needs kind 'wnet'")
    widths = d.get("type_decoder_channels", [])
    require(isinstance(widths, list) and len(widths) <= 6, "'architecture.type_decoder_channels' must list at most 6 widths")
    for c in widths:
        integer(c, "architecture.type_decoder_channels", 1, 1024)
    stage(d.get("stage1", {}), "architecture.stage1")
    if "stage2" in d:
        stage(d["stage2"], "architecture.stage2")


def triple(value: Any, field: str, low: float, high: float) -> None:
    require(isinstance(value, (list, tuple)) and len(value) == 3, f"'{field}' must list 3 numbers (R, G, B)")
    for v in value:
        number(v, field, low, high)


MAX_DECODER_BYTES = 4 << 30  # float32 decoder activations of one tile by this estimate; the bundled models: 100–230 MiB


def decoder_bytes(architecture: dict[str, Any], tile: int) -> int:
    """What a card's decoders hold for one tile at float32: each level's width at its
    resolution (the last at the tile's, each earlier one at half the next's), summed over
    stage 1, stage 2 and the type branch. Each size alone is bounded by the schema; this
    bounds what they add up to (five levels 1,024 wide on 4,096 px tiles: about 90 GiB)."""
    total = 0
    stages = [architecture.get("stage1", {}), architecture.get("stage2", {})]
    for widths in [s.get("decoder_channels", [128, 64, 32, 16, 16]) for s in stages if isinstance(s, dict)] + \
            [architecture.get("type_decoder_channels", [])]:
        if not isinstance(widths, (list, tuple)):
            continue
        for k, width in enumerate(reversed(list(widths))):
            if isinstance(width, int) and not isinstance(width, bool):
                total += width * (tile >> k) ** 2 * 4
    return total


def detection_card(d: dict[str, Any]) -> None:
    """Every rule for a detection model card (raises ``CardSchemaError``)."""
    for key in ("name", "architecture", "mpp"):
        require(key in d, f"missing '{key}'")
    text(d["name"], "name", 100)
    require(bool(d["name"].strip()), "'name' is empty")
    architecture(d["architecture"])
    number(d["mpp"], "mpp", *MPP_RANGE)
    weights_name(d.get("weights", ""))
    sha256(d.get("sha256", ""))
    for key in ("display_name", "description", "licence"):
        if key in d:
            text(d[key], key)
    if "mean" in d:
        triple(d["mean"], "mean", 0.0, 1.0)
    if "std" in d:
        triple(d["std"], "std", 1e-3, 10.0)
    tile = integer(d.get("tile_size", 512), "tile_size", 64, 4096)
    integer(d.get("margin", 32), "margin", 0, tile // 4)
    cost = decoder_bytes(d["architecture"], tile)
    require(cost <= MAX_DECODER_BYTES, f"its decoders would hold {cost / 2**30:,.1f} GiB of activations per tile "
            f"(at most {MAX_DECODER_BYTES >> 30} GiB): each size is in range, but together they are not")
    peaks = d.get("peaks", {})
    require(isinstance(peaks, dict), "'peaks' must be an object")
    known = {"threshold", "min_distance_um", "subpixel", "sensitivity"}
    require(not set(peaks) - known, f"'peaks' has unknown keys {sorted(set(peaks) - known)}")
    number(peaks.get("threshold", 0.3), "peaks.threshold", 0.0, 1.0)
    number(peaks.get("min_distance_um", 2.0), "peaks.min_distance_um", 0.0, 50.0)
    require(isinstance(peaks.get("subpixel", True), bool), "'peaks.subpixel' must be true or false")
    sensitivity = number(peaks.get("sensitivity", 0.0), "peaks.sensitivity", -SENSITIVITY_RANGE, SENSITIVITY_RANGE)
    require(sensitivity == 0.0 or d["architecture"].get("kind") == "wnet", "'peaks.sensitivity' needs a two-stage (wnet) model")
    number(d.get("density_radius_um", 3.0), "density_radius_um", 0.1, 50.0)
    number(d.get("density_alpha", 3.0), "density_alpha", 0.01, 50.0)
    for key in ("training", "metrics", "throughput"):
        require(isinstance(d.get(key, {}), dict), f"'{key}' must be an object")
    types = d["architecture"].get("types", [])
    colors = d.get("type_colors", {})
    require(isinstance(colors, dict) and not set(colors) - set(types), "'type_colors' must map the architecture's types to colours")
    for name, rgb in colors.items():
        triple(rgb, f"type_colors.{name}", 0, 255)
    labels = d.get("type_labels", {})
    require(isinstance(labels, dict) and all(isinstance(m, dict) and all(isinstance(k, str) and v in types for k, v in m.items())
                                             for m in labels.values()), "'type_labels' must map each data set's labels to the architecture's types")


def nuclick_card(d: dict[str, Any]) -> None:
    """Every rule for a NuClick card."""
    text(d.get("name", "nuclick"), "name", 100)
    number(d.get("mpp", 0.25), "mpp", *MPP_RANGE)
    integer(d.get("patch_size", 128), "patch_size", 32, 512)
    integer(d.get("width", 16), "width", 1, 128)
    number(d.get("threshold", 0.5), "threshold", 0.0, 1.0)
    weights_name(d.get("weights", ""))
    sha256(d.get("sha256", ""))
    for key in ("training", "metrics"):
        require(isinstance(d.get(key, {}), dict), f"'{key}' must be an object")
