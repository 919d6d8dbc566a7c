"""Every strategy runs end to end on a real suite task with the real default model."""

from __future__ import annotations

import pytest

from aip_sdk import Planner

SPECS = [
    "fixed:k=1,depth=0",
    "fixed:k=2,depth=1",
    "sc:k=2",
    "ac:threshold=0.95,max=4,depth=0",
    "esc:window=2,max=4,depth=0",
    "conf:threshold=0.6,high_k=2",
    "oracle",
]


@pytest.mark.parametrize("spec", SPECS)
def test_strategy_plans_blocksworld_with_the_default_model(real_backend, blocksworld, spec):
    env = blocksworld.make("2", "basic_3")
    planner = Planner(backend=real_backend, controller=spec, reasoning_budgets={1: 8, 2: 16})
    result = planner.plan(env, max_steps=2, seed=3)
    assert result.controller == planner.controller.spec
    assert 1 <= len(result.steps) <= 2
    for step in result.steps:
        if step.decision.k == 0:  # the probe's greedy choice: no candidates drawn
            assert step.candidates == () and step.valid
        else:
            assert step.action in [c.action for c in step.candidates]
        assert step.decision.k == len(step.candidates)
        assert step.cost.generated_tokens > 0
    if spec.startswith("ac") or spec.startswith("esc"):
        assert all(2 <= s.decision.k <= 4 for s in result.steps)
    assert result.cost.generated_tokens == sum(s.cost.generated_tokens for s in result.steps)


def test_learned_strategy_plans_with_a_fixture_controller(real_backend, blocksworld, tmp_path):
    from test_controllers import _tiny_controller

    path = _tiny_controller(tmp_path / "c.onnx", prefer=1)
    planner = Planner(backend=real_backend, controller=f"learned:{path}")
    result = planner.plan(blocksworld.make("2", "basic_3"), max_steps=2)
    for step in result.steps:
        assert step.features is not None
        assert step.decision in planner.controller.table


@pytest.mark.parametrize("spec", ["fixed:k=2,peek=1,widen=1", "learned:widen=1"])
def test_widen_asks_the_default_model_only_where_the_rating_ties(real_backend, blocksworld, spec):
    from aip_sdk.lookahead import peek_every, rated_best, state_key

    planner = Planner(backend=real_backend, controller=spec)
    result = planner.plan(blocksworld.make("2", "basic_3"), max_steps=6, seed=3)
    replay = blocksworld.make("2", "basic_3")
    obs, info = replay.reset(seed=3)
    seen = [state_key(obs, info)]
    asked = 0
    for step in result.steps:
        tied = rated_best(peek_every(replay, obs["actions"], [], seen=seen))
        assert step.action in tied
        if len(tied) == 1:  # the environment's rating chose: no model call, no probe
            assert step.decision.k == 0 and step.cost.tokens == 0 and step.candidates == ()
            assert step.features is None
        else:
            assert step.cost.generated_tokens > 0
            if spec.startswith("fixed"):
                assert step.decision.k == 2
            else:  # the controller read the probe's features and decided among the ties
                assert step.features is not None
                assert step.decision.widen == 1 and step.decision.peek == 1
            asked += 1
        obs, _, _, _, info = replay.step(step.action)
        seen.append(state_key(obs, info))
    assert 0 < asked < len(result.steps)
