"""Training: replay env, reward, PPO smoke run, ONNX export parity, collect resume, live env."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from aip_sdk import ControllerError, Cost, DataError, make_controller
from aip_sdk.controllers.base import StepView
from aip_sdk.decision import Decision
from aip_sdk.features import FEATURE_NAMES
from aip_sdk.lookahead import Rollout, RolloutStep
from aip_sdk.traces import EpisodeTrace, PoolSample, StepTrace, TraceStore
from aip_sdk.training.collect import Collector, decision_table_for
from aip_sdk.training.replay import ReplayEnv, evaluate

TABLE = decision_table_for({0: 4}, horizon=1)
# k=0, k=1, k=2 (majority, weighted), k=4 (majority, weighted), k=4 + lookahead 1
F = (0.4, 0.1, 0.9, 0.3, 0.0, 0.0, 0.0, 0.0, -0.2, 0.0, 0.0, 0.0, 0.0, 1.0)


def sample(action, good, gen=5, prompt=0, lp=-1.0):
    return PoolSample(
        action=action, generated_tokens=gen, prompt_tokens=prompt, logprob=lp, good=good
    )


def roll(action, *rest, success=False, cost=30):
    steps = [RolloutStep(action=action)]
    steps += [RolloutStep(action=a, cost=Cost(prompt_tokens=cost)) for a in rest]
    if success:
        steps[-1] = attrs.evolve(steps[-1], success=True)
    return Rollout(action=action, steps=tuple(steps))


def hand_trace():
    """Two steps. Step 0: one sample is bad, the majority of 4 is good, the probe is bad, the
    lookahead finds the good action. Step 1: every sample and the probe are good."""
    s0 = StepTrace(
        index=0,
        features=F,
        prompt_tokens=100,
        probe_top="b",
        probe_tokens=10,
        good=("a",),
        taken="a",
        pools={0: (sample("b", False), sample("a", True), sample("a", True), sample("a", True))},
        rollouts={"a": roll("a", "x", success=True), "b": roll("b", "y")},
    )
    s1 = StepTrace(
        index=1,
        features=(*F[:4], 0.5, *F[5:]),
        prompt_tokens=40,
        probe_top="c",
        probe_tokens=10,
        good=("c",),
        taken="c",
        pools={0: tuple(sample("c", True) for _ in range(4))},
        rollouts={"c": roll("c", "z")},
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


def test_table_holds_the_new_decision_space():
    assert (
        Decision(k=0),
        Decision(k=1),
        Decision(k=2),
        Decision(k=2, vote="weighted"),
        Decision(k=4),
        Decision(k=4, vote="weighted"),
        Decision(k=4, peek=1),
        Decision(k=4, lookahead=1),
        Decision(k=4, peek=1, lookahead=1),
    ) == TABLE


def test_outcomes_and_honest_tokens_by_hand():
    s0 = hand_trace().steps[0]
    assert s0.outcome(Decision(k=0)) == ("b", 100 + 10)  # the prompt and the probe
    assert s0.outcome(Decision(k=1)) == ("b", 100 + 5)
    assert s0.outcome(Decision(k=1), probe_paid=True) == ("b", 100 + 10 + 5)
    assert s0.outcome(Decision(k=4)) == ("a", 100 + 20)
    # lookahead over the distinct candidates in vote order (a, b): a's rollout reaches the goal
    # after one greedy step; both rollouts' continuation calls are paid (30 tokens each)
    assert s0.outcome(Decision(k=4, lookahead=1)) == ("a", 100 + 20 + 30 + 30)
    # peek rates the candidates' own steps (the first of each rollout): no call is paid
    assert s0.outcome(Decision(k=4, peek=1)) == ("a", 100 + 20)
    # peek cannot tell a from b (neither step is rated apart): escalating, both roll out
    assert s0.outcome(Decision(k=4, peek=1, lookahead=1)) == ("a", 100 + 20 + 30 + 30)
    assert s0.outcome(Decision(k=8)) is None  # the pool holds 4
    assert s0.good_for(Decision(k=4)) and not s0.good_for(Decision(k=1))


def test_outcomes_among_the_tied_actions_by_hand():
    """A step recorded with ``--widen``: the rating ties on c and a (c first in the seeded order);
    b is not tied, so no decision may take it, whatever the vote says."""
    step = attrs.evolve(
        hand_trace().steps[0],
        tied=("c", "a"),
        pools={0: (sample("b", False), sample("b", False), sample("a", True), sample("c", False))},
        rollouts={"c": roll("c", "y"), "a": roll("a", "x", success=True)},
    )
    assert step.outcome(Decision(k=0)) == ("c", 100 + 10)  # the probe's b is not tied: the seed's
    assert attrs.evolve(step, probe_top="a").outcome(Decision(k=0)) == ("a", 100 + 10)
    # the model-free decision keeps the seeded order (the probe ran for the features: it is paid)
    free = Decision(k=0, peek=1, widen=1)
    assert attrs.evolve(step, probe_top="a").outcome(free) == ("c", 100 + 10)
    assert step.outcome(Decision(k=2)) == ("c", 100 + 10)  # the vote drew only b: the seed's
    assert step.outcome(Decision(k=4)) == ("a", 100 + 20)  # a is voted before c
    # the lookahead rolls out every tied action (a, then c), and a's reaches the goal
    assert step.outcome(Decision(k=2, lookahead=1)) == ("a", 100 + 10 + 2 * 30)
    assert step.good_for(Decision(k=4)) and not step.good_for(Decision(k=0))
    again = StepTrace.from_dict(json.loads(json.dumps(step.to_dict())))
    assert again == step and "tied" not in hand_trace().steps[0].to_dict()
    table = decision_table_for({0: 8}, horizon=2, widen=True)
    assert Decision(k=4, lookahead=2) in table and free in table
    assert not any(d.peek for d in table if d != free)


def rejected(action):
    """A rollout whose candidate the environment rejects, continued one greedy step."""
    r = roll(action, "z")
    return attrs.evolve(r, steps=(attrs.evolve(r.steps[0], valid=False), *r.steps[1:]))


def test_peek_escalates_only_among_the_candidates_it_ties():
    """hand_trace's first step with b voted first and a third candidate c: c is rejected, so
    peek rates it apart; a and b tie, and a's rollout reaches the goal: escalation rolls out a
    and b only, and takes a."""
    step = attrs.evolve(
        hand_trace().steps[0],
        pools={0: (sample("b", False), sample("b", False), sample("a", True), sample("c", False))},
        rollouts={"a": roll("a", "x", success=True), "b": roll("b", "y"), "c": rejected("c")},
    )
    assert step.outcome(Decision(k=4, peek=1)) == ("b", 100 + 20)  # the tie goes to the vote
    assert step.outcome(Decision(k=4, peek=1, lookahead=1)) == ("a", 100 + 20 + 30 + 30)
    assert step.outcome(Decision(k=4, lookahead=1)) == ("a", 100 + 20 + 3 * 30)
    # where peek separates the candidates, escalation pays for no rollout
    alone = attrs.evolve(step, rollouts={**step.rollouts, "b": rejected("b")})
    assert alone.outcome(Decision(k=4, peek=1, lookahead=1)) == ("a", 100 + 20)
    assert alone.outcome(Decision(k=4, lookahead=1)) == ("a", 100 + 20 + 3 * 30)


def test_replay_reward_matches_alpha_q_minus_beta_c_by_hand():
    env = ReplayEnv([hand_trace()], TABLE, alpha=1.0, beta=0.5)
    env.reset(seed=0)
    # step 0 with k=1: bad; cost in samples: (prompt+probe+1 sample) / (prompt+1 sample)
    _, r0, term0, _, info0 = env.step(TABLE.index(Decision(k=1)))
    # step 1 with k=4: good; (40 + 10 + 20) / (40 + 5)
    _, r1, term1, _, info1 = env.step(TABLE.index(Decision(k=4)))
    assert (info0["good"], info1["good"]) == (False, True)
    assert not term0 and term1
    q = (0 + 1) / 2
    c = (115 / 105 + 70 / 45) / 2
    assert r0 + r1 == pytest.approx(1.0 * q - 0.5 * c)


def test_replay_env_passes_check_env():
    check_env(ReplayEnv([hand_trace()], TABLE), skip_render_check=True)


def test_evaluate_reports_fixed_rules_and_the_oracle():
    stats = evaluate([hand_trace()], TABLE, ("fixed", TABLE.index(Decision(k=4))))
    assert stats["good_step_rate"] == 1.0 and stats["tokens_per_step"] == (120 + 60) / 2
    oracle = evaluate([hand_trace()], TABLE, "oracle")
    # step 0: the cheapest good decision is k=2 (votes a, b tie -> ... ) or k=4; step 1: k=1
    assert oracle["good_step_rate"] == 1.0 and oracle["tokens_per_step"] <= stats["tokens_per_step"]


def test_trace_round_trips_through_the_store(tmp_path):
    store = TraceStore(tmp_path)
    store.write(hand_trace())
    (back,) = list(store.episodes())
    assert back == hand_trace()
    assert not list(tmp_path.glob("episodes/.*.tmp"))  # atomic: no temporary left behind


def test_a_trace_of_the_old_format_is_refused_with_what_to_do(tmp_path):
    store = TraceStore(tmp_path)
    store.write(hand_trace())
    path = next(tmp_path.glob("episodes/*.json"))
    data = json.loads(path.read_text())
    data["version"] = "aip-trace/1"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match="collect them again"):
        list(store.episodes())


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
    decision = ctrl.decide(StepView(features=Features(values=hand_trace().steps[0].features)))
    assert decision in TABLE and not ctrl.rates_first
    # a controller trained on tied steps only (collect --widen) is asked at ties by default
    export_onnx(ppo_model, tmp_path / "w.onnx", table=TABLE, metadata={"widen": "1"})
    tied = make_controller(f"learned:{tmp_path / 'w.onnx'}")
    assert tied.rates_first and tied.spec == f"learned:{tmp_path / 'w.onnx'}"
    assert not make_controller(f"learned:path={tmp_path / 'w.onnx'},widen=0").rates_first
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
    def collector(folder):
        return Collector(
            real_backend, TraceStore(folder), pool_sizes={0: 4}, horizon=1, max_steps=2
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
    assert len(step["pools"]["0"]) == 4 and step["prompt_tokens"] > 0
    assert step["good"] and all(isinstance(s["good"], bool) for s in step["pools"]["0"])
    distinct = {s["action"] for s in step["pools"]["0"]}
    assert set(step["rollouts"]) == distinct  # Blocksworld can be copied: every candidate rolled
    assert all(1 <= len(r["steps"]) <= 2 for r in step["rollouts"].values())


@pytest.mark.slow
def test_live_env_passes_check_env_with_the_real_model(real_backend, blocksworld):
    from aip_sdk.training.live import LiveEnv

    env = LiveEnv(
        real_backend,
        [(blocksworld, "basic_3", "2")],
        decision_table_for({0: 2}, horizon=1),
        max_steps=2,
    )
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    total = 0.0
    done = False
    while not done:
        obs, r, done, _, info = env.step(0)
        total += r
    assert -1.0 <= total <= 1.0  # alpha * Q - beta * C with Q in [0, 1], C in [0, 2]
    env.close()


@pytest.mark.slow
def test_serving_and_collection_compute_identical_features(real_backend):
    """One episode through Planner.act and through the collector, same actions: the same
    features at every step (one StepContext, one probe, one schema)."""
    from aip_sdk import Planner
    from aip_sdk.context import StepContext
    from aip_sdk.envs.suite import load_suite

    suite = load_suite("grid")
    task = "DoorKey-5x5/3"
    trace = Collector(
        real_backend,
        TraceStore("/nonexistent"),
        pool_sizes={0: 1},
        horizon=0,
        max_steps=4,
        follow_expert=1.0,
    ).episode(suite.make(task, "train"), "grid", "train", task, 7)
    env = suite.make(task, "train")
    obs, info = env.reset(seed=7)
    ctx = StepContext.start(obs, info, limit=env.max_steps, env=env)
    planner = Planner(backend=real_backend, controller="conf")
    served = []
    for step in trace.steps:
        rec = planner.act(obs, context=ctx, env=env)
        served.append(rec.features.values)
        obs, _r, _t, _u, info = env.step(step.taken)  # the expert's action, as collected
        ctx.advance(step.taken, obs, info, rec.cost)
    assert len(served) == len(trace.steps) >= 3
    np.testing.assert_allclose(
        np.array(served), np.array([s.features for s in trace.steps]), atol=1e-5
    )
    assert any(s.features[9] > 0 or s.features[12] > 0 or s.features[4] > 0 for s in trace.steps)


def test_live_training_continues_a_replay_model_and_resumes_from_its_checkpoint(
    ppo_model, tmp_path
):
    """train_live's bookkeeping (checkpoint, steps done, resume), with replay standing in for
    the live environment (the real one is exercised by the live env test)."""
    from aip_sdk.training.live import train_live

    ckpt = tmp_path / "live.zip"
    seen = []
    first: list[tuple[int, float]] = []
    train_live(
        ppo_model,
        lambda: ReplayEnv([hand_trace()], TABLE),
        steps=128,
        checkpoint=ckpt,
        progress=seen.append,
        curve=first,
    )
    assert ckpt.is_file() and json.loads(ckpt.with_suffix(".json").read_text())["live_steps"] == 128
    assert seen[-1] == 128
    assert [t for t, _ in first] == [64, 128]  # one point per 64-step rollout
    # the curve reads live episodes only (two steps each), not the replay phase's
    from stable_baselines3 import PPO

    assert len(PPO.load(str(ckpt), device="cpu").ep_info_buffer) == 64
    seen.clear()
    whole: list[tuple[int, float]] = []
    model = train_live(
        ppo_model,
        lambda: ReplayEnv([hand_trace()], TABLE),
        steps=192,
        checkpoint=ckpt,
        progress=seen.append,
        curve=whole,
    )
    assert seen[0] == 129 and seen[-1] == 192  # resumed where it stopped
    assert json.loads(ckpt.with_suffix(".json").read_text())["live_steps"] == 192
    assert [t for t, _ in whole] == [64, 128, 192]  # the curve survives the resume
    assert whole[:2] == first and all(np.isfinite(r) for _, r in whole)
    assert len(model.ep_info_buffer) == 96  # a resume keeps the live episodes it had
    # the live phase may update at its own learning rate (it has few updates to move the policy)
    fast = train_live(
        ppo_model,
        lambda: ReplayEnv([hand_trace()], TABLE),
        steps=64,
        checkpoint=tmp_path / "fast.zip",
        learning_rate=3e-3,
    )
    assert fast.lr_schedule(1.0) == pytest.approx(3e-3)
    assert fast.policy.optimizer.param_groups[0]["lr"] == pytest.approx(3e-3)
    assert model.policy.optimizer.param_groups[0]["lr"] == pytest.approx(3e-4)
    assert model.predict(np.asarray(F, np.float32), deterministic=True)[0] in range(len(TABLE))


def test_train_controller_writes_its_learning_curve_beside_the_controller(tmp_path):
    pytest.importorskip("stable_baselines3")
    from aip_sdk.training.pipeline import curve_path, train_controller

    out = tmp_path / "controller-beta0.5.onnx"
    _model, report = train_controller(
        [hand_trace()], TABLE, out, alpha=1.0, beta=0.5, timesteps=2048, seed=0, metadata={}
    )
    saved = json.loads(curve_path(out).read_text())
    assert curve_path(out).name == "controller-beta0.5.curve.json" and out.is_file()
    # n_steps 256 x 4 environments: one point per 1,024 timesteps
    assert [t for t, _ in saved["replay"]] == [1024, 2048] and saved["live"] == []
    assert saved["beta"] == 0.5 and report["curve"]["replay"] == [tuple(p) for p in saved["replay"]]


def test_live_episodes_run_to_the_environments_limit_unless_capped():
    """A live episode plays as long as serving would (the environment's own step limit), so the
    live reward sees the failures that run to that limit; ``max_steps`` caps it below."""
    from aip_sdk.envs.suite import load_suite
    from aip_sdk.testing import ScriptedBackend
    from aip_sdk.training.live import LiveEnv

    grid = load_suite("grid")
    task = "Empty-8x8/1004"
    limit = grid.make(task, "test").max_steps
    backend = ScriptedBackend(scores={"turn left": 0.0})  # the probe always turns: never arrives

    def steps_of(cap: int | None) -> int:
        env = LiveEnv(backend, [(grid, "test", task)], [Decision(k=0)], max_steps=cap)
        env.reset(seed=0)
        n, done = 0, False
        while not done:
            _obs, _r, done, _trunc, info = env.step(0)
            n += 1
            assert info["action"] == "turn left" and not info["success"]
        env.close()
        return n

    assert limit > 20
    assert steps_of(None) == limit
    assert steps_of(5) == 5


def test_a_fixed_behaviour_policy_takes_its_decisions_action_and_is_kept_on_resume(tmp_path):
    """``--behaviour fixed:k=0`` moves on the probe's top action at every step (the states a
    cheap policy reaches, loops included); the folder remembers it, and a decision outside the
    table the pools serve is refused."""
    from aip_sdk import ConfigError
    from aip_sdk.envs.suite import load_suite
    from aip_sdk.testing import ScriptedBackend

    grid = load_suite("grid")
    backend = ScriptedBackend(scores={"turn left": 0.0})  # the probe always turns left

    def collector(*behaviour: Decision) -> Collector:
        return Collector(
            backend,
            TraceStore(tmp_path),
            pool_sizes={0: 2},
            horizon=0,
            max_steps=5,
            behaviour=behaviour,
        )

    new = collector(Decision(k=0)).run(grid, "train", 2, seed=3)
    traces = list(TraceStore(tmp_path).episodes())
    assert len(new) == len(traces) == 2
    steps = [s for e in traces for s in e.steps]
    assert len(steps) == 10 and {s.taken for s in steps} == {"turn left"}
    assert {s.probe_top for s in steps} == {"turn left"}
    assert TraceStore(tmp_path).manifest()["behaviour"] == [{"k": 0, "depth": 0}]
    with pytest.raises(ConfigError, match="behaviour"):
        collector(Decision(k=1)).run(grid, "train", 3, seed=3)
    with pytest.raises(ConfigError, match=r"k=4 depth=0 lookahead=1.*not in the decision table"):
        collector(Decision(k=4, lookahead=1))
    # A Ray worker rebuilds the collector from its settings: the behaviour survives the trip.
    rebuilt = Collector(backend, TraceStore(tmp_path), **collector(Decision(k=0)).worker_config())
    assert rebuilt.behaviour == (Decision(k=0),) and rebuilt.pool_sizes == {0: 2}


def test_widen_collection_records_only_the_steps_where_the_rating_ties(tmp_path):
    """``collect --widen`` steps past a lone best unrecorded; each recorded step holds the tied
    actions, a rollout of each, and decisions that choose among them; the folder remembers it,
    and training refuses to mix it with a folder of every step."""
    from aip_sdk import ConfigError
    from aip_sdk.envs.suite import load_suite
    from aip_sdk.lookahead import peek_every, rated_best, state_key
    from aip_sdk.testing import ScriptedBackend
    from aip_sdk.training.pipeline import load_traces

    grid = load_suite("grid")
    backend = ScriptedBackend(scores={"turn left": 0.0})
    collector = Collector(
        backend, TraceStore(tmp_path / "w"), pool_sizes={0: 4}, horizon=1, max_steps=8, widen=True
    )
    collector.run(grid, "train", 2, seed=3)
    (trace_a, trace_b) = TraceStore(tmp_path / "w").episodes()
    steps = [s for e in (trace_a, trace_b) for s in e.steps]
    assert steps and all(len(s.tied) > 1 and set(s.rollouts) == set(s.tied) for s in steps)
    assert all(s.outcome(d)[0] in s.tied for s in steps for d in collector.table)
    # the recorded steps are the tied ones of the episode the behaviour played
    env = grid.make(trace_a.task_id, "train")
    obs, info = env.reset(seed=trace_a.seed)
    seen = [state_key(obs, info)]
    tied_steps = 0
    for _ in range(8):
        rated = rated_best(peek_every(env, obs["actions"], [], seen=seen))
        if len(rated) > 1:
            assert set(rated) == set(trace_a.steps[tied_steps].tied)
            action = trace_a.steps[tied_steps].taken
            tied_steps += 1
        else:
            action = rated[0]
        obs, _r, term, trunc, info = env.step(action)
        seen.append(state_key(obs, info))
        if info.get("success") or term or trunc or tied_steps == len(trace_a.steps):
            break
    assert tied_steps == len(trace_a.steps)
    assert TraceStore(tmp_path / "w").manifest()["widen"] is True
    assert load_traces([tmp_path / "w"]).widen
    Collector(backend, TraceStore(tmp_path / "all"), pool_sizes={0: 4}, horizon=1, max_steps=2).run(
        grid, "train", 1, seed=3
    )
    with pytest.raises(ConfigError, match="--widen"):
        load_traces([tmp_path / "w", tmp_path / "all"])
    # a live phase with a baseline that is no strategy fails before any training
    from click.testing import CliRunner

    from aip_sdk.cli import main

    args = ["train-controller", "--traces", str(tmp_path / "w"), "--live-steps", "8"]
    args += ["--live-suite", "grid@train", "--live-baseline", "no-such-strategy"]
    out = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "c.onnx")])
    assert out.exit_code == 1 and "no-such-strategy" in out.output, out.output
    assert not (tmp_path / "c.onnx").exists()


def test_a_live_baseline_that_peeks_is_refused_on_a_suite_that_cannot_be_copied() -> None:
    """The heuristic baseline peeks in copies: a live suite without them (MiniWoB++'s browser)
    is refused before training, each suite's environment made once and closed."""
    from aip_sdk.errors import ConfigError
    from aip_sdk.training.pipeline import live_tasks, require_copies

    class Browser:  # an environment with no clone(), as MiniWoB++'s
        closed = 0

        def close(self) -> None:
            Browser.closed += 1

    class Live:
        name = "browser"

        def make(self, task: str, split: str) -> Browser:
            return Browser()

    grid = live_tasks(["grid@train"], 3)
    require_copies(grid, "--live-baseline heuristic")  # grid can be copied: no error
    with pytest.raises(ConfigError, match="browser cannot be copied.*leave --live-baseline out"):
        require_copies([*grid, (Live(), "test", "a"), (Live(), "test", "b")], "--live-baseline x")
    assert Browser.closed == 1


def test_a_live_episode_with_widen_asks_the_agent_only_where_the_rating_ties(tmp_path):
    """``LiveEnv(widen=True)`` plays as ``learned:widen=1`` serves: the rating's lone bests are
    taken with no agent step, each agent step is a tie and its decision is carried out among
    the tied actions; the reward reads the whole episode and charges only the decided steps
    (the model-free decision costs the probe alone: one unit). The pipeline's live phase runs
    on such traces."""
    from aip_sdk.decision import MODEL_FREE
    from aip_sdk.envs.suite import load_suite
    from aip_sdk.lookahead import peek_step, rated_best
    from aip_sdk.testing import ScriptedBackend
    from aip_sdk.training.live import LiveEnv
    from aip_sdk.training.pipeline import LivePhase, load_traces, train_controller

    grid = load_suite("grid")
    backend = ScriptedBackend(scores={"turn left": 0.0})  # the probe turns left
    table = decision_table_for({0: 4}, horizon=1, widen=True)
    env = LiveEnv(backend, [(grid, "train", "DoorKey-5x5/0")], table, widen=True)
    env.reset(seed=3)
    decided, sampled, done, reward, info = 0, 0, False, 0.0, {}
    for choice in [MODEL_FREE, Decision(k=1)] * 20:
        tied = rated_best(peek_step(env._env, env._obs["actions"], env._ctx))
        assert len(tied) > 1  # the agent is asked only at ties
        answer = env._obs["actions"][0]  # a sample with no script: the first choice
        _obs, reward, done, _trunc, info = env.step(table.index(choice))
        decided += 1
        assert info["action"] in tied
        if choice == MODEL_FREE:
            assert info["decision"] == MODEL_FREE.to_dict()
        else:  # one sample, carried out among the ties: its answer wins where it is tied
            assert info["decision"]["widen"] == 1
            if answer in tied:
                assert info["action"] == answer
                sampled += 1
        if done:
            break
    assert done and info["success"] and 1 < decided < env._ctx.step and sampled >= 1
    assert 0.0 < reward < env.alpha * env._info["quality"]  # Q minus the decided steps' cost
    env.close()

    # with the heuristic as baseline, the same episode (same draws) is rewarded for what it adds
    # over the heuristic's quality on that task and start
    def play(baseline: str | None) -> tuple[float, float]:
        env = LiveEnv(
            backend, [(grid, "train", "FourRooms/0")], table, widen=True, baseline=baseline
        )
        env.reset(seed=3)
        done, r = False, 0.0
        while not done:
            _obs, r, done, _trunc, _info = env.step(table.index(MODEL_FREE))
        env.close()
        return r, env._reference

    (plain, none), (paired, reference) = play(None), play("heuristic")
    assert none == 0.0 and 0.0 < reference <= 1.0
    assert paired == pytest.approx(plain - reference)
    # without widen the same task asks at every step
    every = LiveEnv(backend, [(grid, "train", "FourRooms/0")], table, max_steps=4)
    every.reset(seed=3)
    assert [every.step(0)[2] for _ in range(4)] == [False, False, False, True]
    every.close()
    pytest.importorskip("stable_baselines3")
    store = TraceStore(tmp_path / "w")
    Collector(backend, store, pool_sizes={0: 4}, horizon=1, max_steps=8, widen=True).run(
        grid, "train", 2, seed=3
    )
    traces = load_traces([tmp_path / "w"])
    assert traces.widen and traces.table == table
    episodes = [e for e in traces.episodes if e.steps]
    live = LivePhase(
        backend=backend,
        tasks=((grid, "train", "FourRooms/0"),),
        steps=64,
        checkpoint=tmp_path / "live.zip",
        widen=True,
    )
    _model, report = train_controller(
        episodes,
        table,
        tmp_path / "c.onnx",
        alpha=1.0,
        beta=0.1,
        timesteps=512,
        seed=0,
        metadata={},
        live=live,
    )
    assert [t for t, _ in report["curve"]["live"]] == [64] and (tmp_path / "c.onnx").is_file()


def test_feature_signal_ranks_the_steps_the_probe_gets_right(tmp_path: Path) -> None:
    """benchmarks/feature_signal.py: AUC 1 for a feature that separates right from wrong
    choices, 0.5 for one that does not; each decision's good-step rate; the rollout split."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "feature_signal", Path(__file__).parent.parent / "benchmarks" / "feature_signal.py"
    )
    assert spec is not None and spec.loader is not None
    fs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fs)
    assert fs.auc(np.array([0.1, 0.2, 0.8, 0.9]), np.array([False, False, True, True])) == 1.0
    assert fs.auc(np.array([0.5, 0.5, 0.5, 0.5]), np.array([False, True, False, True])) == 0.5
    store = TraceStore(tmp_path)
    store.write_manifest(
        {"feature_names": list(FEATURE_NAMES), "decision_table": [d.to_dict() for d in TABLE]}
    )
    ep = hand_trace()  # step 0: the probe is wrong, at top1_prob 0.4; step 1: right, at 0.9
    s1 = attrs.evolve(ep.steps[1], features=(0.9, *ep.steps[1].features[1:]))
    store.write(attrs.evolve(ep, steps=(ep.steps[0], s1)))
    lines = fs.report(tmp_path)
    assert lines[0].endswith("2 labelled steps, the probe's choice good on 0.50")
    assert "top1_prob 1.00, step_frac 1.00; constant here: margin," in lines[1]
    rates = {line[:36].strip(): line[37:] for line in lines[3:-1]}
    assert rates["k=0 depth=0"] == "0.00, -, 1.00; all 0.50"  # wrong when unsure
    assert rates["k=1 depth=0"] == "0.00, -, 1.00; all 0.50"
    assert rates["k=4 depth=0 lookahead=1"] == "1.00, -, 1.00; all 1.00"
    assert lines[-1] == "  probe's choice leads to a state not seen before: good on 0.50 (n=2)"


def test_training_plots_label_the_decisions_made_at_ties() -> None:
    """scripts/training_plots.py names the model-free decision and marks the ones carried out
    among the rating's ties, so a tie controller's decision shares are not read as the probe's
    choice or as plain samples."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "training_plots", Path(__file__).parent.parent / "scripts" / "training_plots.py"
    )
    assert spec is not None and spec.loader is not None
    tp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tp)
    assert tp.decision_label({"k": 0, "depth": 0, "peek": 1, "widen": 1}) == "model-free"
    assert tp.decision_label({"k": 0, "depth": 0}) == "k=0"
    tie_look = {"k": 4, "depth": 0, "peek": 1, "widen": 1, "lookahead": 1}
    assert tp.decision_label(tie_look) == "k=4 look=1 ties"
    assert tp.decision_label({"k": 4, "depth": 0, "peek": 1}) == "k=4 peek"
    assert tp.decision_label({"k": 2, "depth": 1, "vote": "weighted"}) == "k=2 depth=1 weighted"


