"""The live wrapper: the real backend in the real suite environment, as a gymnasium env.

Observation: the step's features (from the real probe). Action: an index into the decision
table. The Planner carries the decision out (``Planner.observe`` and ``Planner.carry_out`` over
one :class:`~aip_sdk.context.StepContext`: the features and the execution are serving's own).
The episode's reward, given at its end, is ``alpha * Q - beta * C`` with the real Q (the
environment's quality: success times optimality) and C the mean over steps of the step's tokens
(probe included) in units of one sample: the probe is one greedy choice, so its tokens are the
step's cost of one sample, as in replay. Slow (a model call per step); :func:`train_live` runs
it for a bounded number of steps, resumable from checkpoints, after replay training.

With ``widen`` (traces collected with ``--widen``) an agent step is a step where the
environment's rating ties, as ``learned:widen=1`` is served: the reward still reads the whole
episode, which is why the live phase exists for such controllers (the replay's step labels
cannot see what a tie-break costs later).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from aip_sdk.backend import Backend
from aip_sdk.context import StepContext, step_limit
from aip_sdk.cost import Cost
from aip_sdk.decision import Decision
from aip_sdk.errors import ConfigError
from aip_sdk.features import FEATURE_NAMES
from aip_sdk.lookahead import Rollout, can_copy, peek_step, rated_best
from aip_sdk.observation import Observation
from aip_sdk.planner import Look, Planner
from aip_sdk.policy import DEFAULT_REASONING_BUDGETS
from aip_sdk.util import write_json_atomic

__all__ = ["LiveEnv", "train_live"]


class LiveEnv(gymnasium.Env[np.ndarray, np.int64]):
    """Runs one task per episode with the real model; the task is drawn from ``tasks``.

    Args:
        backend: the real backend.
        tasks: (suite, split, task id) triples to draw episodes from.
        table: the decision table (the action space).
        alpha, beta: the reward's weights.
        cost: ``tokens`` (default), ``calls`` or ``seconds``.
        max_steps: a cap on an episode's steps; ``None`` (the default) plays to the
            environment's own limit, as serving and the benches do (:func:`step_limit`).
        widen: play as ``learned:widen=1`` serves (a controller trained on ``collect
            --widen`` traces): where the environment can be copied, every action is peeked at
            first and a lone best is taken with no model call and no agent step; the agent
            decides only where the rating ties, its decision carried out among the tied
            actions. C is the mean over the agent's steps, as in replay of such traces. A drawn
            task whose episode never ties is played out and another drawn (up to
            ``MAX_DRAWS``).
        baseline: a strategy spec (meant for a model-free one: ``heuristic``) played on the
            same task from the same start at each reset; ``alpha`` times its quality is
            subtracted from the episode's reward. The reward then reads what the agent adds
            over that strategy rather than how hard the drawn task is: on a few dozen tasks
            whose qualities span 0 to 1, that spread otherwise drowns the agent's part in a
            few hundred live steps.
    """

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium's convention

    MAX_DRAWS = 50

    def __init__(
        self,
        backend: Backend,
        tasks: Sequence[tuple[Any, str | None, str]],
        table: Sequence[Decision],
        *,
        alpha: float = 1.0,
        beta: float = 0.1,
        cost: str = "tokens",
        max_steps: int | None = None,
        reasoning_budgets: Mapping[int, int] | None = None,
        widen: bool = False,
        baseline: str | None = None,
    ) -> None:
        self.backend = backend
        self.tasks = list(tasks)
        self.table = tuple(table)
        self.alpha, self.beta, self.cost = float(alpha), float(beta), cost
        self.max_steps = max_steps
        self.widen = widen
        self.baseline = baseline
        self._reference = 0.0
        budgets = dict(reasoning_budgets or DEFAULT_REASONING_BUDGETS)
        # The Planner's own two step halves (observe, carry_out): the features and the
        # decision's execution are those of serving.
        self.planner = Planner(backend=backend, controller="fixed:k=1", reasoning_budgets=budgets)
        self.observation_space = spaces.Box(
            -1.0, 1.0, shape=(len(FEATURE_NAMES),), dtype=np.float32
        )
        self.action_space = spaces.Discrete(len(self.table))
        self._env: Any = None
        self._obs: Any = None
        self._ctx = StepContext.start(limit=max_steps or self.planner.max_steps)
        self._look = Look()
        self._peeked: list[Rollout] | None = None
        self._costs: list[float] = []
        self._info: dict[str, Any] = {}
        self._ended = False

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

    def _advance(self, action: str, cost: Cost) -> None:
        self._obs, _r, terminated, truncated, self._info = self._env.step(action)
        self._ctx.advance(action, self._obs, self._info, cost)
        self._ended = (
            bool(self._info.get("success"))
            or terminated
            or truncated
            or self._ctx.step >= self._ctx.limit
        )

    def _to_decision(self) -> None:
        """With ``widen``: take the rating's lone best actions (no model call) until the rating
        ties, keeping the tie's ratings for the decision, or the episode ends."""
        self._peeked = None
        while self.widen and not self._ended and can_copy(self._env):
            actions = Observation.from_env(self._obs).actions
            if not actions:
                return
            peeked = peek_step(self._env, actions, self._ctx)
            rated = rated_best(peeked)
            if len(rated) > 1:
                self._peeked = peeked
                return
            self._advance(rated[0], Cost())

    def _baseline_quality(
        self, suite: Any, split: str | None, task: str, seed: int, limit: int
    ) -> float:
        """The quality ``baseline`` reaches on ``task`` from the start ``seed`` gives (0 when
        there is no baseline)."""
        if self.baseline is None:
            return 0.0
        env = suite.make(task, split)
        try:
            planner = Planner(backend=self.backend, controller=self.baseline, seed=seed)
            return planner.plan(env, seed=seed, max_steps=limit).quality
        finally:
            env.close()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        for _ in range(self.MAX_DRAWS):
            if self._env is not None:
                self._env.close()
            suite, split, task = self.tasks[int(self.np_random.integers(len(self.tasks)))]
            # every episode's start is fixed by the wrapper's generator, so the baseline can
            # play the same one
            episode_seed = int(self.np_random.integers(2**31))
            self._env = suite.make(task, split)
            self._obs, self._info = self._env.reset(seed=episode_seed)
            limit = step_limit(self._env, self.max_steps, default=self.planner.max_steps)
            self._ctx = StepContext.start(self._obs, self._info, limit=limit, env=self._env)
            self._costs = []
            self._ended = False
            self._to_decision()
            if not self._ended:
                self._reference = self._baseline_quality(suite, split, task, episode_seed, limit)
                return self._features(), {"suite": suite.name, "task_id": task}
        raise ConfigError(
            f"{self.MAX_DRAWS} live episodes in a row ended with no step to decide (the "
            f"environment's rating never tied): the controller has nothing to learn live on "
            f"these tasks; pick other --live-suite tasks or train in replay alone (--live-steps 0)"
        )

    def step(self, action: np.int64 | int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        decision = self.table[int(action)]
        seed = int(self.np_random.integers(2**31))
        record = self.planner.carry_out(
            self._obs,
            self._ctx,
            decision,
            self._look,
            env=self._env,
            seed=seed,
            peeked=self._peeked,
        )
        # In units of one sample: the probe is one greedy choice, so its tokens are the unit.
        self._costs.append(self._measure(record.cost) / max(1.0, self._measure(self._look.cost)))
        self._advance(record.action, record.cost)
        self._to_decision()
        reward = 0.0
        if self._ended:
            q = float(self._info.get("quality", 0.0)) - self._reference
            reward = self.alpha * q - self.beta * float(np.mean(self._costs))
            feats = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
        else:
            feats = self._features()
        info = {
            "action": record.action,
            "decision": record.decision.to_dict(),
            "success": bool(self._info.get("success")),
        }
        return feats, reward, self._ended, False, info

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None


def train_live(
    model: Any,
    make_env: Callable[[], LiveEnv],
    *,
    steps: int,
    checkpoint: str | os.PathLike[str],
    progress: Callable[[int], None] | None = None,
    curve: list[tuple[int, float]] | None = None,
    learning_rate: float | None = None,
) -> Any:
    """Continue a (replay-trained) SB3 PPO model on live episodes for ``steps`` steps.

    Resumable: the model is saved to ``checkpoint`` (a ``.zip``) after every rollout, with the
    steps done so far; a call with an existing checkpoint loads it and runs only what is left.

    Args:
        model: the SB3 PPO model to continue (its replay training).
        make_env: builds the live environment (one real backend, one suite).
        steps: live steps in all (one step = one planning step with the real model).
        checkpoint: where the model is saved as it learns.
        progress: called with the live steps done.
        curve: if given, gets the whole live learning curve, ``(live steps, mean episode
            reward)`` after every rollout, including the rollouts of earlier (resumed) runs.
        learning_rate: the live phase's own PPO learning rate (default: the replay's). A live
            phase has a few dozen updates where replay has hundreds, so a larger one lets it
            move the policy at all.

    Returns:
        The model after ``steps`` live steps.
    """
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    from aip_sdk.training.ppo import mean_episode_reward

    path = Path(checkpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = 0
    points: list[tuple[int, float]] = []
    meta = path.with_suffix(".json")
    fresh = not (path.is_file() and meta.is_file())
    if fresh:
        model.save(str(path))
    else:  # resume: the steps done are beside the checkpoint
        saved = json.loads(meta.read_text())
        done = int(saved["live_steps"])
        points = [(int(t), float(r)) for t, r in saved.get("curve", [])]
    vec = DummyVecEnv([lambda: Monitor(make_env())])  # Monitor: episode rewards, the curve
    # One live environment and small rollouts: a live step costs seconds, so the policy
    # updates every 64 steps (SB3's documented way to change these is to load with them).
    model = PPO.load(
        str(path),
        env=vec,
        device="cpu",
        custom_objects={
            "n_steps": 64,
            "batch_size": 64,
            "n_envs": 1,
            **({"learning_rate": learning_rate} if learning_rate is not None else {}),
        },
    )
    if fresh:  # the replay episodes in the (saved) Monitor buffer are not on the live curve
        model.ep_info_buffer.clear()
    start = model.num_timesteps

    class _Save(BaseCallback):
        def _on_step(self) -> bool:
            if progress is not None:
                progress(done + self.num_timesteps - start)
            return True

        def _on_rollout_end(self) -> None:
            steps_done = done + self.num_timesteps - start
            point = mean_episode_reward(model)
            if point is not None:
                points.append((steps_done, point))
            path.parent.mkdir(parents=True, exist_ok=True)
            model.save(str(path))
            write_json_atomic(
                path.with_suffix(".json"), {"live_steps": steps_done, "curve": points}
            )

    left = steps - done
    if left > 0:
        model.learn(total_timesteps=left, reset_num_timesteps=False, callback=_Save())
    vec.close()
    if curve is not None:
        curve.extend(points)
    return model
