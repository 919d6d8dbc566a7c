"""ALFWorld: the expert plan wins, wrong actions do not, success is info['won'], check_env."""

from __future__ import annotations

import pytest
from gymnasium.utils.env_checker import check_env

from aip_sdk import ConfigError, DataError
from aip_sdk.envs.alfworld import AlfworldEnv
from aip_sdk.envs.suite import load_suite


@pytest.fixture(scope="module")
def alfworld():
    return load_suite("alfworld")


def test_splits_and_task_types_come_from_the_data_folder(alfworld):
    assert set(alfworld.splits) >= {"valid_seen", "valid_train"}
    assert len(alfworld.tasks("valid_seen")) == 140 and len(alfworld.tasks("valid_train")) == 200
    assert {t.difficulty for t in alfworld.tasks()} == {
        "pick_and_place_simple",
        "look_at_obj_in_light",
        "pick_clean_then_place_in_recep",
        "pick_heat_then_place_in_recep",
        "pick_cool_then_place_in_recep",
        "pick_two_obj_and_place",
    }


@pytest.mark.parametrize("index", [0, 40, 100])
def test_expert_plan_wins(alfworld, index):
    task = alfworld.tasks("valid_seen")[index]
    env = alfworld.make(task.task_id)
    obs, info = env.reset()
    assert obs["goal"] and obs["actions"] and info["optimal_steps"] >= 1
    steps = 0
    while not info["success"] and steps < 50:
        action = env.expert_plan()[0]
        assert action in obs["actions"]
        obs, reward, terminated, truncated, info = env.step(action)
        steps += 1
    assert info["success"] and terminated and steps == info["optimal_steps"]
    assert info["quality"] == 1.0
    env.close()


def test_looking_around_does_not_win_and_the_budget_is_50_steps(alfworld):
    env = alfworld.make(alfworld.tasks("valid_seen")[0].task_id)
    assert env.max_steps == 50
    env.reset()
    for _ in range(50):
        obs, reward, terminated, truncated, info = env.step("look")
        assert not info["success"]
    assert truncated and not terminated


def test_inadmissible_command_is_explained_and_counted(alfworld):
    env = alfworld.make(alfworld.tasks("valid_seen")[0].task_id)
    env.reset()
    obs, _, _, _, info = env.step("fly to the moon")
    assert not info["valid"] and "not possible here" in obs["text"] and info["steps"] == 1


def test_environment_passes_gymnasium_check_env(alfworld):
    check_env(
        alfworld.make(alfworld.tasks("valid_train")[0].task_id, "valid_train"),
        skip_render_check=True,
    )


def test_task_folder_prefix_selects_its_first_trial(alfworld):
    full = alfworld.tasks("valid_seen")[0].task_id
    env = alfworld.make(full.split("/")[0])
    assert env.task_id == full


def test_bad_game_file_and_unknown_task_are_clear_errors(alfworld, tmp_path):
    bad = tmp_path / "game.tw-pddl"
    bad.write_text("{ not a game")
    with pytest.raises(DataError, match="game.tw-pddl"):
        AlfworldEnv(bad).reset()
    with pytest.raises(ConfigError, match="no game 'nope'"):
        alfworld.make("nope")


def test_expert_replans_after_a_detour(alfworld):
    # The good action of a step is the expert's next command *from the current state*, so the
    # oracle and the collected labels still have one after the agent left the first plan.
    env = alfworld.make(alfworld.tasks("valid_seen")[0].task_id)
    obs, info = env.reset()
    first = env.expert_plan()
    detour = next(a for a in obs["actions"] if a.startswith("go to") and a != first[0])
    obs, *_ = env.step(detour)
    assert env.good_actions() == {first[0]}  # going to the right place is still the next step
    steps = 1
    while not info["success"] and steps < 50:
        assert env.good_actions() <= set(obs["actions"])
        obs, _, terminated, _, info = env.step(env.expert_plan()[0])
        steps += 1
    assert info["success"] and terminated and steps == info["optimal_steps"] + 1
    assert env.good_actions() == set()
    env.close()
