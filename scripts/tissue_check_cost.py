"""What dropping points off the tissue (farther than ``OFF_TISSUE_UM`` from the tissue mask or
from stained tissue, ``TissueMask.near``; on whenever the engine skips background, as the app
and `wnet detect` run) costs and buys.

- ``--split train`` (safe for choosing the margin and the stain chroma, ``STAIN_CHROMA``): how
  many *true* nuclei of each set's training images lie farther than each margin from the tissue
  or the stained tissue of the masks the engine makes of that image;
- ``--split test`` (once, for the chosen margin): each set's test F1 with and without the check,
  for the models given, and CRCHisto img11's points and precision both ways.

    python scripts/tissue_check_cost.py --split train
    python scripts/tissue_check_cost.py --split test fast accurate [--crops DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from wnet_gui import datasets
from wnet_gui.detection.metrics import match_points
from wnet_gui.engine.detect import OFF_TISSUE_UM, DetectOptions, engine_tissue_mask, planned_tiles, run_detection
from wnet_gui.geometry import Rect
from wnet_gui.models.zoo import resolve_card
from wnet_gui.slides import ArraySlide
from wnet_gui.slides.tissue import TissueMask

MARGINS = (0.0, 4.0, 8.0, 12.0, 16.0)
RADIUS_PX = {"monuseg": None, "crchisto": 6.0, "consep": 12.0}  # None: 3 µm


def engine_mask(slide, card) -> TissueMask:
    """The tissue mask the engine makes for a whole-image run of ``card``."""
    w, h = slide.dimensions
    return engine_tissue_mask(slide, planned_tiles(Rect(0, 0, w, h), card.mpp / slide.mpp, card, DetectOptions()))


def train_split(card) -> None:
    print(f"true training nuclei farther than each margin from the tissue or the stained tissue ({card.name}'s tiling)")
    for name in datasets.NAMES:
        lost, total = np.zeros(len(MARGINS), int), 0
        for tile in datasets.load(name, "train"):
            slide = ArraySlide(tile.name, tile.image, tile.mpp)
            mask = engine_mask(slide, card)
            lost += [int((~mask.near(tile.centres, m / tile.mpp)).sum()) for m in MARGINS]
            total += len(tile.centres)
        print(f"{name}: {total:,} nuclei; lost at " + ", ".join(f"{m:g} µm: {n}" for m, n in zip(MARGINS, lost)))


def test_split(cards, crops=None) -> None:
    print(f"test F1 without → with the tissue check ({OFF_TISSUE_UM:g} µm)")
    for card in cards:
        for name in datasets.NAMES:
            counts = {False: np.zeros(3, int), True: np.zeros(3, int)}
            for tile in datasets.load(name, "test"):
                radius = RADIUS_PX[name] or 3.0 / tile.mpp
                slide = ArraySlide(tile.name, tile.image, tile.mpp)
                for check in (False, True):
                    run = run_detection(slide, card, options=DetectOptions(device="cpu", skip_background=check))
                    tp = len(match_points(run.centres, tile.centres, radius)[0])
                    counts[check] += (tp, len(run.centres) - tp, len(tile.centres) - tp)
            f1 = {k: 2 * v[0] / max(2 * v[0] + v[1] + v[2], 1) for k, v in counts.items()}
            print(f"{card.name} {name}: F1 {f1[False]:.4f} → {f1[True]:.4f} (TP {counts[False][0]} → {counts[True][0]}, "
                  f"FP {counts[False][1]} → {counts[True][1]})", flush=True)
        img11 = next(t for t in datasets.load("crchisto", "test") if t.name.startswith("img11"))
        slide = ArraySlide(img11.name, img11.image, img11.mpp)
        said = []
        for check in (False, True):
            run = run_detection(slide, card, options=DetectOptions(device="cpu", skip_background=check))
            matched = match_points(run.centres, img11.centres, 6.0)[0]
            tp = len(matched)
            unmatched = np.ones(len(run.centres), bool)
            unmatched[matched] = False
            said.append(f"{len(run.centres)} points, {tp} on nuclei, precision {tp / max(len(run.centres), 1):.3f}")
        print(f"{card.name} img11: {said[0]} → {said[1]}")
        if crops is not None:
            path = crops / f"img11-unmatched-{card.name}.png"
            write_crops([(img11.image, xy) for xy in run.centres[unmatched]], path)
            print(f"  its {int(unmatched.sum())} unmatched points, one crop each: {path}")


def write_crops(points: list, path, half: int = 24, per_row: int = 8) -> None:
    """A sheet of crops around points, each ``(image, (x, y))``, circled and three times enlarged,
    to look at by eye."""
    import cv2

    tiles = []
    for image, (x, y) in points:
        padded = cv2.copyMakeBorder(image, half, half, half, half, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        x, y = int(round(x)), int(round(y))
        crop = cv2.resize(padded[y : y + 2 * half, x : x + 2 * half], (6 * half, 6 * half), interpolation=cv2.INTER_NEAREST)
        cv2.circle(crop, (3 * half, 3 * half), 14, (0, 255, 0), 1)
        tiles.append(crop)
    if not tiles:
        return
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % per_row)
    sheet = np.vstack([np.hstack(tiles[k : k + per_row]) for k in range(0, len(tiles), per_row)])
    cv2.imwrite(str(path), sheet[..., ::-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*", default=["accurate"])
    ap.add_argument("--split", choices=("train", "test"), required=True)
    ap.add_argument("--crops", type=Path, default=None, help="with --split test: write img11's unmatched points (check on) as crop sheets here")
    args = ap.parse_args()
    cards = [resolve_card(m) for m in args.models]
    if args.split == "train":
        for card in cards:
            train_split(card)
    else:
        test_split(cards, args.crops)


if __name__ == "__main__":
    main()
