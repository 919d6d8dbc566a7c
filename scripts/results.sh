#!/usr/bin/env bash
# Produce docs/results.md: the generalisation study, live bench runs on every suite, one page.
#   bash scripts/results.sh [EPISODES] [SEEDS]
# Needs the collected traces of scripts/collect_default.sh in runs/traces (for the single-suite
# controllers). Every bench run is resumable and runs seed by seed, task by task, every strategy
# on a task before the next, so a run stopped part-way still compares like with like; the page
# pools only the (seed, task) pairs that every strategy of a suite finished.
set -euo pipefail
cd "$(dirname "$0")/.."
EPISODES=${1:-10}
SEEDS=${2:-3}
# Cheapest and most telling first. fixed:k=8,depth=1 is not listed: it is sc:k=8's allocation
# with the same seeds, so its episodes are identical (checked on MiniWoB++: 30 of 30).
CHEAP=(--strategy fixed:k=1,depth=0 --strategy learned --strategy conf
       --strategy fixed:k=4,depth=0 --strategy fixed:k=8,depth=0)
# The oracle (it draws every depth's pool until one holds a good action), reasoning and the
# sampling rules cost 5-100x more per episode: on the long suites they run on fewer tasks.
COSTLY=(--strategy oracle --strategy ac --strategy esc --strategy sc:k=8
        --strategy fixed:k=1,depth=1 --strategy fixed:k=4,depth=1)
STRATS=("${CHEAP[@]}" "${COSTLY[@]}")
TRACES=(runs/traces/alfworld runs/traces/alfworld-expert runs/traces/blocksworld-basic_3
        runs/traces/blocksworld-generated runs/traces/grid runs/traces/miniwob)
GEN=()
for s in alfworld blocksworld grid miniwob; do
  GEN+=(--strategy "learned:runs/generalisation/controller-$s.onnx")
done
# 1. Single-suite controllers: trained and scored in replay, then run live on MiniWoB++ below.
python3 scripts/generalisation.py "${TRACES[@]}" --timesteps 300000 --beta 1 --out runs/generalisation
# 2. Live benches. MiniWoB++ episodes stop after 4 steps (the cap of the first published run, kept
#    so that all seeds and strategies compare).
aip-sdk bench --suite miniwob --split test --episodes "$EPISODES" --seeds "$SEEDS" --max-steps 4 \
  "${STRATS[@]}" "${GEN[@]}" --out runs/bench/miniwob
# The other suites run up to 20-50 steps per episode: the cheap strategies and the oracle (a
# bound: its row shows the episodes it finished) on every task and seed ("<suite>"), every
# strategy on the first tasks of seed 0 ("<suite>-costly"; the tasks come in the same shuffled
# order, so these are the first tasks of the other folder too).
declare -A COSTLY_TASKS=([grid]=4 [blocksworld]=2 [alfworld]=1)
for suite in "grid test grid-test" "blocksworld basic blocksworld" "alfworld valid_seen alfworld"; do
  read -r name split dir <<< "$suite"
  aip-sdk bench --suite "$name" --split "$split" --episodes "$EPISODES" --seeds "$SEEDS" \
    "${CHEAP[@]}" --strategy oracle --out "runs/bench/$dir"
  aip-sdk bench --suite "$name" --split "$split" --episodes "${COSTLY_TASKS[$name]}" --seeds 1 \
    "${STRATS[@]}" --out "runs/bench/$dir-costly"
done
# 3. The page.
python3 scripts/results_page.py runs/bench/miniwob runs/bench/grid-test runs/bench/grid-test-costly \
  runs/bench/blocksworld runs/bench/blocksworld-costly runs/bench/alfworld runs/bench/alfworld-costly \
  --section runs/generalisation/generalisation.md \
  --note "$(cat scripts/results_note.md)" --out docs/results.md
