"""The paper's networks, built with segmentation-models-pytorch and no downloaded weights.

``DensityUNet`` is the one-stage baseline (image → density map, Table I). ``WNet`` chains
two encoder-decoders (Table II): stage 1 turns RGB into a nucleus-mask probability, stage
2 turns that one-channel mask into the centre density map. Both return a dict so the
trainer and the engine never depend on which one they hold.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import segmentation_models_pytorch as smp
import torch
from torch import nn


@dataclass
class StageSpec:
    """One encoder-decoder: any smp encoder name (``tu-`` for timm ones)."""

    encoder: str = "tu-tf_efficientnet_lite0"
    decoder_channels: tuple[int, ...] = (128, 64, 32, 16, 16)
    encoder_depth: int = 5

    @classmethod
    def from_dict(cls, d: dict) -> "StageSpec":
        d = dict(d)
        if "decoder_channels" in d:
            d["decoder_channels"] = tuple(d["decoder_channels"])
        return cls(**d)


@dataclass
class ArchitectureSpec:
    """What to build: ``kind`` 'unet' uses ``stage1`` only; 'wnet' uses both stages."""

    kind: str = "wnet"
    stage1: StageSpec = field(default_factory=StageSpec)
    stage2: StageSpec = field(default_factory=lambda: StageSpec("resnet18", (64, 32, 16), 3))
    types: tuple[str, ...] = ()  # nucleus types a W-Net also predicts (a type map beside stage 1's mask)

    @classmethod
    def from_dict(cls, d: dict) -> "ArchitectureSpec":
        return cls(
            kind=d.get("kind", "wnet"),
            stage1=StageSpec.from_dict(d.get("stage1", {})),
            stage2=StageSpec.from_dict(d["stage2"]) if "stage2" in d else StageSpec("resnet18", (64, 32, 16), 3),
            types=tuple(d.get("types", ())),
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.kind == "unet":
            d.pop("stage2")
        if not self.types:
            d.pop("types")
        else:
            d["types"] = list(self.types)
        return d


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class BasicUNet(nn.Module):
    """The paper's 'basic' U-Net (Ronneberger et al.), with chosen widths per level.

    Purely local (no global pooling, no squeeze-excitation), so a pixel's output depends
    only on its receptive field: tiles agree at seams. Output is logits."""

    def __init__(self, in_channels: int, widths: tuple[int, ...], classes: int = 1):
        super().__init__()
        self.down = nn.ModuleList()
        cin = in_channels
        for w in widths:
            self.down.append(_conv_block(cin, w))
            cin = w
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for w_hi, w_lo in zip(widths[-2::-1], widths[:0:-1]):
            self.up.append(nn.ConvTranspose2d(w_lo, w_hi, 2, stride=2))
            self.merge.append(_conv_block(2 * w_hi, w_hi))
        self.head = nn.Conv2d(widths[0], classes, 1)
        self.factor = 2 ** (len(widths) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.factor, (-w) % self.factor
        if ph or pw:  # any input size: pad to the pooling grid, crop back at the end
            x = nn.functional.pad(x, (0, pw, 0, ph))
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else nn.functional.max_pool2d(x, 2))
            skips.append(x)
        for up, merge, skip in zip(self.up, self.merge, skips[-2::-1]):
            x = merge(torch.cat([up(x), skip], dim=1))
        return self.head(x)[..., :h, :w]


def build_encoder_decoder(spec: StageSpec, in_channels: int, classes: int = 1) -> nn.Module:
    """An smp U-Net for the named encoder, or our ``BasicUNet`` for encoder 'basic'
    (then ``decoder_channels`` are the level widths, finest first)."""
    if spec.encoder == "basic":
        return BasicUNet(in_channels, tuple(spec.decoder_channels), classes)
    if len(spec.decoder_channels) != spec.encoder_depth:
        raise ValueError(f"{spec.encoder}: {len(spec.decoder_channels)} decoder channels for depth {spec.encoder_depth}")
    return smp.Unet(
        encoder_name=spec.encoder,
        encoder_weights=None,  # never download: trained weights come from model_zoo/
        encoder_depth=spec.encoder_depth,
        decoder_channels=tuple(spec.decoder_channels),
        in_channels=in_channels,
        classes=classes,
    )


class DensityUNet(nn.Module):
    """One-stage baseline: RGB → centre density map."""

    def __init__(self, stage: StageSpec):
        super().__init__()
        self.net = build_encoder_decoder(stage, in_channels=3)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"density": torch.sigmoid(self.net(x))}


class WNet(nn.Module):
    """Two stages: RGB → nucleus mask (logits + probability) → centre density map.

    With ``n_types`` > 0 stage 1 also outputs a type map (one logit per type and pixel,
    HoVer-Net's idea), read at each detected centre; the density path is unchanged."""

    def __init__(self, stage1: StageSpec, stage2: StageSpec, n_types: int = 0):
        super().__init__()
        self.n_types = n_types
        self.stage1 = build_encoder_decoder(stage1, in_channels=3, classes=1 + n_types)
        self.stage2 = build_encoder_decoder(stage2, in_channels=1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out1 = self.stage1(x)
        mask_logits = out1[:, :1]
        mask = torch.sigmoid(mask_logits)
        result = {"mask_logits": mask_logits, "mask": mask, "density": torch.sigmoid(self.stage2(mask))}
        if self.n_types:
            result["type_logits"] = out1[:, 1:]
        return result


def build_model(spec: ArchitectureSpec) -> nn.Module:
    if spec.kind == "unet":
        return DensityUNet(spec.stage1)
    if spec.kind == "wnet":
        return WNet(spec.stage1, spec.stage2, len(spec.types))
    raise ValueError(f"unknown architecture kind {spec.kind!r} (unet or wnet)")


def stage1_encoder(model: nn.Module) -> nn.Module:
    """The RGB encoder, the part that ImageNet weights initialise."""
    return model.net.encoder if isinstance(model, DensityUNet) else model.stage1.encoder
