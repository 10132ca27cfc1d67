"""Can a slide choose its own sensitivity (stage-1 logit offset) without labels? (issue 29)

On each set's *validation* images (safe for choosing a rule) and the NuCLS breast sample (a lab
no model was trained on), for offsets -1 … +2.5 through the engine as `wnet detect` runs:

- pooled F1 at the set's radius: the offset a label-free rule would have to find;
- label-free statistics a rule could read from the slide itself:
  - *flip agreement*: F1 between the points of the image and of its 180° rotation (flipped
    back), within 1.5 µm — a sensitivity where faint nuclei flicker in and out should agree less;
  - *count growth*: d log N / d offset at 0 — a slide whose nuclei stage 2 gates out should gain
    points fast when the offset rises;
  - *stage-1 maxima per point*: local maxima of stage 1's logits above -2 per point kept at 0
    (nucleus evidence stage 1 sees against the centres stage 2 keeps);
  - and, with labels, for diagnosis only: the median stage-1 logit at the true centres.

A statistic is worth a rule only if it ranks the sets as their best offsets do. ``--added DIR``
also counts, per set, the points offset +1 adds to those of 0 (none of 0's within 1.5 µm) that
match a true nucleus, and writes a sheet of 32 random unmatched ones to look at.

    python scripts/label_free_sensitivity.py [--model accurate] [--sets monuseg crchisto consep nucls] [--added DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy import ndimage as ndi
from skimage.feature import peak_local_max

from wnet_gui import datasets
from wnet_gui.detection.metrics import count_matches, match_points
from wnet_gui.engine.predict import DensityPredictor
from wnet_gui.evaluation import Annotated, annotated, detect_all
from wnet_gui.models.zoo import resolve_card

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tissue_check_cost's crop sheet
OFFSETS = (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5)
AGREEMENT_UM = 1.5


def images_of(name: str) -> tuple[list[Annotated], float]:
    """A set's validation images and its matching radius in µm (NuCLS: both its splits)."""
    if name == "nucls":
        from wnet_gui.datasets import nucls

        return [annotated(t) for t in nucls.load_split("train") + nucls.load_split("test")], 3.0
    radius = datasets.REPORTED_RADII[name][-1]
    tiles = datasets.load(name, "val")
    return [annotated(t) for t in tiles], radius.pixels(tiles[0].mpp) * tiles[0].mpp


def rotated(a: Annotated) -> Annotated:
    return Annotated(a.name, np.ascontiguousarray(a.image[::-1, ::-1]), a.mpp, a.centres)


