"""ALFWorld text games (``alfworld`` + ``textworld``), played from ``game.tw-pddl`` files.

The environment is built directly with ``textworld.gym.register_game`` and ALFWorld's
``AlfredDemangler`` / ``AlfredInfos`` wrappers (ALFWorld's own builder ignores the expert type it
is given, and its hand-coded expert needs ALFRED trajectory files the games do not ship). The
expert plan comes from TextWorld's planner, asked once at reset (its length is the optimum used for
quality); asking it at every step, as ``policy_commands`` does, can stall for minutes in a state
the planner finds hard. The good action of a step is the plan's next command while the episode
follows the plan; after a deviation the step has no label. Success is ``info["won"]`` only, never
``done``; the budget is 50 steps.

Task ids are game folders relative to the split, ``<task-type>-<...>-<scene>/<trial>``; the first
folder alone selects its first trial.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import attrs

from aip_sdk.envs.base import TextEnvBase
from aip_sdk.envs.data import resolve_data_dir
from aip_sdk.envs.suite import Task, check_split
from aip_sdk.errors import ConfigError, DataError, MissingDependencyError

__all__ = ["AlfworldEnv", "AlfworldSuite"]

_GAME = "game.tw-pddl"
_SKIP = {"help"}


def _import_textworld() -> tuple[Any, Any, Any, Any]:
    try:
        import textworld
        import textworld.gym
        from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos
    except ImportError as exc:
        raise MissingDependencyError(
            "alfworld", extra="alfworld", purpose="play ALFWorld games"
        ) from exc
    return textworld, textworld.gym, AlfredDemangler, AlfredInfos


class AlfworldEnv(TextEnvBase):
    """One ALFWorld game as a text environment.

    The game engine cannot be copied in memory, but it is deterministic: :meth:`clone` loads the
    game again and replays the actions taken since reset (for lookahead).
    """

    def __init__(
        self,
        gamefile: Path,
        *,
        max_steps: int = 50,
        task_id: str = "",
        optimal_steps: int | None = None,
    ) -> None:
        self.gamefile = Path(gamefile)
        self.task_id = task_id or self.gamefile.parent.name
        if not self.gamefile.is_file():
            raise DataError(f"ALFWorld game file {str(self.gamefile)!r} does not exist")
        textworld, tw_gym, demangler, infos_wrapper = _import_textworld()
        request = textworld.EnvInfos(
            won=True,
            admissible_commands=True,
            feedback=True,
            extras=["gamefile"],
        )
        try:
            env_id = tw_gym.register_game(
                str(self.gamefile),
                request,
                max_episode_steps=10_000,  # we count steps ourselves
                asynchronous=False,
                wrappers=[demangler(), infos_wrapper],
            )
            self._env = tw_gym.make(env_id)
        except Exception as exc:  # textworld raises many kinds on a bad file
            raise DataError(
                f"ALFWorld game file {str(self.gamefile)!r} cannot be loaded: {exc}"
            ) from exc
        self._text = ""
        self._goal = ""
        self._actions: list[str] = []
        self._won = False
        self._optimal: int | None = optimal_steps
        self._known_optimal = optimal_steps is not None
        self._taken: list[str] = []
        super().__init__(max_steps=max_steps)

    def _reset_task(self, seed: int | None, options: dict[str, Any] | None) -> None:
        try:
            obs, info = self._env.reset()
        except Exception as exc:
            raise DataError(f"ALFWorld game {str(self.gamefile)!r} failed to start: {exc}") from exc
        match = re.search(r"Your task is to: (.*)", obs)
        self._goal = match.group(1).strip() if match else ""
        room = obs.split("\n\n")[1] if "\n\n" in obs else obs
        self._text = room.replace("-= Welcome to TextWorld, ALFRED! =-", "").strip()
        self._absorb(info)
        self._taken = []
        if not self._known_optimal:
            self._optimal = len(self.expert_plan()) or None

    def _absorb(self, info: dict[str, Any]) -> None:
        self._actions = [a for a in info.get("admissible_commands") or [] if a not in _SKIP]
        self._won = bool(info.get("won"))

    def _state_text(self) -> str:
        return self._text

    def _goal_text(self) -> str:
        return self._goal

    def _admissible(self) -> list[str]:
        return list(self._actions)

    def _execute(self, action: str) -> tuple[bool, bool, str]:
        before = self._text
        self._taken.append(action)
        obs, _score, _done, info = self._env.step(action)
        self._text = obs.strip()
        self._absorb(info)
        return True, self._text != before and self._text != "Nothing happens.", ""

    def _success(self) -> bool:
        return self._won

    def _optimal_steps(self) -> int | None:
        return self._optimal

    def expert_plan(self) -> list[str]:
        """ALFWorld's planner expert, replanned from the current state (about 20 ms).

        After a detour (a wrong room, an object taken by mistake) the plan starts from where the
        agent is, so every step has a good action until the game is won: that is what the oracle
        and the collected labels need. Empty once the game is won.
        """
        if self._won:
            return []
        pddl = self._env.batch_env.envs[0].unwrapped
        return list(pddl._pddl_state.replan(pddl._entity_infos))

    def good_actions(self) -> set[str]:
        """The expert's next command from the current state."""
        return set(self.expert_plan()[:1])

    def clone(self) -> AlfworldEnv:
        """An independent copy in the same state: the game loaded again, the actions replayed."""
        twin = AlfworldEnv(
            self.gamefile,
            max_steps=self.max_steps,
            task_id=self.task_id,
            optimal_steps=self._optimal,
        )
        twin.reset()
        for action in self._taken:
            twin._execute(action)
        twin._steps = self._steps
        twin._feedback = self._feedback
        return twin

    def close(self) -> None:
        self._env.close()


@attrs.define
class AlfworldSuite:
    """ALFWorld games under ``<data>/<split>/<task folder>/<trial>/game.tw-pddl``."""

    data: str | os.PathLike[str] | None = None
    name: str = "alfworld"
    default_split: str = "valid_seen"

    @cached_property
    def root(self) -> Path:
        return resolve_data_dir("alfworld", self.data)

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(sorted(p.name for p in self.root.iterdir() if p.is_dir()))

    def _games(self, split: str) -> list[Path]:
        return sorted((self.root / split).glob(f"*/*/{_GAME}"))

    def tasks(self, split: str | None = None) -> list[Task]:
        split = check_split(self, split)
        out = []
        for game in self._games(split):
            rel = game.parent.relative_to(self.root / split)
            out.append(
                Task(
                    suite=self.name,
                    task_id=str(rel),
                    split=split,
                    difficulty=rel.parts[0].split("-")[0],
                )
            )
        return out

    def make(self, task_id: str, split: str | None = None, **options: Any) -> AlfworldEnv:
        split = check_split(self, split)
        base = self.root / split / task_id
        if (base / _GAME).is_file():
            game = base / _GAME
        else:
            found = sorted(base.glob(f"*/{_GAME}"))
            if not found:
                raise ConfigError(
                    f"ALFWorld split {split!r} has no game {task_id!r} (looked for {str(base)!r}); "
                    f"list them with 'aip-sdk tasks --suite alfworld'"
                )
            game = found[0]
        return AlfworldEnv(game, task_id=str(game.parent.relative_to(self.root / split)), **options)
