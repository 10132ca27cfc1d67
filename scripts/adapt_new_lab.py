"""Issue 19's measurement: CRCHisto (or CoNSeP) as a new lab for the MoNuSeg-only `fast` model.

    python scripts/adapt_new_lab.py --images 1 3 10 [--seconds 150] [--tune all]
    python scripts/adapt_new_lab.py --dataset consep --images 1 3
    python scripts/adapt_new_lab.py --base typed --dataset consep --images 1 3 --skip-monuseg

For each count, that many *training* images of the data set (a fixed random draw, nested: the 1 is
among the 3, the 3 among the 10) count as reviewed — their marks are the corrected points, the
whole image the reviewed region — `fast` is adapted on them exactly as `wnet adapt` does
(held-back cells, threshold re-chosen on the rest), and the adapted model is measured on the
test split (CRCHisto: F1 at 6 px; CoNSeP: at 12 px, 40×; pooled) and on the MoNuSeg test split (F1 at 3 µm): how much
it learned of the new lab and how much of the old it kept. Wall time covers everything `wnet
adapt` does (reading, the before/after measurement, fine-tuning, saving). A typing base (`typed`)
is given the marks' types too, as a pathologist's reviewed classes, and the type metrics on the
test split (accuracy, weighted F1 over matched typed nuclei, HoVer-Net's mean F_c) are printed.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch


def _types(result: dict) -> str:
    t = result.get("types")
    if not t:
        return ""
    fc = " / ".join(f"{k[:4]} {v:.3f}" for k, v in t["fc"].items())
    return f"; types: accuracy {t['type_accuracy']:.3f}, weighted F1 {t['weighted_f1']:.3f}, F_c {fc}, mean F_c {t['mean_fc']:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="fast")
    ap.add_argument("--dataset", choices=["crchisto", "consep"], default="crchisto")
    ap.add_argument("--images", type=int, nargs="+", default=[1, 3, 10])
    ap.add_argument("--seconds", type=float, default=150.0)
    ap.add_argument("--max-steps", type=int, default=600)
    ap.add_argument("--tune", default="auto")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--positive-weight", type=float, default=1.0)
    ap.add_argument("--stage1", default="none")
    ap.add_argument("--ema", type=float, default=0.0)
    ap.add_argument("--type-weight", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-monuseg", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from wnet_gui.adaptation import AdaptSettings, ReviewedSlide, adapt, prepare, save_adapted
    from wnet_gui import datasets
    from wnet_gui.cli.benchmark_cmd import evaluate_card
    from wnet_gui.datasets import shared_data_dir
    from wnet_gui.datasets.crchisto import CRCHISTO_MPP, load_image
    from wnet_gui.datasets.typed_truth import read_consep, read_crchisto
    from wnet_gui.models.zoo import resolve_card

    base = resolve_card(args.base)
    typed = bool(base.architecture.types)
    root = shared_data_dir() / args.dataset / "train"
    if args.dataset == "crchisto":
        train = sorted(root.glob("*.bmp"), key=lambda p: int(p.stem[3:]))
        mpp, label = CRCHISTO_MPP, "r=6px@20x"
        points = lambda p: read_crchisto(p.with_name(p.stem + "_detection.mat")) if typed else (load_image(p).centres, None)  # noqa: E731
    else:  # CoNSeP: the 4 training tiles held out for the typed model's validation are not drawn
        from wnet_gui.datasets.consep import VALIDATION

        insts = sorted(root.glob("*_inst.png"), key=lambda p: int(p.stem.split("_")[1]))
        train = [p.with_name(p.name.replace("_inst.png", ".jpg")) for p in insts if p.name.replace("_inst.png", "") not in VALIDATION]
        mpp, label = 0.25, "r=12px@40x"
        points = lambda p: read_consep(p.with_name(p.stem + "_inst.png"))  # noqa: E731
    order = np.random.default_rng(args.seed).permutation(len(train))
    crc_test = datasets.load(args.dataset, "test", typed)
    mon_test = None if args.skip_monuseg else datasets.load("monuseg", "test")
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"{cpu}, {torch.get_num_threads()} threads; base {base.name}; budget {args.seconds:g} s; tune {args.tune}, lr {args.lr:g}, "
          f"batch {args.batch}, positive weight {args.positive_weight:g}, stage 1 {args.stage1}")
    b = evaluate_card(base, crc_test, dataset=args.dataset)
    line = f"base: {args.dataset} test P {b[label]['precision']:.3f} R {b[label]['recall']:.3f} F1 {b[label]['f1']:.3f} ({label})" + _types(b)
    if mon_test is not None:
        line += f", MoNuSeg test F1@3µm {evaluate_card(base, mon_test)['r=3um']['f1']:.3f}"
    print(line, flush=True)
    for n in args.images:
        picked = [train[i] for i in order[:n]]
        start = time.monotonic()
        reviewed = [ReviewedSlide(p, xy, None, mpp, kinds if typed else None) for p in picked for xy, kinds in [points(p)]]
        examples = prepare(reviewed, base, seed=args.seed)
        settings = AdaptSettings(tune=args.tune, seconds=args.seconds, max_steps=args.max_steps, lr=args.lr, batch=args.batch, seed=args.seed,
                                 positive_weight=args.positive_weight, stage1=args.stage1, ema_decay=args.ema, type_weight=args.type_weight)
        result = adapt(base, examples, settings)
        card = save_adapted(base, result, [str(p) for p in picked], len(picked), tempfile.mkdtemp() + "/adapted.json")
        wall = time.monotonic() - start
        measured = evaluate_card(card, crc_test, dataset=args.dataset)
        crc = measured[label]
        held = f"held-back F1 {result.before.f1:.3f} -> {result.after.f1:.3f} (threshold {result.threshold:g}, sensitivity {result.sensitivity:+g})"
        if result.after.typed_pairs:
            held += f", type accuracy {result.before.type_accuracy:.3f} -> {result.after.type_accuracy:.3f}"
        line = (f"{n:2d} images ({', '.join(p.stem for p in picked[:3])}{'…' if n > 3 else ''}), {result.nuclei} nuclei, {result.steps} steps: "
                f"wall {wall:.0f} s; {held}; "
                f"{args.dataset} test P {crc['precision']:.3f} R {crc['recall']:.3f} F1 {crc['f1']:.3f}" + _types(measured))
        if mon_test is not None:
            line += f"; MoNuSeg test F1@3µm {evaluate_card(card, mon_test)['r=3um']['f1']:.3f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
