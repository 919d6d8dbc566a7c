#!/usr/bin/env bash
# results.sh's benches of one reference model, run on a lent GPU machine with every layer on
# the GPU (llama.cpp CUDA offload, --backend-option n_gpu_layers=-1). The model (491 MB for the
# 0.5B one) is over what one device call carries (64 MiB), so it travels in pieces, one call
# each, while the machine stays warm (a machine left idle is given back, with what it held);
# pack_bench.sh says how many pieces (the 0.5B model: 9, the last one small):
#   here:   bash benchmarks/gpu/build_llama_cuda.sh 90 /tmp/cudawheel   # 20 min on 2 cores
#           bash benchmarks/gpu/pack_bench.sh /tmp/cudawheel/llama_cpp_python-*.whl
#   there:  bash benchmarks/gpu/bench.sh piece 9 && bash benchmarks/gpu/bench.sh setup
#                     (carry runs/gpu and runs/gpu-model/p9, the small last piece: installs,
#                      smoke test on the model's skeleton)
#           bash benchmarks/gpu/bench.sh piece N      (carry runs/gpu-model/pN), N = 1 ... 7
#           bash benchmarks/gpu/bench.sh piece 8 && bash benchmarks/gpu/bench.sh run SECONDS
#                     (carry runs/gpu-model/p8; results in $OUT/bench.tar.gz)
# Each piece call took under 10 s of device time on an H200 (2026-11-27). `run` checks the
# model's SHA-256, then starts results.sh's bench commands for the model (DRY_RUN=1 prints
# them) on the suites that need no browser and no ALFWorld install, one process per seed and
# bench, each pinned to its own CPU, each into runs/bench/gpu-NAME (NAME: results.sh's folder);
# at SECONDS they are stopped (SIGTERM, then SIGKILL 60 s later; every finished episode is
# kept). Each bench runs task by task, every strategy on a task before the next, so a stopped
# run still compares like with like; `run` again on the same machine resumes.
set -uo pipefail
OUT="${OUT:-/tmp/gpu-out}"
MODEL="${MODEL:-qwen2.5-coder-0.5b-instruct}"
export AIP_SDK_MODELS=/tmp/models AIP_SDK_DATA=/tmp/data
mkdir -p "$OUT" /tmp/models /tmp/data /tmp/pieces
source benchmarks/gpu/cuda_env.sh   # the CUDA runtime libraries on LD_LIBRARY_PATH
export PYTHONPATH="/tmp/llamacuda" PYTHONUNBUFFERED=1
AIP="$(dirname "$(command -v python3)")/aip-sdk"
case "${1:?usage: bench.sh setup | piece N | run SECONDS}" in
  setup)
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    cp runs/gpu/MODEL_SHA256 /tmp/models/
    mkdir -p /tmp/llamacuda && tar -C /tmp/llamacuda -xJf runs/gpu/llama_cpp_cuda.tar.xz
    tar -C /tmp/data -xJf runs/gpu/planbench.tar.xz
    python3 -m pip install -q --no-index --no-deps --no-compile runs/gpu/*.whl 2>&1 | tail -2
    python3 benchmarks/gpu/skeleton.py inflate runs/gpu/bench-model.skel /tmp/skeleton.gguf
    # The whole path on the skeleton (random weights: its actions mean nothing).
    "$AIP" bench --suite blocksworld --split basic --episodes 1 --max-steps 2 \
      --strategy fixed:k=4,peek=1 --strategy learned --model /tmp/skeleton.gguf \
      --backend llamacpp --backend-option n_gpu_layers=-1 --out /tmp/smoke 2>&1 | tail -3
    grep -ho '"device":"[a-z]*"' /tmp/smoke/episodes/*.json | sort | uniq -c
    ;;
  piece)
    mv "runs/gpu-model/p${2:?piece number}"/* /tmp/pieces/ && ls -l /tmp/pieces
    ;;
  run)
    SECONDS_LEFT=${2:?seconds to run}
    file=$(cut -d' ' -f3 < /tmp/models/MODEL_SHA256)
    [[ -f "/tmp/models/$file" ]] || cat /tmp/pieces/part.* > "/tmp/models/$file"
    (cd /tmp/models && sha256sum -c MODEL_SHA256) || exit 1
    rm -f /tmp/pieces/part.*
    mapfile -t CMDS < <(BENCH_ARGS="--backend llamacpp --backend-option n_gpu_layers=-1" \
                          DRY_RUN=1 bash scripts/results.sh | grep -F "bench --model $MODEL " |
                          grep -v -e "--suite miniwob" -e "--suite alfworld")
    i=0
    for cmd in "${CMDS[@]}"; do
      seeds=$(grep -o -- "--seeds [0-9]*" <<< "$cmd" | cut -d' ' -f2)
      for ((s = 0; s < seeds; s++)); do
        # shellcheck disable=SC2001  # one command line, edited: one seed, no Ray, on the GPU
        args=$(sed -e "s/^aip-sdk //; s/--executor ray --workers [0-9]*//" \
                   -e "s/--seeds [0-9]*/--seeds 1 --first-seed $s/" \
                   -e "s#--out runs/bench/#--out runs/bench/gpu-#" <<< "$cmd")
        # shellcheck disable=SC2086  # the printed command's words
        timeout -s TERM -k 60 "$SECONDS_LEFT" taskset -c $((i % $(nproc))) "$AIP" $args \
          > "/tmp/bench-$i.log" 2>&1 &
        i=$((i + 1))
      done
    done
    wait
    tail -n 2 /tmp/bench-*.log
    tar -czf "$OUT/bench.tar.gz" runs/bench/gpu-* /tmp/bench-*.log
    ls -l "$OUT"
    ;;
esac
