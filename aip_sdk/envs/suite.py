"""Suites: named, enumerable, seedable sets of tasks, each read from a data path."""

from __future__ import annotations

import os
from typing import Any, Protocol

import attrs

from aip_sdk.errors import ConfigError

__all__ = ["Suite", "Task", "load_suite"]


@attrs.frozen(kw_only=True)
class Task:
    """One task of a suite: its id (as given to ``--task``), split and difficulty label."""

    suite: str
    task_id: str
    split: str
    difficulty: str


class Suite(Protocol):
    """A named set of tasks; ``make`` builds the environment of one task."""

    @property
    def name(self) -> str: ...

    @property
    def splits(self) -> tuple[str, ...]: ...

    @property
    def default_split(self) -> str: ...

    def tasks(self, split: str | None = None) -> list[Task]: ...

    def make(self, task_id: str, split: str | None = None, **options: Any) -> Any: ...


def load_suite(name: str, data: str | os.PathLike[str] | None = None, **options: Any) -> Suite:
    """Build the suite ``name`` reading from ``data`` (or the default data folder).

    ``options`` go to the suite (``domain="logistics"`` for ``pddl``); ``"pddl:logistics"`` is
    short for ``load_suite("pddl", domain="logistics")``.

    Raises:
        ConfigError: no suite has that name (the message suggests the closest), or an option the
            suite does not take.
        MissingDependencyError: the suite's packages are not installed.
    """
    from aip_sdk.registry import SUITES

    name, _, domain = name.partition(":")
    if domain:
        options = {**options, "domain": domain}
    factory = SUITES.get(name)
    options = {k: v for k, v in options.items() if v is not None}
    try:
        suite: Suite = factory(data=data, **options)
    except TypeError as exc:
        raise ConfigError(
            f"suite {name!r} does not take {', '.join(sorted(options))} ({exc}); --domain is "
            f"for --suite pddl; --suite-option keys are the suite's documented options"
        ) from exc
    return suite


def check_split(suite: Suite, split: str | None) -> str:
    chosen = split or suite.default_split
    splits = suite.splits
    if not splits:
        raise ConfigError(
            f"suite {suite.name!r} found no splits in its data folder; pass --data with the "
            f"folder that holds them"
        )
    if chosen not in splits:
        raise ConfigError(
            f"suite {suite.name!r} has no split {chosen!r}; choose one of {', '.join(splits)}"
        )
    return chosen
