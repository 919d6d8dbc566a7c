"""Run strategies live on a suite and keep every finished episode (resumable).

Every episode result is written atomically to ``DIR/episodes/``; re-running the same command skips
the finished ones. ``results.json`` is rebuilt from those files after each run, so it always
matches what has been measured. Tasks are the first ``episodes`` of the split in a fixed
shuffled order (the same tasks for every strategy and seed); a run's seed changes the sampling.
Episodes run seed by seed, task by task, every strategy on a task before the next task, so a run
stopped part-way still holds every strategy on the same tasks.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aip_sdk.backend import Backend
from aip_sdk.errors import BackendError
from aip_sdk.planner import Planner
from aip_sdk.traces import write_json_atomic

__all__ = ["bootstrap_ci", "build_results", "run_bench", "summarise"]

RESULTS_VERSION = "aip-bench/1"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text)


def bootstrap_ci(values: Sequence[float], *, n: int = 2000, seed: int = 0) -> list[float]:
    """95% percentile-bootstrap interval of the mean."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return [0.0, 0.0]
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, arr.size, size=(n, arr.size))].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def summarise(episodes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The ``summary`` block of one run."""
    succ = [1.0 if e["success"] else 0.0 for e in episodes]
    cost = [e["cost"] for e in episodes]

    def mean(key: str) -> float:
        return float(np.mean([c[key] for c in cost])) if cost else 0.0

    return {
        "episodes": len(episodes),
        "success_rate": float(np.mean(succ)) if succ else 0.0,
        "success_ci95": bootstrap_ci(succ),
        "mean_quality": float(np.mean([e["quality"] for e in episodes])) if episodes else 0.0,
        "mean_generated_tokens": mean("generated_tokens"),
        "mean_llm_calls": mean("llm_calls"),
        "mean_seconds": mean("seconds"),
    }


def select_tasks(suite: Any, split: str, episodes: int) -> list[str]:
    tasks = [t.task_id for t in suite.tasks(split)]
    random.Random(0).shuffle(tasks)
    return tasks[:episodes]


def run_bench(
    backend: Backend,
    suite: Any,
    split: str,
    strategies: Sequence[str],
    *,
    episodes: int,
    seeds: int,
    out: Path,
    first_seed: int = 0,
    max_steps: int | None = None,
    progress: Callable[[str], None] | None = None,
    reuse: Sequence[Path] = (),
) -> dict[str, Any]:
    """Run every (strategy, seed, task) not yet on disk; return the rebuilt results.

    Seeds ``first_seed`` to ``first_seed + seeds - 1`` run. Episodes are separate files, so
    processes that run different seeds (or strategies) into one ``out`` do not clash: that is
    how one bench is spread over several cores. An episode already run into one of the ``reuse``
    folders (same suite, split, backend, strategy, seed and task) is copied from there instead
    of run again: a bench of every strategy on a few tasks reuses the cheap strategies' episodes
    of a larger bench on the same tasks.
    """
    out = Path(out)
    tasks = select_tasks(suite, split, episodes)
    # Seed-major, then task, then strategy: a run stopped early has every strategy on the same
    # tasks, so its partial results still compare like with like.
    for seed in range(first_seed, first_seed + seeds):
        planners = {s: Planner(backend=backend, controller=s, seed=seed) for s in strategies}
        for task_id in tasks:
            for strategy, planner in planners.items():
                tag = f"{_safe(backend.name)}__"
                path = (
                    out
                    / "episodes"
                    / (
                        f"{tag}{_safe(suite.name)}__{_safe(split)}__{_safe(strategy)}__{seed}__"
                        f"{_safe(task_id)}.json"
                    )
                )
                if path.is_file():
                    if progress:
                        progress("skip")
                    continue
                done = [d / "episodes" / path.name for d in map(Path, reuse)]
                done = [f for f in done if f.is_file()]
                if done:
                    write_json_atomic(path, json.loads(done[0].read_text()))
                    if progress:
                        progress("skip")
                    continue
                env = suite.make(task_id, split)
                try:
                    result = planner.plan(env, max_steps=max_steps or env.max_steps, seed=seed)
                finally:
                    env.close()
                if result.stop_reason == "backend_error":  # not a measurement: stop the bench
                    raise BackendError(
                        f"the backend failed during {strategy} seed {seed} task {task_id}: "
                        f"{result.error}; the finished episodes are kept, re-run to resume"
                    )
                write_json_atomic(
                    path,
                    {
                        "suite": suite.name,
                        "split": split,
                        "model": backend.model_name,
                        "backend": backend.name,
                        "device": backend.capabilities.device,
                        "strategy": strategy,
                        "family": planner.controller.name,
                        "bound": planner.controller.bound,
                        "seed": seed,
                        "task_id": task_id,
                        "success": result.success,
                        "quality": result.quality,
                        "steps": len(result.steps),
                        "cost": result.cost.to_dict(),
                        "decisions": [s.decision.to_dict() for s in result.steps],
                    },
                )
                if progress:
                    progress("done")
    return build_results(out)


def build_results(out: Path) -> dict[str, Any]:
    """Group the episode files of ``out`` into runs and write ``results.json``."""
    runs: dict[tuple[str, str, str, str, str, str, int], list[dict[str, Any]]] = {}
    for path in sorted((Path(out) / "episodes").glob("*.json")):
        e = json.loads(path.read_text())
        key = (
            e["suite"],
            e["split"],
            e["model"],
            e["backend"],
            e.get("device", "cpu"),
            e["strategy"],
            int(e["seed"]),
        )
        runs.setdefault(key, []).append(e)
    results = {
        "version": RESULTS_VERSION,
        "runs": [
            {
                "suite": suite,
                "split": split,
                "model": model,
                "backend": backend,
                "device": device,
                "strategy": strategy,
                "seed": seed,
                "episodes": [
                    {
                        k: e[k]
                        for k in (
                            "task_id",
                            "success",
                            "quality",
                            "steps",
                            "cost",
                            "decisions",
                            "family",
                            "bound",
                        )
                    }
                    for e in eps
                ],
                "summary": summarise(eps),
            }
            for (suite, split, model, backend, device, strategy, seed), eps in sorted(runs.items())
        ],
    }
    write_json_atomic(Path(out) / "results.json", results)
    return results
