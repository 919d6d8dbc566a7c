"""``aip-sdk collect``: record labelled candidate pools at every visited step.

At each step the collector runs the probe (features), then draws a pool of candidates at every
depth (``pool_sizes``, e.g. 16 at depth 0, 8 at depth 1, 4 at depth 2) and labels each candidate
good or not with the environment's ``good_actions()`` (simulation on a clone for Blocksworld and
MiniGrid, the expert for ALFWorld and MiniWoB++). To move on it takes the vote of a decision drawn
uniformly from the decision table (a behaviour policy that visits good and bad states alike), or,
with probability ``follow_expert``, a good action (ALFWorld is labelled only on the expert's path).
All sampling seeds derive from the episode seed, so a resumed collection records what an
uninterrupted one would.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from aip_sdk.backend import Backend
from aip_sdk.context import StepContext
from aip_sdk.decision import Decision
from aip_sdk.errors import ConfigError
from aip_sdk.features import FEATURE_NAMES, FEATURE_SCHEMA, Features
from aip_sdk.observation import Observation
from aip_sdk.policy import DEFAULT_REASONING_BUDGETS, Policy, derive_seed
from aip_sdk.traces import EpisodeTrace, PoolSample, StepTrace, TraceStore, episode_key

__all__ = ["DEFAULT_POOL_SIZES", "Collector", "decision_table_for"]

DEFAULT_POOL_SIZES: Mapping[int, int] = {0: 8, 1: 4, 2: 2}


def decision_table_for(pool_sizes: Mapping[int, int]) -> tuple[Decision, ...]:
    """Every (k, depth) with k a power of two the pools can serve."""
    return tuple(
        Decision(k=k, depth=d)
        for d in sorted(pool_sizes)
        for k in (1, 2, 4, 8, 16)
        if k <= pool_sizes[d]
    )


@attrs.define
class Collector:
    """Records traces of one suite split with a backend."""

    backend: Backend
    store: TraceStore
    pool_sizes: Mapping[int, int] = attrs.field(factory=lambda: dict(DEFAULT_POOL_SIZES))
    reasoning_budgets: Mapping[int, int] = attrs.field(
        factory=lambda: dict(DEFAULT_REASONING_BUDGETS)
    )
    temperature: float = 0.7
    max_steps: int = 15
    follow_expert: float = 0.0

    @property
    def table(self) -> tuple[Decision, ...]:
        return decision_table_for(self.pool_sizes)

    def manifest(self, suite: str, split: str) -> dict[str, Any]:
        return {
            "feature_schema": FEATURE_SCHEMA,
            "feature_names": list(FEATURE_NAMES),
            "model": self.backend.model_name,
            "pool_sizes": {str(k): v for k, v in self.pool_sizes.items()},
            "reasoning_budgets": {str(k): v for k, v in self.reasoning_budgets.items()},
            "temperature": self.temperature,
            "max_steps": self.max_steps,
            "follow_expert": self.follow_expert,
            "decision_table": [d.to_dict() for d in self.table],
            "suites": {suite: [split]},
        }

    def _check_manifest(self, suite: str, split: str) -> None:
        new = self.manifest(suite, split)
        if not self.store.manifest_path.exists():
            self.store.write_manifest(new)
            return
        old = self.store.manifest()
        for key in ("feature_schema", "model", "pool_sizes", "reasoning_budgets", "temperature"):
            if old.get(key) != new[key]:
                raise ConfigError(
                    f"trace folder {str(self.store.root)!r} was recorded with {key}="
                    f"{old.get(key)!r}, not {new[key]!r}; use another --out folder"
                )
        suites = old.setdefault("suites", {})
        if split not in suites.setdefault(suite, []):
            suites[suite].append(split)
            self.store.write_manifest(old)

    def run(
        self,
        suite_obj: Any,
        split: str,
        episodes: int,
        *,
        seed: int = 0,
        progress: Callable[[str, int], None] | None = None,
    ) -> list[str]:
        """Collect ``episodes`` tasks of ``split`` (a seeded sample); skip finished ones.

        Returns:
            The keys of the episodes collected in this call.
        """
        self._check_manifest(suite_obj.name, split)
        tasks = list(suite_obj.tasks(split))
        random.Random(seed).shuffle(tasks)
        done = []
        for i, task in enumerate(tasks[:episodes]):
            ep_seed = derive_seed(seed, i)
            key = episode_key(suite_obj.name, split, task.task_id, ep_seed)
            if self.store.has(key):
                if progress:
                    progress(key, 0)
                continue
            env = suite_obj.make(task.task_id, split)
            try:
                trace = self.episode(env, suite_obj.name, split, task.task_id, ep_seed)
            finally:
                env.close()
            self.store.write(trace)
            done.append(key)
            if progress:
                progress(key, len(trace.steps))
        return done

    def episode(self, env: Any, suite: str, split: str, task_id: str, seed: int) -> EpisodeTrace:
        """Collect one episode of ``env``."""
        labels = getattr(env, "good_actions", None)
        if not callable(labels):
            raise ConfigError(f"suite {suite!r} has no good-action labels; it cannot be collected")
        policy = Policy(
            self.backend, temperature=self.temperature, reasoning_budgets=self.reasoning_budgets
        )
        rng = random.Random(seed)
        reset_cache = getattr(self.backend, "reset_cache", None)
        if callable(reset_cache):  # every episode starts from the same cache: resumable, exact
            reset_cache()
        obs, info = env.reset(seed=seed)
        # The context's limit is the environment's own, as when serving; max_steps only stops
        # the recording early.
        ctx = StepContext.start(obs, info, limit=getattr(env, "max_steps", self.max_steps))
        history = ctx.history
        steps: list[StepTrace] = []
        for t in range(min(self.max_steps, ctx.limit)):
            o = Observation.from_env(obs)
            if not o.actions:
                break
            good = tuple(sorted(labels()))
            if not good:  # no label here (ALFWorld off the expert plan): stop recording
                break
            probe, probe_cost = policy.probe(o, history)
            feats = Features.compute(probe, ctx)
            pools: dict[int, tuple[PoolSample, ...]] = {}
            for depth, n in sorted(self.pool_sizes.items()):
                cands, _ = policy.draw(
                    o, history, n=n, depth=depth, seed=derive_seed(seed, t, depth)
                )
                pools[depth] = tuple(
                    PoolSample(
                        action=c.action,
                        generated_tokens=c.generated_tokens,
                        prompt_tokens=c.prompt_tokens,
                        logprob=c.logprob,
                        good=c.action in good,
                    )
                    for c in cands
                )
            step = StepTrace(
                index=t,
                features=feats.values,
                probe_tokens=probe_cost.prompt_tokens,
                pools=pools,
                good=good,
                taken="",
            )
            vote = step.vote(rng.choice(self.table))
            assert vote is not None
            taken = vote.action
            if rng.random() < self.follow_expert:  # stay near the expert path (ALFWorld labels)
                taken = good[0]
            step = attrs.evolve(step, taken=taken)
            steps.append(step)
            obs, _r, terminated, truncated, info = env.step(taken)
            ctx.advance(taken, obs, info, probe_cost)
            if info.get("success") or terminated or truncated:
                break
        return EpisodeTrace(
            suite=suite,
            split=split,
            task_id=task_id,
            seed=seed,
            success=bool(info.get("success", False)),
            quality=float(info.get("quality", 0.0)),
            optimal_steps=info.get("optimal_steps"),
            steps=tuple(steps),
        )
