#!/usr/bin/env bash
# Hypothesis fuzzing of slides, model cards, snapshots and GeoJSON with more cases than CI
# runs; prints per test: cases, worst seconds for one case, peak RSS of the process (MB),
# and the slowest case. Usage: bash scripts/fuzz_report.sh [EXAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."
report=$(mktemp)
WNET_FUZZ_EXAMPLES="${1:-500}" WNET_FUZZ_REPORT="$report" QT_QPA_PLATFORM=offscreen \
  python -m pytest -q -p no:cacheprovider tests/test_fuzz_hostile.py
printf 'test\tcases\tworst_s\tpeak_rss_mb\tslowest case\n'
cat "$report"
rm -f "$report"
