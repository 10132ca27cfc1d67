"""The paper's networks, built with segmentation-models-pytorch and no downloaded weights.

``DensityUNet`` is the one-stage baseline (image → density map, Table I). ``WNet`` chains
two encoder-decoders (Table II): stage 1 turns RGB into a nucleus-mask probability, stage
2 turns that one-channel mask into the centre density map. Both return a dict so the
trainer and the engine never depend on which one they hold.
"""

from __future__ import annotations

import segmentation_models_pytorch as smp
import torch
from torch import nn

from .spec import ArchitectureSpec, StageSpec


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

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Features per level, finest first (the input padded to the pooling grid)."""
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.factor, (-w) % self.factor
        if ph or pw:  # any input size: pad to the pooling grid, crop back at the end
            x = nn.functional.pad(x, (0, pw, 0, ph))
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else nn.functional.max_pool2d(x, 2))
            skips.append(x)
        return skips

    def decode(self, skips: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        """Logits from ``encode``'s features, cropped back to the input's ``size``."""
        return self.head(basic_decode(self.up, self.merge, skips))[..., : size[0], : size[1]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x), x.shape[-2:])


def basic_decode(up: nn.ModuleList, merge: nn.ModuleList, skips: list[torch.Tensor]) -> torch.Tensor:
    x = skips[-1]
    for up_block, merge_block, skip in zip(up, merge, skips[-2::-1]):
        x = merge_block(torch.cat([up_block(x), skip], dim=1))
    return x


class BasicTypeBranch(nn.Module):
    """A second decoder over a ``BasicUNet``'s encoder, ending in one logit per type."""

    def __init__(self, encoder_widths: tuple[int, ...], widths: tuple[int, ...], classes: int):
        super().__init__()
        if len(widths) != len(encoder_widths) - 1:
            raise ValueError(f"type branch: {len(widths)} widths for {len(encoder_widths)} encoder levels (want one fewer)")
        self.up, self.merge = nn.ModuleList(), nn.ModuleList()
        cin = encoder_widths[-1]
        for w, skip in zip(widths, encoder_widths[-2::-1]):
            self.up.append(nn.ConvTranspose2d(cin, w, 2, stride=2))
            self.merge.append(_conv_block(w + skip, w))
            cin = w
        self.head = nn.Conv2d(cin, classes, 1)

    def forward(self, skips: list[torch.Tensor]) -> torch.Tensor:
        return self.head(basic_decode(self.up, self.merge, skips))


