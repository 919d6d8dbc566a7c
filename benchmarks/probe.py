"""What the probe costs, before and after it became one greedy constrained choice.

Run: python benchmarks/probe.py --model qwen2.5-coder-0.5b-instruct [--states 10]

On labelled states of every suite's training split (those of ``benchmarks/headroom.py``) it
measures, from a cold KV cache each time, the tokens and seconds of

- the prompt alone (what any decision evaluates anyway),
- the scoring probe (the first round's: ``score`` over every admissible action),
- the greedy-choice probe (this round's: one constrained greedy sample),
- one sample after the probe (the prompt then cached),

and prints what each probe costs beyond the prompt and its share of a step that runs it and one
sample (what a learned controller's cheap decisions cost). A Markdown table for docs/training.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from aip_sdk.util import unwind_on_sigterm

sys.path.insert(0, str(Path(__file__).parent))
from headroom import TRAIN_SPLITS, _state

from aip_sdk.envs.suite import load_suite
from aip_sdk.observation import Observation
from aip_sdk.policy import Policy
from aip_sdk.registry import load_backend


def measure(backend: Any, policy: Policy, obs: Observation, history: list[str]) -> dict[str, float]:
    """Cold-cache tokens and seconds of the prompt alone, each probe, and one sample after."""
    prompt = policy.prompt(obs, history)
    out: dict[str, float] = {}
    backend.reset_cache()
    t0 = time.perf_counter()
    alone = backend.sample(prompt, n=1, max_tokens=1, temperature=0.0)
    out["prompt_s"], out["prompt_tokens"] = time.perf_counter() - t0, alone.cost.prompt_tokens
    backend.reset_cache()
    t0 = time.perf_counter()
    scored = backend.score(prompt, obs.actions)
    out["score_s"], out["score_tokens"] = time.perf_counter() - t0, scored.cost.tokens
    backend.reset_cache()
    t0 = time.perf_counter()
    _probe, cost = policy.probe(obs, history)
    out["greedy_s"], out["greedy_tokens"] = time.perf_counter() - t0, cost.tokens
    t0 = time.perf_counter()  # one sample after the probe: the prompt is cached
    _c, draw = policy.draw(obs, history, n=1, depth=0, seed=1)
    out["sample_s"], out["sample_tokens"] = time.perf_counter() - t0, draw.tokens
    return out


def main() -> None:
    unwind_on_sigterm()  # finally blocks run on SIGTERM too
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=None)
    ap.add_argument("--states", type=int, default=10)
    args = ap.parse_args()
    backend = load_backend("llamacpp", model_path=args.model)
    policy = Policy(backend)
    print(f"model {backend.model_name}, {args.states} states per suite, cold cache each time\n")
    print(
        "| suite | actions | prompt: tokens, s | scoring probe beyond the prompt: tokens, s | "
        "greedy probe beyond the prompt: tokens, s | probe's share of a probe + 1-sample "
        "step, before -> after: tokens; seconds |"
    )
    print("| --- | ---: | --- | --- | --- | --- |")
    for name, split in TRAIN_SPLITS.items():
        suite = load_suite(name)
        rows, acts = [], []
        for i in range(args.states):
            env, obs, ctx, _good = _state(suite, split, i, 0)
            try:
                o = Observation.from_env(obs)
                acts.append(len(o.actions))
                rows.append(measure(backend, policy, o, ctx.history))
            finally:
                env.close()

        def med(key: str, rows: list[dict[str, float]] = rows) -> float:
            return statistics.median(r[key] for r in rows)

        def extra(probe: str, unit: str) -> float:  # the probe beyond the prompt's evaluation
            return max(0.0, med(f"{probe}_{unit}") - med(f"prompt_{unit}"))

        def share(probe: str, unit: str) -> float:
            step = med(f"prompt_{unit}") + extra(probe, unit) + med(f"sample_{unit}")
            return extra(probe, unit) / step

        print(
            f"| {name} | {statistics.mean(acts):.1f} | {med('prompt_tokens'):.0f}, "
            f"{med('prompt_s'):.2f} | {extra('score', 'tokens'):.0f}, "
            f"{extra('score', 's'):.2f} | {extra('greedy', 'tokens'):.0f}, "
            f"{extra('greedy', 's'):.2f} | {share('score', 'tokens'):.0%} -> "
            f"{share('greedy', 'tokens'):.0%}; {share('score', 's'):.0%} -> "
            f"{share('greedy', 's'):.0%} |"
        )
    backend.close()


if __name__ == "__main__":
    main()