def stage1_logits(predictor: DensityPredictor, net, a: Annotated) -> tuple[np.ndarray, float]:
    """Stage 1's logits (``net``: the predictor's model in fp32) over the image at the model's
    scale, and that scale's factor."""
    f = a.mpp / predictor.card.mpp
    img = a.image if abs(f - 1) < 1e-3 else cv2.resize(a.image, None, fx=f, fy=f,
                                                        interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    h, w = img.shape[:2]
    padded = np.full((-(-h // 32) * 32, -(-w // 32) * 32, 3), 255, np.uint8)
    padded[:h, :w] = img
    with torch.inference_mode():
        out = net(predictor.to_tensor(padded[None]))
    return out["mask_logits"][0, 0, :h, :w].float().numpy(), f


def added_points(predictor, name: str, images: list[Annotated], radius_um: float, sheet_dir: Path) -> None:
    """What raising the offset from 0 to +1 adds: how many of the added points match a true
    nucleus, and a sheet of 32 random unmatched ones."""
    from tissue_check_cost import write_crops

    matched, unmatched, where = 0, 0, []
    base, raised = detect_all(predictor, images), detect_all(predictor.with_sensitivity(1.0), images)
    for a, zero, one in zip(images, base, raised):
        if not len(one.centres):
            continue
        gap = (np.sqrt(((one.centres[:, None] - zero.centres[None]) ** 2).sum(-1)).min(1) if len(zero.centres)
               else np.full(len(one.centres), np.inf))
        added = gap > AGREEMENT_UM / a.mpp
        hit = np.zeros(len(one.centres), bool)
        hit[match_points(one.centres, a.centres, radius_um / a.mpp)[0]] = True
        matched += int((added & hit).sum())
        unmatched += int((added & ~hit).sum())
        where += [(a, xy) for xy in one.centres[added & ~hit]]
    print(f"{name}: offset +1 adds {matched + unmatched} points, {matched} on a true nucleus")
    if where:
        pick = np.random.default_rng(0).choice(len(where), min(32, len(where)), replace=False)
        write_crops([(where[k][0].image, where[k][1]) for k in pick], sheet_dir / f"added-{name}.png")
        print(f"  {len(pick)} unmatched ones: {sheet_dir / f'added-{name}.png'}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="accurate")
    ap.add_argument("--sets", nargs="+", default=["monuseg", "crchisto", "consep", "nucls"])
    ap.add_argument("--added", type=Path, default=None, help="also count what offset +1 adds, with a sheet of crops per set here")
    args = ap.parse_args()
    card = resolve_card(args.model)
    predictor = DensityPredictor.from_card(card, "cpu", "auto")
    net = card.load_model("cpu").eval()
    print(f"{card.title}, validation images (NuCLS: all 15); pooled over each set\n")
    print("| set | images | F1 at offset " + " / ".join(f"{o:+.1f}" for o in OFFSETS) + " | best | flip agreement, best at "
          "| count growth at 0 | stage-1 maxima > -2 per point | median stage-1 logit at true centres |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for name in args.sets:
        images, radius_um = images_of(name)
        truth = sum(len(a.centres) for a in images)
        tp, found, agree_tp, agree_n = (np.zeros(len(OFFSETS)) for _ in range(4))
        for k, offset in enumerate(OFFSETS):
            p = predictor.with_sensitivity(offset)
            for a, run, flipped in zip(images, detect_all(p, images), detect_all(p, [rotated(x) for x in images])):
                h, w = a.image.shape[:2]
                back = np.asarray(flipped.centres, np.float64).reshape(-1, 2) * -1 + [w, h]
                tp[k] += count_matches(run.centres, a.centres, radius_um / a.mpp).tp
                found[k] += len(run.centres)
                agree_tp[k] += count_matches(run.centres, back, AGREEMENT_UM / a.mpp).tp
                agree_n[k] += (len(run.centres) + len(back)) / 2
        maxima, at_truth = 0, []
        for a in images:
            logits, f = stage1_logits(predictor, net, a)
            maxima += len(peak_local_max(logits, min_distance=int(round(2.0 / card.mpp)), threshold_abs=-2.0, exclude_border=False))
            c = np.clip(np.round(a.centres * f).astype(int), 0, [logits.shape[1] - 1, logits.shape[0] - 1])
            at_truth.append(ndi.maximum_filter(logits, size=9)[c[:, 1], c[:, 0]])
        f1 = 2 * tp / (found + truth)
        agreement = agree_tp / np.maximum(agree_n, 1)
        zero = OFFSETS.index(0.0)
        growth = np.log(found[zero + 1] / found[zero]) / (OFFSETS[zero + 1] - OFFSETS[zero])
        print(f"| {name} | {len(images)} | " + " / ".join(f"{v:.3f}" for v in f1) + f" | {OFFSETS[int(f1.argmax())]:+.1f} "
              f"| {OFFSETS[int(agreement.argmax())]:+.1f} ({agreement.max():.3f}) | {growth:.2f} | {maxima / found[zero]:.2f} "
              f"| {np.median(np.concatenate(at_truth)):.2f} |", flush=True)
        if args.added is not None:
            added_points(predictor, name, images, radius_um, args.added)


if __name__ == "__main__":
    main()
