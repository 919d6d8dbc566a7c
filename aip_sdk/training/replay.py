"""The replay environment: train a controller on recorded traces in minutes.

Observation: the step's feature vector. Action: an index into the decision table. At each step
the decision's outcome is read from the recorded pools: the action its vote would have chosen,
good or not, and the tokens it would have spent. The rewards of an episode sum to

    R = alpha * Q - beta * C

with Q the share of steps whose vote is a good (optimal-path) action, the replay estimate of the
episode's quality, and C the mean, over steps, of the decision's cost divided by the cost of the
dearest decision in the table at that step (so C is in [0, 1] in every suite and alpha and beta
mean the same everywhere). The live wrapper (``live.py``) measures the real Q instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from aip_sdk.decision import Decision
from aip_sdk.errors import ConfigError
from aip_sdk.features import FEATURE_NAMES
from aip_sdk.traces import EpisodeTrace, StepTrace

__all__ = ["COST_MEASURES", "ReplayEnv", "evaluate", "oracle_choice", "split_holdout", "step_cost"]


def split_holdout(
    episodes: Sequence[EpisodeTrace], fraction: float
) -> tuple[list[EpisodeTrace], list[EpisodeTrace]]:
    """Split episodes into (train, held out) by a stable hash of their key."""
    import zlib

    train: list[EpisodeTrace] = []
    held: list[EpisodeTrace] = []
    for e in episodes:
        (held if (zlib.crc32(e.key.encode()) % 1000) < fraction * 1000 else train).append(e)
    return train, held


COST_MEASURES = ("tokens", "calls")


def step_cost(step: StepTrace, decision: Decision, measure: str = "tokens") -> float:
    """What ``decision`` would have cost at ``step``, in tokens or LM calls."""
    if measure == "tokens":
        return float(step.cost(decision))
    if measure == "calls":
        return float(1 + (decision.k if decision.depth > 0 else 0))
    raise ConfigError(f"cost measure {measure!r} is not one of {COST_MEASURES} in replay")


class ReplayEnv(gymnasium.Env[np.ndarray, np.int64]):
    """Replays collected episodes; one gymnasium episode is one recorded episode."""

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium's convention

    def __init__(
        self,
        episodes: Sequence[EpisodeTrace],
        table: Sequence[Decision],
        *,
        alpha: float = 1.0,
        beta: float = 0.5,
        cost: str = "tokens",
    ) -> None:
        self.episodes = [e for e in episodes if e.steps]
        if not self.episodes:
            raise ConfigError(
                "no episode with steps in the traces; collect more with 'aip-sdk collect'"
            )
        if cost not in COST_MEASURES:
            raise ConfigError(f"cost measure {cost!r} is not one of {COST_MEASURES} in replay")
        self.table = tuple(table)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.cost = cost
        self.observation_space = spaces.Box(
            -1.0, 1.0, shape=(len(FEATURE_NAMES),), dtype=np.float32
        )
        self.action_space = spaces.Discrete(len(self.table))
        self._ep: EpisodeTrace = self.episodes[0]
        self._t = 0
        self._norm = [self._max_cost(s) for s in self._ep.steps]

    def _max_cost(self, step: StepTrace) -> float:
        return max(step_cost(step, d, self.cost) for d in self.table) or 1.0

    def _obs(self) -> np.ndarray:
        return np.clip(np.asarray(self._ep.steps[self._t].features, dtype=np.float32), -1.0, 1.0)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._ep = self.episodes[int(self.np_random.integers(len(self.episodes)))]
        self._t = 0
        self._norm = [self._max_cost(s) for s in self._ep.steps]
        return self._obs(), {"suite": self._ep.suite, "task_id": self._ep.task_id}

    def outcome(self, step: StepTrace, decision: Decision) -> tuple[bool, float]:
        """(good, normalised cost) of ``decision`` at ``step``."""
        chosen = step.vote(decision)
        good = bool(chosen is not None and chosen.good)
        return good, step_cost(step, decision, self.cost) / self._max_cost(step)

    def step(self, action: np.int64 | int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        decision = self.table[int(action)]
        step = self._ep.steps[self._t]
        good, cost = self.outcome(step, decision)
        n = len(self._ep.steps)
        reward = (self.alpha * float(good) - self.beta * cost) / n
        self._t += 1
        terminated = self._t >= n
        if terminated:
            self._t = n - 1
        info = {
            "good": good,
            "cost": cost,
            "tokens": step.cost(decision),
            "k": decision.k,
            "depth": decision.depth,
        }
        return self._obs(), float(reward), terminated, False, info


def oracle_choice(step: StepTrace, table: Sequence[Decision], cost: str = "tokens") -> int:
    """Index of the cheapest decision whose vote is good at ``step`` (else the cheapest)."""
    order = sorted(range(len(table)), key=lambda i: step_cost(step, table[i], cost))
    for i in order:
        chosen = step.vote(table[i])
        if chosen is not None and chosen.good:
            return i
    return order[0]


def evaluate(
    episodes: Sequence[EpisodeTrace],
    table: Sequence[Decision],
    choose: Any,
    *,
    alpha: float = 1.0,
    beta: float = 0.5,
    cost: str = "tokens",
) -> dict[str, float]:
    """Mean reward, Q (good-step share), C (normalised cost) and tokens of a decision rule.

    ``choose(features) -> index`` is the rule (a trained policy, or a constant for a fixed one);
    ``"oracle"`` takes, with hindsight, the cheapest good decision at every step.
    """
    env = ReplayEnv(episodes, table, alpha=alpha, beta=beta, cost=cost)
    rewards, qs, cs, toks = [], [], [], []
    for ep in env.episodes:
        goods, costs, tokens = [], [], 0
        for s in ep.steps:
            if choose == "oracle":
                d = table[oracle_choice(s, table, cost)]
            else:
                d = table[int(choose(np.asarray(s.features, dtype=np.float32)))]
            good, c = env.outcome(s, d)
            goods.append(good)
            costs.append(c)
            tokens += s.cost(d)
        q, c = float(np.mean(goods)), float(np.mean(costs))
        rewards.append(alpha * q - beta * c)
        qs.append(q)
        cs.append(c)
        toks.append(tokens / len(ep.steps))
    return {
        "reward": float(np.mean(rewards)),
        "good_step_rate": float(np.mean(qs)),
        "cost": float(np.mean(cs)),
        "tokens_per_step": float(np.mean(toks)),
        "episodes": float(len(env.episodes)),
    }
