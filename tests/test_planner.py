"""The Planner's logic on the scripted fake backend: votes, stopping rules, ledger, records."""

from __future__ import annotations

import pytest

from aip_sdk import ConfigError, Cost, Decision, Planner
from aip_sdk.testing import ScriptedBackend

OBS = {"text": "You are in a room.", "goal": "leave", "actions": ("open door", "wait", "sing")}


def test_majority_vote_wins():
    b = ScriptedBackend(samples=["wait", "open door", "open door", "sing"])
    rec = Planner(backend=b, controller="fixed:k=4,depth=0").act(OBS)
    assert rec.action == "open door"
    assert rec.votes == {"wait": 1, "open door": 2, "sing": 1}
    assert rec.decision == Decision(k=4, depth=0)
    assert len(b.requests) == 1 and b.requests[0][1]["n"] == 4  # drawn in one call


def test_ties_are_broken_by_the_probe_choice():
    b = ScriptedBackend(samples=["wait", "sing"], scores={"sing": -1.0, "wait": -3.0})
    rec = Planner(backend=b, controller="conf:threshold=0.99,high_k=2,high_depth=0").act(OBS)
    assert rec.votes == {"wait": 1, "sing": 1}
    assert rec.action == "sing"
    assert rec.features is not None and rec.features.top1_prob < 0.99


def test_ac_stops_early_and_the_ledger_shows_it():
    b = ScriptedBackend(samples=["wait"] * 16)
    p = Planner(backend=b, controller="ac:threshold=0.95,max=16,depth=0")
    rec = p.act(OBS)
    assert rec.decision.k == 4
    assert rec.cost.llm_calls == 4  # one backend call per sample
    assert len(b.samples) == 12


def test_depth_one_reasons_before_choosing():
    b = ScriptedBackend(samples=["I should leave.", "open door"])
    rec = Planner(backend=b, controller="fixed:k=1,depth=1").act(OBS)
    assert rec.action == "open door"
    assert rec.candidates[0].reasoning == "I should leave."
    thought, choice = b.requests
    assert thought[1]["choices"] is None and thought[1]["max_tokens"] == 24
    assert choice[1]["choices"] == OBS["actions"]
    assert "I should leave." in choice[1]["prompt"]


def test_step_cost_is_the_sum_of_its_calls():
    b = ScriptedBackend()
    rec = Planner(backend=b, controller="conf:threshold=0.0").act(OBS)
    assert rec.cost.llm_calls == 2  # probe + one draw
    assert rec.cost == Cost.total([rec.cost])


def test_observation_without_actions_is_a_clear_error():
    with pytest.raises(ConfigError, match="no admissible actions"):
        Planner(backend=ScriptedBackend()).act({"text": "x", "goal": "y", "actions": ()})


def test_plan_runs_an_episode_and_keeps_every_step(blocksworld):
    env = blocksworld.make("2", "basic_3")
    plan = blocksworld.ground_truth_plan("2", "basic_3")
    b = ScriptedBackend(samples=plan)
    result = Planner(backend=b, controller="fixed:k=1,depth=0").plan(env, max_steps=20)
    assert result.success and result.quality == 1.0
    assert list(result.actions) == plan
    assert result.stop_reason == "success"
    assert len(result.steps) == len(plan) == result.optimal_steps
    assert result.cost.llm_calls == len(plan)


def test_budget_stops_the_plan_and_keeps_partial_steps(blocksworld):
    env = blocksworld.make("3", "basic")
    result = Planner(backend=ScriptedBackend(), controller="fixed:k=1,depth=0").plan(
        env, max_steps=30, budget_tokens=200
    )
    assert result.stop_reason == "budget"
    assert 0 < len(result.steps) < 30
    assert result.cost.tokens >= 200


def test_repr_is_short_and_informative():
    assert (
        repr(Planner(backend=ScriptedBackend()))
        == "<Planner model='scripted' controller='learned'>"
    )


