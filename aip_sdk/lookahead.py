"""Lookahead: try each distinct candidate in a copy of the environment and rate what follows.

Small models often sample the right action but fail to pick it (selection, not generation, is
their bottleneck). When the environment can be copied, a step can instead try every distinct
candidate in a copy, continue each for ``h`` steps with the cheapest policy (one greedy
constrained choice per step), and take the candidate whose continuation the environment rates
best. The rating reads only what the environment tells any agent, never labels or expert plans:

* success (sooner is better) dominates everything else;
* each rejected action costs 1, each action that changed nothing 0.5, each return to a state
  already seen in the episode or the rollout 0.5 for every earlier visit (a loop rates worse
  each time round, so a choice that repeats itself at a tie cannot cycle for ever), an episode
  ended without success 5;
* the environment's reward is added, and so is twice its ``goal_progress`` (how near the goal,
  in [0, 1]: grid's distance, the PDDL suites' relaxed distance) at the end of the rollout,
  where the suite reports it.

Ties go to the candidates' vote order, so lookahead never does worse than the vote when the
rollouts cannot tell the candidates apart. Every model call of the rollouts is in the ledger.

Peek (horizon 0) costs no model call; escalation (``peek_first=True``) peeks first and rolls
out only the candidates peek rates equally best (:func:`ties`), so the rollouts' calls are spent
only where the candidates' own results cannot separate them. On the 1.5B model's grid traces
that is a quarter of the steps, and there the rollouts find a good action more often than peek's
vote-order tie-break (docs/controllers.md).

A :class:`Rollout` keeps one record per step, so a rollout of horizon ``h`` cut to a shorter
horizon (:meth:`Rollout.upto`) is the rollout that horizon would have run: trace collection
records the longest and replay rates every shorter one with the same :func:`choose`.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from aip_sdk.cost import Cost
from aip_sdk.errors import ConfigError
from aip_sdk.observation import Observation

if TYPE_CHECKING:
    from aip_sdk.context import StepContext

__all__ = [
    "Rollout",
    "RolloutStep",
    "can_copy",
    "choose",
    "copy_env",
    "look_ahead",
    "peek_every",
    "peek_step",
    "rated_best",
    "replay",
    "rollout",
    "state_key",
    "ties",
    "widen",
]

Seen = Iterable[str] | Mapping[str, int]
"""The states an episode has visited: keys (each occurrence one visit) or visit counts."""

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
        name = type(getattr(env, "unwrapped", env)).__name__
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
class RolloutStep:
    """One action of a rollout and what the environment said of it.

    Attributes:
        action: the action taken (the candidate at step 0, then the continuation's).
        valid: the environment accepted it.
        changed: the state changed.
        repeat: the state after it had been seen before (in the episode or the rollout).
        visits: how many times it had been seen before (0 in traces recorded before visits
            were counted, where ``repeat`` stands for one).
        success: the goal was reached.
        terminated: the episode ended.
        reward: the environment's reward.
        progress: ``info["goal_progress"]`` after it, where the suite reports it.
        cost: what choosing this action cost (0 for the candidate, drawn by the decision).
    """

    action: str
    valid: bool = True
    changed: bool = True
    repeat: bool = False
    visits: int = 0
    success: bool = False
    terminated: bool = False
    reward: float = 0.0
    progress: float | None = None
    cost: Cost = attrs.field(factory=Cost)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON without seconds (a trace holds what a re-run reproduces exactly)."""
        out = attrs.asdict(self)
        out["cost"] = {k: v for k, v in self.cost.to_dict().items() if k != "seconds"}
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RolloutStep:
        return cls(**{**d, "cost": Cost(**d.get("cost", {}))})


@attrs.frozen(kw_only=True)
class Rollout:
    """One candidate tried in a copy and continued; its rating derives from its steps."""

    action: str
    steps: tuple[RolloutStep, ...]
    ended: bool = False

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(s.action for s in self.steps)

    @property
    def success(self) -> bool:
        return any(s.success for s in self.steps)

    @property
    def cost(self) -> Cost:
        """The model calls of the continuation."""
        return Cost.total(s.cost for s in self.steps)

    @property
    def rating(self) -> float:
        """What the environment's signals add up to (higher is better)."""
        total = 0.0
        for s in self.steps:
            total += s.reward
            if s.success:
                return total
            if not s.valid:
                total -= REJECTED
            elif not s.changed:
                total -= NO_CHANGE
            if s.repeat:
                total -= REPEAT * max(1, s.visits)
            if s.terminated:
                total -= FAILED_END
        last = self.steps[-1].progress if self.steps else None
        return total + (PROGRESS * last if last is not None else 0.0)

    @property
    def score(self) -> float:
        """One number for the record: 100 minus the steps to success, else the rating."""
        return 100.0 - len(self.steps) if self.success else self.rating

    @property
    def key(self) -> tuple[bool, float, float]:
        """Sort key: success, then fewer steps to it, then the rating."""
        return (self.success, -len(self.steps) if self.success else 0.0, self.rating)

    def covers(self, horizon: int) -> bool:
        """The recording holds what ``horizon`` would have run (it ran as long, or ended)."""
        if len(self.steps) >= horizon + 1:
            return True
        last = self.steps[-1] if self.steps else None
        return last is not None and (last.success or last.terminated or self.ended)

    def upto(self, horizon: int) -> Rollout:
        """The rollout a shorter ``horizon`` would have run (its first ``horizon + 1`` steps)."""
        return attrs.evolve(self, steps=self.steps[: horizon + 1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "steps": [s.to_dict() for s in self.steps],
            "ended": self.ended,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Rollout:
        return cls(
            action=d["action"],
            steps=tuple(RolloutStep.from_dict(s) for s in d["steps"]),
            ended=bool(d.get("ended", False)),
        )


def rollout(
    policy: Any,
    env: Any,
    candidate: str,
    history: Sequence[str],
    *,
    horizon: int,
    seed: int,
    seen: Seen = (),
) -> Rollout:
    """Take ``candidate`` in a copy of ``env``, then up to ``horizon`` greedy steps.

    ``seen``: the states visited so far, as keys (each occurrence one visit) or as visit
    counts (a :class:`~aip_sdk.context.StepContext`'s ``states``)."""
    from aip_sdk.policy import derive_seed

    sim = copy_env(env)
    visited = Counter(seen)
    taken = list(history)
    steps: list[RolloutStep] = []
    action, cost = candidate, Cost()
    ended = False
    try:
        for i in range(horizon + 1):
            obs, reward, terminated, truncated, info = sim.step(action)
            taken.append(action)
            key = state_key(obs, info)
            progress = info.get("goal_progress")
            steps.append(
                RolloutStep(
                    action=action,
                    valid=bool(info.get("valid", True)),
                    changed=bool(info.get("changed", True)),
                    repeat=visited[key] > 0,
                    visits=visited[key],
                    success=bool(info.get("success")),
                    terminated=bool(terminated) and not info.get("success"),
                    reward=float(reward),
                    progress=None if progress is None else float(progress),
                    cost=cost,
                )
            )
            visited[key] += 1
            if info.get("success") or terminated or truncated or i == horizon:
                ended = i < horizon  # stopped by the environment, not the horizon
                break
            nxt = Observation.from_env(obs)
            if not nxt.actions:
                ended = True
                break
            drawn, cost = policy.draw(
                nxt, taken, n=1, depth=0, seed=derive_seed(seed, i), temperature=0.0
            )
            action = drawn[0].action
    finally:
        close = getattr(sim, "close", None)
        if callable(close):
            close()
    return Rollout(action=candidate, steps=tuple(steps), ended=ended)


def choose(rollouts: Sequence[Rollout]) -> Rollout:
    """The best rollout: success (sooner), then rating; ties to the first (the vote order)."""
    if not rollouts:
        raise ConfigError("lookahead needs at least one candidate")
    return max(rollouts, key=lambda r: r.key)


def peek_every(
    env: Any, actions: Sequence[str], history: Sequence[str], *, seen: Seen = ()
) -> list[Rollout]:
    """Every admissible action tried alone in a copy of ``env`` (peek, no model call)."""
    visited = Counter(seen)
    return [
        rollout(None, env, a, history, horizon=0, seed=0, seen=visited)
        for a in dict.fromkeys(actions)
    ]


def peek_step(env: Any, actions: Sequence[str], context: StepContext) -> list[Rollout]:
    """:func:`peek_every` at an episode's current step: the history and the states seen so far
    come from its :class:`~aip_sdk.context.StepContext` (what every rate-first path reads)."""
    return peek_every(env, actions, context.history, seen=context.states)


def rated_best(peeked: Sequence[Rollout]) -> list[str]:
    """The actions of ``peeked`` the environment rates equally best (one where none ties).

    Unlike :func:`ties`, several immediate successes all count: ``widen`` asks the model to
    order them, as a draw made first would have."""
    top = choose(peeked).key
    return [r.action for r in peeked if r.key == top]


def widen(order: Sequence[str], actions: Sequence[str], *, seed: int) -> list[str]:
    """``order`` (the model's candidates, best first), then every other admissible action in a
    random order fixed by ``seed``: what ``widen=1`` has peek or lookahead try. The model's
    candidates come first so that they win the ties the environment's rating leaves."""
    drawn = set(order)
    rest = [a for a in dict.fromkeys(actions) if a not in drawn]
    random.Random(seed).shuffle(rest)
    return [*order, *rest]


def ties(peeked: Sequence[Rollout]) -> list[Rollout]:
    """The peeked candidates (horizon 0) rated equally best, in vote order: the ones peek
    cannot choose between (a lone best, or an immediate success, is a list of one)."""
    best = choose(peeked)
    if best.success:
        return [best]
    return [r for r in peeked if r.key == best.key]


def look_ahead(
    policy: Any,
    env: Any,
    candidates: Sequence[str],
    history: Sequence[str],
    *,
    horizon: int,
    seed: int,
    seen: Seen = (),
    peek_first: bool = False,
) -> tuple[str, list[Rollout], Cost]:
    """Choose among ``candidates`` (distinct, in vote order) by rollouts in copies of ``env``.

    Args:
        policy: the :class:`~aip_sdk.policy.Policy` that continues the rollouts.
        env: the environment in the current state (it is not stepped).
        candidates: the distinct candidate actions, best voted first.
        history: the actions taken so far.
        horizon: continuation steps after the candidate (``h``).
        seed: the step's seed.
        seen: the states visited in the episode, as keys or visit counts (repeats are
            penalised, once per earlier visit).
        peek_first: peek first and roll out ``horizon`` steps only the candidates peek rates
            equally best (:func:`ties`); a lone best is taken with no model call.

    Returns:
        (the chosen action, the rollouts tried, what their model calls cost).
    """
    if not candidates:
        raise ConfigError("lookahead needs at least one candidate")
    visited = Counter(seen)

    def run(action: str, h: int) -> Rollout:
        return rollout(policy, env, action, history, horizon=h, seed=seed, seen=visited)

    return _decide(candidates, horizon, peek_first, run)


def replay(
    rollouts: Sequence[Rollout], horizon: int, *, peek_first: bool = False
) -> tuple[str, Cost]:
    """What :func:`look_ahead` with ``horizon`` (and ``peek_first``) would have chosen and
    spent, from recorded rollouts of a horizon at least as long (in vote order, as recorded)."""
    by_action = {r.action: r for r in rollouts}
    action, _, cost = _decide(
        list(by_action), horizon, peek_first, lambda a, h: by_action[a].upto(h)
    )
    return action, cost


def _decide(
    candidates: Sequence[str],
    horizon: int,
    peek_first: bool,
    run: Callable[[str, int], Rollout],
) -> tuple[str, list[Rollout], Cost]:
    """The one choice of :func:`look_ahead` (``run`` rolls out live) and :func:`replay`
    (``run`` cuts a recording): the action, the rollouts tried and their model calls' cost."""

    def tried(actions: Iterable[str], h: int) -> list[Rollout]:
        out: list[Rollout] = []
        for action in actions:
            r = run(action, h)
            out.append(r)
            if r.success and len(r.steps) == 1:  # the candidate itself wins: nothing beats it
                break
        return out

    if peek_first and horizon:
        peeked = tried(candidates, 0)
        tied = ties(peeked)
        if len(tied) == 1:
            return tied[0].action, peeked, Cost()
        deeper = tried((r.action for r in tied), horizon)
        kept = {r.action: r for r in (*peeked, *deeper)}  # the deeper rollout where both ran
        return choose(deeper).action, list(kept.values()), Cost.total(r.cost for r in deeper)
    done = tried(candidates, horizon)
    return choose(done).action, done, Cost.total(r.cost for r in done)
