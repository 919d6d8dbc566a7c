"""Any PlanBench PDDL domain as a suite: Logistics (the unseen domain) plays, bad data is named."""

from __future__ import annotations

import shutil

import pytest

from aip_sdk import ConfigError, DataError
from aip_sdk.envs.planbench import SHORT_PLAN
from aip_sdk.envs.suite import load_suite


@pytest.fixture(scope="module")
def logistics():
    return load_suite("pddl", domain="logistics")


def test_every_logistics_ground_truth_plan_reaches_the_goal(logistics):
    tasks = logistics.tasks()
    assert len(tasks) == 285 and logistics.name == "pddl:logistics"
    for task in tasks:
        env = logistics.make(task.task_id)
        obs, info = env.reset()
        plan = logistics.ground_truth_plan(task.task_id)
        assert info["optimal_steps"] == len(plan)
        for action in plan:
            assert action in obs["actions"], (task.task_id, action)
            obs, _r, terminated, _t, info = env.step(action)
        assert info["success"] and terminated and info["quality"] == 1.0, task.task_id


def test_logistics_speaks_planbench_and_labels_shortest_plans(logistics):
    env = logistics.make("5")
    obs, _ = env.reset()
    assert obs["text"].startswith("As current conditions I have that, location_0_0 is an airport")
    assert obs["goal"] == "have that package_0 is at location_1_0 and package_1 is at location_0_0."
    good = env.good_actions()
    assert good and good <= set(obs["actions"])
    first = logistics.ground_truth_plan("5")[0]
    assert first in good  # PlanBench's optimal plan starts with a good action
    _, _, _, _, info = env.step("fly airplane_0 from location_0_0 to location_0_0")
    assert not info["valid"] and "not possible" in info["feedback"]


def test_the_shorthand_and_the_cli_name_the_same_suite(logistics):
    assert load_suite("pddl:logistics").name == logistics.name
    with pytest.raises(ConfigError, match="no domain 'nosuch'.*logistics"):
        load_suite("pddl", domain="nosuch").tasks()
    with pytest.raises(ConfigError, match="--domain is for --suite pddl"):
        load_suite("grid", domain="logistics")


def test_the_short_split_keeps_the_plans_of_blocksworlds_horizon(logistics):
    short = logistics.tasks("short")
    lengths = [int(t.difficulty.removeprefix("opt-")) for t in short]
    basic = {t.task_id: t.difficulty for t in logistics.tasks()}
    # 52 of the 285 instances have an optimal plan of 3-12 steps (the rest run to 48)
    assert len(short) == 52 and min(lengths) == 3 and max(lengths) == SHORT_PLAN == 12
    assert all(basic[t.task_id] == t.difficulty and t.split == "short" for t in short)
    env = logistics.make(short[0].task_id, "short")
    assert env.reset()[1]["optimal_steps"] == lengths[0]
    long_id = next(tid for tid, d in basic.items() if d == "opt-35")
    with pytest.raises(
        ConfigError, match=f"instance '{long_id}' is not in split 'short'.*35 steps"
    ):
        logistics.make(long_id, "short")
    assert logistics.make(long_id).max_steps == 105  # why: three times the optimal plan


@pytest.fixture
def root(tmp_path, logistics):
    """A copy of the Logistics part of the PlanBench root, to break."""
    src = logistics.root
    dst = tmp_path / "planbench"
    for rel in (
        "configs/logistics.yaml",
        "prompts/logistics/task_1_plan_generation.json",
        "instances/logistics/generated_domain.pddl",
        "instances/logistics/generated_basic/instance-2.pddl",
    ):
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / rel, dst / rel)
    return dst


def test_a_copied_root_plays(root):
    env = load_suite("pddl", root, domain="logistics").make("2")
    assert env.reset()[0]["actions"]


def test_a_domain_that_is_not_strips_is_named(root):
    path = root / "instances/logistics/generated_domain.pddl"
    path.write_text(
        path.read_text().replace("(:requirements :strips)", "(:requirements :strips :typing)")
    )
    with pytest.raises(DataError, match=r"generated_domain.pddl.*:typing.*STRIPS"):
        load_suite("pddl", root, domain="logistics").make("2")


