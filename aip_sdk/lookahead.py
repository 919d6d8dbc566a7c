"""Lookahead: try each distinct candidate in a copy of the environment and rate what follows.

Small models often sample the right action but fail to pick it (selection, not generation, is
their bottleneck). When the environment can be copied, a step can instead try every distinct
candidate in a copy, continue each for ``h`` steps with the cheapest policy (one greedy
constrained choice per step), and take the candidate whose continuation the environment rates
best. The rating reads only what the environment tells any agent, never labels or expert plans:

* success (sooner is better) dominates everything else;
* each rejected action costs 1, each action that changed nothing 0.5, each return to a state
  already seen in the episode or the rollout 0.5, an episode ended without success 5;
* the environment's reward is added, and so is twice its ``goal_progress`` (the share of goal
  conditions met) at the end of the rollout, where the suite reports it.

Ties go to the candidates' vote order, so lookahead never does worse than the vote when the
rollouts cannot tell the candidates apart. Every model call of the rollouts is in the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from aip_sdk.cost import Cost
from aip_sdk.errors import ConfigError
from aip_sdk.observation import Observation

__all__ = ["Rollout", "can_copy", "copy_env", "look_ahead", "state_key"]

REJECTED = 1.0
NO_CHANGE = 0.5
REPEAT = 0.5
FAILED_END = 5.0
PROGRESS = 2.0


def can_copy(env: Any) -> bool:
    """The environment offers ``clone()`` (an independent copy in the same state)."""
    return callable(getattr(env, "clone", None))


def copy_env(env: Any) -> Any:
    """An independent copy of ``env`` in its current state.

    Raises:
        ConfigError: the environment cannot be copied.
    """
    if not can_copy(env):
        name = getattr(getattr(env, "unwrapped", env), "__class__", type(env)).__name__
        raise ConfigError(
            f"lookahead needs an environment that can be copied (a clone() method); {name} "
            f"cannot be (MiniWoB++ runs in a live browser). Use a strategy without lookahead"
        )
    return env.clone()


def state_key(obs: Any, info: dict[str, Any] | None = None) -> str:
    """What identifies a state for repeat counting: ``info["state"]`` or the observation text."""
    if info and isinstance(info.get("state"), str):
        return str(info["state"])
    return Observation.from_env(obs).text


@attrs.frozen(kw_only=True)
class Rollout:
    """One candidate tried in a copy and continued.

    Attributes:
        action: the candidate.
        actions: every action of the rollout, the candidate first.
        success: the rollout reached the goal.
        rating: what the environment's signals add up to (higher is better).
        cost: the model calls of the continuation.
    """

    action: str
    actions: tuple[str, ...]
    success: bool
    rating: float
    cost: Cost

    @property
    def score(self) -> float:
        """One number for the record: 100 minus the steps to success, else the rating."""
        return 100.0 - len(self.actions) if self.success else self.rating

    @property
    def key(self) -> tuple[bool, float, float]:
        """Sort key: success, then fewer steps to it, then the rating."""
        return (self.success, -len(self.actions) if self.success else 0.0, self.rating)


def _rollout(
    policy: Any,
    env: Any,
    candidate: str,
    history: Sequence[str],
    *,
    horizon: int,
    seed: int,
    seen: Iterable[str],
) -> Rollout:
    from aip_sdk.policy import derive_seed

    sim = copy_env(env)
    visited = set(seen)
    taken = list(history)
    rating = 0.0
    cost = Cost()
    success = False
    info: dict[str, Any] = {}
    action = candidate
    actions: list[str] = []
    try:
        for i in range(horizon + 1):
            obs, reward, terminated, truncated, info = sim.step(action)
            actions.append(action)
            taken.append(action)
            rating += float(reward)
            if info.get("success"):
                success = True
                break
            if not info.get("valid", True):
                rating -= REJECTED
            elif not info.get("changed", True):
                rating -= NO_CHANGE
            key = state_key(obs, info)
            if key in visited:
                rating -= REPEAT
            visited.add(key)
            if terminated:
                rating -= FAILED_END
                break
            if truncated or i == horizon:
                break
            nxt = Observation.from_env(obs)
            if not nxt.actions:
                break
            drawn, c = policy.draw(
                nxt, taken, n=1, depth=0, seed=derive_seed(seed, i), temperature=0.0
            )
            cost = cost + c
            action = drawn[0].action
        progress = info.get("goal_progress")
        if progress is not None and not success:
            rating += PROGRESS * float(progress)
    finally:
        close = getattr(sim, "close", None)
        if callable(close):
            close()
    return Rollout(
        action=candidate, actions=tuple(actions), success=success, rating=rating, cost=cost
    )


def look_ahead(
    policy: Any,
    env: Any,
    candidates: Sequence[str],
    history: Sequence[str],
    *,
    horizon: int,
    seed: int,
    seen: Iterable[str] = (),
) -> tuple[str, list[Rollout], Cost]:
    """Choose among ``candidates`` (distinct, in vote order) by rollouts in copies of ``env``.

    Args:
        policy: the :class:`~aip_sdk.policy.Policy` that continues the rollouts.
        env: the environment in the current state (it is not stepped).
        candidates: the distinct candidate actions, best voted first.
        history: the actions taken so far.
        horizon: continuation steps after the candidate (``h``).
        seed: the step's seed.
        seen: state keys already visited in the episode (repeats are penalised).

    Returns:
        (the chosen action, the rollouts tried, what their model calls cost).
    """
    if not candidates:
        raise ConfigError("lookahead needs at least one candidate")
    visited = tuple(seen)
    rollouts: list[Rollout] = []
    cost = Cost()
    for cand in candidates:
        r = _rollout(policy, env, cand, history, horizon=horizon, seed=seed, seen=visited)
        rollouts.append(r)
        cost = cost + r.cost
        if r.success and len(r.actions) == 1:  # the candidate itself wins: nothing beats it
            break
    best = max(rollouts, key=lambda r: r.key)  # max keeps the first of equals: vote order
    return best.action, rollouts, cost
