#!/usr/bin/env bash
# Pack what benchmarks/gpu/bench.sh needs to run results.sh's benches of a reference model on a
# lent GPU machine (no package index and no model hub there; at most 64 MiB travel a call):
#   runs/gpu        the CUDA build of llama-cpp-python (pack.sh), the wheels
#                   of aip-sdk, its llama.cpp backend and what the suites import that the
#                   machine's image lacks (gymnasium, minigrid, pygame-ce), the PlanBench data,
#                   the model's SHA-256 and a skeleton of it for the first call's smoke test
#   runs/gpu-model  the model's GGUF in pieces of at most 60 MB (p1, p2, ...), one call each
#   bash benchmarks/gpu/pack_bench.sh CUDA_WHEEL [MODEL]   # MODEL: a catalogue name (pulled)
set -euo pipefail
cd "$(dirname "$0")/../.."
WHEEL=${1:?usage: bash benchmarks/gpu/pack_bench.sh CUDA_WHEEL [MODEL]}
MODEL=${2:-qwen2.5-coder-0.5b-instruct}
rm -rf runs/gpu  # a fresh pack: nothing of an earlier one travels
NO_SKELETONS=1 bash benchmarks/gpu/pack.sh "$WHEEL"  # the speed check's skeletons: not here
OUT=runs/gpu
GGUF=$(python3 -c "from aip_sdk.models import resolve_model_path as r; print(r('$MODEL'))")
PIP=(python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12
     --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64
     --platform manylinux2014_x86_64 -d "$OUT")
"${PIP[@]}" "gymnasium==$(python3 -c 'import gymnasium; print(gymnasium.__version__)')" \
  farama-notifications "minigrid==$(python3 -c 'import minigrid; print(minigrid.__version__)')" \
  pygame-ce
python3 -m pip wheel -q --no-deps --no-build-isolation . ./backends/llamacpp -w "$OUT"
rm -rf build backends/llamacpp/build  # setuptools' leftovers (a second copy of the package)
tar -C "${AIP_SDK_DATA:-../shared/data}" -cJf "$OUT/planbench.tar.xz" planbench
python3 benchmarks/gpu/skeleton.py strip "$GGUF" "$OUT/bench-model.skel"
(cd "$(dirname "$GGUF")" && sha256sum "$(basename "$GGUF")") > "$OUT/MODEL_SHA256"
rm -rf runs/gpu-model && mkdir -p runs/gpu-model
split -b 60000000 -d -a 1 "$GGUF" runs/gpu-model/part.
for f in runs/gpu-model/part.*; do
  n=$(( ${f##*.} + 1 ))
  mkdir -p "runs/gpu-model/p$n" && mv "$f" "runs/gpu-model/p$n/"
done
du -sh "$OUT" runs/gpu-model/p*
