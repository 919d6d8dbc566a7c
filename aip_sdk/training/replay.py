"""The replay environment: train a controller on recorded traces in minutes.

Observation: the step's feature vector. Action: an index into the decision table. At each step
the decision's outcome is read from the recording (:meth:`~aip_sdk.traces.StepTrace.outcome`):
the action it would have chosen, good or not, and every token it would have processed. The
rewards of an episode sum to

    R = alpha * Q - beta * C

with Q the share of steps whose chosen action is good (on an optimal path), the replay estimate
of the episode's quality, and C the mean, over steps, of the decision's tokens in units of one
sample (the tokens of ``k=1`` at that step: the prompt plus one candidate), so C is about 1 for
the cheapest decisions in every suite and alpha and beta mean the same everywhere. The tokens
are honest: the evaluated prompt, the probe (a learned controller runs it at every step), the
candidates and the lookahead rollouts. The live wrapper (``live.py``) measures the real Q.
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

__all__ = ["ReplayEnv", "evaluate", "oracle_choice", "split_holdout", "step_outcome"]


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


def step_outcome(
    step: StepTrace, decision: Decision, *, probe_paid: bool = True
) -> tuple[bool, float, int]:
    """(good, C in units of one sample, tokens) of ``decision`` at ``step``.

    A decision the recording cannot serve (a pool smaller than its k) counts as a bad step at
    the dearest cost the step recorded; tables come from the manifest, so this does not happen
    with traces collected for the table.
    """
    unit = step.outcome(Decision(k=1))
    unit_tokens = unit[1] if unit is not None else step.prompt_tokens + 1
    out = step.outcome(decision, probe_paid=probe_paid)
    if out is None:
        return False, 8.0, unit_tokens * 8
    action, tokens = out
    return action in step.good, tokens / max(1, unit_tokens), tokens


class ReplayEnv(gymnasium.Env[np.ndarray, np.int64]):
    """Replays collected episodes; one gymnasium episode is one recorded episode."""

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium's convention

    def __init__(
        self,
        episodes: Sequence[EpisodeTrace],
        table: Sequence[Decision],
        *,
        alpha: float = 1.0,
        beta: float = 0.1,
    ) -> None:
        self.episodes = [e for e in episodes if e.steps]
        if not self.episodes:
            raise ConfigError(
                "no episode with steps in the traces; collect more with 'aip-sdk collect'"
            )
        self.table = tuple(table)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.observation_space = spaces.Box(
            -1.0, 1.0, shape=(len(FEATURE_NAMES),), dtype=np.float32
        )
        self.action_space = spaces.Discrete(len(self.table))
        # Every (episode, step, decision) outcome once: PPO asks for the same ones many times.
        self._features = [
            np.clip(np.asarray([s.features for s in e.steps], dtype=np.float32), -1.0, 1.0)
            for e in self.episodes
        ]
        self._outcomes = [
            [[step_outcome(s, d) for d in self.table] for s in e.steps] for e in self.episodes
        ]
        self._i = 0
        self._ep: EpisodeTrace = self.episodes[0]
        self._t = 0

    def _obs(self) -> np.ndarray:
        out: np.ndarray = self._features[self._i][self._t].copy()
        return out

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._i = int(self.np_random.integers(len(self.episodes)))
        self._ep = self.episodes[self._i]
        self._t = 0
        return self._obs(), {"suite": self._ep.suite, "task_id": self._ep.task_id}

    def outcome(self, step: StepTrace, decision: Decision) -> tuple[bool, float]:
        """(good, cost C in units of one sample) of ``decision`` at ``step``."""
        good, cost, _tokens = step_outcome(step, decision)
        return good, cost

    def step(self, action: np.int64 | int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        decision = self.table[int(action)]
        good, cost, tokens = self._outcomes[self._i][self._t][int(action)]
        n = len(self._ep.steps)
        reward = (self.alpha * float(good) - self.beta * cost) / n
        self._t += 1
        terminated = self._t >= n
        if terminated:
            self._t = n - 1
        info = {"good": good, "cost": cost, "tokens": tokens, "decision": decision.to_dict()}
        return self._obs(), float(reward), terminated, False, info


def oracle_choice(step: StepTrace, table: Sequence[Decision]) -> int:
    """Index of the cheapest decision whose action is good at ``step`` (else the cheapest)."""
    order = sorted(
        range(len(table)), key=lambda i: step_outcome(step, table[i], probe_paid=False)[2]
    )
    for i in order:
        if step_outcome(step, table[i], probe_paid=False)[0]:
            return i
    return order[0]


def evaluate(
    episodes: Sequence[EpisodeTrace],
    table: Sequence[Decision],
    choose: Any,
    *,
    alpha: float = 1.0,
    beta: float = 0.1,
) -> dict[str, float]:
    """Mean reward, Q (good-step share), C (cost in samples) and tokens of a decision rule.

    ``choose(features) -> index`` is the rule: a trained policy (which pays the probe at every
    step), or ``("fixed", index)`` for a fixed decision (which pays the probe only for k=0);
    ``"oracle"`` takes, with hindsight, the cheapest good decision at every step.
    """
    rewards, qs, cs, toks = [], [], [], []
    for ep in episodes:
        if not ep.steps:
            continue
        goods, costs, tokens = [], [], 0
        for s in ep.steps:
            if choose == "oracle":
                d, paid = table[oracle_choice(s, table)], False
            elif isinstance(choose, tuple):
                d, paid = table[int(choose[1])], False
            else:
                d, paid = table[int(choose(np.asarray(s.features, dtype=np.float32)))], True
            good, c, t = step_outcome(s, d, probe_paid=paid)
            goods.append(good)
            costs.append(c)
            tokens += t
        q, c = float(np.mean(goods)), float(np.mean(costs))
        rewards.append(alpha * q - beta * c)
        qs.append(q)
        cs.append(c)
        toks.append(tokens / len(ep.steps))
    if not rewards:
        raise ConfigError("no episode with steps to evaluate")
    return {
        "reward": float(np.mean(rewards)),
        "good_step_rate": float(np.mean(qs)),
        "cost": float(np.mean(cs)),
        "tokens_per_step": float(np.mean(toks)),
        "episodes": float(len(rewards)),
    }
