#!/usr/bin/env bash
# Produce docs/results.md: live bench runs on every suite, then one page with tables and plots.
#   bash scripts/results.sh [EPISODES] [SEEDS]
# Every run is resumable: re-running continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
EPISODES=${1:-20}
SEEDS=${2:-3}
STRATS=(
  --strategy fixed:k=1,depth=0 --strategy fixed:k=4,depth=0 --strategy fixed:k=8,depth=0
  --strategy fixed:k=1,depth=1 --strategy fixed:k=4,depth=1 --strategy fixed:k=8,depth=1
  --strategy sc:k=8 --strategy ac --strategy esc --strategy conf --strategy learned --strategy oracle
)
aip-sdk bench --suite blocksworld --split basic --episodes "$EPISODES" --seeds "$SEEDS" "${STRATS[@]}" --out runs/bench/blocksworld
aip-sdk bench --suite grid --split test --episodes "$EPISODES" --seeds "$SEEDS" "${STRATS[@]}" --out runs/bench/grid
aip-sdk bench --suite alfworld --split valid_seen --episodes "$EPISODES" --seeds "$SEEDS" "${STRATS[@]}" --out runs/bench/alfworld
aip-sdk bench --suite miniwob --split test --episodes "$EPISODES" --seeds "$SEEDS" "${STRATS[@]}" --out runs/bench/miniwob
python3 scripts/results_page.py runs/bench/* --out docs/results.md
