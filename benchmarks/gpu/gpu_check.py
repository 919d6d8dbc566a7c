"""CUDA offload and the CUDA execution provider, measured through the SDK's own backends.

Run on a GPU machine by ``benchmarks/gpu/run.sh`` (see there). For each llama.cpp setting
(``n_gpu_layers`` 0 and -1) it loads the model with :class:`LlamaCppBackend`, checks the device
the backend reports, and measures, medians of ``--repeats``:

- prompt: a ~500-token prompt from an empty cache (tokens/s);
- generation: 64 greedy tokens of one sequence (tokens/s);
- 8 samples: 8 samples of 32 tokens decoded together after the cached prompt (tokens/s);
- plan step: one ``Planner.act`` with ``fixed:k=8`` on a 12-action observation (seconds).

If onnxruntime offers the CUDA execution provider, the same for :class:`OnnxBackend` on a
converted model with the CUDA provider (the cache bound on the GPU, then in numpy arrays) and
the CPU provider. Writes JSON and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

TOPIC = (
    "The following is a description of a block-stacking puzzle. There are several blocks on a "
    "table; each block can be on the table or on another block, and the hand can hold one block. "
)
OBS = {
    "goal": "have that the red block is on top of the blue block.",
    "text": "The red block is clear, the blue block is clear, the hand is empty. " * 3,
    "actions": tuple(f"pick up the {c} block" for c in ("red", "blue", "green", "orange"))
    + tuple(
        f"unstack the {a} block from on top of the {b} block"
        for a, b in (
            ("red", "blue"),
            ("blue", "red"),
            ("green", "red"),
            ("orange", "blue"),
            ("red", "green"),
            ("blue", "green"),
            ("green", "orange"),
            ("orange", "green"),
        )
    ),
}


def measure(backend: Any, repeats: int) -> dict[str, Any]:
    from aip_sdk import Planner

    prompt = backend.render_chat([{"role": "user", "content": TOPIC * 14 + "What next?"}])
    n_prompt = backend.count_tokens(prompt)
    backend.sample(prompt, n=1, max_tokens=2, temperature=0.0)  # warm-up
    pre, gen, par, step = [], [], [], []
    planner = Planner(backend=backend, controller="fixed:k=8")
    planner.act(OBS)  # warm-up
    for _ in range(repeats):
        backend.reset_cache()
        t0 = time.perf_counter()
        backend.sample(prompt, n=1, max_tokens=1, temperature=0.0)
        pre.append(n_prompt / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        res = backend.sample(prompt + " ", n=1, max_tokens=64, temperature=0.0)
        gen.append(res.cost.generated_tokens / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        res = backend.sample(prompt + " ", n=8, max_tokens=32, temperature=1.0, seed=1)
        par.append(res.cost.generated_tokens / (time.perf_counter() - t0))
        backend.reset_cache()
        t0 = time.perf_counter()
        planner.act(OBS)
        step.append(time.perf_counter() - t0)
    return {
        "device": backend.capabilities.device,
        "prompt_tokens": n_prompt,
        "prompt_tok_s": statistics.median(pre),
        "gen_tok_s": statistics.median(gen),
        "par8_tok_s": statistics.median(par),
        "plan_step_s": statistics.median(step),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=None, help="GGUF file for the llama.cpp rows (none: skip)")
    ap.add_argument("--onnx-model", default=None, help="GGUF to convert for the ONNX check")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=".")
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    for layers in (0, -1) if args.model else ():
        from aip_sdk_llamacpp import LlamaCppBackend

        t0 = time.perf_counter()
        backend = LlamaCppBackend(args.model, n_gpu_layers=layers, n_ctx=4096)
        load = time.perf_counter() - t0
        row = {"backend": f"llamacpp n_gpu_layers={layers}", "load_s": load}
        row.update(measure(backend, args.repeats))
        backend.close()
        rows.append(row)
        print(json.dumps(row), flush=True)
    import onnxruntime as ort

    providers = ort.get_available_providers()
    print("onnxruntime", ort.__version__, providers, flush=True)
    if args.onnx_model and "CUDAExecutionProvider" in providers:
        from aip_sdk_onnx import OnnxBackend
        from aip_sdk_onnx.convert import convert_gguf

        # converted outside --out: only small files come back from a lent machine
        folder = convert_gguf(
            args.onnx_model, Path(tempfile.gettempdir()) / "onnx-model", force=True
        )
        cuda = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        # the default (the cache bound on the GPU), the cache in numpy arrays, then the CPU
        for prov, binding in ((cuda, None), (cuda, False), (["CPUExecutionProvider"], None)):
            t0 = time.perf_counter()
            backend = OnnxBackend(folder, providers=prov, io_binding=binding)
            name = f"onnx {backend.provider}" + (" (cache in numpy)" if binding is False else "")
            row = {"backend": name, "load_s": time.perf_counter() - t0}
            row.update(measure(backend, args.repeats))
            backend.close()
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = Path(args.out)
    (out / "gpu_check.json").write_text(json.dumps({"providers": providers, "rows": rows}))
    lines = [
        "| backend | device | load s | prompt tok/s | generation tok/s | 8 samples tok/s | "
        "plan step s (k=8) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['device']} | {r['load_s']:.1f} | {r['prompt_tok_s']:.0f} | "
            f"{r['gen_tok_s']:.0f} | {r['par8_tok_s']:.0f} | {r['plan_step_s']:.3f} |"
        )
    (out / "gpu_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
