"""The map of where compute pays: step accuracy and cost of every allocation option.

For each model and suite it visits labelled states of the suite's training split (a task, then a
random number of steps along good actions from reset) and, at each state, carries out every
option through the Planner's own step code, from a cold KV cache, with the same seed:

    probe top action (k=0), 1 sample, majority and weighted vote of 2/4/8 samples, pass@8 (any of
    the 8 samples is good: the selection headroom), think-then-choose (k=1, depth 1), and
    lookahead h=1/2/4 over the distinct candidates of 4 samples (suites that can be copied).

A step is accurate when the chosen action is one of the state's good actions (on an optimal
path). Majority and weighted votes of k samples share one draw (the same seed draws the same
samples), so they cost the same. Every state's result is a JSON file: runs resume.

    python benchmarks/headroom.py run --model qwen2.5-coder-0.5b-instruct --suite grid \
        --states 40 --work runs/headroom
    python benchmarks/headroom.py report --work runs/headroom --out docs/headroom.md

``scripts/headroom.sh`` runs every model and suite pinned one process per core, then reports.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from aip_sdk.context import StepContext
from aip_sdk.lookahead import can_copy
from aip_sdk.planner import Planner
from aip_sdk.policy import derive_seed, rank
from aip_sdk.traces import write_json_atomic

TRAIN_SPLITS = {
    "grid": "train",
    "blocksworld": "generated",
    "alfworld": "valid_train",
    "miniwob": "train",
}
# (row name, strategy spec run, how the action is read from the record)
OPTIONS: list[tuple[str, str, str]] = [
    ("probe top (k=0)", "fixed:k=0", "action"),
    ("1 sample", "fixed:k=1", "action"),
    ("majority of 2", "fixed:k=2", "majority"),
    ("weighted of 2", "fixed:k=2", "weighted"),
    ("majority of 4", "fixed:k=4", "majority"),
    ("weighted of 4", "fixed:k=4", "weighted"),
    ("majority of 8", "fixed:k=8", "majority"),
    ("weighted of 8", "fixed:k=8", "weighted"),
    ("pass@8", "fixed:k=8", "any"),
    ("think, then choose", "fixed:k=1,depth=1", "action"),
    ("lookahead h=1 (4 samples)", "fixed:k=4,lookahead=1", "action"),
    ("lookahead h=2 (4 samples)", "fixed:k=4,lookahead=2", "action"),
    ("lookahead h=4 (4 samples)", "fixed:k=4,lookahead=4", "action"),
]


def _state(suite: Any, split: str, index: int, seed: int) -> tuple[Any, Any, StepContext, set[str]]:
    """The ``index``-th labelled state: (env there, its observation, context, good actions)."""
    rng = random.Random(derive_seed(seed, index))
    tasks = suite.tasks(split)
    for _attempt in range(20):
        task = tasks[rng.randrange(len(tasks))]
        env = suite.make(task.task_id, split)
        obs, info = env.reset(seed=derive_seed(seed, index))
        ctx = StepContext.start(obs, info, limit=getattr(env, "max_steps", 30))
        optimal = info.get("optimal_steps") or 8
        depth = rng.randrange(max(1, int(optimal)))
        good = set(env.good_actions())
        for _ in range(depth):
            if not good:
                break
            action = sorted(good)[0]
            obs, _r, term, trunc, info = env.step(action)
            ctx.advance(action, obs, info, cost=_zero())
            if info.get("success") or term or trunc:
                break
            good = set(env.good_actions())
        if good and obs["actions"] and not info.get("success"):
            return env, obs, ctx, good
        env.close()
    raise RuntimeError(f"no labelled state found for state {index}")


def _zero() -> Any:
    from aip_sdk.cost import Cost

    return Cost()


def measure_state(backend: Any, suite: Any, split: str, index: int, seed: int) -> dict[str, Any]:
    """Run every option at one labelled state; return the per-option outcome."""
    env, obs, ctx, good = _state(suite, split, index, seed)
    out: dict[str, Any] = {
        "index": index,
        "task_id": getattr(env, "task_id", ""),
        "step": ctx.step,
        "actions": len(obs["actions"]),
        "good": sorted(good),
        "options": {},
    }
    runs: dict[str, Any] = {}
    try:
        for name, spec, read in OPTIONS:
            if "lookahead" in spec and not can_copy(env):
                continue
            rec = runs.get(spec)
            if rec is None:
                reset = getattr(backend, "reset_cache", None)
                if callable(reset):
                    reset()
                planner = Planner(backend=backend, controller=spec, seed=seed)
                t0 = time.perf_counter()
                rec = planner.act(obs, context=ctx, env=env, seed=derive_seed(seed, index, 7))
                rec = (rec, time.perf_counter() - t0)
                runs[spec] = rec
            record, wall = rec
            if read == "action":
                chosen = [record.action]
            elif read == "any":
                chosen = sorted({c.action for c in record.candidates})
            else:
                chosen = [rank(record.candidates, vote=read)[0]]
            out["options"][name] = {
                "spec": spec,
                "correct": any(a in good for a in chosen) if read == "any" else chosen[0] in good,
                "action": chosen[0],
                "tokens": record.cost.tokens,
                "prompt_tokens": record.cost.prompt_tokens,
                "generated_tokens": record.cost.generated_tokens,
                "calls": record.cost.llm_calls,
                "seconds": wall,
            }
    finally:
        env.close()
    return out


@click.group()
def main() -> None:
    """Measure where extra inference compute turns into better steps."""


@main.command()
@click.option("--model", required=True, help="Catalogue name or GGUF path.")
@click.option("--suite", "suite_name", required=True, type=click.Choice(sorted(TRAIN_SPLITS)))
@click.option("--states", type=click.IntRange(1), default=40, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--work", type=click.Path(file_okay=False), default="runs/headroom", show_default=True
)
@click.option("--backend", "backend_name", default="llamacpp", show_default=True)
def run(model: str, suite_name: str, states: int, seed: int, work: str, backend_name: str) -> None:
    """Measure ``--states`` labelled states of one suite with one model (resumable)."""
    from tqdm import tqdm

    from aip_sdk.envs.suite import load_suite
    from aip_sdk.registry import load_backend

    suite = load_suite(suite_name)
    split = TRAIN_SPLITS[suite_name]
    backend = load_backend(backend_name, model_path=model)
    folder = Path(work) / backend.model_name / suite_name
    try:
        for i in tqdm(range(states), desc=f"{backend.model_name} {suite_name}", unit="state"):
            path = folder / f"state-{i:04d}.json"
            if path.is_file():
                continue
            row = measure_state(backend, suite, split, i, seed)
            row.update(model=backend.model_name, suite=suite_name, split=split, seed=seed)
            write_json_atomic(path, row)
    finally:
        backend.close()


HEADER = """
# Where compute pays: the headroom map

