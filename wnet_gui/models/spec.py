"""What network a card describes, as data: importable without torch, so listing models,
reading cards and starting the app never load it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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
    types: tuple[str, ...] = ()  # nucleus types a W-Net also predicts (a type branch beside stage 1's decoder)
    type_decoder_channels: tuple[int, ...] = ()  # the type branch's widths (empty: stage 1's)

    @classmethod
    def from_dict(cls, d: dict) -> "ArchitectureSpec":
        return cls(
            kind=d.get("kind", "wnet"),
            stage1=StageSpec.from_dict(d.get("stage1", {})),
            stage2=StageSpec.from_dict(d["stage2"]) if "stage2" in d else StageSpec("resnet18", (64, 32, 16), 3),
            types=tuple(d.get("types", ())),
            type_decoder_channels=tuple(d.get("type_decoder_channels", ())),
        )

    @property
    def two_stage(self) -> bool:
        """A W-Net: stage 2 reads stage 1's map, so a sensitivity (stage-1 logit offset) applies."""
        return self.kind == "wnet"

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.kind == "unet":
            d.pop("stage2")
        if not self.types:
            d.pop("types")
        else:
            d["types"] = list(self.types)
        if not self.type_decoder_channels:
            d.pop("type_decoder_channels")
        else:
            d["type_decoder_channels"] = list(self.type_decoder_channels)
        return d
