"""Parity of the ONNX backend with the llama.cpp backend on the same GGUF model.

Run: python benchmarks/parity.py [--onnx DIR] [--model PATH] [--json OUT]

Two measurements (the ONNX Runtime issue's acceptance figures):

1. Greedy generation on 10 fixed prompts: do the two backends' first 16 tokens agree?
2. Scoring on 20 blocksworld steps (PlanBench instances, following the expert plan so the states
   are varied): does ``score`` rank the same admissible action first?

Prints a Markdown summary; ``--json`` also writes the per-item results.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from aip_sdk.envs.suite import load_suite
from aip_sdk.observation import Observation
from aip_sdk.policy import Policy
from aip_sdk_llamacpp import LlamaCppBackend
from aip_sdk_onnx import OnnxBackend

GREEDY_TOKENS = 16
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
    rows = []
    for text in PROMPTS:
        prompt = a.render_chat([{"role": "user", "content": text}])
        ta = a.sample(prompt, n=1, max_tokens=GREEDY_TOKENS, temperature=0.0).completions[0]
        tb = b.sample(prompt, n=1, max_tokens=GREEDY_TOKENS, temperature=0.0).completions[0]
        ia, ib = list(ta.token_ids), list(tb.token_ids)
        same = 0
        while same < min(len(ia), len(ib)) and ia[same] == ib[same]:
            same += 1
        rows.append(
            {
                "prompt": text,
                "agree": ia == ib,
                "common_prefix": same,
                "llamacpp": ta.text,
                "onnx": tb.text,
            }
        )
    return rows


def blocksworld_states(n: int) -> list[tuple[Observation, list[str]]]:
    suite = load_suite("blocksworld")
    states: list[tuple[Observation, list[str]]] = []
    for task in suite.tasks("basic"):
        env = suite.make(task.task_id, "basic")
        try:
            obs, _ = env.reset(seed=0)
            history: list[str] = []
            for _ in range(3):  # three steps along the expert plan per instance
                o = Observation.from_env(obs)
                states.append((o, list(history)))
                if len(states) == n:
                    return states
                action = sorted(env.good_actions())[0]
                obs, _, done, _, _ = env.step(action)
                history.append(action)
                if done:
                    break
        finally:
            env.close()
    return states


def score_parity(a: Any, b: Any, n: int) -> list[dict[str, Any]]:
    rows = []
    pa, pb = Policy(a), Policy(b)
    for obs, history in blocksworld_states(n):
        sa = a.score(pa.prompt(obs, history), obs.actions).logprobs
        sb = b.score(pb.prompt(obs, history), obs.actions).logprobs
        top_a, top_b = int(np.argmax(sa)), int(np.argmax(sb))
        rows.append(
            {
                "actions": len(obs.actions),
                "agree": top_a == top_b,
                "llamacpp": obs.actions[top_a],
                "onnx": obs.actions[top_b],
                "max_abs_logprob_diff": float(np.max(np.abs(np.subtract(sa, sb)))),
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--onnx", default=None, help="converted folder (default: convert --model)")
    ap.add_argument("--model", default=None, help="GGUF file (default: the embedded model)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    a = LlamaCppBackend(args.model)
    b = OnnxBackend(args.onnx or args.model)
    greedy = greedy_parity(a, b)
    scores = score_parity(a, b, args.steps)
    g = sum(r["agree"] for r in greedy)
    s = sum(r["agree"] for r in scores)
    print(f"model: {a.model_name}; onnx folder: {b.folder}")
    print(f"- greedy, first {GREEDY_TOKENS} tokens identical: {g} of {len(greedy)} prompts")
    prefixes = [r["common_prefix"] for r in greedy]
    print(f"  (common prefix length per prompt: {prefixes})")
    print(f"- score, same top action: {s} of {len(scores)} blocksworld steps")
    diffs = [r["max_abs_logprob_diff"] for r in scores]
    print(
        f"  (largest |log-prob difference| per step: median {np.median(diffs):.3f}, "
        f"max {np.max(diffs):.3f})"
    )
    for r in greedy:
        if not r["agree"]:
            print(f"  differs: {r['prompt']!r}: {r['llamacpp']!r} vs {r['onnx']!r}")
    if args.json:
        Path(args.json).write_text(json.dumps({"greedy": greedy, "score": scores}, indent=2))
    a.close()
    b.close()


if __name__ == "__main__":
    main()
