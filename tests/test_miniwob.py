"""MiniWoB++ in real headless Chromium: scripted clicks get raw_reward 1, wrong ones do not."""

from __future__ import annotations

import subprocess

import pytest
from gymnasium.utils.env_checker import check_env

from aip_sdk.envs.miniwob import TASKS
from aip_sdk.envs.suite import load_suite

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def miniwob():
    return load_suite("miniwob")


def test_suite_has_at_least_ten_tasks_with_held_out_seeds(miniwob):
    assert len(TASKS) >= 10
    train = {t.task_id for t in miniwob.tasks("train")}
    test = {t.task_id for t in miniwob.tasks("test")}
    assert not train & test and len(test) == 20 * len(TASKS)


@pytest.mark.parametrize("task", TASKS)
def test_scripted_expert_actions_get_raw_reward_1(miniwob, task):
    env = miniwob.make(f"{task}/1000")
    try:
        obs, info = env.reset()
        for _ in range(6):
            good = sorted(env.good_actions())
            assert good and set(good) <= set(obs["actions"])
            obs, reward, terminated, truncated, info = env.step(good[0])
            if terminated:
                break
        assert info["raw_reward"] == 1.0 and info["success"] and terminated
    finally:
        env.close()


def test_wrong_click_fails(miniwob):
    env = miniwob.make("click-test-2/1001")
    try:
        obs, _ = env.reset()
        (right,) = env.good_actions()
        wrong = next(a for a in obs["actions"] if a != right)
        obs, reward, terminated, truncated, info = env.step(wrong)
        assert not info["success"] and info["raw_reward"] < 1 and terminated
    finally:
        env.close()


def test_page_timer_is_raised_for_slow_models(miniwob):
    env = miniwob.make("click-test-2/1002")
    try:
        env.reset()
        driver = env._env.unwrapped.instance.driver
        assert driver.execute_script("return core.EPISODE_MAX_TIME;") >= 3_600_000
    finally:
        env.close()


def test_dead_browser_fails_the_episode_and_the_next_reset_recovers(miniwob):
    from aip_sdk import EnvError

    env = miniwob.make("click-test-2/1003")
    try:
        obs, _ = env.reset()
        env._env.unwrapped.instance.driver.quit()  # the browser dies
        with pytest.raises(EnvError, match="browser"):
            env.step(obs["actions"][0])
        obs, info = env.reset()  # a new browser
        env.step(next(iter(env.good_actions())))
        assert env._success()
    finally:
        env.close()


def test_environment_passes_check_env_and_leaves_no_chromium(miniwob):
    env = miniwob.make("focus-text/1004")
    check_env(env, skip_render_check=True)
    env.close()
    out = subprocess.run(["pgrep", "-f", "chromium.*miniwob"], capture_output=True, text=True)
    assert out.stdout.strip() == ""
