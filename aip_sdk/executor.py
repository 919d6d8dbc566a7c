"""Executors: where the episodes of a bench or a collection run.

A long run is a list of independent jobs (one episode each); the driver writes each result to
its own file as it arrives, so the on-disk layout, resumption and results are the same whoever
runs the jobs:

* :class:`LocalExecutor` runs them one after the other in this process (the default);
* :class:`RayExecutor` runs them on a Ray cluster (or a local one): one actor per worker, each
  loading its own backend once and pinned to one CPU of its node (the backends then use one
  thread each, as processes pinned with ``taskset`` do), one episode per task.

A job runner is made by a picklable *factory* (``make_runner()`` returns ``run(job) -> result``),
so that each Ray worker builds its own backend and suite once.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import attrs

from aip_sdk.errors import ConfigError, MissingDependencyError

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "make_executor"]

Runner = Callable[[Any], Any]


class Executor(Protocol):
    """Runs jobs and yields ``(job, result)`` as results arrive (in any order)."""

    def run(self, make_runner: Callable[[], Runner], jobs: Sequence[Any]) -> Iterator[Any]: ...


@attrs.define
class LocalExecutor:
    """Runs the jobs in this process, in order, with one runner."""

    runner: Runner | None = None  # an already built runner (the driver's backend), else built

    def run(self, make_runner: Callable[[], Runner], jobs: Sequence[Any]) -> Iterator[Any]:
        run = self.runner or make_runner()
        for job in jobs:
            yield job, run(job)


class _Worker:
    """A Ray actor: pins itself to one CPU, builds its runner once, runs jobs."""

    def __init__(self, make_runner: Callable[[], Runner], index: int) -> None:
        if hasattr(os, "sched_setaffinity"):
            cpus = sorted(os.sched_getaffinity(0))
            os.sched_setaffinity(0, {cpus[index % len(cpus)]})
        self._run = make_runner()

    def run(self, job: Any) -> Any:
        return self._run(job)


@attrs.define
class RayExecutor:
    """Runs the jobs on Ray: ``workers`` actors, each with its own runner.

    Args:
        address: a Ray cluster's address (``None``: start a local Ray on this machine).
        workers: actors (default: the CPUs this process may use).
    """

    address: str | None = None
    workers: int | None = None

    def run(self, make_runner: Callable[[], Runner], jobs: Sequence[Any]) -> Iterator[Any]:
        try:
            ray: Any = importlib.import_module("ray")
        except ImportError as exc:
            raise MissingDependencyError(
                "ray", extra="ray", purpose="run benches and collections on Ray"
            ) from exc
        if not jobs:
            return
        from aip_sdk.util import usable_cpus

        if not ray.is_initialized():
            ray.init(
                address=self.address,
                num_cpus=None if self.address else usable_cpus(),
                include_dashboard=False,
                logging_level="ERROR",
                log_to_driver=False,
            )
        n = max(1, min(self.workers or usable_cpus(), len(jobs)))
        # Each worker holds one CPU: more workers than the cluster's CPUs would leave the extra
        # ones unscheduled and their first jobs waiting for ever (a process pinned to one core
        # with --workers 2 hung).
        cpus = int(ray.cluster_resources().get("CPU", 0)) or 1
        if n > cpus:
            warnings.warn(
                f"{n} Ray workers asked for, but the cluster has {cpus} CPU(s) and each worker "
                f"takes one: running {cpus}",
                stacklevel=2,
            )
            n = cpus
        actor = ray.remote(num_cpus=1)(_Worker)
        actors = [actor.remote(make_runner, i) for i in range(n)]
        todo = list(jobs)
        running: dict[Any, tuple[Any, Any]] = {}  # ref -> (job, actor)
        for a in actors:
            if todo:
                job = todo.pop(0)
                running[a.run.remote(job)] = (job, a)
        try:
            while running:
                ready, _ = ray.wait(list(running), num_returns=1)
                ref = ready[0]
                job, a = running.pop(ref)
                result = ray.get(ref)
                if todo:
                    nxt = todo.pop(0)
                    running[a.run.remote(nxt)] = (nxt, a)
                yield job, result
        finally:
            for a in actors:
                ray.kill(a)


def make_executor(name: str, *, address: str | None = None, workers: int | None = None) -> Any:
    """The executor called ``name`` (``local`` or ``ray``).

    Raises:
        ConfigError: another name.
    """
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address=address, workers=workers)
    raise ConfigError(f"executor {name!r} is not one of local, ray")
