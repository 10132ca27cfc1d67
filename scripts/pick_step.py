"""The stop rule used for the joint typed runs, applied to a run's log: the last validation at
which every *kept* data set is within a tolerance of a reference card's own validation F1 — so a
run that learns a new lab is stopped before it gives up the labs it already served.

    python scripts/pick_step.py runs/typed-joint-long --reference accurate --keep monuseg crchisto --tolerance 0.005

Prints every validation (per-data-set F1, weighted type F1) with the reference's numbers, marks
the step the rule picks, and prints the `wnet export-model … --step N` that exports it (runs with
``keep_validated``). The rule is fixed before any test split is looked at.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--reference", default="accurate", help="card whose training validation F1 is the bar, or \"start\": the run's step-0 validation")
    ap.add_argument("--keep", nargs="+", default=["monuseg", "crchisto"], help="data sets that must stay within the tolerance")
    ap.add_argument("--tolerance", type=float, default=0.005)
    args = ap.parse_args()

    from wnet_gui.models.zoo import resolve_card

    records = [json.loads(line) for line in open(args.run_dir / "log.jsonl") if '"val"' in line]
    if not records:
        raise SystemExit(f"{args.run_dir}: no validation in log.jsonl yet")
    if args.reference == "start":  # the run's own validation of its starting weights (step 0)
        reference = next((r["val"] for r in records if r["step"] == 0), None)
        if reference is None:
            raise SystemExit(f"{args.run_dir}: no step-0 validation (only fine-tunes log one)")
    else:
        reference = resolve_card(args.reference).training.get("validation", {})
    records = [r for r in records if r["step"] > 0]
    bars = {d: reference[f"f1_{d}"] - args.tolerance for d in args.keep}
    names = sorted({k[3:] for r in records for k in r["val"] if k.startswith("f1_")})
    print(f"bar ({args.reference}'s validation − {args.tolerance:g}): " + ", ".join(f"{d} ≥ {b:.4f}" for d, b in bars.items()))
    print("step  " + "  ".join(f"{n:>9}" for n in names) + "  type wF1  within")
    picked = None
    for r in records:
        v = r["val"]
        ok = all(v.get(f"f1_{d}", 0.0) >= b for d, b in bars.items())
        picked = r["step"] if ok else picked
        types = v.get("type_weighted_f1")
        print(f"{r['step']:>4}  " + "  ".join(f"{v.get('f1_' + n, float('nan')):9.4f}" for n in names)
              + f"  {types if types is None else f'{types:8.4f}'}  {'yes' if ok else 'no'}")
    if picked is None:
        raise SystemExit("no validation meets the rule")
    print(f"rule picks step {picked}: wnet export-model {args.run_dir} --step {picked} --name NAME --to DIR")


if __name__ == "__main__":
    main()
