"""The allocation options beyond k samples and a majority: the probe's top action (k=0),
likelihood-weighted votes, lookahead in copies of the environment, per-decision temperature."""

from __future__ import annotations

import attrs
import pytest

from aip_sdk import ConfigError, Cost, Decision, Planner
from aip_sdk.context import StepContext
from aip_sdk.controllers import make_controller
from aip_sdk.controllers.base import StepView
from aip_sdk.testing import ScriptedBackend

OBS = {"text": "You are in a room.", "goal": "leave", "actions": ("open door", "wait", "sing")}


def _request_cost(b: ScriptedBackend) -> int:
    """The prompt tokens the scripted backend charged over all its calls (one per word)."""
    total = 0
    for op, kw in b.requests:
        if op == "sample":
            total += b.count_tokens(kw["prompt"])
        else:
            total += b.count_tokens(kw["prompt"]) + sum(
                b.count_tokens(c) for c in kw["continuations"]
            )
    return total


def test_k0_takes_the_probe_top_action_without_sampling():
    b = ScriptedBackend(scores={"wait": -0.5, "open door": -2.0, "sing": -3.0})
    rec = Planner(backend=b, controller="fixed:k=0").act(OBS)
    assert rec.action == "wait"
    assert rec.candidates == () and rec.decision == Decision(k=0)
    # the probe: one greedy constrained choice, nothing else
    ((op, kw),) = b.requests
    assert op == "sample" and kw["n"] == 1 and kw["temperature"] == 0.0
    assert kw["choices"] == OBS["actions"]
    assert rec.cost.generated_tokens == 1 and rec.cost.prompt_tokens == _request_cost(b)


def test_weighted_vote_prefers_the_confident_minority():
    b = ScriptedBackend(samples=["wait", "wait", "open door"])
    # the scripted backend gives every token log-prob -0.1: equal confidence per candidate, so
    # the weighted vote follows the count ...
    assert Planner(backend=b, controller="fixed:k=3,vote=weighted").act(OBS).action == "wait"
    # ... and a candidate's weight is its mean token probability (length-normalised)
    from aip_sdk.policy import aggregate
    from aip_sdk.records import Candidate

    cands = [
        Candidate(action="wait", logprob=-3.0, generated_tokens=1, action_tokens=1),
        Candidate(action="wait", logprob=-3.0, generated_tokens=1, action_tokens=1),
        Candidate(action="open door", logprob=-0.2, generated_tokens=2, action_tokens=2),
    ]
    assert aggregate(cands)[0] == "wait"
    assert aggregate(cands, vote="weighted")[0] == "open door"  # 0.905 > 2 x 0.050


def test_weighted_vote_records_its_scores():
    b = ScriptedBackend(samples=["wait", "sing"])
    rec = Planner(backend=b, controller="fixed:k=2,vote=weighted").act(OBS)
    assert set(rec.scores) == {"wait", "sing"}
    assert rec.decision == Decision(k=2, vote="weighted")


def test_temperature_is_a_parameter_of_the_decision():
    ctrl = make_controller("fixed:k=2,temperature=0.3")
    assert ctrl.decide(StepView()) == Decision(k=2, temperature=0.3)
    assert make_controller(ctrl.spec) == ctrl
    b = ScriptedBackend(samples=["wait", "wait"])
    Planner(backend=b, controller=ctrl).act(OBS)
    assert b.requests[0][1]["n"] == 2


@pytest.mark.parametrize(
    "spec",
    [
        "fixed:k=0",
        "fixed:k=4,vote=weighted",
        "fixed:k=4,lookahead=2",
        "fixed:k=4,peek=1",
        "fixed:k=4,peek=1,widen=1",
        "heuristic",
        "fixed:k=2,temperature=1.2",
    ],
)
def test_specs_round_trip(spec):
    ctrl = make_controller(spec)
    assert make_controller(ctrl.spec) == ctrl
    assert Decision.from_dict(ctrl.decide(StepView()).to_dict()) == ctrl.decide(StepView())


def test_lookahead_step_ledger_holds_every_model_call(blocksworld):
    env = blocksworld.make("2", "basic_3")
    obs, info = env.reset()
    a, b_ = obs["actions"][0], obs["actions"][1]
    backend = ScriptedBackend(samples=[a, b_])  # two distinct candidates; rollouts: first choice
    rec = Planner(backend=backend, controller="fixed:k=2,lookahead=2").act(
        obs, env=env, context=StepContext.start(obs, info, limit=20)
    )
    ops = [op for op, _ in backend.requests]
    assert ops[0] == "sample" and backend.requests[0][1]["n"] == 2
    assert len(ops) == 1 + 2 * 2  # the draw, then 2 continuation steps per candidate
    assert rec.cost.llm_calls == len(ops)
    assert rec.cost.prompt_tokens == _request_cost(backend)
    # each continuation step chooses a five-word action ("put the red block on ...", ...)
    assert rec.cost.generated_tokens == sum(c.generated_tokens for c in rec.candidates) + 4 * 5
    assert set(rec.scores) == {a, b_}
    assert env.state == blocksworld.make("2", "basic_3").problem.init  # the env was not stepped


