"""Each controller's decisions on crafted inputs, the spec strings, and the learned ONNX path."""

from __future__ import annotations

import numpy as np
import pytest

from aip_sdk import ConfigError, ControllerError, Decision, Features, make_controller
from aip_sdk.controllers import (
    AdaptiveConsistency,
    ConfidenceGate,
    EarlyStoppingSC,
    FixedController,
    beta_stop_probability,
)
from aip_sdk.controllers.base import StepView
from aip_sdk.decision import DEFAULT_DECISION_TABLE
from aip_sdk.features import FEATURE_NAMES, FEATURE_SCHEMA
from aip_sdk.testing import build_controller_file


def run_sequential(ctrl, answers):
    """Feed ``answers`` to a sequential rule the way the Planner does; return how many it drew."""
    drawn: list[str] = []
    want = ctrl.decide(StepView()).k
    it = iter(answers)
    while want:
        drawn += [next(it) for _ in range(want)]
        want = ctrl.more(drawn)
    return len(drawn)


def test_beta_stop_probability_matches_the_closed_form():
    assert beta_stop_probability(4, 0) == pytest.approx(1 - 0.5**5)
    assert beta_stop_probability(3, 0) == pytest.approx(1 - 0.5**4)
    assert beta_stop_probability(2, 2) == pytest.approx(0.5)


def test_ac_stops_after_four_unanimous_answers():
    assert run_sequential(AdaptiveConsistency(threshold=0.95, max=16), ["a"] * 16) == 4


def test_ac_keeps_sampling_on_alternating_answers_until_the_cap():
    assert run_sequential(AdaptiveConsistency(threshold=0.95, max=16), ["a", "b"] * 8) == 16


def test_esc_stops_on_a_unanimous_window():
    esc = EarlyStoppingSC(window=4, max=16)
    assert run_sequential(esc, ["a"] * 16) == 4
    assert run_sequential(esc, ["a", "b", "a", "a"] + ["b"] * 4 + ["c"] * 8) == 8
    assert run_sequential(esc, ["a", "b"] * 8) == 16


def test_fixed_and_sc_draw_k_at_once():
    assert FixedController(k=4, depth=1).decide(StepView()) == Decision(k=4, depth=1)
    assert run_sequential(make_controller("sc:k=8"), ["a"] * 8) == 8


def test_conf_escalates_below_the_threshold():
    gate = ConfidenceGate(threshold=0.6)
    sure = Features(values=(0.9, 0.8, 0.1, 0.3, 0, 0, 0, 0, -0.05))
    unsure = Features(values=(0.4, 0.1, 0.9, 0.3, 0, 0, 0, 0, -0.3))
    assert gate.decide(StepView(features=sure)) == Decision(k=1, depth=0)
    assert gate.decide(StepView(features=unsure)) == Decision(k=8, depth=1)
    assert not gate.needs_copy


def test_conf_can_escalate_to_a_lookahead_or_a_weighted_vote():
    gate = make_controller("conf:threshold=0.52,low_k=0,high_k=4,high_depth=0,high_lookahead=1")
    sure = Features(values=(0.6, 0.8, 0.1, 0.3, 0, 0, 0, 0, -0.05))
    unsure = Features(values=(0.4, 0.1, 0.9, 0.3, 0, 0, 0, 0, -0.3))
    assert gate.decide(StepView(features=sure)) == Decision(k=0)
    assert gate.decide(StepView(features=unsure)) == Decision(k=4, lookahead=1)
    assert gate.needs_copy  # the planner refuses an environment it cannot copy, up front
    weighted = make_controller("conf:high_k=8,high_depth=0,high_vote=weighted")
    assert weighted.decide(StepView(features=unsure)) == Decision(k=8, vote="weighted")
    assert weighted.spec.endswith(",high_vote=weighted") and not weighted.needs_copy


def test_conf_with_loop_escalates_where_the_state_was_seen_before():
    gate = make_controller("conf:threshold=0,low_k=0,high_k=4,high_depth=0,high_lookahead=1,loop=1")
    base = [0.9, 0.8, 0.1, 0.3, 0.2, 0, 0, 0, -0.05, 0, 0, 0, 0, 1]
    fresh = Features(values=tuple(base))
    base[10] = 1 / 3  # the current state was seen once before: a loop
    looping = Features(values=tuple(base))
    assert gate.decide(StepView(features=fresh)) == Decision(k=0)
    assert gate.decide(StepView(features=looping)) == Decision(k=4, lookahead=1)
    # without loop=1 the same gate ignores the repeat
    plain = make_controller("conf:threshold=0,low_k=0,high_k=4,high_depth=0,high_lookahead=1")
    assert plain.decide(StepView(features=looping)) == Decision(k=0)
    assert gate.spec.endswith(",high_lookahead=1,loop=1") and "loop" not in plain.spec


