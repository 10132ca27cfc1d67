"""checkpoints/ keeps only the weights a bundled model's lineage needs, each listed with its
sha256 in checkpoints/SHA256SUMS; everything else a run makes stays in the ignored runs/."""

import hashlib
from pathlib import Path

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"


def test_the_kept_weights_are_the_listed_ones_and_match_their_sha256():
    listed = dict(reversed(line.split("  ", 1)) for line in (CHECKPOINTS / "SHA256SUMS").read_text().splitlines() if line.strip())
    present = {str(p.relative_to(CHECKPOINTS)): p for p in CHECKPOINTS.rglob("*.pt")}
    assert sorted(present) == sorted(listed)
    for name, path in present.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == listed[name], name


def test_checkpoints_stay_under_100_mb():
    total = sum(p.stat().st_size for p in CHECKPOINTS.rglob("*") if p.is_file())
    assert total < 100e6, f"checkpoints/ holds {total / 1e6:.0f} MB"
