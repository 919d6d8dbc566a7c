#!/usr/bin/env bash
# Produce docs/results.md: live benches on the reference models (every number on the page comes
# from these runs; nothing is replayed from traces).
#   bash scripts/results.sh [TASKS] [SEEDS]
# Every bench is resumable (re-run to continue) and runs on Ray with one worker pinned to each
# CPU (--executor ray), seed by seed, task by task, every strategy on a task before the next, so
# a run stopped part-way still compares like with like. Order: what the controller's claims rest
# on first (qwen2.5-coder-0.5b on grid and Blocksworld), then the other suites and Logistics (the
# unseen domain), then the costly strategies on a subset, then qwen2.5-coder-1.5b.
#   DRY_RUN=1 bash scripts/results.sh   prints the commands instead of running them.
# Size at the defaults (10 tasks, 3 seeds): 3,000 episodes (168 of them the model-free heuristic,
# seconds in all). Measured per episode on one core of the 2-core development machine
# (2026-11-27): the 0.5B model 37-59 s on grid; the 1.5B model 80-204 s on grid, 133-295 s on
# Blocksworld, 340-370 s on Logistics `short`. The 1.5B part alone (1,020 episodes, 60 of them the
# heuristic) is about 60 core-hours: plan on days with 2 cores, or run it where there are more
# (--workers follows nproc). Every folder resumes where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${DRY_RUN:-}" ]]; then
  aip-sdk() { echo "aip-sdk $*"; }
  python3() { echo "python3 $*"; }
fi
TASKS=${1:-10}
SEEDS=${2:-3}
Q05=qwen2.5-coder-0.5b-instruct
Q15=qwen2.5-coder-1.5b-instruct
for m in $Q05 $Q15; do aip-sdk models pull "$m"; done
RAY=(--executor ray --workers "$(nproc)")  # one worker per CPU this process may use
# BENCH_ARGS: more options for every bench, e.g. BENCH_ARGS="--backend-option n_gpu_layers=-1"
# on a machine with a GPU (benchmarks/gpu/bench.sh runs these commands on a lent one).
read -r -a EXTRA <<< "${BENCH_ARGS:-}"

# Strategies under 4x the tokens of fixed:k=1 (measured in docs/headroom.md): every task x seed.
# Adaptive- and Early-Stopping Self-Consistency vote over sampled actions here (depth=0, as the
# controller's votes do); with their papers' reasoning first (depth 1) they are in COSTLY.
# MiniWoB++ runs in a live browser that cannot be copied: no lookahead there (CHEAP_NOCOPY).
CHEAP_NOCOPY=(--strategy fixed:k=0 --strategy fixed:k=1 --strategy fixed:k=4
              --strategy fixed:k=4,vote=weighted
              --strategy conf:threshold=0.6,low_k=0,high_k=4,high_depth=0 --strategy learned
              --strategy ac:depth=0 --strategy esc:depth=0)
# Peek (each candidate tried alone in a copy, no rollout), the gate that peeks by default and
# looks ahead once the episode has gone 2 steps without goal progress, peek over every action
# with the samples first (widen), the controller asked only where that rating ties
# (learned:widen=1), a one-step lookahead over the tied actions alone (the best quality on
# grid and Logistics, docs/results-baselines.md), and the model-free floor: the environment's
# rating of every admissible action alone (heuristic, no token): copyable suites only.
CHEAP=("${CHEAP_NOCOPY[@]}" --strategy fixed:k=4,lookahead=1 --strategy fixed:k=4,peek=1
       --strategy conf:threshold=0,low_k=4,low_peek=1,high_k=4,high_depth=0,high_lookahead=1,stall=2
       --strategy fixed:k=4,peek=1,widen=1 --strategy fixed:k=4,peek=1,widen=1,lookahead=1
       --strategy learned:widen=1 --strategy heuristic)
# Dearer: on seed 0 of every task (the same tasks come first in every folder).
COSTLY=(--strategy fixed:k=4,lookahead=2 --strategy fixed:k=1,depth=1 --strategy sc:k=8
        --strategy ac --strategy esc --strategy oracle)

OUTS=()  # the folders this script writes: the page reads these, not older ones beside them
bench() {  # bench MODEL DIR ARGS...
  local model=$1 dir=$2
  shift 2
  OUTS+=("runs/bench/$dir")
  aip-sdk bench --model "$model" --seeds "$SEEDS" "${RAY[@]}" "${EXTRA[@]}" \
    --out "runs/bench/$dir" "$@"
}
# 1. qwen2.5-coder-0.5b: the controller's claims (held-out grid seeds, PlanBench 4-5 blocks).
bench $Q05 q05-grid --suite grid --split test --episodes "$TASKS" "${CHEAP[@]}"
bench $Q05 q05-blocksworld --suite blocksworld --split basic --episodes "$TASKS" "${CHEAP[@]}"
# 2. Logistics (never trained on; its plans of at most 12 steps, Blocksworld's horizon: see
#    docs/suites.md) and the other suites.
LOGISTICS=(--suite pddl --domain logistics --split short)
bench $Q05 q05-logistics-short "${LOGISTICS[@]}" --episodes "$TASKS" "${CHEAP[@]}"
bench $Q05 q05-miniwob --suite miniwob --split test --episodes "$TASKS" "${CHEAP_NOCOPY[@]}"
ALF=$((TASKS * 6 / 10)); ((ALF > 0)) || ALF=1  # ALFWorld games are long: 6 per 10 tasks, at least 1
bench $Q05 q05-alfworld --suite alfworld --split valid_seen --episodes "$ALF" \
  "${CHEAP[@]}"
# 3. The costly strategies and the oracle on seed 0 only: every task once, a third of the episodes.
SEEDS=1 bench $Q05 q05-grid-costly --suite grid --split test --episodes "$TASKS" "${COSTLY[@]}"
SEEDS=1 bench $Q05 q05-blocksworld-costly --suite blocksworld --split basic --episodes "$TASKS" \
  "${COSTLY[@]}"
# 4. qwen2.5-coder-1.5b (3-4x slower): the cheap strategies, a vote of 8 (what its controller
#    mostly chooses) and the oracle, TASKS tasks x 2 seeds (>= 20 episodes at the default 10).
for spec in "grid|--suite grid --split test" "blocksworld|--suite blocksworld --split basic" \
            "logistics-short|${LOGISTICS[*]}"; do
  # shellcheck disable=SC2086  # the suite's options, split on spaces
  SEEDS=2 bench $Q15 "q15-${spec%%|*}" ${spec#*|} --episodes "$TASKS" "${CHEAP[@]}" \
    --strategy fixed:k=8 --strategy oracle
done
python3 scripts/results_page.py "${OUTS[@]}" --unseen q05-logistics-short \
  --unseen q15-logistics-short --note docs/notes/results-status.md \
  --command "bash scripts/results.sh $TASKS $SEEDS" --out docs/results.md
