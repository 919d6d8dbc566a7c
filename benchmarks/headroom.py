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
from aip_sdk.cost import Cost
from aip_sdk.lookahead import can_copy
from aip_sdk.planner import Planner
from aip_sdk.policy import derive_seed, rank
from aip_sdk.util import bootstrap_ci, unwind_on_sigterm, write_json_atomic

TRAIN_SPLITS = {
    "grid": "train",
    "blocksworld": "generated",
    "alfworld": "valid_train",
    "miniwob": "train",
}
# Options measured by running them (cold KV cache, the Planner's own step code) ...
MEASURED = {
    "probe top (k=0)": "fixed:k=0",
    "1 sample": "fixed:k=1",
    "k=8": "fixed:k=8",
    "think, then choose": "fixed:k=1,depth=1",
}
# ... and the rows of the table, in order.
OPTIONS = [
    "probe top (k=0)",
    "1 sample",
    "majority of 2",
    "weighted of 2",
    "majority of 4",
    "weighted of 4",
    "majority of 8",
    "weighted of 8",
    "pass@8",
    "think, then choose",
    "lookahead h=1 (4 samples)",
    "lookahead h=2 (4 samples)",
    "lookahead h=4 (4 samples)",
]
HORIZONS = (1, 2, 4)


def _state(suite: Any, split: str, index: int, seed: int) -> tuple[Any, Any, StepContext, set[str]]:
    """The ``index``-th labelled state: (env there, its observation, context, good actions)."""
    rng = random.Random(derive_seed(seed, index))
    tasks = suite.tasks(split)
    for _attempt in range(100):
        task = tasks[rng.randrange(len(tasks))]
        env = suite.make(task.task_id, split)
        obs, info = env.reset(seed=derive_seed(seed, index))
        ctx = StepContext.start(obs, info, limit=getattr(env, "max_steps", 30), env=env)
        # without a known optimum (MiniWoB++), the length of a known solution
        optimal = info.get("optimal_steps") or getattr(env, "solution_steps", None) or 8
        depth = rng.randrange(max(1, int(optimal)))
        good = set(env.good_actions())
        for _ in range(depth):
            if not good:
                break
            action = sorted(good)[0]
            obs, _r, term, trunc, info = env.step(action)
            ctx.advance(action, obs, info, Cost())
            if info.get("success") or term or trunc:
                break
            good = set(env.good_actions())
        if good and obs["actions"] and not info.get("success"):
            return env, obs, ctx, good
        env.close()
    raise RuntimeError(f"no labelled state found for state {index}")


def measure_options(
    backend: Any, suite: Any, split: str, index: int, seed: int, names: tuple[str, ...]
) -> dict[str, Any]:
    """Measure again the options ``names`` (run ones, see ``MEASURED``) at one state."""
    env, obs, ctx, good = _state(suite, split, index, seed)
    out = {}
    try:
        for name in names:
            reset = getattr(backend, "reset_cache", None)
            if callable(reset):
                reset()
            planner = Planner(backend=backend, controller=MEASURED[name], seed=seed)
            t0 = time.perf_counter()
            rec = planner.act(obs, context=ctx, env=env, seed=derive_seed(seed, index, 7))
            wall = time.perf_counter() - t0
            out[name] = {
                "action": rec.action,
                "correct": rec.action in good,
                "tokens": rec.cost.tokens,
                "prompt_tokens": rec.cost.prompt_tokens,
                "generated_tokens": rec.cost.generated_tokens,
                "calls": rec.cost.llm_calls,
                "seconds": wall,
            }
    finally:
        env.close()
    return out


