"""A model from a card applied to in-memory RGB arrays at the model's resolution."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from ..detection.peaks import find_centres
from ..models.card import ModelCard
from .allocator import keep_freed_memory
from .device import autocast, memory_format, select_precision


class DensityPredictor:
    """Turns RGB uint8 tiles into centre density maps with one loaded model.

    ``precision`` 'bf16' runs the forward pass under bfloat16 autocast with channels-last
    tensors (oneDNN's fast path on CPUs with AVX-512-BF16/AMX); 'auto' picks it only where
    the hardware does bf16 natively."""

    def __init__(self, model: nn.Module, card: ModelCard, device: torch.device | str = "cpu", precision: str = "fp32"):
        keep_freed_memory()  # no page-fault storm between forward passes (engine.allocator)
        self.device = torch.device(device)
        self.precision = select_precision(precision, self.device)
        self.memory_format = memory_format(self.precision)
        self.model = model.eval().to(memory_format=self.memory_format)
        self.card = card
        self.sensitivity = float(card.peaks.sensitivity)  # stage-1 logit offset (W-Net)
        self.tta = False  # average over the four flips of each batch
        mean = torch.tensor(card.mean, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(card.std, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        self._scale, self._shift = (1.0 / std).to(self.device), (-mean / std).to(self.device)

    @classmethod
    def from_card(cls, card: ModelCard, device: torch.device | str = "cpu", precision: str = "fp32") -> "DensityPredictor":
        return cls(card.load_model(device), card, device, precision)

    def to_tensor(self, tiles: np.ndarray) -> torch.Tensor:
        """(N, H, W, 3) uint8 → normalised float (N, 3, H, W) on the model's device.

        The pixels cross to the device as uint8 (4× less traffic) and keep their NHWC
        layout, which is already channels-last: no copy before a bf16 forward pass."""
        x = torch.from_numpy(np.ascontiguousarray(tiles)).to(self.device).permute(0, 3, 1, 2)
        return x.float().mul_(self._scale).add_(self._shift)

    def with_sensitivity(self, sensitivity: float | None) -> "DensityPredictor":
        """This predictor (same loaded model) at another sensitivity; itself when unchanged."""
        if sensitivity is None or float(sensitivity) == self.sensitivity:
            return self
        twin = copy.copy(self)
        twin.sensitivity = float(sensitivity)
        return twin

    def with_tta(self, tta: bool) -> "DensityPredictor":
        """This predictor (same loaded model) averaging over flips, or not; itself when unchanged."""
        if bool(tta) == self.tta:
            return self
        twin = copy.copy(self)
        twin.tta = bool(tta)
        return twin

    @property
    def types(self) -> tuple[str, ...]:
        """The nucleus types the model predicts (empty: it only detects)."""
        return tuple(self.card.architecture.types)

    @torch.inference_mode()
    def forward_all(self, x: torch.Tensor, levels: bool = False) -> dict[str, torch.Tensor]:
        """The model's outputs for a normalised batch. With ``tta`` the density and type maps are
        the mean over the four flips of the batch, each flipped back (the encoder levels, for a
        taught classifier, come from the unflipped view)."""
        out = self._forward_once(x, levels)
        if not self.tta:
            return out
        out = dict(out)
        density = out["density"].float()
        types = out["type_logits"].float() if "type_logits" in out else None
        for dims in ((-1,), (-2,), (-1, -2)):
            flipped = self._forward_once(x.flip(dims), False)
            density = density + flipped["density"].float().flip(dims)
            if types is not None:
                types = types + flipped["type_logits"].float().flip(dims)
        out["density"] = density / 4
        if types is not None:
            out["type_logits"] = types / 4
        return out

    def _forward_once(self, x: torch.Tensor, levels: bool) -> dict[str, torch.Tensor]:
        x = x.contiguous(memory_format=self.memory_format)
        kwargs = {"levels": True} if levels else {}
        if self.sensitivity:
            kwargs["stage1_offset"] = self.sensitivity
        with autocast(self.device, self.precision):
            return self.model(x, **kwargs)

    def predict_batch_levels(self, tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, list[np.ndarray]]:
        """Density maps, type indices (or None) and stage 1's encoder levels (each (N, C, h, w)
        float32): what a taught classifier reads at the centres, from the same pass."""
        if self.card.architecture.kind != "wnet":
            raise ValueError(f"{self.card.title} is not a W-Net: a taught classifier reads a W-Net's stage 1")
        out = self.forward_all(self.to_tensor(tiles), levels=True)
        density = out["density"][:, 0].float().cpu().numpy()
        types = out["type_logits"].float().argmax(dim=1).to(torch.int8).cpu().numpy() if "type_logits" in out else None
        return density, types, [f.float().cpu().numpy() for f in out["levels"]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Density (N, 1, H, W) of a normalised batch, in this predictor's precision."""
        return self.forward_all(x)["density"]

    def predict_batch(self, tiles: np.ndarray) -> np.ndarray:
        """Density maps (N, H, W) float32 in [0, 1] for a batch of equal-size tiles."""
        return self.forward(self.to_tensor(tiles))[:, 0].float().cpu().numpy()

    def predict_batch_typed(self, tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Density maps and, for a typing model, type indices per pixel (N, H, W) int8."""
        out = self.forward_all(self.to_tensor(tiles))
        density = out["density"][:, 0].float().cpu().numpy()
        if "type_logits" not in out:
            return density, None
        return density, out["type_logits"].float().argmax(dim=1).to(torch.int8).cpu().numpy()

    def types_at(self, type_map: np.ndarray | None, uv: np.ndarray) -> list[str] | None:
        """The type at each centre (u, v) of a tile's type map (None without types)."""
        if type_map is None or not self.types:
            return None
        h, w = type_map.shape
        u = np.clip(np.round(uv[:, 0]).astype(int), 0, w - 1)
        v = np.clip(np.round(uv[:, 1]).astype(int), 0, h - 1)
        return [self.types[int(k)] for k in type_map[v, u]]

    def min_distance_px(self) -> int:
        return max(1, int(round(self.card.peaks.min_distance_um / self.card.mpp)))

    def centres(self, density: np.ndarray, threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Centres (x, y) in the density map's pixels and their scores, per the card."""
        peaks = self.card.peaks
        return find_centres(
            density,
            threshold=peaks.threshold if threshold is None else threshold,
            min_distance=self.min_distance_px(),
            subpixel=peaks.subpixel,
        )
