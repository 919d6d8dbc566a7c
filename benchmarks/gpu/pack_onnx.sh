#!/usr/bin/env bash
# Pack what benchmarks/gpu/run_onnx.sh needs into git-ignored folders of the repository root:
# .gpu (GGUF skeletons of the embedded and the 1.5B model, the gguf wheel, the wheel's sha256)
# and .c1 ... .c5
# (onnxruntime-gpu for CUDA 13 and Python 3.12, split in five pieces of 51 MB).
#   bash benchmarks/gpu/pack_onnx.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
for d in .gpu .c1 .c2 .c3 .c4 .c5; do
  grep -qxF "/$d/" .git/info/exclude 2>/dev/null || echo "/$d/" >> .git/info/exclude
  rm -rf "$d" && mkdir -p "$d"
done
TMP=$(mktemp -d)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 onnxruntime-gpu==1.31.1 -d "$TMP"
(cd "$TMP" && sha256sum onnxruntime_gpu-*.whl > SHA256 && split -n 5 -d onnxruntime_gpu-*.whl part.)
for i in 1 2 3 4 5; do mv "$TMP/part.0$((i - 1))" ".c$i/"; done
mv "$TMP/SHA256" .gpu/
python3 -m pip download -q --no-deps gguf -d .gpu
python3 benchmarks/gpu/skeleton.py strip \
  "$(python3 -c 'from aip_sdk.models import default_model_path as d; print(d())')" .gpu/smollm2.skel
python3 benchmarks/gpu/skeleton.py strip \
  "$(python3 -c 'from aip_sdk.models import resolve_model_path as r; print(r("qwen2.5-coder-1.5b-instruct"))')" \
  .gpu/qwen15.skel
rm -rf "$TMP"
du -sh .gpu .c?
