#!/usr/bin/env bash
# Pack what the GPU check carries into runs/gpu (at most 64 MiB travel to the GPU machine):
# the CUDA build of llama-cpp-python as a tar.xz (one copy of each library, symlinks for the
# other names: the wheel itself stores three copies of each, 190 MB), the GGUF skeletons of the
# 1.5B reference model and of the embedded model, and the pure-Python wheels the check needs.
#   bash benchmarks/gpu/pack.sh CUDA_WHEEL
set -euo pipefail
cd "$(dirname "$0")/../.."
WHEEL=${1:?usage: bash benchmarks/gpu/pack.sh CUDA_WHEEL}
OUT=runs/gpu
TMP=$(mktemp -d)
mkdir -p "$OUT"
(cd "$TMP" && unzip -q "$WHEEL" 'llama_cpp/*')
for lib in "$TMP"/llama_cpp/lib/*.so; do
  base=$(basename "$lib" .so)
  rm -f "$TMP"/llama_cpp/lib/"$base".so.0.* "$lib"
  ln -s "$base.so.0" "$lib"
  strip --strip-unneeded "$TMP/llama_cpp/lib/$base.so.0" || true
done
tar -C "$TMP" -cJf "$OUT/llama_cpp_cuda.tar.xz" llama_cpp
rm -rf "$TMP"
if [[ -z "${NO_SKELETONS:-}" ]]; then  # pack_bench.sh carries its own model instead
  python3 benchmarks/gpu/skeleton.py strip \
    "$(python3 -c 'from aip_sdk.models import resolve_model_path as r; print(r("qwen2.5-coder-1.5b-instruct"))')" \
    "$OUT/model.skel"
  python3 benchmarks/gpu/skeleton.py strip \
    "$(python3 -c 'from aip_sdk.models import default_model_path as d; print(d())')" "$OUT/smollm2.skel"
fi
python3 -m pip download -q --no-deps diskcache gguf -d "$OUT"
du -sh "$OUT"
