"""MiniWoB++ web tasks (the ``miniwob`` package) in headless Debian Chromium.

Selenium is pointed at Debian's ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` through
``MINIWOB_CHROME_BINARY`` / ``MINIWOB_CHROMEDRIVER`` (set here when unset) so that it never tries to
download a driver. The page's episode timer (``core.EPISODE_MAX_TIME``) is raised so a slow model
is not cut off. Actions are phrased over DOM elements: ``click <button> Submit``,
``type 'kenda' into <input_text id=username>`` (the strings to type are the task's fields and the
instruction's quoted strings), SVG shapes by colour and place (``click <circle red at 40,62>``).
Success is ``raw_reward == 1``. One browser per environment, closed by ``close()`` and at
interpreter exit; a browser that dies raises :class:`~aip_sdk.EnvError`, the episode is
failed, and the next ``reset`` starts a new browser.

Task ids are ``TASK/SEED`` (``click-button/1003``) or a bare task name (its split's first seed).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import weakref
from collections.abc import Callable
from typing import Any

import attrs
import gymnasium

from aip_sdk.envs.base import TextEnvBase
from aip_sdk.envs.miniwob_tasks import HELD_OUT_FAMILIES, REGISTERED, catalogue
from aip_sdk.envs.suite import Task, check_split
from aip_sdk.errors import ConfigError, EnvError, MissingDependencyError

__all__ = ["MiniWobEnv", "MiniWobSuite", "offered_tasks", "typed_strings"]

EPISODE_MAX_TIME_MS = 3_600_000
_CLICKABLE = {
    "button", "a", "input_checkbox", "input_radio", "input_text", "input_password", "textarea",
    "input_number", "input_date", "input_time", "span", "label", "li", "option", "td", "th",
    "p", "h2", "h3", "div", "b", "img",
}  # fmt: skip
# SVG shapes carry no text: they are named by their colour (the tasks ask for "a red item").
_SHAPES = {"circle", "rect", "polygon", "path", "text", "tspan"}
_TYPABLE = {"input_text", "input_password", "textarea", "input_number", "input_date", "input_time"}
MAX_ACTIONS = 80
_COLOURS = {
    "black": (0, 0, 0), "white": (255, 255, 255), "red": (255, 0, 0), "green": (0, 128, 0),
    "blue": (0, 0, 255), "yellow": (255, 255, 0), "aqua": (0, 255, 255),
    "magenta": (255, 0, 255), "orange": (255, 165, 0), "purple": (128, 0, 128),
    "pink": (255, 192, 203), "grey": (128, 128, 128), "brown": (165, 42, 42),
}  # fmt: skip


def _colour(rgba: Any) -> str:
    """The nearest colour name of a MiniWoB ``bg_color``/``fg_color`` (RGBA in 0..1)."""
    try:
        r, g, b, a = (float(x) for x in rgba)
    except (TypeError, ValueError):
        return ""
    if a == 0:
        return ""
    rgb = (r * 255, g * 255, b * 255)
    return min(_COLOURS, key=lambda n: sum((p - q) ** 2 for p, q in zip(rgb, _COLOURS[n])))


def _num(x: Any) -> int:
    """A MiniWoB coordinate (a one-element float array) as an int."""
    try:
        return round(float(x[0] if hasattr(x, "__len__") else x))
    except (TypeError, ValueError, IndexError):
        return 0


def typed_strings(utterance: str, fields: Any) -> list[str]:
    """The strings an agent may type: the task's field values and the quoted strings of its
    instruction, in that order, without repeats, ASCII and at most 64 characters (what the
    browser driver types reliably). Tasks whose answer must be computed (a sum, a word read off
    the page) cannot be solved with these; :mod:`~aip_sdk.envs.miniwob_tasks` lists them as out
    of reach."""
    out: list[str] = []
    for value in [str(v) for _k, v in fields] + re.findall(r'"([^"]+)"', utterance):
        value = value.strip()
        if value and value.isascii() and len(value) <= 64 and value not in out:
            out.append(value)
    return out


_LIVE: weakref.WeakSet[MiniWobEnv] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for env in list(_LIVE):
        env.close()


def _stop_driver(inst: Any) -> None:
    """Stop what is left of a dead instance: the WebDriver session and the chromedriver."""
    driver = getattr(inst, "driver", None)
    if driver is None:
        return
    with contextlib.suppress(Exception):
        driver.quit()
    with contextlib.suppress(Exception):
        driver.service.stop()


def _browser_env() -> None:
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if "MINIWOB_CHROME_BINARY" not in os.environ and "MINIWOB_CHROMEDRIVER" not in os.environ:
        if not (os.path.exists(binary) and os.path.exists(driver)):
            raise MissingDependencyError(
                "chromium and chromium-driver (Debian packages)",
                purpose="run MiniWoB++ tasks",
            )
        os.environ["MINIWOB_CHROME_BINARY"] = binary
        os.environ["MINIWOB_CHROMEDRIVER"] = driver


class MiniWobEnv(TextEnvBase):
    """One MiniWoB++ task and seed as a text environment."""

    def __init__(self, task: str, seed: int, *, max_steps: int = 10, task_id: str = "") -> None:
        """Any task the ``miniwob`` package registers; :class:`MiniWobSuite` offers the ones
        that clicks and typing can solve (see :mod:`aip_sdk.envs.miniwob_tasks`)."""
        if task not in REGISTERED:
            raise ConfigError(
                f"unknown MiniWoB task {task!r}: the miniwob package has no such task; "
                f"'aip-sdk tasks --suite miniwob' lists the ones offered"
            )
        try:
            import miniwob
            from miniwob.action import ActionTypes
        except ImportError as exc:
            raise MissingDependencyError(
                "miniwob", extra="miniwob", purpose="run MiniWoB++"
            ) from exc
        _browser_env()
        gymnasium.register_envs(miniwob)
        self.task = task
        # the length of the solution the reach search found: an upper bound on the shortest
        # (None for a task not offered); MiniWoB++ reports no optimum of its own
        self.solution_steps: int | None = catalogue()[task].steps
        self.seed = seed
        self.task_id = task_id or f"{task}/{seed}"
        self._types = ActionTypes
        self._env: Any = gymnasium.make(f"miniwob/{task}-v1")
        self._page: dict[str, Any] = {}
        self._raw_reward = 0.0
        self._done = False
        self._commands: dict[str, Any] = {}
        _LIVE.add(self)
        super().__init__(max_steps=max_steps)

    # -- browser ------------------------------------------------------------------------------
    def _browser_call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # selenium, urllib3 and miniwob all raise their own kinds
            inst = getattr(self._env.unwrapped, "instance", None)
            if inst is not None:
                inst.died = True  # miniwob starts a fresh browser on the next reset
            self._done = True
            raise EnvError(
                f"the browser of MiniWoB task {self.task_id!r} failed ({type(exc).__name__}: "
                f"{str(exc).strip()[:200]}); the episode is failed, the next reset starts a new "
                f"browser"
            ) from exc

    def _raise_timer(self) -> None:
        inst = getattr(self._env.unwrapped, "instance", None)
        if inst is not None and not inst.died and hasattr(inst, "driver"):
            inst.driver.execute_script(f"core.EPISODE_MAX_TIME = {EPISODE_MAX_TIME_MS};")

    # -- TextEnvBase hooks ----------------------------------------------------------------------
    def _reset_task(self, seed: int | None, options: dict[str, Any] | None) -> None:
        inst = getattr(self._env.unwrapped, "instance", None)
        if inst is None or inst.died:
            self._browser_call(lambda: self._env.reset(seed=self.seed))  # starts the browser
        self._browser_call(self._raise_timer)
        obs, info = self._browser_call(lambda: self._env.reset(seed=self.seed))
        self._page = obs
        self._raw_reward = float(info.get("raw_reward", 0.0))
        self._done = False
        self._commands = self._build_commands()

    def _elements(self) -> list[dict[str, Any]]:
        return list(self._page.get("dom_elements", ()))

    def _label(self, el: dict[str, Any]) -> str:
        """``<tag id=...> text``; a checkbox or radio button takes the text that follows it, a
        shape without text its colour (``<circle red>``)."""
        tag = el["tag"]
        ident = f" id={el['id']}" if el.get("id") else ""
        text = str(el.get("text") or "").strip()
        if not text and tag in ("input_checkbox", "input_radio"):
            els = self._elements()
            i = next(j for j, e in enumerate(els) if e["ref"] == el["ref"])
            for nxt in els[i + 1 : i + 3]:
                if nxt["parent"] == el["parent"] and str(nxt.get("text") or "").strip():
                    text = str(nxt["text"]).strip()
                    break
        if not text and not ident and el.get("classes") and tag not in _SHAPES:
            ident = f" class={str(el['classes']).split()[0]}"
        if not text and tag in _SHAPES:  # told apart by colour and place
            colour = _colour(el.get("bg_color"))
            ident += (f" {colour}" if colour else "") + f" at {_num(el.get('left'))},"
            ident += f"{_num(el.get('top'))}"
        return f"<{tag}{ident}> {text}".strip()

    def _build_commands(self) -> dict[str, Any]:
        cmds: dict[str, Any] = {}
        u = self._env.unwrapped
        strings = typed_strings(self._goal_text(), self._page.get("fields", ()))
        parents = {e["parent"] for e in self._elements()}
        for el in self._elements():
            tag = el["tag"]
            text = str(el.get("text") or "").strip()
            if tag in ("body",) or el.get("id") in ("wrap", "area", "query"):
                continue
            if int(el["ref"]) < 0:  # a bare text node: the browser cannot click or type into it
                continue
            if tag in _TYPABLE:
                for value in strings:
                    cmds[f"type '{value}' into {self._label(el)}"] = u.create_action(
                        self._types.FOCUS_ELEMENT_AND_TYPE_TEXT, ref=el["ref"], text=value
                    )
            clickable = tag in _CLICKABLE and (
                text
                or tag.startswith("input")
                or tag in ("button", "a", "img")
                # an icon: a leaf without text, named by its class (email-inbox's trash icon)
                or ((el.get("classes") or el.get("id")) and el["ref"] not in parents)
            )
            if clickable or tag in _SHAPES:
                if tag == "div" and not (text or el.get("classes")):
                    continue
                cmds.setdefault(
                    f"click {self._label(el)}",
                    u.create_action(self._types.CLICK_ELEMENT, ref=el["ref"]),
                )
        return cmds

    def _state_text(self) -> str:
        shown = []
        for el in self._elements():
            text = str(el.get("text") or "").strip()
            value = str(el.get("value") or "").strip()
            if el["tag"] == "body" or not (text or value or el["tag"].startswith("input")):
                continue
            extra = f" value='{value}'" if value else ""
            shown.append(f"{self._label(el)}{extra}")
        return "Page: " + "; ".join(shown[:40])

    def _goal_text(self) -> str:
        return str(self._page.get("utterance", ""))

    def _admissible(self) -> list[str]:
        return [] if self._done else list(self._commands)[:MAX_ACTIONS]

    def _execute(self, action: str) -> tuple[bool, bool, str]:
        before = (self._state_text(), tuple(self._commands))
        obs, _reward, terminated, _trunc, info = self._browser_call(
            self._env.step, self._commands[action]
        )
        self._raw_reward = float(info.get("raw_reward", 0.0))
        self._done = bool(terminated)
        if obs and obs.get("dom_elements") is not None and not self._done:
            self._page = obs
            self._commands = self._build_commands()
        # Changed: the episode ended, or what the model reads (the page, its actions) differs;
        # a click on plain text changes neither, and the no-progress features should see it.
        changed = self._done or (self._state_text(), tuple(self._commands)) != before
        return True, changed, f"You {action}."

    def _success(self) -> bool:
        return self._raw_reward == 1.0

    def _value(self, id_: str) -> str:
        return next((str(e.get("value") or "") for e in self._elements() if e.get("id") == id_), "")

    def good_actions(self) -> set[str]:
        """The expert's next actions, read from the task's instruction and the page.

        These are the ground-truth labels MiniWoB++ provides (its tasks are generated from the
        instruction); they label collected traces and drive the oracle.
        """
        goal, acts = self._goal_text(), self._admissible()
        quoted = re.findall(r'"([^"]*)"', goal)

        def clicks(pred: Callable[[str], bool]) -> set[str]:
            return {a for a in acts if a.startswith("click ") and pred(a)}

        def submit() -> set[str]:
            return clicks(lambda a: a.endswith("> Submit") or a.endswith("> Login"))

        task = self.task
        if task == "click-test-2":
            label = goal.removeprefix("Click button ").rstrip(".")
            return clicks(lambda a: a.startswith("click <button") and a.endswith(f"> {label}"))
        if task in ("click-button", "click-link") and quoted:
            return clicks(lambda a: a.endswith(f"> {quoted[0]}"))
        if task == "click-tab":
            label = goal.removeprefix("Click on ").rstrip(".")
            return clicks(lambda a: a.endswith(f"> {label}"))
        if task == "click-dialog":
            return clicks(lambda a: a.startswith("click <button") and a.endswith(">"))
        if task == "focus-text":
            return clicks(lambda a: a.startswith("click <input_text"))
        if task == "enter-text" and quoted:
            if self._value("tt") != quoted[0]:
                return {a for a in acts if a.startswith(f"type '{quoted[0]}' into <input_text")}
            return submit()
        if task == "login-user" and len(quoted) == 2:
            todo = {
                f"type '{quoted[0]}' into <input_text id=username>": self._value("username"),
                f"type '{quoted[1]}' into <input_password id=password>": self._value("password"),
            }
            want = {a for a, v in todo.items() if a in acts and v not in quoted}
            return want or submit()
        if task in ("click-option", "click-checkboxes"):
            names = goal.removeprefix("Select ").removesuffix(" and click Submit.")
            targets = {n.strip() for n in names.split(",")} if names != "nothing" else set()
            kind = "input_radio" if task == "click-option" else "input_checkbox"
            want = set()
            for el in self._elements():
                if el["tag"] != kind:
                    continue
                label = self._label(el)
                checked = str(el.get("value") or "") == "True"
                text = label.split("> ", 1)[1] if "> " in label else ""
                if (text in targets) != checked:
                    want.add(f"click {label}")
            return (want & set(acts)) or submit()
        return set()

    def _optimal_steps(self) -> int | None:
        return None

    def step(self, action: str) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = super().step(action)
        if self._done and not terminated:  # the page ended the episode without success
            terminated = True
        info["raw_reward"] = self._raw_reward
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        env = getattr(self, "_env", None)
        if env is not None:
            inst = getattr(env.unwrapped, "instance", None)
            if inst is not None and not inst.died:
                env.close()
            elif inst is not None:  # the browser died: its chromedriver still runs
                _stop_driver(inst)
            self._env = None
        _LIVE.discard(self)


_SEEDS = {"train": range(0, 200), "test": range(1000, 1020), "test_tasks": range(1000, 1020)}


def offered_tasks(split: str) -> list[str]:
    """The tasks of a split: ``train`` and ``test`` play the offered tasks outside the held-out
    families (``test`` on other seeds), ``test_tasks`` the held-out families; the first ten
    tasks come first (see :data:`~aip_sdk.envs.miniwob_tasks.FIRST_TASKS`)."""
    held = split == "test_tasks"
    return [
        t.name
        for t in catalogue().values()
        if t.offered and (t.family in HELD_OUT_FAMILIES) == held
    ]


@attrs.define
class MiniWobSuite:
    """The MiniWoB++ tasks that clicks and typing can solve (:mod:`~aip_sdk.envs.miniwob_tasks`).

    Splits: ``train`` (seeds 0-199 of the training families' tasks), ``test`` (seeds 1000-1019
    of the same tasks) and ``test_tasks`` (seeds 1000-1019 of whole families never trained on).
    Each task's step limit comes from the length of its solution.
    """

    data: str | os.PathLike[str] | None = None  # the tasks ship inside the miniwob package
    name: str = "miniwob"
    splits: tuple[str, ...] = ("train", "test", "test_tasks")
    default_split: str = "test"

    def tasks(self, split: str | None = None) -> list[Task]:
        split = check_split(self, split)
        return [
            Task(suite=self.name, task_id=f"{t}/{s}", split=split, difficulty=t)
            for s in _SEEDS[split]
            for t in offered_tasks(split)
        ]

    def make(self, task_id: str, split: str | None = None, **options: Any) -> MiniWobEnv:
        """Any offered task, whatever its split (the split picks the seed of a bare name).

        Raises:
            ConfigError: a malformed id, or a task the suite does not offer (with the reason).
        """
        split = check_split(self, split)
        task, _, seed_text = task_id.partition("/")
        try:
            seed = int(seed_text) if seed_text else _SEEDS[split][0]
        except ValueError as exc:
            raise ConfigError(
                f"miniwob task ids look like 'click-button/3', got {task_id!r}"
            ) from exc
        spec = catalogue().get(task)
        if spec is None:
            raise ConfigError(
                f"unknown MiniWoB task {task!r}; 'aip-sdk tasks --suite miniwob --split SPLIT' "
                f"lists the tasks offered (splits: {', '.join(self.splits)})"
            )
        if not spec.offered:
            raise ConfigError(
                f"MiniWoB task {task!r} is not offered: it {spec.reason}. The suite plays tasks "
                f"that clicks on page elements and typing the instruction's strings can solve; "
                f"docs/suites.md lists them"
            )
        options.setdefault("max_steps", spec.max_steps)
        return MiniWobEnv(task, seed, task_id=f"{task}/{seed}", **options)
