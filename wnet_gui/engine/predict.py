"""A model from a card applied to in-memory RGB arrays at the model's resolution."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..detection.peaks import find_centres
from ..models.card import ModelCard


class DensityPredictor:
    """Turns RGB uint8 tiles into centre density maps with one loaded model."""

    def __init__(self, model: nn.Module, card: ModelCard, device: torch.device | str = "cpu"):
        self.model = model.eval()
        self.card = card
        self.device = torch.device(device)
        self._mean = torch.tensor(card.mean, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(card.std, dtype=torch.float32).view(1, 3, 1, 1) * 255.0

    @classmethod
    def from_card(cls, card: ModelCard, device: torch.device | str = "cpu") -> "DensityPredictor":
        return cls(card.load_model(device), card, device)

    def to_tensor(self, tiles: np.ndarray) -> torch.Tensor:
        """(N, H, W, 3) uint8 → normalised float (N, 3, H, W) on the model's device."""
        x = torch.from_numpy(np.ascontiguousarray(tiles)).permute(0, 3, 1, 2).float()
        x = (x - self._mean) / self._std
        return x.to(self.device)

    @torch.inference_mode()
    def predict_batch(self, tiles: np.ndarray) -> np.ndarray:
        """Density maps (N, H, W) float32 in [0, 1] for a batch of equal-size tiles."""
        out = self.model(self.to_tensor(tiles))["density"]
        return out[:, 0].float().cpu().numpy()

    def predict_image(self, image: np.ndarray) -> np.ndarray:
        """Density map of a whole in-memory image, in overlapping tiles when it is large."""
        h, w = image.shape[:2]
        size, margin = self.card.tile_size, self.card.margin
        if h <= size and w <= size:
            return self.predict_batch(image[None])[0]
        core = size - 2 * margin
        padded = np.pad(image, ((margin, margin + size), (margin, margin + size), (0, 0)), mode="reflect")
        density = np.zeros((h, w), np.float32)
        for y in range(0, h, core):
            for x in range(0, w, core):
                tile = padded[y : y + size, x : x + size]
                pred = self.predict_batch(tile[None])[0]
                ch, cw = min(core, h - y), min(core, w - x)
                density[y : y + ch, x : x + cw] = pred[margin : margin + ch, margin : margin + cw]
        return density

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
