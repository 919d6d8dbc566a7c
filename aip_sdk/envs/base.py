"""One text-environment API on top of gymnasium.

Observations are dicts ``{"text", "goal", "actions"}`` in a gymnasium ``Dict`` space; actions are
strings. ``info`` always carries ``success`` (bool), ``quality`` in [0, 1], ``optimal_steps``
(``None`` when unknown), ``valid`` (the action was admissible and applied), ``changed`` (the state
changed), ``feedback`` (what the environment said of the action) and ``state`` (the state's text
without the feedback, which identifies a state for repeat counting); suites that can tell add
``goal_progress``, how near the goal the state is, in [0, 1] (1 at the goal: grid's
distance to the goal, the PDDL suites' relaxed distance). An action that is not
admissible never crashes the environment: the step counts and the next observation says why.
"""

from __future__ import annotations

import string
from typing import Any

import gymnasium
from gymnasium import spaces

__all__ = ["CHARSET", "TextEnvBase"]

CHARSET = frozenset(string.printable)
MAX_TEXT = 8192
MAX_ACTION = 256


def _text(n: int) -> spaces.Text:
    return spaces.Text(max_length=n, min_length=0, charset=CHARSET)


def _clip(s: str, n: int) -> str:
    s = "".join(ch if ch in CHARSET else "?" for ch in s)
    return s[:n]


class TextEnvBase(gymnasium.Env[dict[str, Any], str]):
    """Base class of the suites' environments; subclasses fill in the task-specific hooks.

    Hooks: ``_reset_task``, ``_state_text``, ``_goal_text``, ``_admissible``, ``_execute``,
    ``_success``, ``_optimal_steps``.
    """

    metadata = {"render_modes": ["ansi"]}  # noqa: RUF012 - gymnasium's convention

    def __init__(self, *, max_steps: int = 30, render_mode: str | None = None) -> None:
        self.max_steps = max_steps
        self.render_mode = render_mode
        self.observation_space = spaces.Dict(
            {
                "text": _text(MAX_TEXT),
                "goal": _text(MAX_TEXT),
                "actions": spaces.Sequence(_text(MAX_ACTION), stack=False),
            }
        )
        self.action_space = _text(MAX_ACTION)
        self._steps = 0
        self._feedback = ""

    # -- hooks ----------------------------------------------------------------------------------
    def _reset_task(self, seed: int | None, options: dict[str, Any] | None) -> None:
        raise NotImplementedError

    def _state_text(self) -> str:
        raise NotImplementedError

    def _goal_text(self) -> str:
        raise NotImplementedError

    def _admissible(self) -> list[str]:
        raise NotImplementedError

    def _execute(self, action: str) -> tuple[bool, bool, str]:
        """Apply ``action``; return (valid, changed, feedback)."""
        raise NotImplementedError

    def _success(self) -> bool:
        raise NotImplementedError

    def _optimal_steps(self) -> int | None:
        return None

    def _goal_progress(self) -> float | None:
        """Share of the goal's conditions met now, where the suite can tell (else ``None``)."""
        return None

    # -- gymnasium API ---------------------------------------------------------------------------
    def _obs(self) -> dict[str, Any]:
        text = self._state_text()
        if self._feedback:
            text = f"{self._feedback} {text}"
        return {
            "text": _clip(text, MAX_TEXT),
            "goal": _clip(self._goal_text(), MAX_TEXT),
            "actions": tuple(_clip(a, MAX_ACTION) for a in self._admissible()),
        }

    def _info(self, *, valid: bool = True, changed: bool = False) -> dict[str, Any]:
        success = self._success()
        optimal = self._optimal_steps()
        if success and optimal is not None:
            quality = min(1.0, optimal / max(1, self._steps)) if self._steps else 1.0
        else:
            quality = 1.0 if success else 0.0
        info: dict[str, Any] = {
            "success": success,
            "quality": quality,
            "optimal_steps": optimal,
            "valid": valid,
            "changed": changed,
            "feedback": self._feedback,
            "steps": self._steps,
            "state": _clip(self._state_text(), MAX_TEXT),
        }
        progress = self._goal_progress()
        if progress is not None:
            info["goal_progress"] = float(progress)
        return info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        self._steps = 0
        self._feedback = ""
        self._reset_task(seed, options)
        return self._obs(), self._info()

    def step(self, action: str) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        self._steps += 1
        action = str(action).strip()
        if action in self._admissible():
            valid, changed, feedback = self._execute(action)
        else:
            valid, changed, feedback = False, False, self._explain(action)
        self._feedback = feedback
        info = self._info(valid=valid, changed=changed)
        terminated = bool(info["success"])
        truncated = not terminated and self._steps >= self.max_steps
        return self._obs(), 1.0 if terminated else 0.0, terminated, truncated, info

    def _explain(self, action: str) -> str:
        """Why ``action`` is not admissible (subclasses give domain reasons)."""
        return f"'{action[:60]}' is not possible here; choose one of the listed actions."

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return f"Goal: {self._goal_text()}\n{self._state_text()}"
        return None
