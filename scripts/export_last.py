"""Export a run's *latest* weights (its last.pt; the EMA of the weights when the run keeps one)
as a model card, with the peak threshold of the validation nearest that step — for a run
stopped at a step chosen by a rule on validation rather than by its own best score.

    python scripts/export_last.py runs/typed-joint typed-joint --to /tmp/cards
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("name")
    ap.add_argument("--to", type=Path, required=True, help="folder for NAME.json + NAME.pt")
    args = ap.parse_args()

    from wnet_gui.training.trainer import export_run

    state = torch.load(args.run_dir / "last.pt", map_location="cpu", weights_only=False)
    step = int(state["step"])
    if state.get("ema"):
        weights = {k[len("module."):]: v for k, v in state["ema"].items() if k.startswith("module.")}
    else:
        weights = state["model"]
    validations = [json.loads(line) for line in open(args.run_dir / "log.jsonl") if '"step"' in line]
    if not validations:
        raise SystemExit(f"{args.run_dir}: no validation in log.jsonl to take a threshold from")
    nearest = min(validations, key=lambda r: abs(r["step"] - step))
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(args.run_dir / "config.json", Path(tmp) / "config.json")
        torch.save({"model": weights, "best": {**nearest["val"], "step": step}}, Path(tmp) / "best.pt")
        card = export_run(tmp, args.to, name=args.name)
    print(f"step {step} ({'EMA' if state.get('ema') else 'raw'} weights), threshold {nearest['val']['threshold']:g} "
          f"from the validation at step {nearest['step']} → {args.to / (card.name + '.json')}")


if __name__ == "__main__":
    main()
