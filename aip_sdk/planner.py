"""The Planner: the loop, the controller calls, the budget, the ledger and the trace."""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

import attrs

from aip_sdk.backend import Backend
from aip_sdk.controllers import Controller, make_controller
from aip_sdk.controllers.oracle import OracleController
from aip_sdk.cost import Cost
from aip_sdk.decision import Decision
from aip_sdk.errors import ConfigError, EnvironmentError_
from aip_sdk.features import Features, Probe
from aip_sdk.observation import Observation
from aip_sdk.policy import DEFAULT_REASONING_BUDGETS, Policy, aggregate, derive_seed
from aip_sdk.records import Candidate, PlanResult, StepRecord

__all__ = ["DEFAULT_CONTROLLER_SPEC", "Planner", "TextEnv"]

DEFAULT_CONTROLLER_SPEC = "learned"  # the controller shipped in aip_sdk/data/controller.onnx


class TextEnv(Protocol):
    """What ``Planner.plan`` needs from an environment (gymnasium's ``reset``/``step``).

    Observations are dicts with ``text``, ``goal`` and ``actions``; ``info`` carries ``success``
    and ``quality`` (and ``optimal_steps`` when known).
    """

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]: ...

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]: ...


@attrs.define
class Planner:
    """Drives a language model as a step-by-step planner, spending compute per a controller.

    Use ``Planner.default()`` for the embedded model, or pass any :class:`~aip_sdk.Backend`.
    Calls on one instance are serialised by a lock (the backend's KV cache is shared state), so
    an instance may be shared between threads but does not run them in parallel.

    Args:
        backend: the language-model backend.
        controller: a controller or a strategy spec such as ``"ac:threshold=0.95"``.
        temperature: sampling temperature of the candidates.
        reasoning_budgets: tokens of reasoning per depth, e.g. ``{1: 24, 2: 64}``.
        seed: base seed; the same seed, model and task give the same plan.
        max_steps: default step limit of ``plan``.
    """

    backend: Backend
    controller: Controller = attrs.field(
        factory=lambda: make_controller(DEFAULT_CONTROLLER_SPEC), converter=make_controller
    )
    temperature: float = 0.7
    reasoning_budgets: Mapping[int, int] = attrs.field(
        factory=lambda: dict(DEFAULT_REASONING_BUDGETS)
    )
    seed: int = 0
    max_steps: int = 30
    _policy: Policy = attrs.field(init=False, repr=False)
    _lock: threading.Lock = attrs.field(init=False, repr=False, factory=threading.Lock)

    def __attrs_post_init__(self) -> None:
        self._policy = Policy(
            self.backend, temperature=self.temperature, reasoning_budgets=self.reasoning_budgets
        )

    def __repr__(self) -> str:
        return f"<Planner model={self.backend.model_name!r} controller={self.controller.spec!r}>"

    @classmethod
    def default(cls, *, controller: str | Controller | None = None, **options: Any) -> Planner:
        """A planner on the embedded default model (SmolLM2-135M-Instruct), fully offline.

        Args:
            controller: strategy spec; defaults to :data:`DEFAULT_CONTROLLER_SPEC`.
            **options: passed to :class:`Planner`.
        """
        from aip_sdk.registry import load_backend

        return cls(
            backend=load_backend("llamacpp"),
            controller=controller if controller is not None else DEFAULT_CONTROLLER_SPEC,
            **options,
        )

    # -- one step ------------------------------------------------------------------------------

    def act(
        self,
        observation: Observation | Mapping[str, Any],
        *,
        good_actions: Collection[str] | None = None,
        history: Sequence[str] = (),
        step: int = 0,
        max_steps: int | None = None,
        last_failed: bool = False,
        no_progress: bool = False,
        budget_frac: float = 0.0,
        seed: int | None = None,
    ) -> StepRecord:
        """Decide one step inside your own loop.

        Args:
            observation: the environment's observation (dict or :class:`Observation`).
            history: the actions taken so far (the last few are shown to the model).
            step: the step index (a feature, and part of the sampling seed).
            max_steps: the step limit (a feature).
            last_failed: the previous action was rejected (a feature).
            no_progress: the previous action changed nothing (a feature).
            budget_frac: share of the compute budget already spent (a feature).
            seed: sampling seed; defaults to one derived from the planner's seed and ``step``.
            good_actions: the actions on an optimal path; only the ``oracle`` reads them.

        Returns:
            The step record; ``record.action`` is the action to take.

        Raises:
            ConfigError: the observation has no admissible actions.
        """
        obs = Observation.from_env(observation)
        if not obs.actions:
            raise ConfigError(
                "the observation lists no admissible actions; the planner chooses among "
                "obs['actions'], so the environment must provide them"
            )
        if isinstance(self.controller, OracleController):
            if good_actions is None:
                raise ConfigError(
                    "the oracle needs the good actions of each step; use an environment with "
                    "good_actions() (blocksworld, grid, alfworld) or pass good_actions="
                )
            with self._lock:
                return self._oracle_act(
                    obs,
                    history=history,
                    step=step,
                    good=good_actions,
                    seed=derive_seed(self.seed, step) if seed is None else seed,
                )
        with self._lock:
            return self._act(
                obs,
                history=history,
                step=step,
                max_steps=max_steps or self.max_steps,
                last_failed=last_failed,
                no_progress=no_progress,
                budget_frac=budget_frac,
                seed=derive_seed(self.seed, step) if seed is None else seed,
            )

    def _act(
        self,
        obs: Observation,
        *,
        history: Sequence[str],
        step: int,
        max_steps: int,
        last_failed: bool,
        no_progress: bool,
        budget_frac: float,
        seed: int,
    ) -> StepRecord:
        cost = Cost()
        probe: Probe | None = None
        features: Features | None = None
        if self.controller.needs_probe:
            probe, probe_cost = self._policy.probe(obs, history)
            cost = cost + probe_cost
            features = Features.compute(
                probe,
                step=step,
                max_steps=max_steps,
                budget_frac=budget_frac,
                last_failed=last_failed,
                no_progress=no_progress,
            )
        first = self.controller.decide(features)
        candidates: list[Candidate] = []
        want = first.k
        call = 0
        while want > 0:
            drawn, draw_cost = self._policy.draw(
                obs, history, n=want, depth=first.depth, seed=derive_seed(seed, call)
            )
            candidates.extend(drawn)
            cost = cost + draw_cost
            call += 1
            want = self.controller.more([c.action for c in candidates])
        action, votes = aggregate(candidates, probe)
        return StepRecord(
            index=step,
            features=features,
            decision=Decision(k=len(candidates), depth=first.depth),
            candidates=tuple(candidates),
            action=action,
            votes=votes,
            cost=cost,
        )

    def _oracle_act(
        self,
        obs: Observation,
        *,
        history: Sequence[str],
        step: int,
        good: Collection[str],
        seed: int,
    ) -> StepRecord:
        ctrl = self.controller
        assert isinstance(ctrl, OracleController)
        order = ctrl.ordered(self.reasoning_budgets)
        pools: dict[int, list[Candidate]] = {}
        costs: dict[int, Cost] = {}
        chosen: Decision | None = None
        for d in order:
            if d.depth not in pools:
                pools[d.depth], costs[d.depth] = self._policy.draw(
                    obs, history, n=ctrl.pool_size, depth=d.depth, seed=derive_seed(seed, d.depth)
                )
            if ctrl.choose(pools, good, [d]) is not None:
                chosen = d
                break
        chosen = chosen or order[0]
        cands = pools[chosen.depth][: chosen.k]
        pool_cost = costs[chosen.depth]
        share = chosen.k / max(1, len(pools[chosen.depth]))
        cost = Cost(
            llm_calls=1 + (chosen.k if chosen.depth > 0 else 0),
            prompt_tokens=pool_cost.prompt_tokens
            - sum(c.prompt_tokens for c in pools[chosen.depth])
            + sum(c.prompt_tokens for c in cands),
            reused_prompt_tokens=pool_cost.reused_prompt_tokens,
            generated_tokens=sum(c.generated_tokens for c in cands),
            seconds=pool_cost.seconds * share,
        )
        action, votes = aggregate(cands)
        return StepRecord(
            index=step,
            features=None,
            decision=chosen,
            candidates=tuple(cands),
            action=action,
            votes=votes,
            cost=cost,
        )

    # -- a whole episode -------------------------------------------------------------------------

    def plan(
        self,
        env: TextEnv,
        *,
        max_steps: int | None = None,
        seed: int | None = None,
        budget_tokens: int | None = None,
        options: dict[str, Any] | None = None,
    ) -> PlanResult:
        """Run one episode of ``env`` to success, termination, the step limit or the budget.

        Args:
            env: a text environment (``aip_sdk.envs`` or any gymnasium env with text actions).
            max_steps: step limit (default: the planner's ``max_steps``).
            seed: passed to ``env.reset`` and mixed into the sampling seeds.
            budget_tokens: stop once evaluated plus generated tokens reach this many.
            options: passed to ``env.reset``.

        Returns:
            The result, with one record per step; a run cut short keeps every finished step.
        """
        limit = max_steps or self.max_steps
        obs, info = env.reset(seed=seed, options=options)
        records: list[StepRecord] = []
        actions: list[str] = []
        total = Cost()
        last_failed = no_progress = False
        prev_text = None
        stop_reason = "max_steps"
        success = False
        quality = 0.0
        base = self.seed if seed is None else derive_seed(self.seed, seed)
        for step in range(limit):
            if budget_tokens is not None and total.tokens >= budget_tokens:
                stop_reason = "budget"
                break
            labels = getattr(env, "good_actions", None)
            good = labels() if callable(labels) and self.controller.name == "oracle" else None
            record = self.act(
                obs,
                good_actions=good,
                history=actions,
                step=step,
                max_steps=limit,
                last_failed=last_failed,
                no_progress=no_progress,
                budget_frac=(total.tokens / budget_tokens) if budget_tokens else 0.0,
                seed=derive_seed(base, step),
            )
            try:
                obs, _reward, terminated, truncated, info = env.step(record.action)
            except EnvironmentError_ as exc:  # e.g. the browser died: the episode fails
                records.append(attrs.evolve(record, feedback=f"environment error: {exc}"))
                actions.append(record.action)
                total = total + record.cost
                stop_reason, success, quality = "env_error", False, 0.0
                break
            feedback = str(info.get("feedback", ""))
            records.append(attrs.evolve(record, feedback=feedback))
            actions.append(record.action)
            total = total + record.cost
            text = Observation.from_env(obs).text
            last_failed = not bool(info.get("valid", True))
            no_progress = text == prev_text or last_failed
            prev_text = text
            success = bool(info.get("success", False))
            quality = float(info.get("quality", 1.0 if success else 0.0))
            if success:
                stop_reason = "success"
                break
            if terminated or truncated:
                stop_reason = "terminated" if terminated else "truncated"
                break
        optimal = info.get("optimal_steps")
        return PlanResult(
            actions=tuple(actions),
            success=success,
            quality=quality,
            steps=tuple(records),
            cost=total,
            stop_reason=stop_reason,
            optimal_steps=int(optimal) if optimal is not None else None,
            model=self.backend.model_name,
            controller=self.controller.spec,
        )

    def close(self) -> None:
        """Close the backend."""
        self.backend.close()
