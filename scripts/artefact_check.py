"""How often a detector marks artefacts — pigment, dust, ink, bare glass — as nuclei.

    python scripts/artefact_check.py accurate typed runs/x/step-800.pt ... [--synthetic] [--real]

``--synthetic`` (validation tiles only, safe for choosing a step): the three sets' ``val``
tiles, scored at 3 µm at each card's threshold, clean and with synthetic artefacts painted
where no true nucleus is (``training.artefacts``, a fixed seed that training never draws):
prints F1 and precision both ways and how many detections lie on an artefact.

``--glass``: only the CMU-1 part of ``--real`` (a fixture with no truth and no test split,
so any model may be looked at there).

``--real`` (run once, on the chosen model: it touches a test image): precision on CRCHisto
``test/img11`` (black pigment and debris; matched within 6 px, the set's radius) and the
points on CMU-1's white background — a point whose 16 µm neighbourhood is glass (bright,
unsaturated), with an overlay written to ``--overlay``.

A ``.pt`` of a run (``best.pt``, ``step-N.pt``) is scored with the card of that run's config.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from wnet_gui import datasets
from wnet_gui.evaluation import Annotated, detect_all, pooled_tally, tally_runs

def on_mask(mask: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Whether each point (x, y) lies on a true pixel of ``mask`` (rounded, clipped to it)."""
    xy = np.clip(np.round(xy).astype(int).reshape(-1, 2), 0, [mask.shape[1] - 1, mask.shape[0] - 1])
    return mask[xy[:, 1], xy[:, 0]]


SEED = 20261203  # the synthetic validation's artefacts; training draws from its own seed
CMU1 = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "wsi" / "CMU-1-Small-Region.svs"


def predictor_for(spec: str):
    from wnet_gui.engine.device import select_device
    from wnet_gui.engine.predict import DensityPredictor
    from wnet_gui.models.checkpoint import load_checkpoint
    from wnet_gui.models.zoo import resolve_card
    from wnet_gui.training.config import TrainConfig
    from wnet_gui.training.trainer import card_from_config

    device = select_device("auto")
    if spec.endswith(".pt"):
        path = Path(spec)
        state = load_checkpoint(path, "cpu")
        card = card_from_config(TrainConfig.load(path.parent / "config.json"), threshold=state["best"]["threshold"])
        model = card.build()
        model.load_state_dict(state["model"])
        return DensityPredictor(model.eval(), card, device)
    return DensityPredictor.from_card(resolve_card(spec), device)


def painted_validation() -> list[tuple[Annotated, Annotated, np.ndarray]]:
    """(clean, painted, artefact coverage) for every validation tile of the three sets."""
    from wnet_gui.training.artefacts import paint_artefacts

    rng = np.random.default_rng(SEED)
    out = []
    for name in datasets.NAMES:
        for tile in datasets.load(name, "val"):
            h, w = tile.image.shape[:2]
            occupied = np.zeros((h, w), np.uint8)
            keep_px = int(round(7.5 / tile.mpp))  # the training rule: 2.5 µm of density + 5 µm
            for x, y in tile.centres:
                cv2.circle(occupied, (int(round(x)), int(round(y))), keep_px, 1, -1)
            crops = max(1, round(h * w * tile.mpp ** 2 / (80 * 80)))  # as many as in training crops of 80 µm
            painted, coverage = paint_artefacts(tile.image, occupied == 0, tile.mpp, rng, count=(2 * crops, 4 * crops))
            clean = Annotated(tile.name, tile.image, tile.mpp, tile.centres, group=name)
            out.append((clean, Annotated(tile.name, painted, tile.mpp, tile.centres, group=name), coverage))
    return out


