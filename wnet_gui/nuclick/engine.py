"""NuClick over many points of a slide: batched, with progress and cancel.

Points are processed in batches; each batch's patches are read from the slide, run
through the network, and cleaned into level-0 polygons that stream out with their ids.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from ..engine.allocator import keep_freed_memory
from ..engine.device import autocast, memory_format, select_device, select_precision
from ..slides import Slide
from ..slides.scale import MppUnknownError
from .card import NuClickCard
from .patches import build_inputs
from .postprocess import clean_mask, clip_to_slide, mask_to_polygon


@dataclass
class MaskBatch:
    ids: np.ndarray
    polygons: list[np.ndarray | None]  # level-0 outlines, None where nothing was found
    done: int
    total: int


class NuClickSegmenter:
    """``precision`` as for detection: 'auto' runs bf16 + channels-last where native."""

    def __init__(self, card: NuClickCard, device: str = "auto", model: torch.nn.Module | None = None, precision: str = "auto"):
        keep_freed_memory()
        self.card = card
        self.device = select_device(device) if isinstance(device, str) else device
        self.precision = select_precision(precision, self.device)
        self.memory_format = memory_format(self.precision)
        self.model = (model or card.load_model(self.device)).to(self.device, memory_format=self.memory_format).eval()

    @torch.inference_mode()
    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(inputs).to(self.device).contiguous(memory_format=self.memory_format)
        with autocast(self.device, self.precision):
            logits = self.model(x)
        return torch.sigmoid(logits.float())[:, 0].cpu().numpy()

    def segment(self, slide: Slide, ids: np.ndarray, points: np.ndarray, all_points: np.ndarray | None = None,
                mpp: float | None = None, batch_size: int = 16, cancel: threading.Event | None = None) -> Iterator[MaskBatch]:
        """Outlines for ``points`` (level-0, with their ``ids``); ``all_points`` are the
        exclusion candidates (default: ``points``)."""
        slide_mpp = mpp or slide.mpp
        if slide_mpp is None:
            raise MppUnknownError(slide.path)
        ds = self.card.mpp / slide_mpp
        size = self.card.patch_size
        points = np.asarray(points, np.float64).reshape(-1, 2)
        all_points = points if all_points is None else np.asarray(all_points, np.float64).reshape(-1, 2)
        from scipy.spatial import cKDTree

        tree = cKDTree(all_points) if len(all_points) else None
        reach = size * ds * 0.75  # half the patch diagonal: every point that can fall inside
        done = 0
        for start in range(0, len(points), batch_size):
            if cancel is not None and cancel.is_set():
                return
            chunk = points[start : start + batch_size]
            near = all_points[sorted({j for lst in tree.query_ball_point(chunk, reach) for j in lst})] if tree is not None else all_points
            inputs, origins = build_inputs(slide, chunk, near, size, ds)
            probs = self.probabilities(inputs)
            polygons = []
            width, height = slide.dimensions
            for prob, origin in zip(probs, origins):
                mask = clean_mask(prob, (size // 2, size // 2), self.card.threshold)
                poly = mask_to_polygon(mask)
                polygons.append(None if poly is None else clip_to_slide(origin + poly * ds, width, height))
            done += len(chunk)
            yield MaskBatch(np.asarray(ids[start : start + batch_size]), polygons, done, len(points))
