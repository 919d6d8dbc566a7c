"""The live wrapper: the real backend in the real suite environment, as a gymnasium env.

Observation: the step's features (from the real probe). Action: an index into the decision
table. The policy draws the candidates the decision allots, the environment takes their vote. The
episode's reward, given at its end, is ``alpha * Q - beta * C`` with the real Q (the environment's
quality: success times optimality) and C the mean per-step cost of the drawn candidates (the
probe apart, as in replay) divided by ``cost_norm`` (the estimated cost of the dearest decision:
its k times the per-sample token budget). Slow; meant for
small runs and for checking that replay and live agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from aip_sdk.backend import Backend
from aip_sdk.cost import Cost
from aip_sdk.decision import Decision
from aip_sdk.features import FEATURE_NAMES, Features
from aip_sdk.observation import Observation
from aip_sdk.policy import DEFAULT_REASONING_BUDGETS, Policy, aggregate

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
        self.policy = Policy(backend, reasoning_budgets=budgets)
        self.cost_norm = float(max(d.k * (8 + budgets.get(d.depth, 0)) for d in self.table))
        self.observation_space = spaces.Box(
            -1.0, 1.0, shape=(len(FEATURE_NAMES),), dtype=np.float32
        )
        self.action_space = spaces.Discrete(len(self.table))
        self._env: Any = None
        self._obs: Observation | None = None
        self._history: list[str] = []
        self._costs: list[float] = []
        self._t = 0
        self._limit = max_steps
        self._info: dict[str, Any] = {}

    def _measure(self, c: Cost) -> float:
        if self.cost == "calls":
            return float(c.llm_calls)
        if self.cost == "seconds":
            return c.seconds
        return float(c.tokens)

    def _features(self) -> np.ndarray:
        assert self._obs is not None
        probe, _cost = self.policy.probe(self._obs, self._history)
        f = Features.compute(
            probe,
            step=self._t,
            max_steps=self._limit,
            last_failed=not bool(self._info.get("valid", True)),
            no_progress=not bool(self._info.get("changed", True)) and self._t > 0,
        )
        return np.clip(f.as_array(), -1.0, 1.0)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if self._env is not None:
            self._env.close()
        task = self.task_ids[int(self.np_random.integers(len(self.task_ids)))]
        self._env = self.suite.make(task, self.split)
        obs, self._info = self._env.reset(seed=seed)
        self._obs = Observation.from_env(obs)
        self._limit = min(self.max_steps, getattr(self._env, "max_steps", self.max_steps))
        self._history, self._costs, self._t = [], [], 0
        return self._features(), {"task_id": task}

    def step(self, action: np.int64 | int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        assert self._obs is not None
        decision = self.table[int(action)]
        seed = int(self.np_random.integers(2**31))
        cands, cost = self.policy.draw(
            self._obs, self._history, n=decision.k, depth=decision.depth, seed=seed
        )
        chosen, _ = aggregate(cands)
        self._costs.append(self._measure(cost) / self.cost_norm)  # the probe, as in replay, apart
        obs, _r, terminated, truncated, self._info = self._env.step(chosen)
        self._history.append(chosen)
        self._t += 1
        self._obs = Observation.from_env(obs)
        done = bool(self._info.get("success")) or terminated or truncated or self._t >= self._limit
        reward = 0.0
        if done:
            q = float(self._info.get("quality", 0.0))
            reward = self.alpha * q - self.beta * float(np.mean(self._costs))
            feats = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
        else:
            feats = self._features()
        info = {
            "action": chosen,
            "k": decision.k,
            "depth": decision.depth,
            "success": bool(self._info.get("success")),
        }
        return feats, reward, bool(done), False, info

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None
