"""The live wrapper: the real backend in the real suite environment, as a gymnasium env.

Observation: the step's features (from the real probe). Action: an index into the decision
table. The Planner carries the decision out (``Planner.observe`` and ``Planner.carry_out`` over
one :class:`~aip_sdk.context.StepContext`: the features and the execution are serving's own).
The episode's reward, given at its end, is ``alpha * Q - beta * C`` with the real Q (the
environment's quality: success times optimality) and C the mean per-step cost (probe included)
divided by the probe's tokens plus ``cost_norm`` (the estimated sampling cost of the dearest
decision: its k times the per-sample token budget), capped at 2. Slow; meant for bounded runs
after replay training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from aip_sdk.backend import Backend
from aip_sdk.context import StepContext
from aip_sdk.cost import Cost
from aip_sdk.decision import Decision
from aip_sdk.features import FEATURE_NAMES
from aip_sdk.planner import Look, Planner
from aip_sdk.policy import DEFAULT_REASONING_BUDGETS

__all__ = ["LiveEnv"]


class LiveEnv(gymnasium.Env[np.ndarray, np.int64]):
    """Runs one suite task per episode with the real model."""

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium's convention

    def __init__(
        self,
        backend: Backend,
        suite: Any,
        task_ids: Sequence[str],
        table: Sequence[Decision],
        *,
        split: str | None = None,
        alpha: float = 1.0,
        beta: float = 0.5,
        cost: str = "tokens",
        max_steps: int = 15,
        reasoning_budgets: Mapping[int, int] | None = None,
    ) -> None:
        self.backend = backend
        self.suite = suite
        self.split = split
        self.task_ids = list(task_ids)
        self.table = tuple(table)
        self.alpha, self.beta, self.cost = float(alpha), float(beta), cost
        self.max_steps = max_steps
        budgets = dict(reasoning_budgets or DEFAULT_REASONING_BUDGETS)
        # The Planner's own two step halves (observe, carry_out): the features and the
        # decision's execution are those of serving.
        self.planner = Planner(backend=backend, controller="fixed:k=1", reasoning_budgets=budgets)
        self.cost_norm = float(max(max(d.k, 1) * (8 + budgets.get(d.depth, 0)) for d in self.table))
        self.observation_space = spaces.Box(
            -1.0, 1.0, shape=(len(FEATURE_NAMES),), dtype=np.float32
        )
        self.action_space = spaces.Discrete(len(self.table))
        self._env: Any = None
        self._obs: Any = None
        self._ctx = StepContext.start(limit=max_steps)
        self._look = Look()
        self._costs: list[float] = []
        self._info: dict[str, Any] = {}

    def _measure(self, c: Cost) -> float:
        if self.cost == "calls":
            return float(c.llm_calls)
        if self.cost == "seconds":
            return c.seconds
        return float(c.tokens)

    def _features(self) -> np.ndarray:
        self._look = self.planner.observe(self._obs, self._ctx, probe=True)
        assert self._look.features is not None
        return np.clip(self._look.features.as_array(), -1.0, 1.0)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if self._env is not None:
            self._env.close()
        task = self.task_ids[int(self.np_random.integers(len(self.task_ids)))]
        self._env = self.suite.make(task, self.split)
        self._obs, self._info = self._env.reset(seed=seed)
        limit = getattr(self._env, "max_steps", self.max_steps)
        self._ctx = StepContext.start(self._obs, self._info, limit=limit, env=self._env)
        self._costs = []
        return self._features(), {"task_id": task}

    def step(self, action: np.int64 | int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        decision = self.table[int(action)]
        seed = int(self.np_random.integers(2**31))
        record = self.planner.carry_out(
            self._obs, self._ctx, decision, self._look, env=self._env, seed=seed
        )
        # Normalised by the probe (about the prompt) plus the dearest decision's sampling budget.
        norm = self._measure(self._look.cost) + self.cost_norm
        self._costs.append(min(2.0, self._measure(record.cost) / norm))
        self._obs, _r, terminated, truncated, self._info = self._env.step(record.action)
        self._ctx.advance(record.action, self._obs, self._info, record.cost)
        done = (
            bool(self._info.get("success"))
            or terminated
            or truncated
            or self._ctx.step >= min(self.max_steps, self._ctx.limit)
        )
        reward = 0.0
        if done:
            q = float(self._info.get("quality", 0.0))
            reward = self.alpha * q - self.beta * float(np.mean(self._costs))
            feats = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
        else:
            feats = self._features()
        info = {
            "action": record.action,
            "decision": decision.to_dict(),
            "success": bool(self._info.get("success")),
        }
        return feats, reward, bool(done), False, info

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None
