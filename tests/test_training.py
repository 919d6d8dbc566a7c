"""Training: replay env, reward, PPO smoke run, ONNX export parity, collect resume, live env."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from aip_sdk import ControllerError, make_controller
from aip_sdk.decision import Decision
from aip_sdk.traces import EpisodeTrace, PoolSample, StepTrace, TraceStore
from aip_sdk.training.collect import Collector, decision_table_for
from aip_sdk.training.replay import ReplayEnv, evaluate

TABLE = decision_table_for({0: 4, 1: 2})  # (1,0) (2,0) (4,0) (1,1) (2,1)


def sample(action, good, gen=5, prompt=0, lp=-1.0):
    return PoolSample(
        action=action, generated_tokens=gen, prompt_tokens=prompt, logprob=lp, good=good
    )


def hand_trace():
    """Two steps. Step 0: depth-0 samples are bad at k=1, good by majority at k>=4.
    Step 1: every depth-0 sample is good."""
    s0 = StepTrace(
        index=0,
        features=(0.4, 0.1, 0.9, 0.3, 0.0, 0.0, 0.0, 0.0, -0.2),
        probe_tokens=50,
        good=("a",),
        taken="a",
        pools={
            0: (sample("b", False), sample("a", True), sample("a", True), sample("a", True)),
            1: (sample("a", True, gen=20, prompt=10), sample("a", True, gen=20, prompt=10)),
        },
    )
    s1 = StepTrace(
        index=1,
        features=(0.95, 0.9, 0.1, 0.3, 0.5, 0.0, 0.0, 0.0, -0.01),
        probe_tokens=50,
        good=("c",),
        taken="c",
        pools={
            0: tuple(sample("c", True) for _ in range(4)),
            1: (sample("c", True, gen=20, prompt=10), sample("d", False, gen=20, prompt=10)),
        },
    )
    return EpisodeTrace(
        suite="blocksworld",
        split="basic_3",
        task_id="x",
        seed=1,
        success=True,
        quality=1.0,
        optimal_steps=2,
        steps=(s0, s1),
    )


def test_replay_reward_matches_alpha_q_minus_beta_c_by_hand():
    env = ReplayEnv([hand_trace()], TABLE, alpha=1.0, beta=0.5)
    env.reset(seed=0)
    # step 0 with (1,0): vote 'b' -> bad; cost 5 tokens / max cost 60 (2 samples at depth 1)
    _, r0, term0, _, info0 = env.step(TABLE.index(Decision(k=1, depth=0)))
    # step 1 with (4,0): vote 'c' -> good; cost 20 / 60
    _, r1, term1, _, info1 = env.step(TABLE.index(Decision(k=4, depth=0)))
    assert (info0["good"], info1["good"]) == (False, True)
    assert not term0 and term1
    q = (0 + 1) / 2
    c = (5 / 60 + 20 / 60) / 2
    assert r0 + r1 == pytest.approx(1.0 * q - 0.5 * c)


def test_vote_is_the_majority_of_the_pool_prefix():
    s0 = hand_trace().steps[0]
    assert s0.vote(Decision(k=1, depth=0)).action == "b"
    assert s0.vote(Decision(k=4, depth=0)).action == "a"
    assert s0.vote(Decision(k=8, depth=0)) is None
    assert s0.cost(Decision(k=2, depth=1)) == 60


def test_replay_env_passes_check_env():
    check_env(ReplayEnv([hand_trace()], TABLE), skip_render_check=True)


def test_evaluate_reports_fixed_rules():
    stats = evaluate([hand_trace()], TABLE, lambda x: TABLE.index(Decision(k=4, depth=0)))
    assert stats["good_step_rate"] == 1.0 and stats["tokens_per_step"] == 20


def test_trace_round_trips_through_the_store(tmp_path):
    store = TraceStore(tmp_path)
    store.write(hand_trace())
    (back,) = list(store.episodes())
    assert back == hand_trace()
    assert not list(tmp_path.glob("episodes/.*.tmp"))  # atomic: no temporary left behind


@pytest.fixture(scope="module")
def ppo_model():
    pytest.importorskip("stable_baselines3")
    from aip_sdk.training.ppo import train_ppo

    return train_ppo([hand_trace()], TABLE, timesteps=512, seed=0, n_envs=2)


def test_ppo_smoke_run_exports_a_controller_that_loads_and_decides(ppo_model, tmp_path):
    from aip_sdk import Features
    from aip_sdk.training.ppo import export_onnx

    path = tmp_path / "c.onnx"
    report = export_onnx(
        ppo_model,
        path,
        table=TABLE,
        metadata={"alpha": 1.0, "beta": 0.5, "suites": ["blocksworld"]},
    )
    assert report["max_abs_diff"] <= 1e-5 and path.stat().st_size < 64 * 1024
    ctrl = make_controller(f"learned:{path}")
    assert ctrl.table == TABLE and json.loads(ctrl.metadata["aip.suites"]) == ["blocksworld"]
    decision = ctrl.decide(Features(values=hand_trace().steps[0].features))
    assert decision in TABLE
    expected = TABLE[
        int(
            ppo_model.predict(
                np.asarray(hand_trace().steps[0].features, np.float32), deterministic=True
            )[0]
        )
    ]
    assert decision == expected


def test_parity_check_rejects_a_corrupted_export(ppo_model, tmp_path):
    import onnx
    from onnx import numpy_helper

    from aip_sdk.training.ppo import export_onnx

    def corrupt(data: bytes) -> bytes:
        proto = onnx.load_from_string(data)
        init = proto.graph.initializer[-1]
        arr = numpy_helper.to_array(init).copy() + 0.01
        init.CopyFrom(numpy_helper.from_array(arr, init.name))
        return proto.SerializeToString()

    path = tmp_path / "bad.onnx"
    with pytest.raises(ControllerError, match="disagrees with torch"):
        export_onnx(ppo_model, path, table=TABLE, metadata={}, corrupt=corrupt)
    assert not path.exists()


class _Interrupt(Exception):
    pass


@pytest.mark.slow
def test_collect_interrupt_and_resume_equals_an_uninterrupted_run(
    real_backend, blocksworld, tmp_path
):
    sizes = {0: 4, 1: 2}
    budgets = {1: 6}

    def collector(folder):
        return Collector(
            real_backend,
            TraceStore(folder),
            pool_sizes=sizes,
            reasoning_budgets=budgets,
            max_steps=2,
        )

    whole = tmp_path / "whole"
    collector(whole).run(blocksworld, "basic_3", 2, seed=5)

    part = tmp_path / "part"

    def stop_after_first(key, n):
        raise _Interrupt

    with pytest.raises(_Interrupt):
        collector(part).run(blocksworld, "basic_3", 2, seed=5, progress=stop_after_first)
    assert len(list(part.glob("episodes/*.json"))) == 1
    new = collector(part).run(blocksworld, "basic_3", 2, seed=5)
    assert len(new) == 1  # the finished episode was not redone
    a = {p.name: json.loads(p.read_text()) for p in whole.glob("episodes/*.json")}
    b = {p.name: json.loads(p.read_text()) for p in part.glob("episodes/*.json")}
    assert a == b and len(a) == 2
    step = next(iter(a.values()))["steps"][0]
    assert len(step["pools"]["0"]) == 4 and len(step["pools"]["1"]) == 2
    assert step["good"] and all(isinstance(s["good"], bool) for s in step["pools"]["0"])


@pytest.mark.slow
def test_live_env_passes_check_env_with_the_real_model(real_backend, blocksworld):
    from aip_sdk.training.live import LiveEnv

    env = LiveEnv(
        real_backend,
        blocksworld,
        ["2"],
        decision_table_for({0: 2}),
        split="basic_3",
        max_steps=2,
        reasoning_budgets={1: 4},
    )
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    total = 0.0
    done = False
    while not done:
        obs, r, done, _, info = env.step(0)
        total += r
    assert -1.0 <= total <= 1.0  # alpha * Q - beta * C with Q in [0, 1], C about [0, 2]
    env.close()
