#!/usr/bin/env bash
# Build a CUDA wheel of llama-cpp-python for one GPU architecture, here, to carry to a lent GPU
# machine (which has no package index). The wheel is ctypes-based (py3-none-linux_x86_64), so a
# build on this Python serves the GPU machine's Python too. Needs nvcc and cuBLAS headers/libraries
# (nvidia-cublas from PyPI, copied into the toolkit when the toolkit lacks them).
#   bash benchmarks/gpu/build_llama_cuda.sh [ARCH] [OUT]     # ARCH 90 = Hopper (H100/H200)
set -euo pipefail
ARCH="${1:-90}"
OUT="${2:-$HOME/.cache/aip-sdk/cuda-wheels}"
LLAMA_VERSION="0.3.36"
mkdir -p "$OUT"
# One architecture and no FlashAttention kernels keep the build (and the wheel) small; NO_VMM
# drops the link to the driver library (libcuda.so), which a machine without a GPU lacks.
CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=$ARCH -DGGML_CUDA_FA=OFF -DGGML_CUDA_NO_VMM=ON \
-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF \
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
  python3 -m pip wheel -q --no-deps --no-cache-dir "llama-cpp-python==$LLAMA_VERSION" -w "$OUT"
ls -la "$OUT"
