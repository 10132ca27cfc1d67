"""What the pathologist reviewed, turned into training material at the model's scale.

A reviewed region is a promise: every nucleus inside has a point and nothing else has one.
So inside it the corrected points are complete truth (positives *and* negatives); outside it
nothing is known, and the loss must not look there. Each region is read once, at the model's
µm/px, with its targets (the density map of the card's radius and α) and two masks: where the
loss may look (the region shrunk by a density radius, so a nucleus just outside it does not
teach "no nucleus here"), and which square cells are held back to measure before/after F1.
For a typing model the reviewed classes become a type map too (discs around each point of a
type the model knows; −1 elsewhere, so untyped points and classes it lacks teach no type).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..detection.targets import density_map, type_target
from ..detection.typed_metrics import UNTYPED
from ..geometry import PolygonRegion
from ..models.card import ModelCard

HOLD_BACK_CELL_UM = 64.0  # held-back squares: large next to a nucleus, so few matches cross a border
HOLD_BACK_SHARE = 0.2
CONTEXT_UM = 16.0  # image read around each region: the network sees real tissue at its edge
TYPE_RADIUS_UM = 3.0  # disc around a typed point that the type loss sees (the training default)


@dataclass
class ReviewedSlide:
    """One slide's corrected points and reviewed regions (level-0 pixels)."""

    slide: str | Path
    points: np.ndarray  # (N, 2) x, y: every point the user kept, reviewed or not
    regions: list[np.ndarray] | None = None  # outlines (M, 2); None: the whole image is reviewed
    mpp: float | None = None  # overrides the slide's own µm/px
    types: list[str | None] | None = None  # class of each point (None / "Nucleus": untyped)


@dataclass
class RegionExample:
    """One reviewed region at model scale."""

    slide: str
    image: np.ndarray  # (H, W, 3) uint8
    centres: np.ndarray  # (N, 2) model px: the reviewed points inside the region
    density: np.ndarray  # (H, W) float32 target
    loss_mask: np.ndarray  # (H, W) bool: where training may look (region, shrunk; not held back)
    held_back: np.ndarray  # (H, W) bool: cells kept for the before/after measurement
    region_mask: np.ndarray  # (H, W) bool: the region itself
    origin: tuple[float, float] = (0.0, 0.0)  # level-0 x, y of pixel (0, 0)
    downsample: float = 1.0  # level-0 px per model px
    stats: dict = field(default_factory=dict)
    centre_types: list[str | None] = field(default_factory=list)  # reviewed class per centre (None: untyped)
    type_map: np.ndarray | None = None  # (H, W) int8 type index of the card's types, −1 ignored; None: no types

    @property
    def nuclei(self) -> int:
        return len(self.centres)