class SmpTypeBranch(nn.Module):
    """A second U-Net decoder over an smp U-Net's encoder features, ending in type logits.

    Fewer widths than encoder levels stop the branch at a coarser stride (two of four: a
    quarter of the resolution, 1 µm at 0.25 µm/px — a type needs no finer), and its logits
    are upsampled bilinearly: most of the branch's cost is in its finest blocks."""

    def __init__(self, encoder_channels: tuple[int, ...], widths: tuple[int, ...], classes: int):
        super().__init__()
        from segmentation_models_pytorch.base import SegmentationHead
        from segmentation_models_pytorch.decoders.unet.decoder import UnetDecoder

        depth = len(encoder_channels) - 1
        if not 1 <= len(widths) <= depth:
            raise ValueError(f"type branch: 1 to {depth} widths, not {len(widths)}")
        self.used = depth + 1 if len(widths) == depth else len(widths) + 2  # the encoder features it reads
        self.decoder = UnetDecoder(encoder_channels=encoder_channels[-self.used:], decoder_channels=widths, n_blocks=len(widths))
        self.head = SegmentationHead(in_channels=widths[-1], out_channels=classes, kernel_size=3)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        logits = self.head(self.decoder(features[-self.used:]))
        size = features[0].shape[-2:]
        if logits.shape[-2:] != size:
            logits = nn.functional.interpolate(logits, size=size, mode="bilinear", align_corners=False)
        return logits


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

    With ``types`` a type branch — a second decoder over stage 1's encoder, as HoVer-Net's
    NC branch beside its NP branch — outputs one logit per type and pixel, read at each
    detected centre. The detection path does not share the branch's weights, so a typing
    model can keep a detector's mask decoder and stage 2 exactly (and train the branch alone)."""

    def __init__(self, stage1: StageSpec, stage2: StageSpec, n_types: int = 0, type_widths: tuple[int, ...] = ()):
        super().__init__()
        self.n_types = n_types
        self.stage1 = build_encoder_decoder(stage1, in_channels=3)
        self.stage2 = build_encoder_decoder(stage2, in_channels=1)
        if n_types:
            if isinstance(self.stage1, BasicUNet):
                widths = tuple(stage1.decoder_channels)
                self.type_branch = BasicTypeBranch(widths, type_widths or widths[-2::-1], n_types)
            else:
                self.type_branch = SmpTypeBranch(tuple(self.stage1.encoder.out_channels),
                                                 type_widths or tuple(stage1.decoder_channels), n_types)

    def forward(self, x: torch.Tensor, stage1_offset: float = 0.0, levels: bool = False) -> dict[str, torch.Tensor]:
        """``stage1_offset`` shifts the mask logits that stage 2 sees (the card's sensitivity);
        with ``levels`` the result also holds stage 1's encoder levels (``"levels"``, finest
        first), what a taught classifier reads at each centre without a second pass."""
        if levels:
            skips = self.stage1.encode(x) if isinstance(self.stage1, BasicUNet) else self.stage1.encoder(x)
            result = self._from_levels(x, skips, stage1_offset)
            result["levels"] = skips if isinstance(self.stage1, BasicUNet) else skips[1:]
            return result
        if not self.n_types:
            mask_logits = self.stage1(x)
        elif isinstance(self.stage1, BasicUNet):
            h, w = x.shape[-2:]
            skips = self.stage1.encode(x)
            mask_logits = self.stage1.decode(skips, (h, w))
            type_logits = self.type_branch(skips)[..., :h, :w]
        else:
            features = self.stage1.encoder(x)
            mask_logits = self.stage1.segmentation_head(self.stage1.decoder(features))
            type_logits = self.type_branch(features)
        mask = torch.sigmoid(mask_logits + stage1_offset if stage1_offset else mask_logits)
        result = {"mask_logits": mask_logits, "mask": mask, "density": torch.sigmoid(self.stage2(mask))}
        if self.n_types:
            result["type_logits"] = type_logits
        return result


    def _from_levels(self, x: torch.Tensor, skips: list[torch.Tensor], stage1_offset: float) -> dict[str, torch.Tensor]:
        """The forward pass from stage 1's encoder levels on (the same numbers as ``forward``)."""
        h, w = x.shape[-2:]
        if isinstance(self.stage1, BasicUNet):
            mask_logits = self.stage1.decode(skips, (h, w))
        else:
            mask_logits = self.stage1.segmentation_head(self.stage1.decoder(skips))
        mask = torch.sigmoid(mask_logits + stage1_offset if stage1_offset else mask_logits)
        result = {"mask_logits": mask_logits, "mask": mask, "density": torch.sigmoid(self.stage2(mask))}
        if self.n_types:
            type_logits = self.type_branch(skips)
            result["type_logits"] = type_logits[..., :h, :w] if isinstance(self.stage1, BasicUNet) else type_logits
        return result


def build_model(spec: ArchitectureSpec) -> nn.Module:
    if spec.kind == "unet":
        return DensityUNet(spec.stage1)
    if spec.kind == "wnet":
        return WNet(spec.stage1, spec.stage2, len(spec.types), spec.type_decoder_channels)
    raise ValueError(f"unknown architecture kind {spec.kind!r} (unet or wnet)")


def stage1_encoder(model: nn.Module) -> nn.Module:
    """The RGB encoder, the part that ImageNet weights initialise."""
    return model.net.encoder if isinstance(model, DensityUNet) else model.stage1.encoder
