"""Lookahead and peek's escalation on a hand-made environment (no model)."""

from __future__ import annotations

import copy
from types import SimpleNamespace

from aip_sdk.cost import Cost
from aip_sdk.lookahead import look_ahead, replay


class Fork:
    """From the start, 'left' and 'right' both change the state and report no progress, so
    peek cannot tell them apart; 'wall' is rejected. One step later only 'go' after 'right'
    reaches the goal."""

    def __init__(self) -> None:
        self.where = "start"

    def clone(self) -> Fork:
        return copy.copy(self)

    def step(self, action: str):
        valid = action in {"left", "right", "go"}
        if valid:
            self.where = f"{self.where}/{action}"
        success = self.where == "start/right/go"
        obs = {"text": self.where, "goal": "", "actions": ("go", "wall")}
        info = {"valid": valid, "changed": valid, "success": success}
        return obs, float(success), success, False, info


class Greedy:
    """The rollouts' policy: always 'go', one model call of 10 tokens each."""

    def __init__(self) -> None:
        self.calls = 0

    def draw(self, obs, taken, *, n, depth, seed, temperature):
        self.calls += 1
        return [SimpleNamespace(action="go")], Cost(prompt_tokens=10)


def _look(candidates, horizon, peek_first):
    policy = Greedy()
    action, rollouts, cost = look_ahead(
        policy, Fork(), candidates, [], horizon=horizon, seed=0, peek_first=peek_first
    )
    return action, rollouts, cost, policy.calls


def test_peek_escalates_to_rollouts_of_the_tied_candidates_only():
    # vote order: left, wall, right. Peek ties left and right (wall is rejected) and takes
    # left, the vote's; escalating rolls out left and right only, and right reaches the goal
    assert _look(["left", "wall", "right"], 0, False)[0] == "left"
    action, rollouts, cost, calls = _look(["left", "wall", "right"], 1, True)
    assert action == "right" and calls == 2 and cost.prompt_tokens == 20
    assert {r.action: len(r.steps) for r in rollouts} == {"left": 2, "wall": 1, "right": 2}
    # the full lookahead rolls out all three
    action, _, cost, calls = _look(["left", "wall", "right"], 1, False)
    assert action == "right" and calls == 3 and cost.prompt_tokens == 30


def test_peek_that_separates_pays_for_no_rollout():
    action, rollouts, cost, calls = _look(["wall", "right"], 1, True)
    assert action == "right" and calls == 0 and cost == Cost()
    assert [len(r.steps) for r in rollouts] == [1, 1]


def test_replay_of_recorded_rollouts_matches_serving():
    _, recorded, _, _ = _look(["left", "wall", "right"], 2, False)  # the longest horizon
    for horizon in (1, 2):
        for peek_first in (False, True):
            served, _, cost, _ = _look(["left", "wall", "right"], horizon, peek_first)
            assert replay(recorded, horizon, peek_first=peek_first) == (served, cost)
    assert replay(recorded, 0) == ("left", Cost())


def test_a_return_costs_once_per_earlier_visit_so_a_tie_cannot_cycle_for_ever():
    """Blocksworld task 368 as the 0.5B model's vote at ties played it: holding the orange block
    for the third time, putting it down and stacking it back on the red block both return to
    states seen before. Counted once, they tie, and a choice that repeats itself at ties cycles
    (the model's did, to the step limit); counted per visit, stacking back (its state seen
    twice) rates below putting down (seen once), so the rating alone leaves the loop."""
    from aip_sdk.context import StepContext
    from aip_sdk.envs.suite import load_suite
    from aip_sdk.lookahead import Rollout, RolloutStep, peek_every, peek_step, rated_best

    env = load_suite("blocksworld").make("368", "basic")
    obs, info = env.reset(seed=0)
    ctx = StepContext.start(obs, info, limit=20, env=env)
    plays = [
        "pick up the red block",
        "stack the red block on top of the orange block",
        "pick up the blue block",
        "stack the blue block on top of the red block",
        "pick up the yellow block",
        "stack the yellow block on top of the blue block",
        "unstack the yellow block from on top of the blue block",
        "put down the yellow block",
        "unstack the blue block from on top of the red block",
        "stack the blue block on top of the yellow block",
        "unstack the red block from on top of the orange block",
        "stack the red block on top of the blue block",
        "pick up the orange block",
    ]
    loop = [
        "stack the orange block on top of the red block",
        "unstack the orange block from on top of the red block",
    ]
    for action in [*plays, *loop, *loop]:
        obs, _r, _t, _tr, info = env.step(action)
        ctx.advance(action, obs, info, Cost())
    peeked = {r.action: r for r in peek_step(env, obs["actions"], ctx)}
    back, down = peeked[loop[0]].steps[0], peeked["put down the orange block"].steps[0]
    assert (back.visits, down.visits) == (2, 1) and back.repeat and down.repeat
    assert rated_best(list(peeked.values())) == ["put down the orange block"]
    # keys in a list count each occurrence; a recorded step without visits counts one
    keys = list(ctx.states.elements())  # one key per visit
    assert peek_every(env, obs["actions"], ctx.history, seen=keys) == list(peeked.values())
    old = Rollout(action="a", steps=(RolloutStep(action="a", repeat=True),))
    new = Rollout(action="a", steps=(RolloutStep(action="a", repeat=True, visits=3),))
    assert old.rating == -0.5 and new.rating == -1.5
    assert RolloutStep.from_dict({"action": "a", "repeat": True}).visits == 0
