#!/usr/bin/env bash
# The GPU check, run by the device tool on a lent GPU machine (no package index there):
#   1. here:  bash benchmarks/gpu/build_llama_cuda.sh 90 /tmp/cudawheel   # the CUDA wheel
#             bash benchmarks/gpu/pack.sh /tmp/cudawheel/llama_cpp_python-*.whl   # runs/gpu
#   2. there: bash benchmarks/gpu/run.sh            (with runs/gpu carried; results in $OUT)
set -uo pipefail
OUT="${OUT:-/tmp/gpu-out}"
mkdir -p "$OUT"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 --version
  python3 -m pip install -q --no-deps --no-index runs/gpu/*.whl 2>&1 | tail -2
  mkdir -p /tmp/llamacuda && tar -C /tmp/llamacuda -xJf runs/gpu/llama_cpp_cuda.tar.xz
  source benchmarks/gpu/cuda_env.sh   # the CUDA runtime libraries on LD_LIBRARY_PATH
  export PYTHONPATH="/tmp/llamacuda:$PWD:$PWD/backends/llamacpp:$PWD/backends/onnx"
  python3 -c "import llama_cpp; print('llama.cpp GPU offload:', llama_cpp.llama_supports_gpu_offload())"
  python3 benchmarks/gpu/skeleton.py inflate runs/gpu/model.skel /tmp/model.gguf
  ONNX=()
  if [[ -f runs/gpu/smollm2.skel ]]; then
    python3 benchmarks/gpu/skeleton.py inflate runs/gpu/smollm2.skel /tmp/smollm2.gguf
    ONNX=(--onnx-model /tmp/smollm2.gguf)
  fi
  python3 benchmarks/gpu/gpu_check.py --model /tmp/model.gguf "${ONNX[@]}" --out "$OUT" --repeats 5
} 2>&1 | tee "$OUT/gpu_check.log"
