"""The defects a code review found, each pinned by a test that failed before its fix."""

from __future__ import annotations

import attrs
import pytest

from aip_sdk import Planner
from aip_sdk.controllers import make_controller
from aip_sdk.testing import ScriptedBackend

OBS = {"text": "You are in a room.", "goal": "leave", "actions": ("open door", "wait")}


def test_ac_keeps_its_batch_in_the_spec():
    ctrl = make_controller("ac:threshold=0.9,batch=4")
    assert "batch=4" in ctrl.spec and make_controller(ctrl.spec) == ctrl


def test_a_planner_cannot_be_changed_in_place_and_evolve_takes_effect():
    b = ScriptedBackend(samples=["wait"] * 4)
    p = Planner(backend=b, controller="fixed:k=1", temperature=0.7)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        p.temperature = 0.1  # type: ignore[misc]
    cooler = attrs.evolve(p, temperature=0.1)
    assert cooler.policy.temperature == 0.1 and p.policy.temperature == 0.7


def test_closing_a_planner_leaves_a_shared_backend_open():
    b = ScriptedBackend()
    first, second = Planner(backend=b), Planner(backend=b)
    first.close()
    assert not b.closed and second.act(OBS).action in OBS["actions"]
    with Planner(backend=b, owns_backend=True):
        pass
    assert b.closed


def test_a_rejected_step_is_marked_from_the_environment_not_its_wording(blocksworld):
    env = blocksworld.make("2", "basic_3")
    real = env.step

    def reject_first(action):
        obs, r, term, trunc, info = real(action)
        return obs, r, term, trunc, {**info, "valid": False, "feedback": "Nope."}

    env.step = reject_first
    result = Planner(backend=ScriptedBackend(), controller="fixed:k=1").plan(env, max_steps=2)
    assert [s.valid for s in result.steps] == [False, False]
    assert result.steps[0].to_dict()["valid"] is False
