"""The step context: an episode's counters and history, kept by one piece of code.

Serving (``Planner.plan`` and ``Planner.act``), trace collection and the live training wrapper
all walk an episode through a :class:`StepContext`, so the features a controller is trained on
are computed exactly as the features it sees when it serves. Start one with
:meth:`StepContext.start` after ``env.reset`` and call :meth:`StepContext.advance` after every
``env.step``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import attrs

from aip_sdk.cost import Cost
from aip_sdk.observation import Observation

__all__ = ["StepContext", "step_limit"]


def step_limit(env: Any, max_steps: int | None = None, *, default: int) -> int:
    """An episode's step limit: ``max_steps`` where given, else the environment's own
    (``env.max_steps``, where it truncates itself), else ``default``.

    Serving, benches, collection and live training all take it from here, so a controller
    sees the same ``step_frac`` in training as when serving.
    """
    return int(max_steps or getattr(env, "max_steps", None) or default)


def _state(obs: Any, info: Mapping[str, Any] | None) -> str:
    if info is not None and isinstance(info.get("state"), str):
        return str(info["state"])
    return Observation.from_env(obs).text


@attrs.define
class StepContext:
    """Where an episode stands before its next step.

    Attributes:
        limit: the step limit of the episode.
        budget_tokens: the compute budget in tokens (``None``: no budget).
        step: the index of the next step (= steps taken so far).
        history: the actions taken so far.
        spent: tokens spent so far (evaluated prompt plus generated).
        last_failed: the previous action was rejected by the environment.
        no_progress: the previous action changed nothing, was rejected, or undid the one before.
        since_change: steps since the state last changed (0 right after a change).
        undone: the previous action returned to the state before the one before.
        states: how many times each state has been seen (the current one included).
        state: the current state's key (``info["state"]``, else the observation text).
        copyable: the environment can be copied (decisions may look ahead).
        best_progress: the highest ``info["goal_progress"]`` seen in the episode (``None``
            where the suite does not report it).
        since_progress: steps since ``best_progress`` last rose (0 where it is not reported):
            how long the episode has been stalled.
    """

    limit: int
    budget_tokens: int | None = None
    step: int = 0
    history: list[str] = attrs.field(factory=list)
    spent: int = 0
    last_failed: bool = False
    no_progress: bool = False
    since_change: int = 0
    undone: bool = False
    states: Counter[str] = attrs.field(factory=Counter)
    state: str = ""
    copyable: bool = False
    best_progress: float | None = None
    since_progress: int = 0
    _trail: list[str] = attrs.field(factory=list, repr=False)

    @classmethod
    def start(
        cls,
        obs: Any = None,
        info: Mapping[str, Any] | None = None,
        *,
        limit: int,
        budget_tokens: int | None = None,
        env: Any = None,
    ) -> StepContext:
        """The context of an episode just reset to ``obs`` (``None``: the state is unknown).

        Pass the environment (``env``) so that the context knows whether it can be copied.
        """
        from aip_sdk.lookahead import can_copy

        ctx = cls(limit=limit, budget_tokens=budget_tokens, copyable=can_copy(env))
        if obs is not None:
            ctx.state = _state(obs, info)
            ctx.states[ctx.state] += 1
            ctx._trail.append(ctx.state)
        if info is not None and info.get("goal_progress") is not None:
            ctx.best_progress = float(info["goal_progress"])
        return ctx

    @property
    def budget_frac(self) -> float:
        """Share of the token budget spent (0 without a budget)."""
        return self.spent / self.budget_tokens if self.budget_tokens else 0.0

    @property
    def step_frac(self) -> float:
        """Share of the step limit used."""
        return min(1.0, self.step / max(1, self.limit))

    @property
    def repeats(self) -> int:
        """Times the current state was seen before now."""
        return max(0, self.states[self.state] - 1) if self.state else 0

    def over_budget(self) -> bool:
        """The token budget, if any, is spent."""
        return self.budget_tokens is not None and self.spent >= self.budget_tokens

    def advance(self, action: str, obs: Any, info: Mapping[str, Any], cost: Cost) -> None:
        """Record that ``action`` was taken, cost ``cost`` and led to ``obs`` / ``info``."""
        new = _state(obs, info)
        valid = bool(info.get("valid", True))
        changed = bool(info.get("changed", new != self.state))
        self.undone = len(self._trail) >= 2 and new == self._trail[-2]
        self.last_failed = not valid
        self.no_progress = self.last_failed or not changed or self.undone
        self.since_change = self.since_change + 1 if not changed else 0
        self.history.append(action)
        self.spent += cost.tokens
        self.step += 1
        self.state = new
        self.states[new] += 1
        self._trail.append(new)
        progress = info.get("goal_progress")
        if progress is None:
            return
        if self.best_progress is None or float(progress) > self.best_progress:
            self.best_progress = float(progress)
            self.since_progress = 0
        else:
            self.since_progress += 1
