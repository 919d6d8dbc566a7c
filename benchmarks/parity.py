"""Parity of the ONNX backend with the llama.cpp backend on the same GGUF model, as decided.

Run: python benchmarks/parity.py [--model NAME_OR_GGUF] [--onnx DIR] [--json OUT]
     [--outcome-benches LLAMACPP_BENCH ONNX_BENCH]

``--outcome-benches`` reads criterion 3 from two ``aip-sdk bench`` folders (resumable, pinned
runs of ``fixed:k=1`` on the grid ``test`` split, one per backend) instead of playing the episodes
here.

The criteria (the ONNX Runtime issue's decision):

1. **Greedy agreement where llama.cpp is sure**: along llama.cpp's own greedy continuation of 10
   prompts (32 tokens each), at every position where llama.cpp's top-1 logit leads its top-2 by
   more than 0.5, does ONNX Runtime (fed the same prefix) pick the same token? Target >= 95%.
   (Where the two best logits are within 0.5, 4-bit arithmetic may order them either way, and
   which one wins says nothing about the runtime.)
2. **Decision parity**: on >= 100 planning steps over the four suites (states along good actions
   of their training splits), does the probe (one greedy constrained choice) choose the same
   action? Target >= 95%.
3. **Task outcome**: ``fixed:k=1`` success over 30 grid episodes (10 held-out tasks x 3 seeds) on
   each backend: do the 95% bootstrap intervals overlap?

Prints a Markdown summary for docs/performance.md; ``--json`` writes the per-item results.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from aip_sdk.bench.harness import select_tasks
from aip_sdk.envs.suite import load_suite
from aip_sdk.observation import Observation
from aip_sdk.planner import Planner
from aip_sdk.policy import Policy
from aip_sdk.util import bootstrap_ci, unwind_on_sigterm
from aip_sdk_llamacpp import LlamaCppBackend
from aip_sdk_onnx import OnnxBackend

sys.path.insert(0, str(Path(__file__).parent))
from headroom import TRAIN_SPLITS, _state

GREEDY_TOKENS = 32
SURE = 0.5
PROMPTS = [
    "What is the capital of France?",
    "Name three primary colours.",
    "Write one sentence about the sea.",
    "How many legs does a spider have?",
    "Give a synonym for 'happy'.",
    "Explain in one sentence what a plan is.",
    "What comes after Monday?",
    "Translate 'good morning' into Spanish.",
    "You hold block a. Block b is clear. What can you do next?",
    "List two things you can find in a kitchen.",
]


def greedy_parity(a: Any, b: Any) -> list[dict[str, Any]]:
    """Teacher-forced along llama.cpp's greedy tokens: each position's margin and agreement."""
    rows = []
    for text in PROMPTS:
        prompt = a.render_chat([{"role": "user", "content": text}])
        seq = list(
            a.sample(prompt, n=1, max_tokens=GREEDY_TOKENS, temperature=0.0)
            .completions[0]
            .token_ids
        )
        base = a._prompt(prompt)  # the engine's prompt tokens (with BOS where the model wants it)
        for i, tok in enumerate(seq):
            la = a._prepare(base + seq[:i], 1)[0]  # the engine's prefix-reusing evaluation
            lb = b._prepare(base + seq[:i], 1)[0]
            top = np.sort(la)[-2:]
            rows.append(
                {
                    "prompt": text,
                    "position": i,
                    "margin": float(top[1] - top[0]),
                    "agree": int(np.argmax(lb)) == tok,
                }
            )
    return rows


def decision_parity(a: Any, b: Any, per_suite: int) -> list[dict[str, Any]]:
    rows = []
    pa, pb = Policy(a), Policy(b)
    for name, split in TRAIN_SPLITS.items():
        suite = load_suite(name)
        for i in range(per_suite):
            env, obs, ctx, _good = _state(suite, split, i, 0)
            try:
                o = Observation.from_env(obs)
                ca = pa.probe(o, ctx.history)[0].best
                cb = pb.probe(o, ctx.history)[0].best
            finally:
                env.close()
            rows.append({"suite": name, "actions": len(o.actions), "agree": ca == cb})
    return rows


def outcome(backend: Any, tasks: int, seeds: int) -> list[float]:
    suite = load_suite("grid")
    wins = []
    for seed in range(seeds):
        for task in select_tasks(suite, "test", tasks):
            env = suite.make(task, "test")
            try:
                reset = getattr(backend, "reset_cache", None)
                if callable(reset):
                    reset()
                planner = Planner(backend=backend, controller="fixed:k=1", seed=seed)
                wins.append(1.0 if planner.plan(env, seed=seed).success else 0.0)
            finally:
                env.close()
    return wins


def bench_wins(folder: str, strategy: str = "fixed:k=1") -> list[float]:
    """Successes of ``strategy`` on grid in a bench folder's results.json, by seed then task."""
    runs = json.loads((Path(folder) / "results.json").read_text())["runs"]
    chosen = sorted(
        (r for r in runs if r["strategy"] == strategy and r["suite"] == "grid"),
        key=lambda r: r["seed"],
    )
    if not chosen:
        raise SystemExit(f"{folder!r} holds no {strategy!r} grid run; bench it first")
    return [1.0 if e["success"] else 0.0 for r in chosen for e in r["episodes"]]