def points_in(points: np.ndarray, outline: np.ndarray) -> np.ndarray:
    """Boolean: which points lie inside the outline (edges count as inside)."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    if len(points) == 0:
        return np.zeros(0, bool)
    return PolygonRegion.from_array(outline).contains(points[:, 0], points[:, 1])


def _held_back_cells(shape: tuple[int, int], cell: int, rng: np.random.Generator, inside: np.ndarray) -> np.ndarray:
    """A random ``HOLD_BACK_SHARE`` of the cells that hold some of the region (at least one)."""
    h, w = shape
    rows, cols = -(-h // cell), -(-w // cell)
    occupied = [(r, c) for r in range(rows) for c in range(cols) if inside[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell].mean() > 0.5]
    held = np.zeros(shape, bool)
    if len(occupied) < 2:
        return held  # one cell cannot be split: measure on nothing rather than train on nothing
    n = max(1, int(round(HOLD_BACK_SHARE * len(occupied))))
    for k in rng.choice(len(occupied), size=n, replace=False):
        r, c = occupied[int(k)]
        held[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell] = True
    return held


def _types_inside(item: ReviewedSlide, inside: np.ndarray) -> list[str | None]:
    if item.types is None:
        return [None] * int(inside.sum())
    if len(item.types) != len(inside):
        raise ValueError(f"{Path(item.slide).name}: {len(item.types)} classes for {len(inside)} points")
    return [None if t in UNTYPED else str(t) for t, keep in zip(item.types, inside) if keep]


def _type_radius_um(card: ModelCard) -> float:
    config = card.training.get("config") if isinstance(card.training, dict) else None
    return float(config.get("type_radius_um", TYPE_RADIUS_UM)) if isinstance(config, dict) else TYPE_RADIUS_UM


def _type_map(shape: tuple[int, int], centres: np.ndarray, kinds: list[str | None], card: ModelCard) -> tuple[np.ndarray | None, dict]:
    """The type target for a typing card (None for a detector, or when no point is typed)."""
    known = list(card.architecture.types)
    typed = [k for k in kinds if k is not None]
    stats = {"typed": sum(k in known for k in typed), "unknown_types": sorted({k for k in typed if k not in known})}
    if not known or not stats["typed"]:
        return None, stats
    index = np.array([known.index(k) if k in known else -1 for k in kinds], int)
    return type_target(shape, centres, index, _type_radius_um(card) / card.mpp), stats


def prepare(reviewed: list[ReviewedSlide], card: ModelCard, seed: int = 0) -> list[RegionExample]:
    """Every reviewed region of every slide, read and labelled at the card's scale."""
    from ..engine.detect import OptionError, slide_mpp
    from ..engine.detect import DetectOptions
    from ..slides import open_slide

    rng = np.random.default_rng(seed)
    examples: list[RegionExample] = []
    for item in reviewed:
        slide = open_slide(item.slide, mpp=item.mpp)
        try:
            mpp = slide_mpp(slide, DetectOptions(mpp=item.mpp))
            ds = card.mpp / mpp  # level-0 px per model px
            w0, h0 = slide.dimensions
            outlines = item.regions if item.regions else [np.array([[0, 0], [w0, 0], [w0, h0], [0, h0]], float)]
            points = np.asarray(item.points, float).reshape(-1, 2)
            for outline in outlines:
                outline = np.asarray(outline, float).reshape(-1, 2)
                pad = CONTEXT_UM / mpp
                x0, y0 = max(0.0, outline[:, 0].min() - pad), max(0.0, outline[:, 1].min() - pad)
                x1, y1 = min(float(w0), outline[:, 0].max() + pad), min(float(h0), outline[:, 1].max() + pad)
                if x1 - x0 < 4 * ds or y1 - y0 < 4 * ds:
                    raise OptionError(f"a reviewed region of {Path(item.slide).name} is smaller than a few pixels")
                size = (max(1, int(round((x1 - x0) / ds))), max(1, int(round((y1 - y0) / ds))))
                image = slide.read_scaled(int(x0), int(y0), int(round(x1 - x0)), int(round(y1 - y0)), ds, size)
                h, w = image.shape[:2]
                to_model = lambda xy: (np.asarray(xy, float) - [x0, y0]) / ds  # noqa: E731
                region_mask = np.zeros((h, w), np.uint8)
                cv2.fillPoly(region_mask, [np.round(to_model(outline)).astype(np.int32)], 1)
                inside = points_in(points, outline)
                centres = to_model(points[inside])
                radius = card.density_radius_um / card.mpp
                density = density_map((h, w), centres, d=radius, alpha=card.density_alpha).astype(np.float32)
                shrink = int(np.ceil(radius))
                core = cv2.erode(region_mask, np.ones((2 * shrink + 1, 2 * shrink + 1), np.uint8)).astype(bool)
                kinds = _types_inside(item, inside)
                type_map, stats = _type_map((h, w), centres, kinds, card)
                # cells of 64 µm, smaller in a small region so that a fifth of it can still be held back
                rh, rw = np.ptp(to_model(outline)[:, 1]), np.ptp(to_model(outline)[:, 0])
                cell = max(16, min(int(round(HOLD_BACK_CELL_UM / card.mpp)), int(min(rh, rw) // 3)))
                held = _held_back_cells((h, w), cell, rng, region_mask.astype(bool))
                if type_map is not None:
                    type_map[~(core & ~held)] = -1  # types are learned where detection is, never on held-back cells
                examples.append(RegionExample(
                    str(item.slide), np.ascontiguousarray(image), centres, density, core & ~held, held & region_mask.astype(bool),
                    region_mask.astype(bool), (x0, y0), ds, {"mpp": mpp, **stats}, kinds, type_map,
                ))
        finally:
            slide.close()
    return examples


def count_nuclei(examples: list[RegionExample]) -> int:
    return sum(e.nuclei for e in examples)


def count_typed(examples: list[RegionExample]) -> int:
    """Reviewed nuclei whose class the model can learn (one of its types)."""
    return sum(int(e.stats.get("typed", 0)) for e in examples)


__all__ = ["ReviewedSlide", "RegionExample", "count_nuclei", "count_typed", "points_in", "prepare"]
