#!/usr/bin/env bash
# The trace collections behind the shipped controllers (docs/training.md), one folder per model
# and suite under runs/traces/MODEL/; resumable, pinned one process per CPU.
#   bash scripts/collect.sh MODEL [EPISODES]
# MODEL: a catalogue name (qwen2.5-coder-0.5b-instruct, smollm2-135m-instruct, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:?usage: bash scripts/collect.sh MODEL [EPISODES]}
N=${2:-40}
OUT=runs/traces/$MODEL
COMMON="--model $MODEL --pool 0:8 --horizon 2"
source scripts/lib/pinned.sh
run_pinned \
  "aip-sdk collect $COMMON --suite grid --split train --episodes $N --max-steps 12 --out $OUT/grid" \
  "aip-sdk collect $COMMON --suite blocksworld --split generated --episodes $N --max-steps 10 --out $OUT/blocksworld" \
  "aip-sdk collect $COMMON --suite miniwob --split train --episodes $((N / 2)) --max-steps 6 --out $OUT/miniwob" \
  "aip-sdk collect $COMMON --suite alfworld --split valid_train --episodes $((N / 4)) --max-steps 10 --follow-expert 0.5 --out $OUT/alfworld"
