"""Run strategies live on a suite and keep every finished episode (resumable).

Every episode result is written atomically to ``DIR/episodes/``; re-running the same command skips
the finished ones. ``results.json`` is rebuilt from those files after each run, so it always
matches what has been measured. Tasks are the first ``episodes`` of the split in a fixed
shuffled order (the same tasks for every strategy and seed); a run's seed changes the sampling.
Episodes run seed by seed, task by task, every strategy on a task before the next task, so a run
stopped part-way still holds every strategy on the same tasks.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import attrs
import numpy as np

from aip_sdk.backend import Backend
from aip_sdk.errors import BackendError, ConfigError
from aip_sdk.executor import Executor, LocalExecutor
from aip_sdk.planner import Planner
from aip_sdk.util import bootstrap_ci, write_json_atomic

__all__ = [
    "EpisodeJob",
    "build_results",
    "run_bench",
    "run_episode",
    "summarise",
]

RESULTS_VERSION = "aip-bench/1"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text)


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


@attrs.frozen
class EpisodeJob:
    """One episode of a bench: a strategy on a task with a seed, and the file it goes to."""

    strategy: str
    seed: int
    task_id: str
    name: str


def run_episode(
    backend: Backend, suite: Any, split: str, job: EpisodeJob, max_steps: int | None = None
) -> dict[str, Any]:
    """Run one bench episode from an empty KV cache and return its record (the file's body).

    Raises:
        BackendError: the backend failed (the episode is not a measurement).
    """
    reset = getattr(backend, "reset_cache", None)
    if callable(reset):  # an episode's cost does not depend on which episode ran before
        reset()
    planner = Planner(backend=backend, controller=job.strategy, seed=job.seed)
    env = suite.make(job.task_id, split)
    try:
        result = planner.plan(env, max_steps=max_steps, seed=job.seed)
    finally:
        env.close()
    if result.stop_reason == "backend_error":
        raise BackendError(
            f"the backend failed during {job.strategy} seed {job.seed} task {job.task_id}: "
            f"{result.error}; the finished episodes are kept, re-run to resume"
        )
    return {
        "suite": suite.name,
        "split": split,
        "model": backend.model_name,
        "backend": backend.name,
        "device": backend.capabilities.device,
        "strategy": job.strategy,
        "family": planner.controller.name,
        "bound": planner.controller.bound,
        "seed": job.seed,
        "task_id": job.task_id,
        "success": result.success,
        "quality": result.quality,
        "steps": len(result.steps),
        "cost": result.cost.to_dict(),
        "decisions": [s.decision.to_dict() for s in result.steps],
    }


def _runner(
    backend_factory: Callable[[], Backend],
    suite_spec: tuple[str, Any, dict[str, Any]],
    split: str,
    max_steps: int | None,
) -> Callable[[EpisodeJob], dict[str, Any]]:
    """A job runner with its own backend and suite (built once per worker)."""
    from aip_sdk.envs.suite import load_suite

    backend = backend_factory()
    name, data, options = suite_spec
    suite = load_suite(name, data, **options)
    return functools.partial(run_episode, backend, suite, split, max_steps=max_steps)


def run_bench(
    backend: Backend | Callable[[], Backend],
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
    executor: Executor | None = None,
    backend_name: str | None = None,
    suite_spec: tuple[str, Any, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run every (strategy, seed, task) not yet on disk; return the rebuilt results.

    Seeds ``first_seed`` to ``first_seed + seeds - 1`` run. Episodes are separate files, so
    processes that run different seeds (or strategies) into one ``out`` do not clash. An episode
    already run into one of the ``reuse`` folders (same suite, split, backend, strategy, seed
    and task) is copied from there instead of run again.

    Args:
        backend: the backend, or (for executors that run elsewhere) a picklable factory of one.
        executor: where the episodes run (default: here, one after the other).
        backend_name: the backend's registered name, when ``backend`` is a factory.
        suite_spec: (name, data, options) to rebuild the suite on a remote worker.
    """
    out = Path(out)
    tasks = select_tasks(suite, split, episodes)
    # a class is a factory too (the protocol check would pass on its attributes)
    loaded = isinstance(backend, Backend) and not isinstance(backend, type)
    instance = cast(Backend, backend) if loaded else None
    name = instance.name if instance is not None else backend_name or ""
    if not name:
        raise ConfigError("run_bench needs backend_name= with a backend factory")
    # Seed-major, then task, then strategy: a run stopped early has every strategy on the same
    # tasks, so its partial results still compare like with like.
    jobs = []
    for seed in range(first_seed, first_seed + seeds):
        for task_id in tasks:
            for strategy in strategies:
                file = (
                    f"{_safe(name)}__{_safe(suite.name)}__{_safe(split)}__{_safe(strategy)}__"
                    f"{seed}__{_safe(task_id)}.json"
                )
                path = out / "episodes" / file
                if path.is_file():
                    if progress:
                        progress("skip")
                    continue
                done = [f for f in (Path(d) / "episodes" / file for d in reuse) if f.is_file()]
                if done:
                    write_json_atomic(path, json.loads(done[0].read_text()))
                    if progress:
                        progress("skip")
                    continue
                jobs.append(EpisodeJob(strategy=strategy, seed=seed, task_id=task_id, name=file))
    if instance is not None:
        if executor is not None and not isinstance(executor, LocalExecutor):
            raise ConfigError(
                "an executor that runs elsewhere needs a backend factory (each worker loads "
                "its own backend), not a loaded backend"
            )
        local = functools.partial(run_episode, instance, suite, split, max_steps=max_steps)
        executor = LocalExecutor(runner=local)
    executor = executor or LocalExecutor()
    if suite_spec is None:
        suite_spec = (suite.name, getattr(suite, "data", None), {})
    # With a loaded backend the local executor already holds its runner: make is not called.
    factory = cast("Callable[[], Backend]", backend) if instance is None else lambda: instance
    make = functools.partial(_runner, factory, suite_spec, split, max_steps)
    for job, record in executor.run(make, jobs):
        write_json_atomic(out / "episodes" / job.name, record)
        if progress:
            progress("done")
    return build_results(out)


MODEL_FILE = "model.json"


def record_model(out: Path, identity: dict[str, str]) -> None:
    """Write the model a bench folder is run with (``model.json``), or check it is the same.

    Raises:
        ConfigError: the folder already holds results of other weights (a different SHA-256):
            mixing them would compare strategies across models.
    """
    path = Path(out) / MODEL_FILE
    if path.is_file():
        prev = json.loads(path.read_text())
        if prev.get("sha256") and identity.get("sha256") and prev["sha256"] != identity["sha256"]:
            raise ConfigError(
                f"{str(out)!r} holds results of model {prev.get('name')!r} (sha256 "
                f"{prev['sha256'][:12]}...), not of {identity.get('name')!r} (sha256 "
                f"{identity['sha256'][:12]}...); bench each model into its own --out folder"
            )
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, identity)


def build_results(out: Path) -> dict[str, Any]:
    """Group the episode files of ``out`` into runs and write ``results.json`` (with the
    model's name and SHA-256 where ``model.json`` recorded them)."""
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
    model_file = Path(out) / MODEL_FILE
    results = {
        "version": RESULTS_VERSION,
        "model": json.loads(model_file.read_text()) if model_file.is_file() else None,
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