def _one_step_from_goal(blocksworld):
    """A Blocksworld task one action from its goal, the winning action and a wrong one."""
    env = blocksworld.make("2", "basic_3")
    plan = blocksworld.ground_truth_plan("2", "basic_3")
    obs, _ = env.reset()
    for action in plan[:-1]:
        obs, *_ = env.step(action)
    wrong = next(x for x in obs["actions"] if x != plan[-1])
    return env, obs, plan[-1], wrong


def test_lookahead_picks_the_candidate_whose_rollout_reaches_the_goal(blocksworld):
    env, obs, win, wrong = _one_step_from_goal(blocksworld)
    backend = ScriptedBackend(samples=[wrong, wrong, win])  # the vote alone picks `wrong`
    rec = Planner(backend=backend, controller="fixed:k=3,lookahead=1").act(obs, env=env)
    assert rec.votes[wrong] == 2 and rec.action == win


def test_peek_takes_the_candidate_that_reaches_the_goal_without_a_model_call(blocksworld):
    env, obs, win, wrong = _one_step_from_goal(blocksworld)
    backend = ScriptedBackend(samples=[wrong, wrong, win])  # the vote alone picks `wrong`
    rec = Planner(backend=backend, controller="fixed:k=3,peek=1").act(obs, env=env)
    assert rec.votes[wrong] == 2 and rec.action == win
    assert len(backend.requests) == 1  # the draw only: trying a candidate costs no model call
    assert rec.decision == Decision(k=3, peek=1) and set(rec.scores) <= {wrong, win}


def test_peek_that_separates_the_candidates_escalates_to_no_rollout(blocksworld):
    env, obs, win, wrong = _one_step_from_goal(blocksworld)
    backend = ScriptedBackend(samples=[wrong, wrong, win])
    rec = Planner(backend=backend, controller="fixed:k=3,peek=1,lookahead=1").act(obs, env=env)
    assert rec.action == win and rec.decision == Decision(k=3, peek=1, lookahead=1)
    assert len(backend.requests) == 1  # peek saw the goal reached: the lookahead never ran


def test_widen_puts_the_candidates_first_and_the_rest_in_a_seeded_order():
    from aip_sdk.lookahead import widen

    actions = [f"a{i}" for i in range(12)]
    out = widen(["a7", "a3"], actions, seed=5)
    assert out[:2] == ["a7", "a3"] and sorted(out) == sorted(actions)
    assert out == widen(["a7", "a3"], actions, seed=5)
    assert out != widen(["a7", "a3"], actions, seed=6)  # 10! orders: a clash is negligible


def test_heuristic_baseline_makes_no_model_call(blocksworld):
    env, obs, win, _ = _one_step_from_goal(blocksworld)
    backend = ScriptedBackend()
    rec = Planner(backend=backend, controller="heuristic").act(obs, env=env)
    assert rec.action == win and rec.decision == Decision(k=0, peek=1, widen=1)
    assert backend.requests == [] and rec.cost.tokens == 0 and rec.candidates == ()
    # a whole task: the environment's relaxed distance alone reaches this one's goal
    runs = [
        Planner(backend=backend, controller="heuristic").plan(
            blocksworld.make("461", "basic"), seed=0
        )
        for _ in range(2)
    ]
    assert runs[0].success and runs[0].cost.tokens == 0 and backend.requests == []
    assert runs[0].actions == runs[1].actions  # the tie order is fixed by the seed


def test_widen_draws_only_where_the_environment_rating_ties(blocksworld):
    env, obs, win, wrong = _one_step_from_goal(blocksworld)
    plain = Planner(backend=ScriptedBackend(samples=[wrong, wrong]), controller="fixed:k=2,peek=1")
    assert plain.act(obs, env=env).action == wrong  # the winning action was never drawn
    backend = ScriptedBackend(samples=[wrong, wrong])
    rec = Planner(backend=backend, controller="fixed:k=2,peek=1,widen=1").act(obs, env=env)
    assert rec.action == win and backend.requests == []  # one action reaches the goal: no draw
    assert rec.decision == Decision(k=0, peek=1, widen=1) and rec.cost.tokens == 0
    # at the start several actions make the same progress: the model's samples order that tie
    start_env = blocksworld.make("2", "basic_3")
    start, _ = start_env.reset()
    from aip_sdk.lookahead import peek_every, rated_best

    tied = rated_best(peek_every(start_env, start["actions"], []))
    assert len(tied) > 1
    backend = ScriptedBackend(samples=[tied[-1], tied[-1]])
    rec = Planner(backend=backend, controller="fixed:k=2,peek=1,widen=1").act(start, env=start_env)
    assert rec.action == tied[-1] and len(backend.requests) == 1
    assert rec.decision == Decision(k=2, peek=1, widen=1) and rec.votes == {tied[-1]: 2}


