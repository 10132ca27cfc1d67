"""Training samples: annotated tiles resampled to the model's scale, with aligned targets."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..datasets.tiles import NucleiTile
from ..detection.targets import density_map, dot_mask, type_target
from .artefacts import ARTEFACT_MARGIN_UM, free_space, grown, paint_artefacts
from .augment import appearance, random_crop, random_dihedral, random_scaled_crop


@dataclass
class PreparedTile:
    """A tile at the model's mpp with its full-size targets precomputed once."""

    name: str
    image: np.ndarray  # uint8 (H, W, 3)
    centres: np.ndarray  # (N, 2) in these pixels
    mask: np.ndarray | None  # float32 (H, W) stage-1 target, None when the data has none
    density: np.ndarray  # float32 (H, W)
    dataset: str = ""  # where the tile comes from; each dataset gets an equal share of crops
    types: np.ndarray | None = None  # int8 (H, W) type target, −1 = ignore (typing models only)
    centre_types: list[str | None] | None = None  # each centre's type in the model's scheme (None: untyped)


def rescale_tile(tile: NucleiTile, mpp: float) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Image, centres and binary nucleus mask resampled from the tile's mpp to ``mpp``."""
    scale = tile.mpp / mpp
    if abs(scale - 1) < 1e-6:
        mask = None if tile.instances is None else (tile.instances > 0).astype(np.float32)
        return tile.image, tile.centres.copy(), mask
    h, w = tile.image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    image = cv2.resize(tile.image, size, interpolation=interp)
    centres = (tile.centres + 0.5) * scale - 0.5  # pixel centres map to pixel centres
    mask = None
    if tile.instances is not None:
        fg = cv2.resize((tile.instances > 0).astype(np.float32), size, interpolation=interp)
        mask = (fg >= 0.5).astype(np.float32)
    return image, centres, mask


def prepare_tile(tile: NucleiTile, mpp: float, stage1_target: str, d_um: float, alpha: float, dataset: str = "",
                 types: tuple[str, ...] = (), type_radius_um: float = 3.0) -> PreparedTile:
    """Image and targets at the model's ``mpp``; with ``types`` also a type target map from
    the tile's typed centres (a tile without types gets one that ignores everything)."""
    image, centres, mask = rescale_tile(tile, mpp)
    shape = image.shape[:2]
    if stage1_target == "dots":
        mask = dot_mask(shape, centres, radius=2.0)
    elif stage1_target != "nucleus":
        raise ValueError(f"stage1_target must be 'nucleus' or 'dots', not {stage1_target!r}")
    density = density_map(shape, centres, d=d_um / mpp, alpha=alpha)
    type_map, centre_types = None, None
    if types:
        centre_types = [t if t in types else None for t in (tile.types or [None] * len(centres))]
        index = np.array([types.index(t) if t is not None else -1 for t in centre_types], np.int64)
        type_map = type_target(shape, centres, index, type_radius_um / mpp)
    return PreparedTile(tile.name, image, centres, mask, density, dataset, type_map, centre_types)


class CropSampler:
    """Random augmented crops: each dataset gets its share, its tiles drawn by area.

    Shares (equal unless given) keep a large dataset (CRCHisto's 70 images) from drowning
    the one that alone carries nucleus masks (MoNuSeg's 24 fit tiles) in joint training,
    or tilt training towards the dataset whose labelling habits the model must still learn.
    """

    def __init__(self, tiles: list[PreparedTile], crop: int, seed: int, stain_jitter: bool = True,
                 shares: dict[str, float] | None = None, scale_jitter: float = 0.0,
                 appearance_level: str = "light", artefacts: float = 0.0, mpp: float = 0.25, artefact_keep_um: float = 5.0):
        self.tiles = tiles
        self.artefacts = artefacts  # share of crops with synthetic pigment, dust, ink or glass painted in
        self.mpp = mpp
        self.artefact_keep_um = artefact_keep_um
        self.crop = crop
        self.scale_jitter = scale_jitter
        self.stain_jitter = stain_jitter
        self.appearance_level = appearance_level
        self.rng = np.random.default_rng(seed)
        areas = np.array([t.image.shape[0] * t.image.shape[1] for t in tiles], dtype=np.float64)
        datasets = [t.dataset for t in tiles]
        shares = shares or {}
        unknown = set(shares) - set(datasets)
        if unknown:
            raise ValueError(f"shares given for datasets not in training: {sorted(unknown)}")
        for name in set(datasets):
            members = np.array([d == name for d in datasets])
            areas[members] *= shares.get(name, 1.0) / areas[members].sum()
        self.weights = areas / areas.sum()

    def sample(self, with_types: bool = False, with_clean: bool = False) -> tuple:
        """(image, mask, density, has_mask[, types][, clean, covered]): with ``with_clean`` also
        the crop before any artefact was painted (with the same stain jitter) and where
        artefacts lie, grown by ``ARTEFACT_MARGIN_UM`` (what a teacher's targets erase)."""
        tile = self.tiles[int(self.rng.choice(len(self.tiles), p=self.weights))]
        has_mask = tile.mask is not None
        mask = tile.mask if has_mask else np.zeros(tile.density.shape, np.float32)
        arrays = [tile.image, mask, tile.density]
        if with_types:
            arrays.append(tile.types if tile.types is not None else np.full(tile.density.shape, -1, np.int8))
        if self.scale_jitter > 0:
            if with_types:
                raise ValueError("scale_jitter does not resample type targets yet: use 0 for a typing model")
            arrays = random_scaled_crop(arrays, self.crop, self.rng, self.scale_jitter)
        else:
            arrays = random_crop(arrays, self.crop, self.rng)
        arrays = random_dihedral(arrays, self.rng)
        image = clean = arrays[0]
        covered = np.zeros(image.shape[:2], bool)
        if self.artefacts > 0 and self.rng.random() < self.artefacts:  # before the stain jitter, which then colours them too
            image, covered = paint_artefacts(image, free_space(arrays[2], arrays[1], self.artefact_keep_um, self.mpp), self.mpp, self.rng)
        if self.stain_jitter and with_clean:  # one jitter for both: side by side through the same draw
            both = appearance(np.concatenate([clean, image], axis=1), self.rng, self.appearance_level)
            clean, image = both[:, : clean.shape[1]], both[:, clean.shape[1] :]
        elif self.stain_jitter:
            image = appearance(image, self.rng, self.appearance_level)
        extra = ((arrays[3],) if with_types else ()) + ((np.ascontiguousarray(clean), grown(covered, ARTEFACT_MARGIN_UM / self.mpp)) if with_clean else ())
        return (image, arrays[1], arrays[2], has_mask) + extra

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        samples = [self.sample() for _ in range(size)]
        images, masks, densities, has_mask = zip(*samples)
        return np.stack(images), np.stack(masks), np.stack(densities), np.array(has_mask)

    def batch_with_clean(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Painted crops, the same crops clean, and where artefacts lie (grown) (N, H, W)."""
        samples = [self.sample(with_clean=True) for _ in range(size)]
        return np.stack([s[0] for s in samples]), np.stack([s[4] for s in samples]), np.stack([s[5] for s in samples])

    def batch_typed(self, size: int) -> tuple[np.ndarray, ...]:
        """``batch`` plus the type targets (N, H, W) int8, −1 = ignore."""
        samples = [self.sample(with_types=True) for _ in range(size)]
        images, masks, densities, has_mask, types = zip(*samples)
        return np.stack(images), np.stack(masks), np.stack(densities), np.array(has_mask), np.stack(types)
