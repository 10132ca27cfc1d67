#!/usr/bin/env bash
# CRCHisto test split through the user-facing commands: `wnet detect` on the 20 test images
# (tissue detection on, --mpp 0.5 since the .bmp files carry no scale), then `wnet evaluate`
# against the published centres at the benchmark's 6 px radius.
#   [MPP=0.55] bash scripts/crchisto_cli_check.sh [MODEL]   (default: accurate at --mpp 0.5;
#   MPP=0.55 declares the scale the dataset's README gives)
set -euo pipefail
MODEL=${1:-accurate}
MPP=${MPP:-0.5}
DATA=${DATA:-../shared/data/crchisto/test}
OUT=runs/crc_detect_$MODEL
rm -rf "$OUT"  # a folder run skips slides already done: start clean so no stale results count
time wnet detect "$DATA"/*.bmp --mpp "$MPP" --model "$MODEL" -o "$OUT"/
preds=(); truths=()
for image in "$DATA"/*.bmp; do
    name=$(basename "$image" .bmp)
    preds+=("$OUT/$name.geojson"); truths+=("$DATA/${name}_detection.mat")
done
wnet evaluate --pred "${preds[@]}" --truth "${truths[@]}" --radius 6