@pytest.mark.parametrize(
    ("spec", "cls", "attrs_"),
    [
        ("fixed:k=4,depth=1", FixedController, {"k": 4, "depth": 1}),
        ("ac:threshold=0.9,max=8", AdaptiveConsistency, {"threshold": 0.9, "max": 8}),
        ("esc:window=2,max=16", EarlyStoppingSC, {"window": 2, "max": 16}),
        ("conf:threshold=0.5", ConfidenceGate, {"threshold": 0.5}),
        (
            "conf:threshold=0.5,low_k=0,high_k=4,high_depth=0,high_lookahead=2",
            ConfidenceGate,
            {"high_lookahead": 2, "high": Decision(k=4, lookahead=2)},
        ),
        ("conf:threshold=0,low_k=0,high_k=4,high_depth=0,loop=1", ConfidenceGate, {"loop": 1}),
        ("conf:threshold=0,low_k=1,high_k=4,high_depth=0,stall=3", ConfidenceGate, {"stall": 3}),
        (
            "conf:threshold=0,low_k=4,low_peek=1,high_k=4,high_depth=0,high_lookahead=1,stall=2",
            ConfidenceGate,
            {"low": Decision(k=4, peek=1), "needs_copy": True},
        ),
    ],
)
def test_specs_build_the_right_controller(spec, cls, attrs_):
    ctrl = make_controller(spec)
    assert isinstance(ctrl, cls)
    for k, v in attrs_.items():
        assert getattr(ctrl, k) == v
    assert make_controller(ctrl.spec) == ctrl  # the spec round-trips


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("fixd:k=1", "did you mean 'fixed'"),
        ("fixed:k", "not key=value"),
        ("fixed:k=0,depth=1", "k=0 takes the probe"),
        ("fixed:k=100", "bad parameter"),
        ("fixed:k=1,depth=9", "bad parameter"),
        ("fixed:k=1.5", "whole number"),
        ("fixed:k=2,vote=loudest", "bad parameter"),
        ("fixed:k=2,lookahead=99", "bad parameter"),
        ("sc:k=65", "bad parameter"),
        ("esc:window=65", "bad parameter"),
        ("esc:max=100", "bad parameter"),
        ("ac:max=100", "bad parameter"),
        ("conf:high_k=100", "bad parameter"),
        ("conf:high_lookahead=99", "bad parameter"),
        ("conf:loop=2", "bad parameter"),
        ("conf:stall=-1", "bad parameter"),
        ("conf:low_k=0,low_peek=1", "bad parameter"),
        (
            "conf:high_vote=loudest",
            r"'vote' must be in \('majority', 'weighted'\) \(got 'loudest'\)$",
        ),
        ("ac:threshold=1.5", "bad parameter"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(ConfigError, match=message):
        make_controller(spec)


def _tiny_controller(path, *, schema=FEATURE_SCHEMA, width=len(FEATURE_NAMES), prefer=4):
    """A 1-layer ONNX policy whose logits favour decision ``prefer`` when feature 0 is low."""
    n_out = len(DEFAULT_DECISION_TABLE)
    w = np.zeros((width, n_out), dtype=np.float32)
    b = np.zeros(n_out, dtype=np.float32)
    w[0, 0] = 10.0  # confident -> decision 0 (k=1, depth=0)
    b[prefer] = 5.0
    return build_controller_file(path, [w], biases=[b], schema=schema)


def test_learned_controller_round_trip(tmp_path):
    path = _tiny_controller(tmp_path / "c.onnx", prefer=8)
    ctrl = make_controller(f"learned:{path}")
    assert ctrl.table == DEFAULT_DECISION_TABLE
    confident = Features(values=(0.95, 0.9, 0.1, 0.3, 0, 0, 0, 0, -0.01, 0, 0, 0, 0, 1))
    unsure = Features(values=(0.2, 0.0, 1.0, 0.3, 0, 0, 0, 0, -0.5, 0, 0, 0, 0, 1))
    assert ctrl.decide(StepView(features=confident)) == DEFAULT_DECISION_TABLE[0]
    assert ctrl.decide(StepView(features=unsure)) == DEFAULT_DECISION_TABLE[8]
    assert path.stat().st_size < 64 * 1024


def test_learned_controller_of_schema_1_is_refused_naming_the_schema_it_needs(tmp_path):
    path = _tiny_controller(tmp_path / "old.onnx", schema="aip-features/1", width=9)
    with pytest.raises(ControllerError, match=r"aip-features/1.*aip-features/2.*retrain"):
        make_controller(f"learned:{path}")


def test_learned_controller_refuses_a_wrong_input_width(tmp_path):
    path = _tiny_controller(tmp_path / "wide.onnx", width=12)
    with pytest.raises(
        ControllerError, match="expects 12 features but schema 'aip-features/2' has 14"
    ):
        make_controller(f"learned:{path}")


def test_learned_controller_refuses_a_malformed_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx at all")
    with pytest.raises(ControllerError, match="bad.onnx"):
        make_controller(f"learned:{bad}")


@pytest.mark.parametrize("name", ["qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct"])
def test_each_reference_model_gets_its_own_shipped_controller_and_others_are_warned(name):
    """``learned`` with a reference model loads the controller trained for it (its metadata
    names the model's GGUF); the same controller used with another model warns once."""
    import warnings

    from aip_sdk.controllers.learned import LearnedController
    from aip_sdk.models import CATALOGUE

    stem = CATALOGUE[name].filename.removesuffix(".gguf")
    for key in (name, stem):
        ctrl = LearnedController.shipped_for(key)
        assert ctrl.path.name == f"controller-{name}.onnx" and ctrl.spec == "learned"
        assert ctrl.model == stem and ctrl.path.stat().st_size < 64 * 1024
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ctrl.check_model(stem)  # its own model: silent
    with pytest.warns(UserWarning, match=f"trained for model '{stem}'"):
        ctrl.check_model("SmolLM2-135M-Instruct-Q4_1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ctrl.check_model("SmolLM2-135M-Instruct-Q4_1")  # once per controller