@pytest.mark.parametrize(
    "spec", ["learned:widen=1", "learned:path=aip_sdk/data/controller.onnx,widen=1"]
)
def test_learned_widen_spec_round_trips(spec):
    ctrl = make_controller(spec)
    again = make_controller(ctrl.spec)
    assert ctrl.spec == spec and again.spec == spec and again.rates_first and ctrl.rates_first
    assert ctrl.shipped == spec.startswith("learned:widen")  # the Planner picks its model's
    assert not make_controller("learned").rates_first
    with pytest.raises(ConfigError, match="widen"):
        make_controller("learned:widen=2")


@attrs.define
class _AskedAtTies:
    """A user's controller that lets the environment's rating decide where it can."""

    decision: Decision
    asked: list[StepView] = attrs.field(factory=list)
    rates_first: bool = True
    name: str = "asked-at-ties"
    needs_probe: bool = True
    needs_copy: bool = False
    needs_labels: bool = False
    bound: bool = False
    spec: str = "asked-at-ties"

    def decide(self, view: StepView) -> Decision:
        self.asked.append(view)
        return self.decision

    def more(self, answers: object) -> int:
        return 0


def test_a_controller_that_rates_first_is_asked_only_where_the_rating_ties(blocksworld):
    from aip_sdk.lookahead import peek_every, rated_best

    env, obs, win, wrong = _one_step_from_goal(blocksworld)
    ctrl = _AskedAtTies(Decision(k=2))
    backend = ScriptedBackend(samples=[wrong, wrong])
    rec = Planner(backend=backend, controller=ctrl).act(obs, env=env)
    assert rec.action == win and backend.requests == [] and ctrl.asked == []  # no probe either
    assert rec.decision == Decision(k=0, peek=1, widen=1) and rec.features is None
    start_env = blocksworld.make("2", "basic_3")
    start, _ = start_env.reset()
    tied = rated_best(peek_every(start_env, start["actions"], []))
    backend = ScriptedBackend(samples=[tied[-1], tied[-1]])
    rec = Planner(backend=backend, controller=ctrl).act(start, env=start_env)
    assert [kw["temperature"] for _, kw in backend.requests] == [0, 0.7]  # the probe, the draw
    assert len(ctrl.asked) == 1 and ctrl.asked[0].features is not None
    assert rec.action == tied[-1] and rec.decision == Decision(k=2, peek=1, widen=1)
    # k=0 among the ties: the probe's choice where it is tied, else the seeded order of the ties
    for favourite in (tied[0], next(a for a in start["actions"] if a not in tied)):
        backend = ScriptedBackend(scores={favourite: 0.0})
        ctrl = _AskedAtTies(Decision(k=0))
        rec = Planner(backend=backend, controller=ctrl).act(start, env=start_env)
        assert [kw["temperature"] for _, kw in backend.requests] == [0] and rec.cost.tokens > 0
        assert rec.action in tied and (rec.action == favourite or favourite not in tied)
    # the model-free decision among the ties: the seeded order, whatever the probe preferred
    seeded = Planner(backend=ScriptedBackend(), controller="heuristic").act(start, env=start_env)
    for favourite in tied:
        ctrl = _AskedAtTies(Decision(k=0, peek=1, widen=1))
        rec = Planner(backend=ScriptedBackend(scores={favourite: 0.0}), controller=ctrl).act(
            start, env=start_env
        )
        assert rec.action == seeded.action and rec.cost.tokens > 0  # the probe is still paid


