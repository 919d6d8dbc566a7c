"""PlanBench Blocksworld: the PlanBench instances, their NL phrasing, own STRIPS simulation.

Splits: ``basic_3`` (100 three-block problems), ``basic`` (500 problems with 4 or 5 blocks) and
``generated`` (a seeded random N-block generator, task id = seed, optimal length by BFS). The
admissible actions are the ground actions applicable in the current state, phrased as PlanBench
phrases them ("unstack the red block from on top of the blue block").
"""

from __future__ import annotations

import collections
import copy
import json
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from aip_sdk.envs.pddl import Atom, Domain, GroundAction, Problem
from aip_sdk.envs.planbench import PddlEnv, PddlSuite, Phrasing
from aip_sdk.envs.suite import Task, check_split
from aip_sdk.errors import ConfigError, DataError

__all__ = ["BlocksworldEnv", "BlocksworldSuite", "optimal_plan_length", "random_problem"]

_SPLITS = {
    "basic_3": ("generated_basic_3", "blocksworld_3"),
    "basic": ("generated_basic", "blocksworld"),
}

# Blocksworld states have always listed the hand first: kept, so prompts stay as they were.
_STATE_ORDER = ("handempty", "holding", "clear", "on", "ontable")

_REASONS = {
    "clear": "the {0} is not clear",
    "ontable": "the {0} is not on the table",
    "handempty": "the hand is not empty",
    "holding": "the hand is not holding the {0}",
    "on": "the {0} is not on top of the {1}",
}


def optimal_plan_length(domain: Domain, problem: Problem, *, limit: int = 200_000) -> int:
    """Length of a shortest plan, by breadth-first search over states."""
    return distance_to_goal(domain.ground(problem.objects), problem.init, problem, limit=limit)


def distance_to_goal(
    actions: list[GroundAction], start: frozenset[Atom], problem: Problem, *, limit: int = 200_000
) -> int:
    """Steps of a shortest plan from ``start`` to the goal of ``problem``."""
    if problem.goal <= start:
        return 0
    seen = {start}
    frontier = collections.deque([(start, 0)])
    while frontier:
        state, d = frontier.popleft()
        for a in actions:
            if a.applicable(state):
                nxt = a.apply(state)
                if nxt in seen:
                    continue
                if problem.goal <= nxt:
                    return d + 1
                seen.add(nxt)
                if len(seen) > limit:
                    raise DataError(f"problem {problem.name!r} is too large for BFS")
                frontier.append((nxt, d + 1))
    raise DataError(f"problem {problem.name!r} has no plan")


def _stacks_state(stacks: list[list[str]]) -> set[Atom]:
    atoms: set[Atom] = {("handempty",)}
    for s in stacks:
        atoms.add(("ontable", s[0]))
        for lo, hi in zip(s, s[1:]):
            atoms.add(("on", hi, lo))
        atoms.add(("clear", s[-1]))
    return atoms


def _random_stacks(blocks: list[str], rng: random.Random) -> list[list[str]]:
    order = blocks[:]
    rng.shuffle(order)
    stacks: list[list[str]] = []
    for b in order:
        if stacks and rng.random() < 0.5:
            rng.choice(stacks).append(b)
        else:
            stacks.append([b])
    return stacks


def random_problem(seed: int, n_blocks: int | None = None) -> Problem:
    """A seeded random Blocksworld problem with 3-5 blocks (goal: the ``on`` facts of a random
    configuration, as PlanBench's goals are)."""
    rng = random.Random(seed)
    n = n_blocks or 3 + seed % 3
    blocks = list("abcdefghijkl"[:n])
    while True:
        init = frozenset(_stacks_state(_random_stacks(blocks, rng)))
        goal = frozenset(a for a in _stacks_state(_random_stacks(blocks, rng)) if a[0] == "on")
        if goal and not goal <= init:
            return Problem(f"generated-{seed}", tuple(blocks), init, goal)


class BlocksworldEnv(PddlEnv):
    """One Blocksworld problem as a text environment (supports :meth:`clone` for lookahead);
    a rejected action is explained in Blocksworld's own words."""

    def _reasons(self, missing: Sequence[Atom]) -> list[str]:
        return [_REASONS[m[0]].format(*(self.phrasing.obj(x) for x in m[1:])) for m in missing]

    def clone(self) -> BlocksworldEnv:
        """An independent copy in the same state (for lookahead)."""
        return copy.copy(self)


@attrs.define
class BlocksworldSuite(PddlSuite):
    """The Blocksworld suite over a PlanBench folder (``instances/``, ``configs/``,
    ``prompts/``): PlanBench's 3-block and 4-5-block sets and a seeded generator."""

    domain: str = "blocksworld"
    data: str | os.PathLike[str] | None = None
    default_split: str = "basic"
    generated_count: int = 1000

    @property
    def name(self) -> str:
        return f"blocksworld{self._progress_tag}"

    @property
    def splits(self) -> tuple[str, ...]:
        return ("basic", "basic_3", "generated")

    def _load_phrasing(self, split: str) -> Phrasing:
        cfg = "blocksworld_3" if split == "basic_3" else "blocksworld"
        return Phrasing.load(self.root / "configs" / f"{cfg}.yaml", order=_STATE_ORDER)

    def _read_plans(self, split: str) -> dict[str, str]:
        path = self.root / "prompts" / _SPLITS[split][1] / "task_1_plan_generation.json"
        try:
            data = json.loads(path.read_text())
            return {str(i["instance_id"]): i["ground_truth_plan"] for i in data["instances"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"PlanBench prompt file {str(path)!r} is unreadable: {exc}") from exc

    def _instance_dir(self, split: str) -> Path:
        return self.root / "instances" / "blocksworld" / _SPLITS[split][0]

    def tasks(self, split: str | None = None) -> list[Task]:
        split = check_split(self, split)
        if split == "generated":
            return [
                Task(suite=self.name, task_id=str(i), split=split, difficulty=f"{3 + i % 3}-blocks")
                for i in range(self.generated_count)
            ]
        return super().tasks(split)

    def make(self, task_id: str, split: str | None = None, **options: Any) -> BlocksworldEnv:
        """Build the environment of one task.

        Raises:
            ConfigError: no such task in the split.
            DataError: the instance file is malformed.
        """
        split = check_split(self, split)
        if split == "generated":
            try:
                seed = int(task_id)
            except ValueError as exc:
                raise ConfigError(
                    f"generated blocksworld task ids are integers, got {task_id!r}"
                ) from exc
            problem = random_problem(seed)
            return BlocksworldEnv(
                self.pddl_domain,
                problem,
                self.phrasing(split),
                task_id=task_id,
                **{"progress": self.progress, **options},
            )
        path = self._instance_dir(split) / f"instance-{task_id}.pddl"
        if not path.is_file():
            raise ConfigError(
                f"blocksworld split {split!r} has no instance {task_id!r} (no file {str(path)!r})"
            )
        problem = self._problem(path)
        optimal = len(self.ground_truth_plan(task_id, split))
        return BlocksworldEnv(
            self.pddl_domain,
            problem,
            self.phrasing(split),
            optimal_steps=optimal,
            task_id=task_id,
            **{"progress": self.progress, **options},
        )
