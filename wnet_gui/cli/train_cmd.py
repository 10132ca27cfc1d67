"""``wnet train`` and ``wnet export-model``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from ..training.config import TrainConfig
    from ..training.trainer import Trainer, load_training_tiles

    cfg = TrainConfig.load(args.config)
    if args.steps:
        cfg.steps = args.steps
    trainer = Trainer(cfg, args.run_dir or Path("runs") / cfg.name)
    best = trainer.run(load_training_tiles(cfg, "fit"), load_training_tiles(cfg, "val"), resume=not args.restart)
    print(json.dumps(best, indent=2))
    return 0


def export(args: argparse.Namespace) -> int:
    from ..models.zoo import zoo_dir
    from ..training.trainer import export_run

    try:
        card = export_run(args.run_dir, args.to or zoo_dir(), args.name, args.display_name, args.description, step=args.step,
                          detector_only=args.detector_only)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {card.path} and {card.weights_path} (sha256 {card.sha256[:12]}…)")
    return 0


def train_nuclick(args: argparse.Namespace) -> int:
    from ..nuclick.training import train_nuclick as train

    best = train(args.run_dir, width=args.width, steps=args.steps, batch=args.batch, threads=args.threads, precision=args.precision)
    print(json.dumps(best, indent=2))
    return 0


def export_nuclick(args: argparse.Namespace) -> int:
    from ..models.zoo import zoo_dir
    from ..nuclick.training import export_nuclick as export_run

    card = export_run(args.run_dir, args.to or zoo_dir())
    print(f"wrote {card.path} and {card.weights_path}")
    return 0