def test_the_heuristic_baseline_needs_an_environment_to_copy():
    with pytest.raises(ConfigError, match="needs env="):
        Planner(backend=ScriptedBackend(), controller="heuristic").act(OBS)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0, "peek": 1}, "k=0 takes the probe"),
        ({"k": 0, "depth": 1, "peek": 1, "widen": 1}, "k=0 takes the probe"),
        ({"k": 0, "lookahead": 1, "widen": 1}, "k=0 takes the probe"),
        ({"k": 4, "widen": 1}, "needs peek=1 or lookahead"),
    ],
)
def test_peek_refuses_what_it_cannot_combine_with(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Decision(**kwargs)


def test_lookahead_without_an_env_is_a_clear_error():
    b = ScriptedBackend(samples=["wait", "sing"])
    with pytest.raises(ConfigError, match="needs env="):
        Planner(backend=b, controller="fixed:k=2,lookahead=1").act(OBS)


def test_lookahead_is_skipped_when_the_candidates_agree():
    b = ScriptedBackend(samples=["wait", "wait"])
    rec = Planner(backend=b, controller="fixed:k=2,lookahead=3").act(OBS)
    assert rec.action == "wait" and len(b.requests) == 1


def test_plan_refuses_lookahead_on_an_environment_that_cannot_be_copied():
    class Uncopyable:
        def reset(self, *, seed=None, options=None):
            return OBS, {}

        def step(self, action):
            return OBS, 0.0, False, False, {}

    with pytest.raises(ConfigError, match="cannot be"):
        Planner(backend=ScriptedBackend(), controller="fixed:k=2,lookahead=1").plan(Uncopyable())


def test_step_context_counts_what_features_read():
    ctx = StepContext.start({"text": "a", "actions": ("x",)}, {"state": "A"}, limit=10)
    ctx.advance("x", {"text": "b"}, {"state": "B", "valid": True, "changed": True}, Cost())
    ctx.advance("y", {"text": "a"}, {"state": "A", "valid": True, "changed": True}, Cost())
    assert ctx.undone and ctx.no_progress and ctx.repeats == 1 and ctx.step == 2
    ctx.advance(
        "z",
        {"text": "a"},
        {"state": "A", "valid": False, "changed": False},
        Cost(generated_tokens=5),
    )
    assert (
        ctx.last_failed
        and ctx.since_change == 1
        and ctx.spent == 5
        and ctx.history == ["x", "y", "z"]
    )


def test_step_context_counts_steps_without_new_goal_progress():
    ctx = StepContext.start({"text": "a"}, {"state": "A", "goal_progress": 0.2}, limit=10)
    assert ctx.best_progress == 0.2 and ctx.since_progress == 0
    for state, progress, stalled in (("B", 0.2, 1), ("C", 0.1, 2), ("D", 0.5, 0), ("E", 0.4, 1)):
        ctx.advance("x", {"text": state}, {"state": state, "goal_progress": progress}, Cost())
        assert ctx.since_progress == stalled
    assert ctx.best_progress == 0.5
    # a suite that reports no progress never looks stalled
    quiet = StepContext.start({"text": "a"}, {"state": "A"}, limit=10)
    quiet.advance("x", {"text": "b"}, {"state": "B"}, Cost())
    assert quiet.best_progress is None and quiet.since_progress == 0


def test_conf_with_stall_escalates_after_steps_without_goal_progress():
    from aip_sdk.controllers import make_controller
    from aip_sdk.controllers.base import StepView
    from aip_sdk.decision import Decision
    from aip_sdk.features import Features

    gate = make_controller(
        "conf:threshold=0,low_k=0,high_k=4,high_depth=0,high_lookahead=1,stall=2"
    )
    assert gate.spec.endswith(",high_lookahead=1,stall=2")
    sure = Features(values=(0.9, 0.8, 0.1, 0.3, 0, 0, 0, 0, -0.05))
    ctx = StepContext.start({"text": "a"}, {"state": "A", "goal_progress": 0.5}, limit=10)
    decided = []
    for state in "BCD":  # three steps that get no nearer the goal
        decided.append(gate.decide(StepView(features=sure, context=ctx)))
        ctx.advance("x", {"text": state}, {"state": state, "goal_progress": 0.5}, Cost())
    decided.append(gate.decide(StepView(features=sure, context=ctx)))
    look = Decision(k=4, lookahead=1)
    assert decided == [Decision(k=0), Decision(k=0), look, look]


# -- the real default model -------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec", ["fixed:k=0", "fixed:k=4,vote=weighted", "fixed:k=3,lookahead=1,temperature=1.0"]
)
def test_new_options_plan_grid_with_the_real_model(real_backend, spec):
    from aip_sdk.envs.suite import load_suite

    env = load_suite("grid").make("DoorKey-5x5/3", "train")
    result = Planner(backend=real_backend, controller=spec).plan(env, max_steps=3, seed=1)
    assert len(result.steps) >= 1
    for step in result.steps:
        assert step.action in [c.action for c in step.candidates] or step.decision.k == 0
        assert step.cost.tokens > 0
    assert result.cost == Cost.total(s.cost for s in result.steps)
    if "lookahead" in spec:  # rollouts evaluate prompts of their own: dearer than the draw
        assert any(s.cost.llm_calls > 1 for s in result.steps) or all(
            len(s.votes) == 1 for s in result.steps
        )


def test_lookahead_plans_blocksworld_with_the_real_model(real_backend, blocksworld):
    env = blocksworld.make("2", "basic_3")
    result = Planner(backend=real_backend, controller="fixed:k=4,lookahead=2").plan(
        env, max_steps=2, seed=0
    )
    assert all(s.action in s.votes for s in result.steps)
    assert result.cost.tokens == sum(s.cost.tokens for s in result.steps)