def synthetic(specs: list[str]) -> None:
    sets = painted_validation()
    print("model | set | clean P / R / F1 | painted P / R / F1 | detections on artefacts")
    for spec in specs:
        predictor = predictor_for(spec)
        threshold = predictor.card.peaks.threshold
        clean = tally_runs(detect_all(predictor, [c for c, _, _ in sets]), [c for c, _, _ in sets], [threshold])[threshold]
        runs = detect_all(predictor, [p for _, p, _ in sets])
        painted = tally_runs(runs, [p for _, p, _ in sets], [threshold])[threshold]
        on = {}
        for (c, _, coverage), run in zip(sets, runs):
            on[c.group] = on.get(c.group, 0) + int(on_mask(coverage, run.centres).sum())
        for group in datasets.NAMES:
            a = pooled_tally([t for t, (c, _, _) in zip(clean, sets) if c.group == group]).detection
            b = pooled_tally([t for t, (c, _, _) in zip(painted, sets) if c.group == group]).detection
            print(f"{spec} | {group} | {a.precision:.3f} / {a.recall:.3f} / {a.f1:.3f} | {b.precision:.3f} / {b.recall:.3f} / {b.f1:.3f} | {on[group]}")


def white_background(rgb: np.ndarray, mpp: float) -> np.ndarray:
    """Glass: the 16 µm neighbourhood is bright and unsaturated on average."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).astype(np.float32)
    k = max(3, int(round(16 / mpp)) | 1)
    value = cv2.blur(hsv[..., 2], (k, k))
    saturation = cv2.blur(hsv[..., 1], (k, k))
    return (value > 215) & (saturation < 20)


def real(specs: list[str], overlay: Path | None, with_img11: bool = True) -> None:
    from wnet_gui.detection.typed_metrics import typed_tally
    from wnet_gui.engine.detect import DetectOptions, run_detection
    from wnet_gui.slides import open_slide

    img11 = next(t for t in datasets.load("crchisto", "test") if t.name.startswith("img11")) if with_img11 else None
    slide = open_slide(CMU1)
    rgb = slide.read_region(0, 0, *slide.dimensions)[..., :3]
    glass = white_background(rgb, slide.mpp)
    print("model | img11 points / matched / precision (6 px) | CMU-1 points / on white background")
    for index, spec in enumerate(specs):
        predictor = predictor_for(spec)
        said = "–"
        if img11 is not None:
            run = detect_all(predictor, [Annotated(img11.name, img11.image, img11.mpp, img11.centres)])[0]
            t = typed_tally(run.centres, [None] * len(run.centres), img11.centres, [None] * len(img11.centres), 6.0).detection
            said = f"{t.tp + t.fp} / {t.tp} / {t.precision:.3f}"
        found = run_detection(slide, predictor.card, options=DetectOptions(device=predictor.device.type), predictor=predictor)
        on_glass = on_mask(glass, found.centres)
        print(f"{spec} | {said} | {len(found.centres)} / {int(on_glass.sum())}")
        if overlay is not None:
            image = rgb.copy()
            image[glass] = (image[glass] * 0.85 + np.array([0, 60, 0]) * 0.15).astype(np.uint8)
            for (x, y), bad in zip(np.round(found.centres).astype(int), on_glass):
                cv2.circle(image, (int(x), int(y)), 6 if bad else 2, (255, 0, 0) if bad else (0, 200, 0), 2 if bad else -1)
            path = overlay.with_name(f"{overlay.stem}-{index}-{Path(spec).stem}{overlay.suffix}")
            cv2.imwrite(str(path), image[..., ::-1])
            print(f"  overlay: {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", help="card names, card .json files or a run's .pt weights")
    ap.add_argument("--synthetic", action="store_true", help="validation tiles with painted artefacts (safe for selection)")
    ap.add_argument("--real", action="store_true", help="img11 (a test image) and CMU-1: once, on the chosen model")
    ap.add_argument("--glass", action="store_true", help="CMU-1's glass only (no test image)")
    ap.add_argument("--overlay", type=Path, default=None, help="write CMU-1 overlays (points on glass in red) as this .png")
    args = ap.parse_args()
    if not (args.synthetic or args.real or args.glass):
        ap.error("say --synthetic, --glass or --real")
    if args.synthetic:
        synthetic(args.models)
    if args.real or args.glass:
        real(args.models, args.overlay, with_img11=args.real)


if __name__ == "__main__":
    main()
