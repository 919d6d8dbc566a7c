#!/usr/bin/env bash
# Produce docs/headroom.md: the map of where extra inference compute pays, per model and suite.
#   bash scripts/headroom.sh [STATES] [STATES_1.5B]
# Pulls the reference models first (aip-sdk models pull; about 1.6 GB from PyPI). Each (model,
# suite) job measures its labelled states into runs/headroom (one file per state: resumable);
# the jobs are spread over the CPUs this process may use, one process pinned to each, the 0.5B
# model first. ALFWorld states cost 4-8x the others (long prompts, 20-50 actions, lookahead
# reloads the game), so ALFWorld gets 60% of the states.
set -euo pipefail
cd "$(dirname "$0")/.."
STATES=${1:-40}
STATES_BIG=${2:-20}
for m in qwen2.5-coder-0.5b-instruct qwen2.5-coder-1.5b-instruct; do aip-sdk models pull "$m"; done
JOBS=()
for model in qwen2.5-coder-0.5b-instruct smollm2-135m-instruct qwen2.5-coder-1.5b-instruct; do
  n=$STATES
  [[ $model == qwen2.5-coder-1.5b-instruct ]] && n=$STATES_BIG
  for suite in grid blocksworld miniwob alfworld; do
    k=$n
    [[ $suite == alfworld ]] && k=$((n * 3 / 5))
    JOBS+=("--model $model --suite $suite --states $k")
  done
done
source scripts/lib/pinned.sh
CMDS=()
for job in "${JOBS[@]}"; do CMDS+=("python3 benchmarks/headroom.py run $job --work runs/headroom"); done
run_pinned "${CMDS[@]}" || { echo "a headroom job failed; re-run to resume" >&2; exit 1; }
python3 benchmarks/headroom.py report --work runs/headroom --out docs/headroom.md
