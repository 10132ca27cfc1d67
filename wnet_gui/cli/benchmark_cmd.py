"""``wnet benchmark-accuracy``, ``wnet benchmark-speed`` and ``wnet models``."""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from .. import datasets
from ..datasets import REPORTED_RADII
from ..detection.metrics import MATCH_RADIUS_UM, count_matches, pooled
from ..evaluation import annotated, detect_all, pooled_tally, recall_by_type, tally_runs
from ..engine.detect import DetectOptions, run_detection
from ..geometry import Rect
from ..engine.tiling import fitted_tile_size, plan_tiles
from ..engine.device import select_device
from ..engine.predict import DensityPredictor
from ..models.zoo import list_cards, resolve_card, zoo_dir
from ..slides import ArraySlide

def evaluate_card(card, tiles, device: str = "auto", dataset: str = "monuseg", precision: str = "auto", tta: bool = False) -> dict[str, dict]:
    """Pooled counts of one model over annotated tiles, at the dataset's reported radii; on
    typed truth also detection recall per type, and a typing model's type metrics."""
    predictor = DensityPredictor.from_card(card, select_device(device), precision).with_tta(tta)
    images = [annotated(t) for t in tiles]
    runs = detect_all(predictor, images, device=device)
    result = {}
    for position, radius in enumerate(REPORTED_RADII[dataset]):
        tally = pooled_tally(tally_runs(runs, images, (-1.0,), lambda a: radius.pixels(a.mpp))[-1.0])
        result[radius.label] = tally.detection.as_dict()
        if position == 0 and any(t.types is not None for t in tiles):
            result["recall_by_type"] = recall_by_type(tally)
            if card.architecture.types:
                report = tally.report()
                result["types"] = {k: report[k] for k in ("type_accuracy", "weighted_f1", "mean_fc", "fc", "per_type")}
    return result


def accuracy(args: argparse.Namespace) -> int:
    if (args.sensitivity is not None or args.tta) and args.update_card:
        raise ValueError("--update-card stores what the cards do as they are: drop --sensitivity and --tta")
    typed = any(resolve_card(name).architecture.types for name in args.models)
    tiles = datasets.load(args.dataset, args.split, typed)
    n_truth = sum(len(t.centres) for t in tiles)
    print(f"{args.dataset} {args.split}: {len(tiles)} images, {n_truth} nuclei; pooled counts, one-to-one matching")
    print(f"{'model':28s} {'radius':>10s} {'TP':>6s} {'FP':>6s} {'FN':>6s} {'P':>6s} {'R':>6s} {'F1':>6s}")
    for name in args.models:
        card = resolve_card(name)
        if args.sensitivity is not None:
            if not card.architecture.two_stage:
                raise ValueError(f"--sensitivity needs two-stage W-Net models; {card.title} has one stage")
            card.peaks.sensitivity = args.sensitivity
        start = time.monotonic()
        result = evaluate_card(card, tiles, args.device, args.dataset, args.precision, args.tta)
        for label, m in result.items():
            if label == "recall_by_type":
                print("  detection recall by truth type: " + ", ".join(f"{t} {r:.3f}" for t, r in m.items()))
                continue
            if label == "types":
                print(f"  types over matched typed nuclei: accuracy {m['type_accuracy']:.3f}, weighted F1 {m['weighted_f1']:.3f}; "
                      f"mean F_c {m['mean_fc']:.3f} (" + ", ".join(f"{t} {v:.3f}" for t, v in m["fc"].items()) + ")")
                for t, k in m["per_type"].items():
                    print(f"    {t:14s} P {k['precision']:.3f} R {k['recall']:.3f} F1 {k['f1']:.3f}")
                continue
            print(f"{card.title[:28]:28s} {label:>10s} {m['tp']:6d} {m['fp']:6d} {m['fn']:6d} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f}")
        print(f"  ({time.monotonic() - start:.0f} s, {args.precision} precision{', flips averaged' if args.tta else ''})")
        if args.update_card:
            card.metrics[f"{args.dataset}_{args.split}"] = result
            card.save(card.path)
    return 0


def _best_seconds(work, repeats: int) -> float:
    """Shortest of ``repeats`` timed calls (after one warm-up): on a shared machine noise
    only ever adds time, so the minimum is the best estimate of the code's own cost."""
    work()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def _forward_rate(predictor: DensityPredictor, size: int, batch: int, repeats: int = 5) -> float:
    """Model-pixels per second of the bare forward pass on in-memory tensors."""
    x = torch.randn(batch, 3, size, size)
    return batch * size * size / _best_seconds(lambda: predictor.forward(x), repeats)


