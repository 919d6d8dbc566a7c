"""MiniWoB++ in real headless Chromium: scripted clicks get raw_reward 1, wrong ones do not."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from gymnasium.utils.env_checker import check_env

from aip_sdk import ConfigError
from aip_sdk.envs.miniwob import offered_tasks
from aip_sdk.envs.miniwob_tasks import (
    FIRST_TASKS,
    HELD_OUT_FAMILIES,
    REGISTERED,
    catalogue,
    family,
)
from aip_sdk.envs.suite import load_suite

pytestmark = pytest.mark.browser

# Sequences of admissible actions that earn reward 1, found in the real browser by
# `python benchmarks/miniwob_reach.py` (exported with --export).
SOLUTIONS = json.loads((Path(__file__).parent / "data" / "miniwob_solutions.json").read_text())
OFFERED = [t for t in catalogue().values() if t.offered]
# one task per family: the family's first task in the suite's order
BY_FAMILY = {}
for _t in OFFERED:
    BY_FAMILY.setdefault(_t.family, _t.name)


@pytest.fixture(scope="module")
def miniwob():
    return load_suite("miniwob")


def test_suite_offers_forty_tasks_with_held_out_seeds_and_families(miniwob):
    assert len(OFFERED) >= 40
    train = {t.task_id for t in miniwob.tasks("train")}
    test = {t.task_id for t in miniwob.tasks("test")}
    held = {t.task_id for t in miniwob.tasks("test_tasks")}
    assert not train & test and not test & held
    test_tasks = offered_tasks("test")
    assert len(test) == 20 * len(test_tasks)
    assert test_tasks[:10] == list(FIRST_TASKS)  # old benches' --episodes 10 play the same tasks
    held_families = {family(i.split("/")[0]) for i in held}
    assert held_families == set(HELD_OUT_FAMILIES)
    assert not held_families & {family(t) for t in test_tasks}
    assert len(offered_tasks("test_tasks")) >= 5


def test_the_catalogue_lists_every_task_the_installed_package_registers():
    # REGISTERED is transcribed from the package (the flight.* tasks, another benchmark, aside):
    # a miniwob release that adds or drops a task must update the catalogue and its search.
    import gymnasium
    import miniwob

    gymnasium.register_envs(miniwob)
    installed = {
        name.split("/", 1)[1].removesuffix("-v1")
        for name in gymnasium.registry
        if name.startswith("miniwob/") and not name.startswith("miniwob/flight.")
    }
    assert installed == set(REGISTERED)
    assert all(catalogue()[t].offered == (t in SOLUTIONS) for t in REGISTERED)


def test_every_offered_task_has_a_solution_and_a_limit_that_fits_it():
    for task in OFFERED:
        assert task.name in SOLUTIONS, task.name
        assert task.steps == len(SOLUTIONS[task.name]["actions"])
        assert task.max_steps >= task.steps + 2


def test_refused_and_unknown_tasks_say_why(miniwob):
    with pytest.raises(ConfigError, match="not offered: it needs dragging"):
        miniwob.make("drag-box/0")
    with pytest.raises(ConfigError, match="computed"):
        miniwob.make("simple-arithmetic")
    with pytest.raises(ConfigError, match="unknown MiniWoB task 'no-such-task'"):
        miniwob.make("no-such-task/0")
    refused = [t for t in catalogue().values() if not t.offered]
    assert refused and all(t.reason for t in refused)


def test_the_step_limit_comes_from_the_task(miniwob):
    one, long = (min(OFFERED, key=lambda t: t.steps), max(OFFERED, key=lambda t: t.steps))
    assert miniwob.make(one.name).max_steps == one.max_steps == 4
    assert miniwob.make(long.name).max_steps == long.max_steps > 4
    assert miniwob.make(long.name).solution_steps == long.steps


@pytest.mark.parametrize(
    "task",
    [
        pytest.param(
            t, marks=[] if family(t) in {family(f) for f in FIRST_TASKS} else pytest.mark.slow
        )
        for t in BY_FAMILY.values()
    ],
)
def test_a_scripted_sequence_solves_each_family(miniwob, task):
    sol = SOLUTIONS[task]
    env = miniwob.make(f"{task}/{sol['seed']}")
    try:
        obs, info = env.reset()
        assert obs["actions"]
        for action in sol["actions"]:
            assert action in obs["actions"]
            obs, reward, terminated, truncated, info = env.step(action)
        assert info["raw_reward"] == 1.0 and info["success"] and terminated
    finally:
        env.close()


@pytest.mark.parametrize("task", FIRST_TASKS)
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


def test_a_click_that_changes_nothing_is_reported_unchanged(miniwob):
    """The no-progress features (``since_change``, ``no_progress``) read ``info["changed"]``:
    a click on plain text leaves the page as it was, a checkbox click does not."""
    env = miniwob.make("click-button/1000")
    try:
        obs, _ = env.reset()
        text = next(a for a in obs["actions"] if a.startswith("click <div>"))
        assert text not in env.good_actions()
        obs2, _, terminated, _, info = env.step(text)
        assert info["changed"] is False and not terminated and obs2["text"].endswith(obs["text"])
    finally:
        env.close()
    env = miniwob.make("click-checkboxes/1000")
    try:
        obs, _ = env.reset()
        box = next(a for a in obs["actions"] if a.startswith("click <input_checkbox"))
        _, _, terminated, _, info = env.step(box)
        assert info["changed"] is True and not terminated
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
