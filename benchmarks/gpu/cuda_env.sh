# Source this on a lent GPU machine: puts the CUDA runtime libraries of the image's pip packages
# (cudart, cuBLAS, cuFFT, cuRAND, cuDNN: the nvidia-* wheels) and /usr/local/cuda on
# LD_LIBRARY_PATH, for llama.cpp's CUDA build (run.sh) and onnxruntime-gpu (run_onnx.sh).
LIBS=$(python3 - <<'PY'
import glob, os, site
dirs = set()
for sp in site.getsitepackages():
    for lib in glob.glob(os.path.join(sp, "nvidia", "**", "lib*.so*"), recursive=True):
        dirs.add(os.path.dirname(lib))
print(":".join(sorted(dirs)))
PY
)
export LD_LIBRARY_PATH="${LIBS}:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