def test_a_config_missing_a_phrasing_is_named(root):
    path = root / "configs/logistics.yaml"
    path.write_text(path.read_text().replace('    fly-airplane: "fly {} from {} to {}"', ""))
    with pytest.raises(DataError, match=r"logistics.yaml.*no phrasing for action 'fly-airplane'"):
        load_suite("pddl", root, domain="logistics").make("2")


def test_an_instance_naming_an_unknown_object_is_named(root):
    path = root / "instances/logistics/generated_basic/instance-2.pddl"
    path.write_text(path.read_text().replace("(at p0 l1-0)", "(at p7 l1-0)"))
    with pytest.raises(DataError, match=r"instance-2.pddl.*p7.*:objects"):
        load_suite("pddl", root, domain="logistics").make("2")


@pytest.mark.parametrize(
    ("text", "message"),
    [(b"\x00\xff\xfe binary", "not text"), (b"(define (problem) (:objects a))", "has no name")],
)
def test_unreadable_instances_are_data_errors(root, text, message):
    (root / "instances/logistics/generated_basic/instance-2.pddl").write_bytes(text)
    with pytest.raises(DataError, match=message):
        load_suite("pddl", root, domain="logistics").make("2")


def test_relaxed_distance_counts_a_relaxed_plan_and_knows_dead_ends():
    from aip_sdk.envs.pddl import GroundAction
    from aip_sdk.envs.relaxed import relaxed_plan_length

    def act(name, pre, add, delete=()):
        return GroundAction(name, (), frozenset(pre), frozenset(add), frozenset(delete))

    a, b, c, d = ("a",), ("b",), ("c",), ("d",)
    actions = [
        act("ab", [a], [b], [a]),
        act("bc", [b], [c]),
        act("ac", [a], [c]),
        act("cd", [c], [d]),
    ]
    assert relaxed_plan_length(actions, frozenset([a]), frozenset([a])) == 0
    assert relaxed_plan_length(actions, frozenset([a]), frozenset([d])) == 2  # ac, cd
    assert relaxed_plan_length(actions, frozenset([a]), frozenset([b, d])) == 3  # ab, ac, cd
    assert relaxed_plan_length(actions, frozenset([b]), frozenset([a])) is None


def test_goal_progress_follows_the_relaxed_distance_along_a_plan(logistics):
    env = logistics.make("4")
    obs, info = env.reset()
    assert info["goal_progress"] == 0.5  # the start is as far as the start
    firsts = {}
    for action in obs["actions"]:  # every first move, in a copy
        _, _, _, _, after = env.clone().step(action)
        firsts[action] = after["goal_progress"]
    plan = logistics.ground_truth_plan("4")
    assert firsts[plan[0]] == max(firsts.values()) > 0.5 > min(firsts.values())
    seen = [info["goal_progress"]]
    for action in plan:
        _, _, _, _, info = env.step(action)
        seen.append(info["goal_progress"])
    assert seen == sorted(seen) and seen[-1] == 1.0 and info["success"]


def test_the_goal_share_ablation_is_a_suite_of_its_own(logistics):
    goals = load_suite("pddl", domain="logistics", progress="goals")
    assert goals.name == "pddl:logistics[progress=goals]" != logistics.name
    assert load_suite("blocksworld", progress="goals").name == "blocksworld[progress=goals]"
    env = goals.make("4")
    obs, info = env.reset()
    n_goals = len(env.problem.goal)
    assert info["goal_progress"] == len(env.problem.goal & env.state) / n_goals
    shares = {goals.make("4").step(a)[4]["goal_progress"] for a in obs["actions"]}
    assert shares == {info["goal_progress"]}  # no first move changes the share: flat
    for action in goals.ground_truth_plan("4"):
        _, _, _, _, info = env.step(action)
    assert info["goal_progress"] == 1.0 and info["success"]
    with pytest.raises(ConfigError, match="progress='nearest'.*relaxed, goals"):
        load_suite("blocksworld", progress="nearest")
