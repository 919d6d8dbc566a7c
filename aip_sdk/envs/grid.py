"""MiniGrid navigation (the ``minigrid`` package) as text a small model can use.

The agent is told, relative to where it faces, what lies ahead, left and right, and where the goal,
keys and doors are ("the goal is 3 steps ahead and 2 steps to the right"). The admissible actions
are MiniGrid's own primitives, phrased in words and listed only when they do something: ``turn
left``, ``turn right``, ``move forward``, ``pick up the yellow key``, ``open the yellow door``. The
optimal number of primitive steps is found by breadth-first search over (position, direction, key,
open doors); quality = optimal / taken on success.

Task ids are ``LEVEL/SEED`` (``DoorKey-5x5/3``) or a bare level (its split's first seed).
"""

from __future__ import annotations

import collections
import copy
import os
from typing import Any

import attrs
import gymnasium
import minigrid  # noqa: F401 - registers the MiniGrid-* environments
import numpy as np

from aip_sdk.envs.base import TextEnvBase
from aip_sdk.envs.suite import Task, check_split
from aip_sdk.errors import ConfigError, DataError

__all__ = ["TRAIN_LEVELS", "GridEnv", "GridSuite"]

TRAIN_LEVELS = (
    "Empty-5x5",
    "Empty-8x8",
    "FourRooms",
    "SimpleCrossingS9N1",
    "DoorKey-5x5",
    "MultiRoom-N2-S4",
)
HELD_OUT_LEVELS = ("Empty-16x16", "DoorKey-6x6", "SimpleCrossingS9N2", "MultiRoom-N4-S5")
_SEEDS = {"train": range(0, 200), "test": range(1000, 1020), "test_levels": range(1000, 1020)}

LEFT, RIGHT, FORWARD, PICKUP, TOGGLE = 0, 1, 2, 3, 5
_DIRS = [(1, 0), (0, 1), (-1, 0), (0, -1)]  # MiniGrid: 0 east, 1 south, 2 west, 3 north


def _steps(n: int, word: str) -> str:
    return f"{n} step{'s' if n != 1 else ''} {word}"