def test_tie_continuations_replays_the_recorded_path_and_rates_every_tied_action(tmp_path):
    """benchmarks/tie_continuations.py follows each widen episode along its recorded path (lone
    bests, then the recorded action at each tie) and rates every tied action by the quality the
    heuristic reaches after it, a number in [0, 1] per tied action."""
    import importlib.util

    from aip_sdk.envs.suite import load_suite
    from aip_sdk.testing import ScriptedBackend

    store = TraceStore(tmp_path / "w")
    backend = ScriptedBackend(scores={"turn left": 0.0})
    Collector(backend, store, pool_sizes={0: 4}, horizon=1, max_steps=8, widen=True).run(
        load_suite("grid"), "train", 2, seed=3
    )
    spec = importlib.util.spec_from_file_location(
        "tie_continuations", Path(__file__).parent.parent / "benchmarks" / "tie_continuations.py"
    )
    assert spec is not None and spec.loader is not None
    tc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tc)
    rows = tc.tied_continuations(str(tmp_path / "w"), "grid", 1)
    recorded = [s for e in store.episodes() for s in e.steps]
    assert len(rows) == len(recorded) > 0
    for step, quality in rows:
        assert set(quality) == set(step.tied) and all(0.0 <= q <= 1.0 for q in quality.values())
    assert any(max(q.values()) > 0.0 for _, q in rows)  # some tied action leads to the goal
