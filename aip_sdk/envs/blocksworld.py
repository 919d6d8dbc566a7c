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
from functools import cached_property
from pathlib import Path
from typing import Any

import attrs
import yaml

from aip_sdk.envs.base import TextEnvBase
from aip_sdk.envs.data import resolve_data_dir
from aip_sdk.envs.pddl import Atom, Domain, GroundAction, Problem, parse_domain, parse_problem
from aip_sdk.envs.suite import Task, check_split
from aip_sdk.errors import ConfigError, DataError

__all__ = ["BlocksworldEnv", "BlocksworldSuite", "optimal_plan_length", "random_problem"]

_SPLITS = {
    "basic_3": ("generated_basic_3", "blocksworld_3"),
    "basic": ("generated_basic", "blocksworld"),
}

_REASONS = {
    "clear": "the {0} is not clear",
    "ontable": "the {0} is not on the table",
    "handempty": "the hand is not empty",
    "holding": "the hand is not holding the {0}",
    "on": "the {0} is not on top of the {1}",
}


@attrs.frozen
class Phrasing:
    """PlanBench's natural-language templates (from its config YAML)."""

    actions: dict[str, str]
    predicates: dict[str, str]
    objects: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> Phrasing:
        try:
            cfg = yaml.safe_load(path.read_text())
            return cls(dict(cfg["actions"]), dict(cfg["predicates"]), dict(cfg["encoded_objects"]))
        except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
            raise DataError(
                f"PlanBench config {str(path)!r} is unreadable or incomplete: {exc}"
            ) from exc

    def action(self, a: GroundAction) -> str:
        return self.actions[a.name].format(*(self.objects[x] for x in a.args))

    def atom(self, atom: Atom) -> str:
        return self.predicates[atom[0]].format(*(self.objects[x] for x in atom[1:]))

    def state(self, atoms: frozenset[Atom]) -> str:
        order = {"handempty": 0, "holding": 1, "clear": 2, "on": 3, "ontable": 4}
        parts = [self.atom(a) for a in sorted(atoms, key=lambda a: (order.get(a[0], 9), a))]
        return ", ".join(parts)


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


class BlocksworldEnv(TextEnvBase):
    """One Blocksworld problem as a text environment (supports :meth:`clone` for lookahead)."""

    def __init__(
        self,
        domain: Domain,
        problem: Problem,
        phrasing: Phrasing,
        *,
        optimal_steps: int | None = None,
        max_steps: int | None = None,
        task_id: str = "",
    ) -> None:
        self.domain = domain
        self.problem = problem
        self.phrasing = phrasing
        self.task_id = task_id
        self._optimal = (
            optimal_steps if optimal_steps is not None else optimal_plan_length(domain, problem)
        )
        super().__init__(max_steps=max_steps or max(20, 3 * self._optimal))
        self._state = problem.init

    @cached_property
    def _ground(self) -> list[GroundAction]:
        return self.domain.ground(self.problem.objects)

    @cached_property
    def _by_text(self) -> dict[str, GroundAction]:
        return {self.phrasing.action(a): a for a in self._ground}

    def _reset_task(self, seed: int | None, options: dict[str, Any] | None) -> None:
        self._state = self.problem.init

    def _state_text(self) -> str:
        return "As current conditions I have that, " + self.phrasing.state(self._state) + "."

    def _goal_text(self) -> str:
        return (
            "have that "
            + " and ".join(self.phrasing.atom(a) for a in sorted(self.problem.goal))
            + "."
        )

    def _admissible(self) -> list[str]:
        return [self.phrasing.action(a) for a in self._ground if a.applicable(self._state)]

    def _execute(self, action: str) -> tuple[bool, bool, str]:
        ground = self._by_text[action]
        before = self._state
        self._state = ground.apply(self._state)
        return True, self._state != before, f"You {action}."

    def _explain(self, action: str) -> str:
        ground = self._by_text.get(action)
        if ground is None:
            return super()._explain(action)
        missing = sorted(ground.pre - self._state)
        reasons = [
            _REASONS[m[0]].format(*(self.phrasing.objects[x] for x in m[1:])) for m in missing
        ]
        return f"Cannot {action}: {' and '.join(reasons)}."

    def _success(self) -> bool:
        return self.problem.goal <= self._state

    def _optimal_steps(self) -> int | None:
        return self._optimal

    def _goal_progress(self) -> float | None:
        goal = self.problem.goal
        return len(goal & self._state) / len(goal) if goal else 1.0

    def good_actions(self) -> set[str]:
        """The admissible actions that start a shortest plan from the current state."""
        here = distance_to_goal(self._ground, self._state, self.problem)
        good = set()
        for a in self._ground:
            if a.applicable(self._state):
                nxt = a.apply(self._state)
                if distance_to_goal(self._ground, nxt, self.problem) == here - 1:
                    good.add(self.phrasing.action(a))
        return good

    @property
    def state(self) -> frozenset[Atom]:
        return self._state

    def clone(self) -> BlocksworldEnv:
        """An independent copy in the same state (for lookahead)."""
        return copy.copy(self)


