#!/usr/bin/env bash
# Produce docs/headroom.md: the map of where extra inference compute pays, per model and suite.
#   bash scripts/headroom.sh [STATES] [STATES_1.5B]
# Pulls the reference models first (aip-sdk models pull; about 1.6 GB from PyPI). Each (model,
# suite) job measures its labelled states into runs/headroom (one file per state: resumable);
# the jobs are spread over the CPUs this process may use, one process pinned to each.
set -euo pipefail
cd "$(dirname "$0")/.."
STATES=${1:-40}
STATES_BIG=${2:-20}
for m in qwen2.5-coder-0.5b-instruct qwen2.5-coder-1.5b-instruct; do aip-sdk models pull "$m"; done
JOBS=()
for suite in grid blocksworld alfworld miniwob; do
  JOBS+=("--model smollm2-135m-instruct --suite $suite --states $STATES")
  JOBS+=("--model qwen2.5-coder-0.5b-instruct --suite $suite --states $STATES")
  JOBS+=("--model qwen2.5-coder-1.5b-instruct --suite $suite --states $STATES_BIG")
done
read -r -a CPUS <<< "$(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)))')"
pids=()
for ((c = 0; c < ${#CPUS[@]}; c++)); do
  (
    for ((j = c; j < ${#JOBS[@]}; j += ${#CPUS[@]})); do
      # shellcheck disable=SC2086  # the job strings are meant to split into words
      taskset -c "${CPUS[c]}" python3 benchmarks/headroom.py run ${JOBS[j]} --work runs/headroom
    done
  ) &
  pids+=("$!")
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
((failed == 0)) || { echo "a headroom job failed; re-run to resume" >&2; exit 1; }
python3 benchmarks/headroom.py report --work runs/headroom --out docs/headroom.md