def test_oracle_takes_the_cheapest_decision_whose_action_is_good():
    # the probe prefers "wait" (bad); one sample says "wait"; two samples say "open door"
    b = ScriptedBackend(samples=["wait", "open door", "open door"], scores={"wait": -0.5})
    rec = Planner(backend=b, controller="oracle").act(OBS, good_actions={"open door"})
    assert rec.decision == Decision(k=2)
    assert rec.action == "open door"
    assert [kw["n"] for _, kw in b.requests] == [1, 1, 2]  # the probe, k=1, k=2: cheapest first
    # counted as if k=2 had been the only decision: the prompt once and its two candidates
    prompt = b.count_tokens(b.requests[0][1]["prompt"])
    assert rec.cost.prompt_tokens == prompt + b.count_tokens(b.requests[2][1]["prompt"])
    assert rec.cost.generated_tokens == 2 + 2


def test_oracle_takes_the_probe_when_its_top_action_is_good():
    b = ScriptedBackend(scores={"open door": -0.1})
    rec = Planner(backend=b, controller="oracle").act(OBS, good_actions={"open door"})
    assert rec.decision == Decision(k=0) and rec.action == "open door"
    assert len(b.requests) == 1 and rec.cost.generated_tokens == 2  # the probe alone


def test_oracle_peeks_where_no_vote_of_the_same_samples_is_good(blocksworld):
    from test_options import _one_step_from_goal

    env, obs, win, wrong = _one_step_from_goal(blocksworld)
    # the probe, one sample and both votes of two samples choose `wrong`; peek at two does not
    b = ScriptedBackend(samples=[wrong] * 5 + [wrong, win], scores={wrong: -0.1})
    rec = Planner(backend=b, controller="oracle").act(obs, env=env, good_actions={win})
    assert rec.decision == Decision(k=2, peek=1) and rec.action == win
    assert [kw["n"] for _, kw in b.requests] == [1, 1, 2, 2, 2]  # probe, k=1, k=2 three ways
    assert rec.cost.generated_tokens == sum(c.generated_tokens for c in rec.candidates)


def test_oracle_needs_good_action_labels():
    with pytest.raises(ConfigError, match="good actions"):
        Planner(backend=ScriptedBackend(), controller="oracle").act(OBS)


def test_default_controller_is_the_shipped_learned_one():
    b = ScriptedBackend(samples=["open door"] * 16, scores={"open door": -0.1})
    p = Planner(backend=b)
    assert p.controller.spec == "learned"
    rec = p.act(OBS)
    assert rec.features is not None and b.requests[0][1]["temperature"] == 0  # probe first
    assert rec.decision in p.controller.table


def test_an_environment_failure_fails_the_episode_and_keeps_the_steps(blocksworld):
    from aip_sdk import EnvError

    env = blocksworld.make("2", "basic_3")
    real_step = env.step
    calls = []

    def flaky(action):
        calls.append(action)
        if len(calls) == 2:
            raise EnvError("the browser died")
        return real_step(action)

    env.step = flaky
    result = Planner(backend=ScriptedBackend(), controller="fixed:k=1,depth=0").plan(
        env, max_steps=5
    )
    assert result.stop_reason == "env_error" and not result.success
    assert len(result.steps) == 2 and "the browser died" in result.steps[-1].feedback


def test_plan_runs_to_the_environments_own_step_limit_unless_capped():
    """Without ``max_steps`` an episode runs to the environment's limit (``step_limit``), as
    the benches, collection and live training do; the planner's default is for environments
    that state none."""
    from aip_sdk.envs.suite import load_suite

    env = load_suite("grid").make("Empty-8x8/1004", "test")
    backend = ScriptedBackend(scores={"turn left": 0.0})  # the probe always turns: never arrives
    planner = Planner(backend=backend, controller="fixed:k=0", max_steps=5)
    assert env.max_steps > 5
    assert len(planner.plan(env, seed=0).steps) == env.max_steps
    assert len(planner.plan(env, seed=0, max_steps=3).steps) == 3
    env.close()