def main() -> None:
    unwind_on_sigterm()  # finally blocks run on SIGTERM too
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=None, help="catalogue name or GGUF (default: embedded)")
    ap.add_argument("--onnx", default=None, help="converted folder (default: convert --model)")
    ap.add_argument("--per-suite", type=int, default=25, help="planning steps per suite")
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--json", default=None)
    ap.add_argument("--outcome-benches", nargs=2, default=None, metavar=("LLAMACPP", "ONNX"))
    args = ap.parse_args()
    a = LlamaCppBackend(args.model)
    b = OnnxBackend(args.onnx or args.model)
    greedy = greedy_parity(a, b)
    sure = [r for r in greedy if r["margin"] > SURE]
    decisions = decision_parity(a, b, args.per_suite)
    if args.outcome_benches:
        wa, wb = (bench_wins(f) for f in args.outcome_benches)
    else:
        wa, wb = outcome(a, args.tasks, args.seeds), outcome(b, args.tasks, args.seeds)
    ca, cb = bootstrap_ci(wa), bootstrap_ci(wb)
    g = sum(r["agree"] for r in sure) / max(1, len(sure))
    d = sum(r["agree"] for r in decisions) / max(1, len(decisions))
    overlap = ca[0] <= cb[1] and cb[0] <= ca[1]
    print(f"model {a.model_name}; onnx folder {b.folder}\n")
    print("| criterion | measured | target | met |")
    print("| --- | --- | --- | --- |")
    print(
        f"| greedy tokens agree where llama.cpp's top-1/top-2 logit margin > {SURE} | "
        f"{g:.1%} of {len(sure)} (all positions: {len(greedy)}) | >= 95% | "
        f"{'yes' if g >= 0.95 else 'no'} |"
    )
    by_suite = {
        s: f"{sum(r['agree'] for r in decisions if r['suite'] == s)}/"
        f"{sum(r['suite'] == s for r in decisions)}"
        for s in TRAIN_SPLITS
    }
    print(
        f"| the probe chooses the same action | {d:.1%} of {len(decisions)} steps "
        f"({', '.join(f'{k} {v}' for k, v in by_suite.items())}) | >= 95% | "
        f"{'yes' if d >= 0.95 else 'no'} |"
    )
    print(
        f"| `fixed:k=1` grid success, {len(wa)} episodes | llama.cpp {np.mean(wa):.2f} "
        f"[{ca[0]:.2f}, {ca[1]:.2f}], ONNX {np.mean(wb):.2f} [{cb[0]:.2f}, {cb[1]:.2f}] | "
        f"95% intervals overlap | {'yes' if overlap else 'no'} |"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"greedy": greedy, "decisions": decisions, "grid": [wa, wb]}, indent=2)
        )
    a.close()
    b.close()


if __name__ == "__main__":
    main()