Produced by `bash scripts/headroom.sh`, which runs `python benchmarks/headroom.py run` per model
and suite (pinned, one process per core), then `python benchmarks/headroom.py report`.

Each state is a labelled state of the suite's training split (a task, then a random number of
steps along good actions); every option runs through the Planner's own step code from a cold KV
cache, with the same seed. **Accuracy**: the chosen action is on an optimal path (95% bootstrap
interval). **Tokens**: every token the model processed for the step: the evaluated prompt (the
probe's and the lookahead rollouts' included) plus the generated tokens. **Seconds**: wall clock
of the step on one pinned core of this 2-core machine. **vs 1 sample**: the accuracy difference
against one sample on the same states, with its paired 95% interval. Majority and weighted votes
of k samples share one draw (same seed), so they cost the same.
"""


def _ci(values: list[float], n: int = 2000) -> tuple[float, float]:
    arr = np.asarray(values, dtype=float)
    rng = np.random.default_rng(0)
    means = arr[rng.integers(0, arr.size, size=(n, arr.size))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


@main.command()
@click.option("--work", type=click.Path(file_okay=False, exists=True), default="runs/headroom")
@click.option("--out", type=click.Path(dir_okay=False), default="docs/headroom.md")
def report(work: str, out: str) -> None:
    """Write the headroom tables (accuracy with 95% intervals, tokens, seconds)."""
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for path in sorted(Path(work).glob("*/*/state-*.json")):
        r = json.loads(path.read_text())
        rows.setdefault((r["model"], r["suite"]), []).append(r)
    head = [*HEADER.strip("\n").splitlines(), ""]
    lines: list[str] = []
    summary: list[str] = []
    for (model, suite), states in sorted(rows.items()):
        names = [n for n, _, _ in OPTIONS if all(n in s["options"] for s in states)]
        base = [float(s["options"]["1 sample"]["correct"]) for s in states]
        chance = float(np.mean([len(s["good"]) / max(1, s["actions"]) for s in states]))
        lines += [
            f"## {model} · {suite} ({len(states)} states, chance {chance:.2f})",
            "",
            "| option | accuracy (95% CI) | vs 1 sample (95% CI) | tokens | seconds |",
            "| --- | --- | --- | ---: | ---: |",
        ]
        wins = []
        for name in names:
            acc = [float(s["options"][name]["correct"]) for s in states]
            lo, hi = _ci(acc)
            diff = [a - b for a, b in zip(acc, base)]
            dlo, dhi = _ci(diff)
            tok = float(np.mean([s["options"][name]["tokens"] for s in states]))
            sec = float(np.mean([s["options"][name]["seconds"] for s in states]))
            lines.append(
                f"| {name} | {np.mean(acc):.2f} [{lo:.2f}, {hi:.2f}] | "
                f"{np.mean(diff):+.2f} [{dlo:+.2f}, {dhi:+.2f}] | {tok:.0f} | {sec:.2f} |"
            )
            if name not in ("1 sample", "pass@8") and dlo > 0:
                wins.append(f"{name} (+{np.mean(diff):.2f} at {tok:.0f} tokens)")
        base_tok = float(np.mean([s["options"]["1 sample"]["tokens"] for s in states]))
        lines.append("")
        verdict = ", ".join(wins) if wins else "none, with 95% confidence"
        lines.append(
            f"Options that beat one sample ({np.mean(base):.2f} at {base_tok:.0f} tokens): "
            f"{verdict}."
        )
        lines.append("")
        summary.append(f"| {model} | {suite} | {len(states)} | {verdict} |")
    head += [
        "## Summary: which options beat one sample (paired 95% interval above zero)",
        "",
        "| model | suite | states | options that pay |",
        "| --- | --- | ---: | --- |",
        *summary,
        "",
    ]
    Path(out).write_text("\n".join(head + lines) + "\n")
    click.echo(f"wrote {out} ({sum(len(v) for v in rows.values())} states)")


if __name__ == "__main__":
    sys.exit(main())
