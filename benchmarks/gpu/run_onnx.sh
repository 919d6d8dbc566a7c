#!/usr/bin/env bash
# ONNX Runtime's CUDA execution provider through the SDK's OnnxBackend, on a lent GPU machine.
# onnxruntime-gpu (255 MB) is over what one device call carries (64 MiB), so it travels in
# five pieces, one call each, while the machine stays warm; the last call puts it together:
#   1. here:  bash benchmarks/gpu/pack_onnx.sh          # .gpu and .c1 ... .c5 (git-ignored)
#   2. there: mkdir -p /tmp/ortparts && cp .cN/* /tmp/ortparts/   (carry .cN, N = 1 ... 5)
#   3. there: bash benchmarks/gpu/run_onnx.sh [SKELETON ...]   (carry .gpu; results in $OUT/NAME)
# SKELETON: GGUF skeletons in .gpu (default .gpu/smollm2.skel; pack_onnx.sh also makes
# .gpu/qwen15.skel, the 1.5B reference model's); REPEATS=N sets the repeats (default 5).
set -uo pipefail
SKELETONS=("$@")
((${#SKELETONS[@]})) || SKELETONS=(.gpu/smollm2.skel)
OUT="${OUT:-/tmp/gpu-out}"
mkdir -p "$OUT"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 --version
  cat /tmp/ortparts/part.* > /tmp/onnxruntime_gpu-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl
  sha256sum /tmp/onnxruntime_gpu-*.whl
  cat .gpu/SHA256
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site \
    /tmp/onnxruntime_gpu-*.whl .gpu/*.whl 2>&1 | tail -2
  source benchmarks/gpu/cuda_env.sh   # the CUDA runtime libraries on LD_LIBRARY_PATH
  export PYTHONPATH="/tmp/site:$PWD:$PWD/backends/onnx"
  echo "missing libraries:"; ldd /tmp/site/onnxruntime/capi/libonnxruntime_providers_cuda.so | grep "not found"
  for skel in "${SKELETONS[@]}"; do
    name=$(basename "$skel" .skel)
    python3 benchmarks/gpu/skeleton.py inflate "$skel" "/tmp/$name.gguf"
    mkdir -p "$OUT/$name"
    python3 benchmarks/gpu/gpu_check.py --onnx-model "/tmp/$name.gguf" --out "$OUT/$name" \
      --repeats "${REPEATS:-5}"
  done
} 2>&1 | tee "$OUT/onnx_check.log"
