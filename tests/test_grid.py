"""MiniGrid suite: BFS paths reach the goal, wrong actions do not, check_env, held-out splits."""

from __future__ import annotations

import pytest
from gymnasium.utils.env_checker import check_env

from aip_sdk import ConfigError
from aip_sdk.envs.grid import HELD_OUT_LEVELS, TRAIN_LEVELS
from aip_sdk.envs.suite import load_suite


@pytest.fixture(scope="module")
def grid():
    return load_suite("grid")


@pytest.mark.parametrize(
    "task",
    [
        "Empty-5x5/1",
        "DoorKey-5x5/1",
        "SimpleCrossingS9N1/3",
        "MultiRoom-N2-S4/4",
        "DoorKey-6x6/1000",
    ],
)
def test_bfs_path_reaches_the_goal_in_the_optimal_number_of_steps(grid, task):
    env = grid.make(task)
    obs, info = env.reset()
    path = env.solve()
    assert len(path) == info["optimal_steps"]
    for action in path:
        assert action in obs["actions"]
        obs, reward, terminated, truncated, info = env.step(action)
    assert info["success"] and terminated and info["quality"] == 1.0


def test_turning_in_place_never_succeeds_and_truncates(grid):
    env = grid.make("Empty-5x5/1", max_steps=6)
    env.reset()
    for _ in range(6):
        obs, reward, terminated, truncated, info = env.step("turn left")
        assert not info["success"] and reward == 0.0
    assert truncated and not terminated


def test_inadmissible_action_is_explained_and_counted(grid):
    env = grid.make("DoorKey-5x5/1")
    env.reset()
    obs, _, _, _, info = env.step("fly to the goal")
    assert not info["valid"] and "not possible here" in obs["text"] and info["steps"] == 1


def test_text_says_what_is_where_relative_to_the_agent(grid):
    obs, _ = grid.make("DoorKey-5x5/1").reset()
    assert "Ahead is the yellow key." in obs["text"]
    assert "The goal is 1 step ahead and 2 steps to the left." in obs["text"]
    assert "pick up the yellow key" in obs["actions"]


@pytest.mark.parametrize("task", ["Empty-5x5/1", "DoorKey-5x5/1"])
def test_environment_passes_gymnasium_check_env(grid, task):
    check_env(grid.make(task), skip_render_check=True)


def test_clone_is_independent(grid):
    env = grid.make("Empty-8x8/2")
    env.reset()
    twin = env.clone()
    twin.step("turn left")
    assert twin.reset is not None and twin._u.agent_dir != env._u.agent_dir


def test_splits_hold_out_seeds_and_levels(grid):
    train = {t.task_id for t in grid.tasks("train")}
    test = {t.task_id for t in grid.tasks("test")}
    assert not train & test
    assert {t.difficulty for t in grid.tasks("test_levels")} == set(HELD_OUT_LEVELS)
    assert not set(HELD_OUT_LEVELS) & set(TRAIN_LEVELS)


def test_unknown_level_is_a_clear_error(grid):
    with pytest.raises(ConfigError, match="no level 'Nowhere'"):
        grid.make("Nowhere/1")