class GridEnv(TextEnvBase):
    """One MiniGrid level and seed as a text environment (supports :meth:`clone`)."""

    def __init__(self, level: str, seed: int, *, max_steps: int | None = None, task_id: str = ""):
        self.level = level
        self.seed = seed
        self.task_id = task_id or f"{level}/{seed}"
        try:
            self._env = gymnasium.make(f"MiniGrid-{level}-v0")
        except gymnasium.error.Error as exc:
            raise ConfigError(f"MiniGrid has no level {level!r}: {exc}") from exc
        self._env.reset(seed=seed)
        self._optimal = self._bfs()
        super().__init__(max_steps=max_steps or max(20, 3 * self._optimal))

    # -- the underlying grid ------------------------------------------------------------------
    @property
    def _u(self) -> Any:
        return self._env.unwrapped

    def _cell(self, x: int, y: int) -> Any:
        u = self._u
        if not (0 <= x < u.width and 0 <= y < u.height):
            return "wall"
        return u.grid.get(x, y)

    @staticmethod
    def _name(obj: Any) -> str:
        if obj is None:
            return "nothing"
        if obj == "wall" or obj.type == "wall":
            return "a wall"
        if obj.type == "door":
            state = "open" if obj.is_open else ("locked" if obj.is_locked else "closed")
            return f"the {state} {obj.color} door"
        if obj.type == "goal":
            return "the goal"
        return f"the {obj.color} {obj.type}"

    def _front(self) -> tuple[int, int]:
        u = self._u
        x, y = u.agent_pos
        dx, dy = _DIRS[u.agent_dir]
        return int(x + dx), int(y + dy)

    def _walkable(self, obj: Any) -> bool:
        if obj is None:
            return True
        if obj == "wall":
            return False
        return bool(
            obj.type == "goal" or (obj.type == "door" and obj.is_open) or obj.type == "floor"
        )

    # -- optimum ------------------------------------------------------------------------------
    def _bfs(self) -> int:
        u = self._u
        doors = {}
        keys = {}
        goal = None
        for x in range(u.width):
            for y in range(u.height):
                c = u.grid.get(x, y)
                if c is None:
                    continue
                if c.type == "door":
                    doors[(x, y)] = (c.color, c.is_locked, c.is_open)
                elif c.type == "key":
                    keys[(x, y)] = c.color
                elif c.type == "goal":
                    goal = (x, y)
        if goal is None:
            raise DataError(f"MiniGrid level {self.level!r} has no goal square")
        start: tuple[int, int, int, str, frozenset[Any], frozenset[Any]] = (
            int(u.agent_pos[0]),
            int(u.agent_pos[1]),
            int(u.agent_dir),
            u.carrying.color if u.carrying is not None and u.carrying.type == "key" else "",
            frozenset(),
            frozenset(),
        )

        def blocked(x: int, y: int, opened: frozenset[Any], taken: frozenset[Any]) -> bool:
            c = u.grid.get(x, y)
            if (x, y) in doors:
                return (x, y) not in opened and not doors[(x, y)][2]
            if (x, y) in keys:
                return (x, y) not in taken
            return c is not None and c.type in ("wall", "lava", "box", "ball")

        seen = {start}
        frontier = collections.deque([(start, 0)])
        while frontier:
            (x, y, d, key, opened, taken), n = frontier.popleft()
            if (x, y) == goal:
                return n
            fx, fy = x + _DIRS[d][0], y + _DIRS[d][1]
            nexts = [
                (x, y, (d - 1) % 4, key, opened, taken),
                (x, y, (d + 1) % 4, key, opened, taken),
            ]
            if 0 <= fx < u.width and 0 <= fy < u.height and not blocked(fx, fy, opened, taken):
                nexts.append((fx, fy, d, key, opened, taken))
            if (fx, fy) in keys and (fx, fy) not in taken and not key:
                nexts.append((x, y, d, keys[(fx, fy)], opened, taken | {(fx, fy)}))
            if (fx, fy) in doors and (fx, fy) not in opened and not doors[(fx, fy)][2]:
                color, locked, _ = doors[(fx, fy)]
                if not locked or key == color:
                    nexts.append((x, y, d, key, opened | {(fx, fy)}, taken))
            for s in nexts:
                if s not in seen:
                    seen.add(s)
                    frontier.append((s, n + 1))
        raise DataError(f"MiniGrid level {self.level!r} seed {self.seed} has no path to the goal")

    # -- TextEnvBase hooks ----------------------------------------------------------------------
    def _reset_task(self, seed: int | None, options: dict[str, Any] | None) -> None:
        self._env.reset(seed=self.seed)
        self._done = False

    def _relative(self, x: int, y: int) -> str:
        u = self._u
        ax, ay = int(u.agent_pos[0]), int(u.agent_pos[1])
        fx, fy = _DIRS[u.agent_dir]
        rx, ry = _DIRS[(u.agent_dir + 1) % 4]
        dx, dy = x - ax, y - ay
        ahead, right = dx * fx + dy * fy, dx * rx + dy * ry
        parts = []
        if ahead:
            parts.append(_steps(abs(ahead), "ahead" if ahead > 0 else "behind"))
        if right:
            parts.append(_steps(abs(right), "to the right" if right > 0 else "to the left"))
        return " and ".join(parts) or "here"

    def _state_text(self) -> str:
        u = self._u
        ax, ay = int(u.agent_pos[0]), int(u.agent_pos[1])
        d = u.agent_dir
        around = []
        for word, k in (
            ("Ahead", d),
            ("To your left", (d - 1) % 4),
            ("To your right", (d + 1) % 4),
        ):
            c = self._cell(ax + _DIRS[k][0], ay + _DIRS[k][1])
            around.append(f"{word} is {self._name(c)}.")
        things = []
        for x in range(u.width):
            for y in range(u.height):
                c = u.grid.get(x, y)
                if c is not None and c.type in ("goal", "key", "door"):
                    things.append(f"{self._name(c).capitalize()} is {self._relative(x, y)}.")
        carry = f" You carry the {u.carrying.color} {u.carrying.type}." if u.carrying else ""
        return " ".join(around + things) + carry

    def _goal_text(self) -> str:
        return "reach the goal square" + (
            " (pick up the key to open the locked door)" if "DoorKey" in self.level else ""
        )

    def _admissible(self) -> list[str]:
        if self._success():
            return ["turn left", "turn right"]
        acts = ["turn left", "turn right"]
        front = self._cell(*self._front())
        if self._walkable(front):
            acts.insert(0, "move forward")
        if front not in (None, "wall"):
            u = self._u
            if front.type == "key" and u.carrying is None:
                acts.append(f"pick up the {front.color} key")
            has_key = u.carrying is not None and u.carrying.color == front.color
            if front.type == "door" and not front.is_open and (not front.is_locked or has_key):
                acts.append(f"open the {front.color} door")
        return acts

    def _execute(self, action: str) -> tuple[bool, bool, str]:
        u = self._u
        before = (tuple(u.agent_pos), u.agent_dir, u.carrying is not None)
        code = {"turn left": LEFT, "turn right": RIGHT, "move forward": FORWARD}.get(action)
        if code is None:
            code = PICKUP if action.startswith("pick up") else TOGGLE
        _, _, terminated, _, _ = self._env.step(code)
        self._done = self._done or bool(terminated)
        after = (tuple(u.agent_pos), u.agent_dir, u.carrying is not None)
        changed = before != after or code == TOGGLE
        return True, changed, f"You {action}."

    def _success(self) -> bool:
        u = self._u
        c = u.grid.get(int(u.agent_pos[0]), int(u.agent_pos[1]))
        return c is not None and c.type == "goal"

    def _optimal_steps(self) -> int | None:
        return self._optimal

    def _goal_progress(self) -> float | None:
        """1 at the goal, falling with the distance to it that the text reports."""
        u = self._u
        ax, ay = int(u.agent_pos[0]), int(u.agent_pos[1])
        goals = [
            abs(x - ax) + abs(y - ay)
            for x in range(u.width)
            for y in range(u.height)
            if (c := u.grid.get(x, y)) is not None and c.type == "goal"
        ]
        if not goals:
            return None
        return float(1.0 - min(goals) / max(1, int(u.width) + int(u.height) - 4))

    def clone(self) -> GridEnv:
        """An independent copy in the same state (for lookahead)."""
        twin = copy.copy(self)
        twin._env = copy.deepcopy(self._env)
        return twin

    def close(self) -> None:
        self._env.close()

    def good_actions(self) -> set[str]:
        """The admissible actions that start a shortest path from the current state."""
        here = self._bfs()
        good = set()
        for a in self._admissible():
            twin = self.clone()
            twin._execute(a)
            if twin._bfs() == here - 1:
                good.add(a)
        return good

    def solve(self) -> list[str]:
        """A shortest action sequence from the current state (for tests and oracle labels)."""
        best: list[str] | None = None
        frontier: collections.deque[tuple[GridEnv, list[str]]] = collections.deque(
            [(self.clone(), [])]
        )
        seen: set[Any] = set()
        while frontier:
            env, path = frontier.popleft()
            if env._success():
                best = path
                break
            u = env._u
            key = (
                tuple(u.agent_pos),
                u.agent_dir,
                u.carrying is not None,
                tuple(np.asarray(u.grid.encode()).ravel().tolist()),
            )
            if key in seen:
                continue
            seen.add(key)
            for a in env._admissible():
                twin = env.clone()
                twin._execute(a)
                frontier.append((twin, [*path, a]))
        if best is None:
            raise DataError(f"no path to the goal in {self.task_id}")
        return best


@attrs.define
class GridSuite:
    """MiniGrid navigation levels; ``train`` seeds, held-out ``test`` seeds and ``test_levels``."""

    data: str | os.PathLike[str] | None = None  # MiniGrid needs no data folder
    name: str = "grid"
    splits: tuple[str, ...] = ("train", "test", "test_levels")
    default_split: str = "test"

    def _levels(self, split: str) -> tuple[str, ...]:
        return HELD_OUT_LEVELS if split == "test_levels" else TRAIN_LEVELS

    def tasks(self, split: str | None = None) -> list[Task]:
        split = check_split(self, split)
        return [
            Task(suite=self.name, task_id=f"{lvl}/{s}", split=split, difficulty=lvl)
            for s in _SEEDS[split]
            for lvl in self._levels(split)
        ]

    def make(self, task_id: str, split: str | None = None, **options: Any) -> GridEnv:
        split = check_split(self, split)
        level, _, seed_text = task_id.partition("/")
        try:
            seed = int(seed_text) if seed_text else _SEEDS[split][0]
        except ValueError as exc:
            raise ConfigError(f"grid task ids look like 'DoorKey-5x5/3', got {task_id!r}") from exc
        return GridEnv(level, seed, task_id=f"{level}/{seed}", **options)
