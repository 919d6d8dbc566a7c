"""PlanBench Blocksworld: ground truth plans win, wrong actions do not, check_env, bad input."""

from __future__ import annotations

import pytest
from gymnasium.utils.env_checker import check_env

from aip_sdk import ConfigError, DataError
from aip_sdk.envs.blocksworld import optimal_plan_length, random_problem
from aip_sdk.envs.pddl import parse_problem


@pytest.mark.parametrize(("split", "count"), [("basic_3", 100), ("basic", 500)])
def test_suite_enumerates_planbench_instances(blocksworld, split, count):
    tasks = blocksworld.tasks(split)
    assert len(tasks) == count
    assert all(t.difficulty.startswith("opt-") for t in tasks)


@pytest.mark.parametrize("split", ["basic_3", "basic"])
def test_planbench_ground_truth_plans_reach_the_goal_optimally(blocksworld, split):
    for task in blocksworld.tasks(split)[:40]:
        env = blocksworld.make(task.task_id, split)
        obs, info = env.reset(seed=0)
        for action in blocksworld.ground_truth_plan(task.task_id, split):
            assert action in obs["actions"]
            obs, reward, terminated, truncated, info = env.step(action)
        assert info["success"] and terminated and reward == 1.0
        assert info["quality"] == 1.0
        assert info["optimal_steps"] == optimal_plan_length(env.domain, env.problem)


def test_wrong_actions_do_not_reach_the_goal_and_explain_why(blocksworld):
    env = blocksworld.make("2", "basic")
    obs, _ = env.reset()
    obs, reward, terminated, _, info = env.step("stack the red block on top of the blue block")
    assert not info["valid"] and not info["success"] and not terminated and reward == 0.0
    assert "the hand is not holding the red block" in obs["text"]
    obs, *_, info = env.step("dance")
    assert "not possible here" in info["feedback"] and info["steps"] == 2


def test_episode_truncates_at_the_step_limit(blocksworld):
    env = blocksworld.make("2", "basic", max_steps=3)
    env.reset()
    results = [env.step("dance") for _ in range(3)]
    assert [r[3] for r in results] == [False, False, True]


def test_quality_is_optimal_over_taken(blocksworld):
    env = blocksworld.make("2", "basic_3")
    obs, _ = env.reset()
    plan = blocksworld.ground_truth_plan("2", "basic_3")
    env.step("dance")  # one wasted step
    for a in plan:
        *_, info = env.step(a)
    assert info["success"]
    assert info["quality"] == pytest.approx(len(plan) / (len(plan) + 1))


@pytest.mark.parametrize("task", ["2", "7"])
def test_environment_passes_gymnasium_check_env(blocksworld, task):
    check_env(blocksworld.make(task, "basic"), skip_render_check=True)


def test_clone_is_independent(blocksworld):
    env = blocksworld.make("2", "basic")
    obs, _ = env.reset()
    twin = env.clone()
    twin.step(obs["actions"][0])
    assert twin.state != env.state


def test_generator_is_seeded_and_solvable(blocksworld):
    assert random_problem(5) == random_problem(5)
    env = blocksworld.make("5", "generated")
    assert env._optimal_steps() == optimal_plan_length(env.domain, random_problem(5)) >= 1
    assert {t.difficulty for t in blocksworld.tasks("generated")[:3]} == {
        "3-blocks",
        "4-blocks",
        "5-blocks",
    }


def test_malformed_pddl_names_the_file(tmp_path):
    bad = tmp_path / "broken.pddl"
    bad.write_text("(define (problem x) (:objects a b) (:init (on a b)")
    with pytest.raises(DataError, match=r"broken\.pddl.*unclosed"):
        parse_problem(bad)
    bad.write_text("(define (problem x) (:objects a b))")
    with pytest.raises(DataError, match=r"broken\.pddl.*no :init"):
        parse_problem(bad)


def test_unknown_task_and_split_are_clear_errors(blocksworld):
    with pytest.raises(ConfigError, match="no instance '9999'"):
        blocksworld.make("9999", "basic")
    with pytest.raises(ConfigError, match="no split 'valid'"):
        blocksworld.tasks("valid")


def test_data_folder_from_a_path(tmp_path, blocksworld):
    from aip_sdk.envs.suite import load_suite

    other = load_suite("blocksworld", blocksworld.root)
    assert len(other.tasks("basic_3")) == 100
    with pytest.raises(DataError, match="does not exist"):
        load_suite("blocksworld", tmp_path / "missing").tasks()
