# Run a list of commands on the CPUs this process may use, one worker pinned to each CPU; each
# worker takes the next command from a shared counter (commands differ a lot in length, so a
# fixed split would leave a CPU idle). Source this file, then: run_pinned CMD1 CMD2 ...
# (each CMD a string, split into words). Returns non-zero if any command failed.
run_pinned() {
  local -a jobs=("$@") cpus pids=()
  read -r -a cpus <<< "$(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)))')"
  local queue
  queue=$(mktemp)
  echo 0 > "$queue"
  local c
  for ((c = 0; c < ${#cpus[@]}; c++)); do
    (
      failed=0
      while j=$(flock "$queue" bash -c 'n=$(cat "$1"); echo $((n + 1)) > "$1"; echo "$n"' _ "$queue") \
        && ((j < ${#jobs[@]})); do
        # shellcheck disable=SC2086  # the command strings are meant to split into words
        taskset -c "${cpus[c]}" ${jobs[j]} || failed=1
      done
      exit $failed
    ) &
    pids+=("$!")
  done
  local failed=0 p
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  rm -f "$queue"
  return $failed
}