def measure_state(backend: Any, suite: Any, split: str, index: int, seed: int) -> dict[str, Any]:
    """Every option at one labelled state: whether it chose a good action, what it cost.

    The probe, one sample, 8 samples and think-then-choose run as they would in an episode
    (``Planner.act``, cold cache). 2 and 4 samples are the first 2 and 4 of the 8 (each sample
    has its own seed, so they are the samples a draw of 2 or 4 would give; their tokens are
    exact, their seconds interpolated between the measured 1 and 8). Lookahead tries the
    distinct candidates of the first 4 samples with horizon 4 (``look_ahead``, the function
    ``act`` calls); horizons 1 and 2 are the same rollouts cut short (``lookahead.replay``),
    with their model calls' seconds.
    """
    from aip_sdk.lookahead import look_ahead, replay

    env, obs, ctx, good = _state(suite, split, index, seed)
    step_seed = derive_seed(seed, index, 7)
    out: dict[str, Any] = {
        "index": index,
        "task_id": getattr(env, "task_id", ""),
        "step": ctx.step,
        "actions": len(obs["actions"]),
        "good": sorted(good),
        "options": {},
    }
    opts = out["options"]

    def row(action: str | None, cost: Any, seconds: float, correct: bool | None = None) -> dict:
        return {
            "action": action,
            "correct": bool(action in good) if correct is None else correct,
            "tokens": cost.tokens,
            "prompt_tokens": cost.prompt_tokens,
            "generated_tokens": cost.generated_tokens,
            "calls": cost.llm_calls,
            "seconds": seconds,
        }

    try:
        recs = {}
        for name, spec in MEASURED.items():
            reset = getattr(backend, "reset_cache", None)
            if callable(reset):
                reset()
            planner = Planner(backend=backend, controller=spec, seed=seed)
            t0 = time.perf_counter()
            rec = planner.act(obs, context=ctx, env=env, seed=step_seed)
            recs[name] = (rec, time.perf_counter() - t0)
        for name in ("probe top (k=0)", "1 sample", "think, then choose"):
            rec, wall = recs[name]
            opts[name] = row(rec.action, rec.cost, wall)
        rec8, wall8 = recs["k=8"]
        wall1 = recs["1 sample"][1]
        prompt = rec8.cost.prompt_tokens

        def head(k: int) -> tuple[Any, Any, float]:
            cands = rec8.candidates[:k]
            gen = sum(c.generated_tokens for c in cands)
            cost = Cost(llm_calls=1, prompt_tokens=prompt, generated_tokens=gen)
            return cands, cost, wall1 + (wall8 - wall1) * (k - 1) / 7

        for k in (2, 4, 8):
            cands, cost, wall = head(k)
            for vote in ("majority", "weighted"):
                opts[f"{vote} of {k}"] = row(rank(cands, vote=vote)[0], cost, wall)
        cands, cost, wall = head(8)
        opts["pass@8"] = row(None, cost, wall, correct=any(c.action in good for c in cands))
        if can_copy(env):
            cands, cost4, wall4 = head(4)
            order = rank(cands)
            planner = Planner(backend=backend, controller="fixed:k=1", seed=seed)
            t0 = time.perf_counter()
            if len(order) > 1:
                _a, rollouts, _c = look_ahead(
                    planner._policy,
                    env,
                    order,
                    ctx.history,
                    horizon=max(HORIZONS),
                    seed=derive_seed(step_seed, 104729),
                    seen=list(ctx.states),
                )
            else:
                rollouts = []
            look_wall = time.perf_counter() - t0
            full = replay(rollouts, max(HORIZONS))[1].seconds if rollouts else 0.0
            for h in HORIZONS:
                action, extra = replay(rollouts, h) if rollouts else (order[0], Cost())
                share = extra.seconds / full if full else 1.0
                opts[f"lookahead h={h} (4 samples)"] = row(
                    action, cost4 + extra, wall4 + look_wall * share
                )
    finally:
        env.close()
    return out


@click.group()
def main() -> None:
    """Measure where extra inference compute turns into better steps."""
    unwind_on_sigterm()  # finally blocks run on SIGTERM too


@main.command()
@click.option("--model", required=True, help="Catalogue name or GGUF path.")
@click.option("--suite", "suite_name", required=True, type=click.Choice(sorted(TRAIN_SPLITS)))
@click.option("--states", type=click.IntRange(1), default=40, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--work", type=click.Path(file_okay=False), default="runs/headroom", show_default=True
)
@click.option("--backend", "backend_name", default="llamacpp", show_default=True)
@click.option(
    "--redo",
    multiple=True,
    type=click.Choice(["probe top (k=0)"]),
    help="Measure this option again on the states already on disk (after its code changed).",
)
def run(
    model: str,
    suite_name: str,
    states: int,
    seed: int,
    work: str,
    backend_name: str,
    redo: tuple[str, ...],
) -> None:
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
            if path.is_file() and redo:
                row = json.loads(path.read_text())
                row["options"].update(measure_options(backend, suite, split, i, seed, redo))
                write_json_atomic(path, row)
                continue
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
steps along good actions). The probe, 1 sample, 8 samples and think-then-choose run through the
Planner's own step code from a cold KV cache with the same seed; 2 and 4 samples are the first
2 and 4 of the 8 (every sample has its own seed: they are what a draw of 2 or 4 gives; seconds
interpolated between 1 and 8); lookahead rates the distinct candidates of the first 4 samples
with rollouts of horizon 4, and horizons 1 and 2 are those rollouts cut short (what a shorter
horizon runs; `aip_sdk.lookahead.replay`).

**Accuracy**: the chosen action is on an optimal path (95% bootstrap interval). **Tokens**:
every token the model processed for the step: the evaluated prompt (the probe's and the
lookahead rollouts' included) plus the generated tokens. **Seconds**: wall clock of the step on
one pinned core of this 2-core machine. **vs 1 sample**: the accuracy difference against one
sample on the same states, with its paired 95% interval. Majority and weighted votes of k
samples share one draw (same seed), so they cost the same.
"""


@main.command()
@click.option("--work", type=click.Path(file_okay=False, exists=True), default="runs/headroom")
@click.option("--out", type=click.Path(dir_okay=False), default="docs/headroom.md")
@click.option(
    "--note",
    type=click.Path(dir_okay=False, exists=True),
    help="A Markdown status note placed under the header (what ran, where it differs from "
    "scripts/headroom.sh).",
)
def report(work: str, out: str, note: str | None) -> None:
    """Write the headroom tables (accuracy with 95% intervals, tokens, seconds)."""
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for path in sorted(Path(work).glob("*/*/state-*.json")):
        r = json.loads(path.read_text())
        rows.setdefault((r["model"], r["suite"]), []).append(r)
    head = [*HEADER.strip("\n").splitlines(), ""]
    if note:
        head += [*Path(note).read_text().strip("\n").splitlines(), ""]
    lines: list[str] = []
    summary: list[str] = []
    for (model, suite), states in sorted(rows.items()):
        names = [n for n in OPTIONS if all(n in s["options"] for s in states)]
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
            lo, hi = bootstrap_ci(acc)
            diff = [a - b for a, b in zip(acc, base)]
            dlo, dhi = bootstrap_ci(diff)
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
