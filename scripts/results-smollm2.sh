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
# One bench spread over the CPUs this process may use, one process pinned to each (see
# docs/bench.md): `spread "COMMON ARGS" "JOB ARGS" ...` runs job j on CPU j mod n, the jobs of one
# CPU one after the other. Jobs write separate episode files into the same --out; the closing
# call, whose episodes are all on disk, rebuilds results.json, summary.md and pareto.png from them.
read -r -a CPUS <<< "$(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)))')"
spread() {
  local common=$1 c j failed=0
  shift
  local -a jobs=("$@") pids=()
  for ((c = 0; c < ${#CPUS[@]} && c < ${#jobs[@]}; c++)); do
    (
      for ((j = c; j < ${#jobs[@]}; j += ${#CPUS[@]})); do
        # shellcheck disable=SC2086  # the argument strings are meant to split into words
        taskset -c "${CPUS[c]}" aip-sdk bench $common ${jobs[j]}
      done
    ) &
    pids+=("$!")
  done
  for c in "${pids[@]}"; do wait "$c" || failed=1; done
  ((failed == 0)) || { echo "a bench job failed; re-run to resume" >&2; return 1; }
  # shellcheck disable=SC2086
  aip-sdk bench $common ${jobs[-1]} >/dev/null
}
per_seed() { local s; for ((s = 0; s < SEEDS; s++)); do echo "--seeds 1 --first-seed $s"; done; }
per_strategy() { local a; for a in "$@"; do [[ $a == --strategy ]] || echo "--strategy $a"; done; }
# 1. Single-suite controllers: trained and scored in replay, then run live on MiniWoB++ below.
python3 scripts/generalisation.py "${TRACES[@]}" --timesteps 300000 --beta 1 --out runs/generalisation
# 2. Live benches. MiniWoB++ episodes stop after 4 steps (the cap of the first published run, kept
#    so that all seeds and strategies compare).
mapfile -t SEED_JOBS < <(per_seed)
spread "--suite miniwob --split test --episodes $EPISODES --max-steps 4 ${STRATS[*]} ${GEN[*]}
  --out runs/bench/miniwob" "${SEED_JOBS[@]}"
# The other suites run up to 20-50 steps per episode (a cheap ALFWorld episode takes 2-10 CPU
# minutes, so it runs on fewer tasks): the cheap strategies on every task and seed ("<suite>"),
# with the oracle (a bound: its row shows the episodes it finished; on ALFWorld, where one oracle
# episode draws three 16-sample pools per step for 10-20 CPU minutes, on seed 0 only), and every
# strategy on the first tasks of every seed ("<suite>-costly"; the tasks come in the same
# shuffled order, so these are the first tasks of the other folder too).
declare -A TASKS=([grid]=$EPISODES [blocksworld]=$EPISODES
                  [alfworld]=$((EPISODES < 6 ? EPISODES : 6)))
declare -A COSTLY_TASKS=([grid]=6 [blocksworld]=2 [alfworld]=1)
declare -A ORACLE_SEEDS=([grid]=$SEEDS [blocksworld]=$SEEDS [alfworld]=1)
# Every (seed, strategy) of the costly folders is a job, the costly strategies first.
mapfile -t COSTLY_JOBS < <(for ((s = 0; s < SEEDS; s++)); do
  per_strategy "${COSTLY[@]}" "${CHEAP[@]}" | sed "s/\$/ --seeds 1 --first-seed $s/"
done)
for suite in "grid test grid-test" "blocksworld basic blocksworld" "alfworld valid_seen alfworld"; do
  read -r name split dir <<< "$suite"
  spread "--suite $name --split $split --episodes ${TASKS[$name]} ${CHEAP[*]}
    --out runs/bench/$dir" "${SEED_JOBS[@]}"
  spread "--suite $name --split $split --episodes ${TASKS[$name]} --strategy oracle
    --out runs/bench/$dir" "${SEED_JOBS[@]:0:${ORACLE_SEEDS[$name]}}"
  # --reuse: the cheap strategies' and the oracle's episodes on these tasks are already in $dir.
  spread "--suite $name --split $split --episodes ${COSTLY_TASKS[$name]}
    --reuse runs/bench/$dir --out runs/bench/$dir-costly" "${COSTLY_JOBS[@]}"
done
# 3. The page.
python3 scripts/results_page.py runs/bench/miniwob runs/bench/grid-test runs/bench/grid-test-costly \
  runs/bench/blocksworld runs/bench/blocksworld-costly runs/bench/alfworld runs/bench/alfworld-costly \
  --section runs/generalisation/generalisation.md \
  --note "$(cat scripts/results_note.md)" --out docs/results.md
