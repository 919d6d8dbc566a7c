#!/usr/bin/env bash
# Train a model's controllers from its traces (scripts/collect.sh MODEL), replay then live.
#   bash scripts/train.sh MODEL [LIVE_STEPS]
# Writes runs/controllers/MODEL/controller-betaB.onnx for each beta and their replay reports
# (runs/controllers/MODEL/report.md); the live phase (PPO on real planning steps, resumable)
# runs LIVE_STEPS steps (default 0) on the training splits of grid and blocksworld.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:?usage: bash scripts/train.sh MODEL [LIVE_STEPS]}
LIVE=${2:-0}
T=runs/traces/$MODEL
OUT=runs/controllers/$MODEL
mkdir -p "$OUT"
TRACES=()
for suite in grid blocksworld miniwob alfworld; do
  if ls "$T/$suite/episodes/"*.json >/dev/null 2>&1; then TRACES+=(--traces "$T/$suite"); fi
done
LIVE_ARGS=()
if ((LIVE > 0)); then
  LIVE_ARGS=(--live-steps "$LIVE" --live-suite grid@train --live-suite blocksworld@generated
             --live-tasks 40 --model "$MODEL")
fi
aip-sdk train-controller "${TRACES[@]}" --beta 0.02 --beta 0.05 --beta 0.1 --beta 0.2 \
  --timesteps 200000 --holdout 0.2 "${LIVE_ARGS[@]}" --out "$OUT/controller.onnx" \
  | tee "$OUT/report.md"
