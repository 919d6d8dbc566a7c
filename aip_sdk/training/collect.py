"""``aip-sdk collect``: record, at every visited step, what each decision would have done.

At each step the collector runs the Planner's own first half of a step (``Planner.observe``: the
probe and the features, over the episode's :class:`~aip_sdk.context.StepContext`), then draws a
pool of candidates at every depth in ``pool_sizes`` (by default 8 at depth 0: k samples are the
first k of them), and, where the environment can be copied, rolls each distinct action among the
first ``lookahead_k`` depth-0 candidates out for ``horizon`` greedy steps in a copy. Every
candidate is labelled good or not with the environment's ``good_actions()`` (simulation on a
clone for Blocksworld and MiniGrid, the planner for ALFWorld, the instruction for MiniWoB++).
From that record, replay reads the outcome and the cost of every decision of the table (``k=0``,
k samples with either vote, lookahead): see :meth:`~aip_sdk.traces.StepTrace.outcome`.

With ``widen`` (``collect --widen``) it first peeks at every admissible action in a copy and,
where the environment's rating has a lone best, takes it and records nothing: only the steps
where the rating ties are recorded, with the tied actions and a rollout of each, and every
decision of the table is read as carried out among them (what ``learned:widen=1`` serves).

To move on it takes the action of a decision drawn uniformly from the table (a behaviour policy
that visits good and bad states alike) or from ``behaviour`` where given (``fixed:k=1`` alone
visits the states where one sample per step loops, which a mixed policy seldom reaches), or,
with probability ``follow_expert``, a good action.
All sampling seeds derive from the episode seed, so a resumed collection records what an
uninterrupted one would.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from aip_sdk.backend import Backend
from aip_sdk.context import StepContext, step_limit
from aip_sdk.cost import Cost
from aip_sdk.decision import MAX_DEPTH, MAX_K, MAX_LOOKAHEAD, MODEL_FREE, Decision
from aip_sdk.errors import ConfigError
from aip_sdk.executor import Executor, LocalExecutor
from aip_sdk.features import FEATURE_NAMES, FEATURE_SCHEMA
from aip_sdk.observation import Observation
from aip_sdk.policy import DEFAULT_REASONING_BUDGETS, ROLLOUT_SALT, TIE_ORDER_SALT, derive_seed
from aip_sdk.sampling import common_prefix
from aip_sdk.traces import (
    TRACE_VERSION,
    EpisodeTrace,
    PoolSample,
    StepTrace,
    TraceStore,
    episode_key,
)

__all__ = [
    "DEFAULT_HORIZON",
    "DEFAULT_POOL_SIZES",
    "LOOKAHEAD_K",
    "Collector",
    "decision_table_for",
]

DEFAULT_POOL_SIZES: Mapping[int, int] = {0: 8}
DEFAULT_HORIZON = 2
LOOKAHEAD_K = 4


def decision_table_for(
    pool_sizes: Mapping[int, int],
    horizon: int = 0,
    lookahead_k: int = LOOKAHEAD_K,
    *,
    widen: bool = False,
) -> tuple[Decision, ...]:
    """Every decision the recording can serve: the probe's top action (k=0); k samples (a power
    of two the pools can serve) by majority and, for k >= 2, by weighted vote; and, where
    rollouts are recorded (``horizon`` >= 1), peek, lookahead of 1..``horizon`` steps, and peek
    escalating to those lookaheads where it ties, over ``lookahead_k`` depth-0 samples.

    ``widen``: the recording holds only the steps where the environment's rating ties, and
    every decision is carried out among the tied actions; peek cannot tell those apart, so
    the table has the lookaheads (over every tied action) and no peek, and it has the
    model-free decision (``k=0,peek=1,widen=1``: the ties in the step's seeded order, the
    model's probe read for the features only)."""
    table = [Decision(k=0), *([MODEL_FREE] if widen else [])]
    for d in sorted(pool_sizes):
        for k in (1, 2, 4, 8, 16):
            if k <= pool_sizes[d]:
                table.append(Decision(k=k, depth=d))
                if k >= 2:
                    table.append(Decision(k=k, depth=d, vote="weighted"))
    if pool_sizes.get(0, 0) >= lookahead_k and horizon >= 1:
        horizons = range(1, horizon + 1)
        table += [] if widen else [Decision(k=lookahead_k, peek=1)]
        table += [Decision(k=lookahead_k, lookahead=h) for h in horizons]
        table += [] if widen else [Decision(k=lookahead_k, peek=1, lookahead=h) for h in horizons]
    return tuple(table)


# What a folder written before a manifest key existed recorded under it (the default then).
_UNRECORDED: dict[str, Any] = {"behaviour": [], "widen": False}


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
    horizon: int = DEFAULT_HORIZON
    lookahead_k: int = LOOKAHEAD_K
    behaviour: tuple[Decision, ...] = ()
    widen: bool = False

    def __attrs_post_init__(self) -> None:
        if not self.pool_sizes or any(
            d < 0 or d > MAX_DEPTH or not 1 <= n <= MAX_K for d, n in self.pool_sizes.items()
        ):
            raise ConfigError(
                f"pool sizes {dict(self.pool_sizes)!r} must map depths 0-{MAX_DEPTH} to "
                f"1-{MAX_K} candidates, e.g. {{0: 8}}"
            )
        if not 0 <= self.horizon <= MAX_LOOKAHEAD:
            raise ConfigError(f"horizon={self.horizon!r} must lie in 0-{MAX_LOOKAHEAD}")
        unknown = [str(d) for d in self.behaviour if d not in self.table]
        if unknown:
            raise ConfigError(
                f"behaviour decision(s) {', '.join(unknown)} are not in the decision table these "
                f"pools and horizon serve ({', '.join(map(str, self.table))}); pick from it"
            )

    @property
    def table(self) -> tuple[Decision, ...]:
        return decision_table_for(self.pool_sizes, self.horizon, self.lookahead_k, widen=self.widen)

    def worker_config(self) -> dict[str, Any]:
        """The settings a worker's own collector is built from (no backend, no store; values
        kept as they are, so decisions stay decisions)."""
        return attrs.asdict(
            self, recurse=False, filter=lambda a, _v: a.name not in ("backend", "store")
        )

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
            "behaviour": [d.to_dict() for d in self.behaviour],
            "horizon": self.horizon,
            "lookahead_k": self.lookahead_k,
            "widen": self.widen,
            "trace_version": TRACE_VERSION,
            "decision_table": [d.to_dict() for d in self.table],
            "suites": {suite: [split]},
        }

    def _check_manifest(self, suite: str, split: str) -> None:
        new = self.manifest(suite, split)
        if not self.store.manifest_path.exists():
            self.store.write_manifest(new)
            return
        old = self.store.manifest()
        for key in (
            "feature_schema",
            "trace_version",
            "model",
            "pool_sizes",
            "reasoning_budgets",
            "temperature",
            "horizon",
            "lookahead_k",
            "behaviour",
            "widen",
        ):
            was = old.get(key, _UNRECORDED.get(key))
            if was != new[key]:
                raise ConfigError(
                    f"trace folder {str(self.store.root)!r} was recorded with {key}="
                    f"{was!r}, not {new[key]!r}; use another --out folder"
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
        executor: Executor | None = None,
        backend_factory: Callable[[], Backend] | None = None,
        suite_spec: tuple[str, Any, dict[str, Any]] | None = None,
    ) -> list[str]:
        """Collect ``episodes`` tasks of ``split`` (a seeded sample); skip finished ones.

        Args:
            executor: where the episodes run (default: here); one that runs elsewhere needs
                ``backend_factory`` (each worker loads its own backend) and ``suite_spec``
                ((name, data, options) to rebuild the suite there).

        Returns:
            The keys of the episodes collected in this call.
        """
        self._check_manifest(suite_obj.name, split)
        tasks = list(suite_obj.tasks(split))
        random.Random(seed).shuffle(tasks)
        jobs = []
        for i, task in enumerate(tasks[:episodes]):
            ep_seed = derive_seed(seed, i)
            key = episode_key(suite_obj.name, split, task.task_id, ep_seed)
            if self.store.has(key):
                if progress:
                    progress(key, 0)
                continue
            jobs.append((task.task_id, ep_seed))
        if executor is None or isinstance(executor, LocalExecutor):
            run = functools.partial(_collect_one, self, suite_obj, split)
            executor = LocalExecutor(runner=run)
        elif backend_factory is None or suite_spec is None:
            raise ConfigError("collecting elsewhere needs backend_factory= and suite_spec=")
        make = functools.partial(
            _collect_runner, backend_factory, self.worker_config(), suite_spec, split
        )
        done = []
        for _job, trace in executor.run(make, jobs):
            self.store.write(trace)
            done.append(trace.key)
            if progress:
                progress(trace.key, len(trace.steps))
        return done

    def episode(self, env: Any, suite: str, split: str, task_id: str, seed: int) -> EpisodeTrace:
        """Collect one episode of ``env``."""
        from aip_sdk.lookahead import can_copy, peek_step, rated_best, rollout, widen
        from aip_sdk.planner import Planner

        labels = getattr(env, "good_actions", None)
        if not callable(labels):
            raise ConfigError(f"suite {suite!r} has no good-action labels; it cannot be collected")
        planner = Planner(
            backend=self.backend,
            controller="fixed:k=1",
            temperature=self.temperature,
            reasoning_budgets=self.reasoning_budgets,
            seed=seed,
        )
        policy = planner.policy
        rng = random.Random(seed)
        reset_cache = getattr(self.backend, "reset_cache", None)
        if callable(reset_cache):  # every episode starts from the same cache: resumable, exact
            reset_cache()
        obs, info = env.reset(seed=seed)
        # The context's limit is the environment's own, as when serving; max_steps only stops
        # the recording early.
        ctx = StepContext.start(obs, info, limit=step_limit(env, default=self.max_steps), env=env)
        copyable = can_copy(env)
        previous: list[int] = []
        steps: list[StepTrace] = []
        for t in range(min(self.max_steps, ctx.limit)):
            o = Observation.from_env(obs)
            if not o.actions:
                break
            good = tuple(sorted(labels()))
            if not good:  # no label here: stop recording
                break
            step_seed = derive_seed(seed, t)
            tied: tuple[str, ...] = ()
            if self.widen and copyable:  # record only where the environment's rating ties
                rated = rated_best(peek_step(env, o.actions, ctx))
                if len(rated) == 1:
                    obs, _r, terminated, truncated, info = env.step(rated[0])
                    ctx.advance(rated[0], obs, info, Cost())
                    if info.get("success") or terminated or truncated:
                        break
                    continue
                seeded = widen([], o.actions, seed=derive_seed(step_seed, TIE_ORDER_SALT))
                tied = tuple(a for a in seeded if a in rated)
            look = planner.observe(o, ctx, probe=True)
            assert look.probe is not None and look.features is not None
            tokens = self.backend.tokenize(policy.prompt(o, ctx.history))
            prompt_tokens = len(tokens) - common_prefix(previous, tokens)
            previous = tokens
            pools: dict[int, tuple[PoolSample, ...]] = {}
            for depth, n in sorted(self.pool_sizes.items()):
                # depth 0 draws with the seed serving's first draw of this step uses
                draw_seed = derive_seed(step_seed, 0) if depth == 0 else derive_seed(seed, t, depth)
                cands, _ = policy.draw(o, ctx.history, n=n, depth=depth, seed=draw_seed)
                pools[depth] = tuple(
                    PoolSample(
                        action=c.action,
                        generated_tokens=c.generated_tokens,
                        prompt_tokens=c.prompt_tokens,
                        logprob=c.logprob,
                        good=c.action in good,
                        action_tokens=c.action_tokens,
                    )
                    for c in cands
                )
            rollouts = {}
            if copyable and self.horizon > 0 and 0 in pools:
                tried = tied or dict.fromkeys(c.action for c in pools[0][: self.lookahead_k])
                for action in tried:
                    rollouts[action] = rollout(
                        policy,
                        env,
                        action,
                        ctx.history,
                        horizon=self.horizon,
                        seed=derive_seed(step_seed, ROLLOUT_SALT),
                        seen=ctx.states,
                    )
            step = StepTrace(
                index=t,
                features=look.features.values,
                prompt_tokens=prompt_tokens,
                probe_top=look.probe.best,
                probe_tokens=look.probe.tokens,
                pools=pools,
                rollouts=rollouts,
                good=good,
                taken="",
                tied=tied,
            )
            behaviour = step.outcome(rng.choice(self.behaviour or self.table))
            taken = behaviour[0] if behaviour is not None else step.probe_top
            if rng.random() < self.follow_expert:  # stay near the expert path
                taken = good[0]
            steps.append(attrs.evolve(step, taken=taken))
            obs, _r, terminated, truncated, info = env.step(taken)
            ctx.advance(taken, obs, info, look.cost)
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


def _collect_one(
    collector: Collector, suite: Any, split: str, job: tuple[str, int]
) -> EpisodeTrace:
    task_id, ep_seed = job
    env = suite.make(task_id, split)
    try:
        return collector.episode(env, suite.name, split, task_id, ep_seed)
    finally:
        env.close()


def _collect_runner(
    backend_factory: Callable[[], Backend] | None,
    config: dict[str, Any],
    suite_spec: tuple[str, Any, dict[str, Any]] | None,
    split: str,
) -> Callable[[tuple[str, int]], EpisodeTrace]:
    """A worker's job runner: its own backend, suite and collector (no store: the driver
    writes)."""
    from aip_sdk.envs.suite import load_suite

    assert backend_factory is not None and suite_spec is not None  # checked by run()
    name, data, options = suite_spec
    suite = load_suite(name, data, **options)
    collector = Collector(backend_factory(), TraceStore(Path("/nonexistent")), **config)
    return functools.partial(_collect_one, collector, suite, split)
