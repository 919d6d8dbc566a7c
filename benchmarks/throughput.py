"""Tokens per second and memory of each backend on the same model, in one run.

Run: [AIP_SDK_MODEL=NAME] python benchmarks/throughput.py [--repeats 5] [--backends llamacpp,onnx]

Each backend runs in its own process, so its peak resident memory (max RSS, which includes the
Python interpreter and numpy, about 60 MiB) is its own. Measured per backend, medians over the
repeats:

- prompt: evaluating a ~500-token prompt with an empty cache (tokens/s);
- generation: 64 greedy tokens of one sequence after the prompt (tokens/s);
- 8 samples: 8 samples of 32 tokens decoded together after the cached prompt (generated
  tokens/s across the batch).

Prints a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from aip_sdk.util import unwind_on_sigterm

TOPIC = (
    "The following is a description of a block-stacking puzzle. There are several blocks on a "
    "table; each block can be on the table or on another block, and the hand can hold one block. "
)


def measure(name: str, repeats: int, onnx_numerics: str) -> dict[str, Any]:
    from aip_sdk.registry import load_backend

    options: dict[str, Any] = {}
    if name == "onnx" and onnx_numerics != "exact":
        import tempfile

        from aip_sdk.models import resolve_model_path
        from aip_sdk_onnx.convert import convert_gguf

        folder = Path(tempfile.mkdtemp()) / "model"  # $AIP_SDK_MODEL, else the default
        convert_gguf(resolve_model_path(), folder, numerics=onnx_numerics)
        options["model_path"] = folder
    t0 = time.perf_counter()
    backend: Any = load_backend(name, **options)
    load_s = time.perf_counter() - t0
    prompt = backend.render_chat([{"role": "user", "content": TOPIC * 14 + "What next?"}])
    n_prompt = backend.count_tokens(prompt)
    backend.sample(prompt, n=1, max_tokens=2, temperature=0.0)  # warm-up
    pre, gen, par = [], [], []
    for _ in range(repeats):
        backend.reset_cache()
        t0 = time.perf_counter()
        backend.sample(prompt, n=1, max_tokens=1, temperature=0.0)
        pre.append(n_prompt / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        res = backend.sample(prompt + " ", n=1, max_tokens=64, temperature=0.0, stop=())
        dt = time.perf_counter() - t0
        gen.append(res.cost.generated_tokens / dt)
        t0 = time.perf_counter()
        res = backend.sample(prompt + " ", n=8, max_tokens=32, temperature=1.0, seed=1)
        par.append(res.cost.generated_tokens / (time.perf_counter() - t0))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    out = {
        "backend": name if name != "onnx" else f"onnx ({onnx_numerics})",
        "device": backend.capabilities.device,
        "load_s": load_s,
        "prompt_tokens": n_prompt,
        "prompt_tok_s": statistics.median(pre),
        "gen_tok_s": statistics.median(gen),
        "par8_tok_s": statistics.median(par),
        "max_rss_mib": rss,
    }
    backend.close()
    if "model_path" in options:
        import shutil

        shutil.rmtree(Path(options["model_path"]).parent, ignore_errors=True)
    return out


def main() -> None:
    unwind_on_sigterm()  # finally blocks run on SIGTERM too
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--backends", default="llamacpp,onnx,onnx:fast")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        name, _, numerics = args.one.partition(":")
        print(json.dumps(measure(name, args.repeats, numerics or "exact")))
        return
    rows = []
    for spec in args.backends.split(","):
        proc = subprocess.run(
            [sys.executable, __file__, "--one", spec, "--repeats", str(args.repeats)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, one run, ")
    print(f"medians of {args.repeats}; prompt of {rows[0]['prompt_tokens']} tokens.\n")
    print(
        "| backend | device | load s | prompt tok/s | generation tok/s | 8 samples tok/s | "
        "peak RSS MiB |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['backend']} | {r['device']} | {r['load_s']:.1f} | {r['prompt_tok_s']:.0f} | "
            f"{r['gen_tok_s']:.0f} | {r['par8_tok_s']:.0f} | {r['max_rss_mib']:.0f} |"
        )


if __name__ == "__main__":
    main()