@attrs.define
class BlocksworldSuite:
    """The Blocksworld suite over a PlanBench folder (``instances/``, ``configs/``,
    ``prompts/``)."""

    data: str | os.PathLike[str] | None = None
    name: str = "blocksworld"
    splits: tuple[str, ...] = ("basic", "basic_3", "generated")
    default_split: str = "basic"
    generated_count: int = 1000

    @cached_property
    def root(self) -> Path:
        return resolve_data_dir("planbench", self.data)

    @cached_property
    def domain(self) -> Domain:
        return parse_domain(self.root / "instances" / "blocksworld" / "generated_domain.pddl")

    def phrasing(self, split: str) -> Phrasing:
        cfg = "blocksworld_3" if split == "basic_3" else "blocksworld"
        return Phrasing.load(self.root / "configs" / f"{cfg}.yaml")

    def _plans(self, split: str) -> dict[str, str]:
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
        plans = self._plans(split)
        out = []
        for path in self._instance_dir(split).glob("instance-*.pddl"):
            tid = path.stem.split("-", 1)[1]
            if tid not in plans:  # PlanBench publishes no plan for a few instances
                continue
            length = len([ln for ln in plans.get(tid, "").splitlines() if ln.strip()])
            out.append(Task(suite=self.name, task_id=tid, split=split, difficulty=f"opt-{length}"))
        return sorted(out, key=lambda t: int(t.task_id))

    def ground_truth_plan(self, task_id: str, split: str | None = None) -> list[str]:
        """PlanBench's optimal plan for an instance, as admissible-action strings."""
        split = check_split(self, split)
        phr = self.phrasing(split)
        colour = {v.split()[0]: k for k, v in phr.objects.items()}
        plan = self._plans(split).get(task_id)
        if plan is None:
            raise DataError(
                f"PlanBench has no ground-truth plan for instance {task_id!r} ({split})"
            )
        steps = []
        for line in plan.splitlines():
            parts = line.strip().strip("()").split()
            if parts:
                args = tuple(colour[p] for p in parts[1:])
                steps.append(phr.actions[parts[0]].format(*(phr.objects[a] for a in args)))
        return steps

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
                self.domain, problem, self.phrasing(split), task_id=task_id, **options
            )
        path = self._instance_dir(split) / f"instance-{task_id}.pddl"
        if not path.is_file():
            raise ConfigError(
                f"blocksworld split {split!r} has no instance {task_id!r} (no file {str(path)!r})"
            )
        problem = parse_problem(path)
        optimal = len(self.ground_truth_plan(task_id, split))
        return BlocksworldEnv(
            self.domain,
            problem,
            self.phrasing(split),
            optimal_steps=optimal,
            task_id=task_id,
            **options,
        )