def _matmul_peak(threads: int, dtype: torch.dtype = torch.float32) -> float:
    """FLOP/s of a large matmul: the machine's practical peak in that precision."""
    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
    a @ b
    start = time.perf_counter()
    for _ in range(5):
        a @ b
    return 5 * 2 * 2048**3 / (time.perf_counter() - start)


def _model_flops_per_pixel(model: torch.nn.Module, size: int = 256) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 3, size, size))
    return counter.get_total_flops() / (size * size)


def speed(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    # a synthetic 40× region tiled from real MoNuSeg test tiles (all tissue)
    tiles = [t.image for t in datasets.load("monuseg", "test")]
    reps = -(-args.size // 1000)
    canvas = np.concatenate([np.concatenate([tiles[(i + j) % len(tiles)] for i in range(reps)], axis=1) for j in range(reps)], axis=0)
    canvas = np.ascontiguousarray(canvas[: args.size, : args.size])
    slide = ArraySlide("bench", canvas, 0.25)
    peaks = {"fp32": _matmul_peak(args.threads), "bf16": _matmul_peak(args.threads, torch.bfloat16)}
    print(f"{args.threads} threads; matmul peak fp32 {peaks['fp32'] / 1e9:.1f}, bf16 {peaks['bf16'] / 1e9:.1f} GFLOP/s; "
          f"region {args.size}×{args.size} px at 0.25 µm/px")
    print(f"{'model':18s} {'tile':>5s} {'precision':>9s} {'engine Mpx40/s':>15s} {'forward Mpx40/s':>16s} {'overhead':>9s} "
          f"{'GFLOP/Mpx':>10s} {'bound Mpx40/s':>14s}")
    for name in args.models:
        card = resolve_card(name)
        for precision in args.precision:
            predictor = DensityPredictor.from_card(card, "cpu", precision).with_tta(args.tta)
            ds2 = (card.mpp / 0.25) ** 2  # 40× pixels per model pixel
            region = Rect(0, 0, args.size, args.size)
            tile = args.tile_size or fitted_tile_size(region, card.mpp / 0.25, card.tile_size, card.margin)
            options = DetectOptions(skip_background=False, device="cpu", threads=args.threads, tile_size=tile,
                                    batch_size=max(1, 4 * 512**2 // tile**2))
            runs = []
            elapsed = _best_seconds(lambda: runs.append(run_detection(slide, card, options=options, predictor=predictor)), args.repeats)
            run = runs[-1]
            engine = args.size**2 / elapsed / 1e6
            # the forward pass credited with the same useful share of its pixels as the engine
            # (margins and any padding past the region are recomputed work for both)
            n_tiles = len(plan_tiles(region, card.mpp / 0.25, tile, card.margin))
            useful = (args.size**2 / ds2) / (n_tiles * tile**2)
            forward = _forward_rate(predictor, tile, options.batch_size, args.repeats) * ds2 * useful / 1e6
            flops = _model_flops_per_pixel(predictor.model)
            bound = peaks[predictor.precision] / flops * ds2 * useful / 1e6
            print(
                f"{card.title[:18]:18s} {tile:5d} {predictor.precision:>9s} {engine:15.2f} {forward:16.2f} {1 - engine / forward:9.1%} "
                f"{flops / 1e3:10.1f} {bound:14.2f}   ({len(run.centres)} nuclei)",
                flush=True,
            )
            if args.update_card and precision == args.precision[0] and not args.tta:
                card.throughput = {"mpx40_per_s": round(engine, 2), "threads": args.threads, "device": "cpu", "precision": predictor.precision,
                                   "tile_size": tile,
                                   "forward_mpx40_per_s": round(forward, 2), "gflop_per_mpx_model": round(flops / 1e3, 2)}
                card.save(card.path)
    return 0


def list_models(args: argparse.Namespace) -> int:
    cards = list_cards()
    if not cards:
        print("no models found")
        return 1
    for card in cards:
        m = card.metrics.get("monuseg_test", {})
        f1 = m.get("r=3um", {}).get("f1")
        tp = card.throughput.get("mpx40_per_s")
        adapted = card.metrics.get("adaptation_held_back")
        if adapted and adapted.get("after"):
            score = f"held-back F1 {adapted['before']['f1']:.3f} → {adapted['after']['f1']:.3f}"
        else:
            score = f"F1@3µm {f1 if f1 is None else round(f1, 3)}"
        where = "" if card.path is None or card.path.parent == zoo_dir() else f"  [{card.path.parent}]"
        speed = f"{tp} Mpx/s (40×, CPU)" if tp is not None else "speed not measured"
        types = f"  types: {', '.join(card.architecture.types)}" if card.architecture.types else ""
        print(f"{card.name:12s} {card.title:30s} mpp {card.mpp:<5g} {score}  {speed}{types}{where}")
    from ..classify.card import list_classifiers

    for c in list_classifiers():  # taught classes (wnet classes train), for `wnet detect --classifier NAME`
        counts = ", ".join(f"{k} {n}" for k, n in c.counts.items())
        print(f"{c.name:12s} classifier of {c.detector}: {', '.join(c.classes)} (labelled: {counts}; "
              f"cross-validated accuracy {c.cv_accuracy:.3f})  [{c.path.parent}]")
    return 0


def _rasterise(polygons, shape) -> np.ndarray:
    import cv2

    labels = np.zeros(shape, np.int32)
    for k, poly in enumerate(polygons, start=1):
        if poly is not None:
            cv2.fillPoly(labels, [np.round(poly).astype(np.int32)], k)
    return labels


def _segment_all(segmenter, slide, centres: np.ndarray) -> list:
    """NuClick outline (or None) for every centre, in order."""
    polys = [None] * len(centres)
    for batch in segmenter.segment(slide, np.arange(len(centres)), centres, batch_size=32):
        for i, p in zip(batch.ids, batch.polygons):
            polys[int(i)] = p
    return polys


def nuclick_scores(segmenter, tiles, detector_card=None, device: str = "auto") -> dict:
    """Per-nucleus Dice and AJI with true centroids as clicks; with a detector, also the
    automatic chain (detected centres as clicks): AJI and detection F1."""
    import cv2

    from ..detection.segmentation_metrics import aggregated_jaccard_index, dice

    dices, ajis, chain_ajis, counts = [], [], [], []
    predictor = DensityPredictor.from_card(detector_card, select_device(device), segmenter.precision) if detector_card else None
    for tile in tiles:
        slide = ArraySlide(tile.name, tile.image, tile.mpp)
        polys = _segment_all(segmenter, slide, tile.centres)
        truth = tile.instances
        # each click's mask against the instance it was placed on
        for k, poly in enumerate(polys, start=1):
            target = truth == k
            if not target.any():
                continue
            mask = np.zeros(truth.shape, np.uint8)
            if poly is not None:
                cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
            dices.append(dice(mask > 0, target))
        ajis.append(aggregated_jaccard_index(truth, _rasterise(polys, truth.shape)))
        if predictor is not None:
            run = run_detection(slide, detector_card, options=DetectOptions(skip_background=False, device=device), predictor=predictor)
            counts.append(count_matches(run.centres, tile.centres, MATCH_RADIUS_UM / tile.mpp))
            auto = _segment_all(segmenter, slide, run.centres)
            chain_ajis.append(aggregated_jaccard_index(truth, _rasterise(auto, truth.shape)))
    result = {"nuclei": len(dices), "dice_mean": float(np.mean(dices)), "dice_median": float(np.median(dices)),
              "aji": float(np.mean(ajis))}
    if predictor is not None:
        result["chain"] = {"detector": detector_card.name, "aji": float(np.mean(chain_ajis)), **pooled(counts).as_dict()}
    return result


def nuclick(args: argparse.Namespace) -> int:
    from ..nuclick.card import resolve_nuclick_card
    from ..nuclick.engine import NuClickSegmenter

    torch.set_num_threads(args.threads)
    card = resolve_nuclick_card(args.model)
    segmenter = NuClickSegmenter(card, args.device, precision=args.precision)
    tiles = datasets.load("monuseg", args.split)
    detector = resolve_card(args.detector) if args.detector != "none" else None
    start = time.monotonic()
    result = nuclick_scores(segmenter, tiles, detector, args.device)
    print(f"NuClick '{card.name}' on MoNuSeg {args.split}: {result['nuclei']} nuclei clicked at their true centroids")
    print(f"  Dice per nucleus: mean {result['dice_mean']:.3f}, median {result['dice_median']:.3f};  AJI {result['aji']:.3f}")
    if "chain" in result:
        c = result["chain"]
        print(f"  automatic chain ({c['detector']} → NuClick): AJI {c['aji']:.3f}; "
              f"detection P {c['precision']:.3f} R {c['recall']:.3f} F1 {c['f1']:.3f} at 3 µm")
    print(f"  ({time.monotonic() - start:.0f} s)")
    if args.update_card:
        card.metrics[f"monuseg_{args.split}"] = result
        card.save(card.path)
    return 0
