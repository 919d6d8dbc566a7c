"""The Planner: the loop, the controller calls, the budget, the ledger and the trace."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Collection, Mapping
from typing import Any, Protocol

import attrs

from aip_sdk.backend import Backend
from aip_sdk.context import StepContext, step_limit
from aip_sdk.controllers import Controller, make_controller
from aip_sdk.controllers.base import StepView, rates_first
from aip_sdk.cost import Cost
from aip_sdk.decision import MODEL_FREE, Decision
from aip_sdk.errors import BackendError, ConfigError, EnvError
from aip_sdk.features import Features, Probe
from aip_sdk.lookahead import (
    Rollout,
    can_copy,
    copy_env,
    look_ahead,
    peek_step,
    rated_best,
    widen,
)
from aip_sdk.observation import Observation
from aip_sdk.policy import (
    DEFAULT_REASONING_BUDGETS,
    ROLLOUT_SALT,
    TIE_ORDER_SALT,
    Policy,
    derive_seed,
    rank,
    weighted_scores,
)
from aip_sdk.records import Candidate, PlanResult, StepRecord

__all__ = ["DEFAULT_CONTROLLER_SPEC", "Look", "Planner", "TextEnv"]

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


@attrs.frozen(kw_only=True)
class Look:
    """What the first half of a step saw: the probe, the features and what they cost."""

    probe: Probe | None = None
    features: Features | None = None
    cost: Cost = attrs.field(factory=Cost)


def among_ties(decision: Decision) -> Decision:
    """``decision`` carried out where the environment's rating ties, for a controller that
    ``rates_first``: its samples (or the probe's choice, for ``k=0``; the seeded order alone,
    for the model-free ``k=0,peek=1,widen=1``) order the tied actions, and its lookahead, if
    any, rolls out only those."""
    if decision.k == 0:
        return MODEL_FREE
    return attrs.evolve(decision, peek=1, widen=1)


def _need_env(env: Any, decision: Decision) -> None:
    if env is None:
        raise ConfigError(
            f"decision '{decision}' looks ahead, so act() needs env= (the environment in its "
            f"current state, which is copied, never stepped)"
        )


def carried_out(decision: Decision, drawn: int) -> Decision:
    """What a step did: ``decision`` with ``k`` the candidates drawn (a sequential rule's
    count), or, where ``widen`` left the choice to the environment's rating and nothing was
    drawn, the model-free decision (``k=0,peek=1,widen=1``)."""
    if drawn:
        return attrs.evolve(decision, k=drawn)
    if decision.widen:
        return MODEL_FREE
    return decision


@attrs.frozen
class Planner:
    """Drives a language model as a step-by-step planner, spending compute per a controller.

    Use ``Planner.default()`` for the embedded model, or pass any :class:`~aip_sdk.Backend`.
    Calls on one instance are serialised by a lock (the backend's KV cache is shared state), so
    an instance may be shared between threads but does not run them in parallel. A planner is
    immutable: ``attrs.evolve(planner, temperature=0.3)`` makes a changed one on the same
    backend. It is a context manager; it closes its backend only if it owns it (one that
    ``Planner.default`` loaded, or ``owns_backend=True``), so a backend shared by several
    planners stays open.

    Args:
        backend: the language-model backend.
        controller: a controller or a strategy spec such as ``"ac:threshold=0.95"``.
        temperature: sampling temperature of the candidates.
        reasoning_budgets: tokens of reasoning per depth, e.g. ``{1: 24, 2: 64}``.
        seed: base seed; the same seed, model and task give the same plan.
        max_steps: default step limit of ``plan``.
        owns_backend: ``close`` closes the backend too.
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
    owns_backend: bool = False
    _policy: Policy = attrs.field(init=False, repr=False)
    _lock: threading.Lock = attrs.field(init=False, repr=False, factory=threading.Lock)

    def __attrs_post_init__(self) -> None:
        from aip_sdk.controllers.learned import LearnedController, default_controller_path

        ctrl = self.controller
        if isinstance(ctrl, LearnedController):
            if ctrl.shipped:  # the controller shipped for this model, where there is one
                ctrl = attrs.evolve(ctrl, path=default_controller_path(self.backend.model_name))
                object.__setattr__(self, "controller", ctrl)
            ctrl.check_model(self.backend.model_name)
        policy = Policy(
            self.backend, temperature=self.temperature, reasoning_budgets=self.reasoning_budgets
        )
        object.__setattr__(self, "_policy", policy)

    def __enter__(self) -> Planner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def policy(self) -> Policy:
        """The policy that draws this planner's candidates (collection draws its pools)."""
        return self._policy

    def __repr__(self) -> str:
        return f"<Planner model={self.backend.model_name!r} controller={self.controller.spec!r}>"

    @classmethod
    def default(
        cls,
        *,
        controller: str | Controller | None = None,
        model: str | None = None,
        backend: str = "auto",
        **options: Any,
    ) -> Planner:
        """A planner on a local model, fully offline.

        Args:
            controller: strategy spec; defaults to :data:`DEFAULT_CONTROLLER_SPEC`.
            model: a catalogue name (``aip-sdk models``) or a model path; default
                ``$AIP_SDK_MODEL``, else the embedded SmolLM2-135M-Instruct.
            backend: the registered backend that runs the model (``"auto"``: the best
                installed, llama.cpp before ONNX Runtime).
            **options: passed to :class:`Planner`.
        """
        from aip_sdk.registry import load_backend

        return cls(
            backend=load_backend(backend, model_path=model),
            controller=controller if controller is not None else DEFAULT_CONTROLLER_SPEC,
            owns_backend=True,
            **options,
        )

    # -- one step ------------------------------------------------------------------------------

    def act(
        self,
        observation: Observation | Mapping[str, Any],
        *,
        context: StepContext | None = None,
        env: Any = None,
        good_actions: Collection[str] | None = None,
        seed: int | None = None,
    ) -> StepRecord:
        """Decide one step inside your own loop.

        Keep one :class:`~aip_sdk.context.StepContext` per episode and call its ``advance``
        after each ``env.step``: its counters are features of the next step. A controller that
        ``rates_first`` is asked only where the environment's rating of every action ties
        (given a copyable ``env``); elsewhere the step costs no model call.

        Args:
            observation: the environment's observation (dict or :class:`Observation`).
            context: the episode's step context (default: a fresh one, as at step 0).
            env: the environment in its current state; needed only by decisions that look
                ahead (it is copied, never stepped).
            good_actions: the actions on an optimal path; only bounds that declare
                ``needs_labels`` (the ``oracle``) read them.
            seed: sampling seed; defaults to one derived from the planner's seed and the step.

        Returns:
            The step record; ``record.action`` is the action to take.

        Raises:
            ConfigError: the observation has no admissible actions, or a decision looks ahead
                without a copyable ``env``.
        """
        obs = Observation.from_env(observation)
        if not obs.actions:
            raise ConfigError(
                "the observation lists no admissible actions; the planner chooses among "
                "obs['actions'], so the environment must provide them"
            )
        ctx = context if context is not None else StepContext.start(limit=self.max_steps, env=env)
        step_seed = derive_seed(self.seed, ctx.step) if seed is None else seed
        with self._lock:
            peeked = None
            if rates_first(self.controller) and can_copy(env):
                # The environment's rating decides where it can, with no model call; the
                # controller (and its probe) is asked only where the rating ties.
                peeked = peek_step(env, obs.actions, ctx)
                if len(rated_best(peeked)) == 1:
                    return self._carry_out(
                        obs, ctx, MODEL_FREE, Look(), env=env, seed=step_seed, peeked=peeked
                    )
            look = self._observe(obs, ctx, probe=self.controller.needs_probe)
            trials: dict[Decision, StepRecord] = {}
            view = StepView(features=look.features, context=ctx)
            if self.controller.needs_labels:
                if good_actions is None:
                    raise ConfigError(
                        f"the {self.controller.name!r} strategy needs the good actions of each "
                        f"step; use an environment with good_actions() (blocksworld, grid, "
                        f"alfworld, miniwob) or pass good_actions="
                    )

                def trial(decision: Decision) -> StepRecord:
                    if decision not in trials:
                        trials[decision] = self._trial(obs, ctx, decision, look, env, step_seed)
                    return trials[decision]

                view = attrs.evolve(view, labels=frozenset(good_actions), trial=trial)
            decision = self.controller.decide(view)
            if decision in trials:
                return trials[decision]
            return self._carry_out(obs, ctx, decision, look, env=env, seed=step_seed, peeked=peeked)

    def _trial(
        self,
        obs: Observation,
        ctx: StepContext,
        decision: Decision,
        look: Look,
        env: Any,
        seed: int,
    ) -> StepRecord:
        """Carry ``decision`` out in hindsight, costed as if it were the step's only one.

        The probe ran first and evaluated the prompt; a trial after it reuses that prompt, so
        its own record lacks the prompt's cost, which is added back (the probe's generated
        tokens are added only to ``k=0``, which acts on the probe).
        """
        rec = self._carry_out(
            obs, ctx, decision, attrs.evolve(look, cost=Cost()), env=env, seed=seed
        )
        if decision.uses_probe:
            return attrs.evolve(rec, cost=rec.cost + look.cost)
        prompt = look.cost.prompt_tokens
        share = Cost(
            prompt_tokens=prompt,
            reused_prompt_tokens=look.cost.reused_prompt_tokens,
            seconds=look.cost.seconds * prompt / max(1, look.cost.tokens),
        )
        return attrs.evolve(rec, cost=rec.cost + share)

    def observe(
        self,
        observation: Observation | Mapping[str, Any],
        context: StepContext,
        *,
        probe: bool | None = None,
    ) -> Look:
        """The first half of a step: the probe and the features (what a controller reads).

        ``act`` is ``observe``, the controller's ``decide``, then :meth:`carry_out`; trace
        collection and the live training wrapper call the halves themselves, so that every
        path computes features the same way.

        Args:
            observation: the environment's observation.
            context: the episode's step context.
            probe: run the probe (default: when the controller reads features).
        """
        with self._lock:
            return self._observe(
                Observation.from_env(observation),
                context,
                probe=self.controller.needs_probe if probe is None else probe,
            )

    def carry_out(
        self,
        observation: Observation | Mapping[str, Any],
        context: StepContext,
        decision: Decision,
        look: Look,
        *,
        env: Any = None,
        seed: int | None = None,
        peeked: list[Rollout] | None = None,
    ) -> StepRecord:
        """The second half of a step: draw what ``decision`` allots, choose, look ahead.

        Args:
            observation: the environment's observation.
            context: the episode's step context.
            decision: the decision to carry out.
            look: what :meth:`observe` returned for this step (its cost is in the record).
            env: the environment, when the decision looks ahead.
            seed: sampling seed (default: derived from the planner's seed and the step).
            peeked: the rating of every action at this step
                (:func:`~aip_sdk.lookahead.peek_step`), where the rating ties and a controller
                that ``rates_first`` decided: ``decision`` is carried out among the tied
                actions (:func:`among_ties`), as ``act`` does.
        """
        obs = Observation.from_env(observation)
        step_seed = derive_seed(self.seed, context.step) if seed is None else seed
        with self._lock:
            return self._carry_out(
                obs, context, decision, look, env=env, seed=step_seed, peeked=peeked
            )

    def _observe(self, obs: Observation, ctx: StepContext, *, probe: bool) -> Look:
        if not probe:
            return Look()
        result, cost = self._policy.probe(obs, ctx.history)
        return Look(probe=result, features=Features.compute(result, ctx), cost=cost)

    def _carry_out(
        self,
        obs: Observation,
        ctx: StepContext,
        first: Decision,
        look: Look,
        *,
        env: Any,
        seed: int,
        peeked: list[Rollout] | None = None,
    ) -> StepRecord:
        if peeked is not None:  # a rate-first controller's decision, carried out among the ties
            if first.model_free:  # the seeded order: the probe was for the features only
                look = attrs.evolve(look, probe=None)
            first = among_ties(first)
        probe, features, cost = look.probe, look.features, look.cost
        candidates: list[Candidate] = []
        scores: dict[str, float] = {}
        votes: dict[str, int] = {}
        if first.looks_ahead and not can_copy(env) and not self.controller.needs_copy:
            # A controller that can do without (a learned one reads the `copyable` feature)
            # gets the vote where the environment cannot be copied.
            first = attrs.evolve(first, lookahead=0, peek=0, widen=0)
        tied: list[str] | None = None
        if first.widen and first.peek:
            _need_env(env, first)
            # The environment rates every action first, at no model call; the model is asked
            # only where that rating ties (what it chooses there is what drawing first would).
            if peeked is None:
                peeked = peek_step(env, obs.actions, ctx)
            scores = {r.action: r.score for r in peeked}
            tied = rated_best(peeked)
        if tied is not None and len(tied) == 1:
            order = tied
        elif first.widen and first.k == 0:  # no sample: the probe's choice where it ran, then
            # the ties in the step's seeded order
            first_choice = [probe.best] if probe is not None else []
            order = widen(first_choice, obs.actions, seed=derive_seed(seed, TIE_ORDER_SALT))
        elif first.uses_probe:
            if probe is None:  # a controller that did not declare needs_probe
                probe, probe_cost = self._policy.probe(obs, ctx.history)
                cost = cost + probe_cost
            order = [probe.best]
        else:
            want = first.k
            call = 0
            while want > 0:
                drawn, draw_cost = self._policy.draw(
                    obs,
                    ctx.history,
                    n=want,
                    depth=first.depth,
                    seed=derive_seed(seed, call),
                    temperature=first.temperature,
                )
                candidates.extend(drawn)
                cost = cost + draw_cost
                call += 1
                want = self.controller.more([c.action for c in candidates])
            order = rank(candidates, probe, vote=first.vote)
            votes = dict(Counter(c.action for c in candidates))
            if first.vote == "weighted" and not scores:  # peek's ratings, where it ran, stay
                scores = weighted_scores(candidates)
            if first.widen:
                order = widen(order, obs.actions, seed=derive_seed(seed, TIE_ORDER_SALT))
        if tied is not None:
            order = [a for a in order if a in tied]
        action = order[0]
        if first.looks_ahead and len(order) > 1 and (tied is None or first.lookahead):
            _need_env(env, first)
            action, rollouts, look_cost = look_ahead(
                self._policy,
                env,
                order,
                ctx.history,
                horizon=first.lookahead,
                seed=derive_seed(seed, ROLLOUT_SALT),
                seen=ctx.states,
                peek_first=bool(first.peek) and tied is None,
            )
            cost = cost + look_cost
            scores = {**scores, **{r.action: r.score for r in rollouts}}
        return StepRecord(
            index=ctx.step,
            features=features,
            decision=carried_out(first, len(candidates)),
            candidates=tuple(candidates),
            action=action,
            votes=votes,
            cost=cost,
            scores=scores,
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
            max_steps: step limit (default: the environment's own ``max_steps``, else the
                planner's).
            seed: passed to ``env.reset`` and mixed into the sampling seeds.
            budget_tokens: stop once evaluated plus generated tokens reach this many.
            options: passed to ``env.reset``.

        Returns:
            The result, with one record per step; a run cut short keeps every finished step.

        Raises:
            ConfigError: the controller looks ahead and ``env`` cannot be copied.
        """
        if self.controller.needs_copy and not can_copy(env):
            copy_env(env)  # raises the explanation
        limit = step_limit(env, max_steps, default=self.max_steps)
        obs, info = env.reset(seed=seed, options=options)
        ctx = StepContext.start(obs, info, limit=limit, budget_tokens=budget_tokens, env=env)
        records: list[StepRecord] = []
        total = Cost()
        stop_reason = "max_steps"
        success = False
        quality = 0.0
        error = ""
        base = self.seed if seed is None else derive_seed(self.seed, seed)
        labels = getattr(env, "good_actions", None)
        for step in range(limit):
            if ctx.over_budget():
                stop_reason = "budget"
                break
            good = labels() if callable(labels) and self.controller.needs_labels else None
            try:
                record = self.act(
                    obs, context=ctx, env=env, good_actions=good, seed=derive_seed(base, step)
                )
            except BackendError as exc:  # e.g. a server died: the episode ends, steps kept
                stop_reason, success, quality, error = "backend_error", False, 0.0, str(exc)
                break
            try:
                obs, _reward, terminated, truncated, info = env.step(record.action)
            except EnvError as exc:  # e.g. the browser died: the episode fails
                records.append(attrs.evolve(record, feedback=f"environment error: {exc}"))
                total = total + record.cost
                stop_reason, success, quality, error = "env_error", False, 0.0, str(exc)
                break
            records.append(
                attrs.evolve(
                    record,
                    feedback=str(info.get("feedback", "")),
                    valid=bool(info.get("valid", True)),
                )
            )
            total = total + record.cost
            ctx.advance(record.action, obs, info, record.cost)
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
            actions=tuple(r.action for r in records),
            success=success,
            quality=quality,
            steps=tuple(records),
            cost=total,
            stop_reason=stop_reason,
            optimal_steps=int(optimal) if optimal is not None else None,
            model=self.backend.model_name,
            controller=self.controller.spec,
            error=error,
        )

    def close(self) -> None:
        """Close the backend if this planner owns it (see the class docstring)."""
        if self.owns_backend:
            self.backend.close()
