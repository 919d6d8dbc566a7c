"""Any PlanBench-style PDDL domain as a suite: its instances, its phrasing, our STRIPS simulation.

A PlanBench data root holds, for a domain NAME:

* ``configs/NAME.yaml``: the natural-language phrasing (``actions``, ``predicates``,
  ``encoded_objects``) and ``instance_dir`` / ``domain_file`` under ``instances/``;
* ``instances/NAME/generated_domain.pddl`` and ``instances/<instance_dir>/instance-N.pddl``;
* ``prompts/NAME/task_1_plan_generation.json``: the optimal plans (``ground_truth_plan``).

``PddlSuite(domain="logistics")`` (``--suite pddl --domain logistics``) plays such a domain: the
admissible actions are the ground actions applicable in the current state, phrased as PlanBench
phrases them ("load package_0 into truck_1 at location_1_0"); the state and goal are phrased from
the predicates (type predicates phrased "" are left out); success is the goal reached; the
optimum is the ground-truth plan's length; the good actions of a state are the first actions of
its shortest plans (breadth-first search); goal progress is the relaxed (FF) distance's
(``progress="relaxed"``, the default) or, for ablations, the share of goal atoms met
(``progress="goals"``, the measure before the relaxed distance). Only STRIPS is supported:
untyped parameters, conjunctive positive preconditions, add and delete effects, a conjunctive
goal; anything else is a :class:`~aip_sdk.errors.DataError` naming the file.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import attrs
import yaml

from aip_sdk.envs.base import TextEnvBase
from aip_sdk.envs.data import resolve_data_dir
from aip_sdk.envs.pddl import Atom, Domain, GroundAction, Problem, parse_domain, parse_problem
from aip_sdk.envs.relaxed import relaxed_plan_length
from aip_sdk.envs.suite import Task, check_split
from aip_sdk.errors import ConfigError, DataError

__all__ = ["SHORT_PLAN", "PddlEnv", "PddlSuite", "Phrasing", "good_first_actions"]

BFS_LIMIT = 300_000


@attrs.frozen
class Phrasing:
    """PlanBench's natural-language templates (from a domain's config YAML).

    Attributes:
        actions: operator -> template with one ``{}`` per parameter.
        predicates: predicate -> template (``""``: a type fact, never shown).
        objects: object name, or object-name prefix -> template (``"l": "location_{}_{}"``
            phrases ``l1-0`` as ``location_1_0``).
        source: the config file (named in errors).
        order: predicates in the order a state lists them.
    """

    actions: dict[str, str]
    predicates: dict[str, str]
    objects: dict[str, str]
    source: str = ""
    order: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: Path, *, order: Sequence[str] | None = None) -> Phrasing:
        """Read a PlanBench config.

        Raises:
            DataError: the file is unreadable or lacks ``actions``, ``predicates`` or
                ``encoded_objects``.
        """
        try:
            cfg = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
            raise DataError(f"PlanBench config {str(path)!r} is unreadable: {exc}") from exc
        missing = [
            k
            for k in ("actions", "predicates", "encoded_objects")
            if not isinstance(cfg, dict) or not isinstance(cfg.get(k), dict)
        ]
        if missing:
            raise DataError(
                f"PlanBench config {str(path)!r} lacks {', '.join(missing)}; a domain's config "
                f"must phrase its actions, predicates and objects"
            )
        preds = {str(k).lower(): str(v or "") for k, v in cfg["predicates"].items()}
        return cls(
            {str(k).lower(): str(v) for k, v in cfg["actions"].items()},
            preds,
            {str(k): str(v) for k, v in cfg["encoded_objects"].items()},
            str(path),
            tuple(order) if order is not None else tuple(preds),
        )

    def check(self, domain: Domain, problem: Problem | None = None, source: str = "") -> None:
        """Refuse a domain or problem this phrasing cannot put into words.

        Raises:
            DataError: an action, predicate or object has no phrasing (names the file).
        """
        for op in domain.operators:
            if op.name not in self.actions:
                raise DataError(
                    f"{self.source}: no phrasing for action {op.name!r} of domain "
                    f"{domain.name!r}; add it under 'actions'"
                )
            for atom in (*op.pre, *op.add, *op.delete):
                if atom[0] not in self.predicates:
                    raise DataError(
                        f"{self.source}: no phrasing for predicate {atom[0]!r}; add it under "
                        f"'predicates' (\"\" leaves it unsaid)"
                    )
        if problem is not None:
            for obj in problem.objects:
                try:
                    self.obj(obj)
                except DataError as exc:
                    raise DataError(f"{source}: {exc}") from None

    def obj(self, name: str) -> str:
        if name in self.objects:
            return self.objects[name]
        m = re.fullmatch(r"([a-z_]+?)(\d[\w-]*)", name)
        template = self.objects.get(m.group(1)) if m else None
        if m is None or template is None:
            raise DataError(
                f"object {name!r} has no phrasing in {self.source} (encoded_objects knows "
                f"{', '.join(self.objects)})"
            )
        parts = m.group(2).split("-")
        if template.count("{}") != len(parts):
            raise DataError(f"object {name!r} does not fit the template {template!r}")
        return template.format(*parts)

    def resolve(self, token: str) -> str:
        """The object a plan names: its PDDL name, or (PlanBench's Blocksworld plans) the first
        word of its phrasing ("red" for ``a``, "red block")."""
        if token in self.objects:
            return token
        by_word = {v.split()[0]: k for k, v in self.objects.items() if "{" not in v}
        return by_word.get(token, token)

    def action(self, a: GroundAction) -> str:
        return self.actions[a.name].format(*(self.obj(x) for x in a.args))

    def atom(self, atom: Atom) -> str:
        return self.predicates[atom[0]].format(*(self.obj(x) for x in atom[1:]))

    def state(self, atoms: frozenset[Atom]) -> str:
        rank = {p: i for i, p in enumerate(self.order)}
        shown = [a for a in atoms if self.predicates.get(a[0])]
        return ", ".join(
            self.atom(a) for a in sorted(shown, key=lambda a: (rank.get(a[0], len(rank)), a))
        )


def ground(domain: Domain, problem: Problem) -> list[GroundAction]:
    """The ground actions of ``problem`` whose static preconditions hold (statics: predicates
    no action changes, e.g. ``TRUCK`` or ``in-city``), with distinct arguments."""
    changed = {a[0] for op in domain.operators for a in (*op.add, *op.delete)}
    statics = {a for a in problem.init if a[0] not in changed}
    out: list[GroundAction] = []
    for op in domain.operators:
        cands = []
        for p in op.params:
            unary = [a[0] for a in op.pre if len(a) == 2 and a[1] == p and a[0] not in changed]
            cands.append([o for o in problem.objects if all((u, o) in statics for u in unary)])
        static_pre = [a for a in op.pre if a[0] not in changed]
        for args in itertools.product(*cands):
            if len(set(args)) != len(args):
                continue
            sub = dict(zip(op.params, args))

            def g(atoms: Sequence[Atom], sub: dict[str, str] = sub) -> frozenset[Atom]:
                return frozenset(tuple(sub.get(t, t) for t in a) for a in atoms)

            if not g(static_pre) <= statics:
                continue
            out.append(GroundAction(op.name, tuple(args), g(op.pre), g(op.add), g(op.delete)))
    return out


def good_first_actions(
    actions: Sequence[GroundAction], start: frozenset[Atom], goal: frozenset[Atom]
) -> tuple[int, set[int]]:
    """(length of a shortest plan from ``start``, indices of the actions that begin one).

    One breadth-first search that carries, for every state, the first actions reaching it at
    its depth.

    Raises:
        DataError: no plan, or more than ``BFS_LIMIT`` states.
    """
    if goal <= start:
        return 0, set()
    firsts: dict[frozenset[Atom], set[int]] = {}
    depth: dict[frozenset[Atom], int] = {start: 0}
    frontier = [start]
    d = 0
    while frontier:
        d += 1
        nxt: list[frozenset[Atom]] = []
        found: set[int] = set()
        for state in frontier:
            for i, a in enumerate(actions):
                if not a.applicable(state):
                    continue
                child = a.apply(state)
                via = {i} if d == 1 else firsts[state]
                if goal <= child:
                    found |= via
                    continue
                seen = depth.get(child)
                if seen is None:
                    depth[child] = d
                    firsts[child] = set(via)
                    nxt.append(child)
                elif seen == d:
                    firsts[child] |= via
        if found:
            return d, found
        if len(depth) > BFS_LIMIT:
            raise DataError(f"the problem is too large for breadth-first search ({BFS_LIMIT})")
        frontier = nxt
    raise DataError("the problem has no plan from this state")


class PddlEnv(TextEnvBase):
    """One PDDL problem as a text environment (supports :meth:`clone` for lookahead)."""

    def __init__(
        self,
        domain: Domain,
        problem: Problem,
        phrasing: Phrasing,
        *,
        optimal_steps: int | None = None,
        max_steps: int | None = None,
        task_id: str = "",
        progress: str = "relaxed",
    ) -> None:
        _check_progress(progress)
        self.domain = domain
        self.progress = progress
        self.problem = problem
        self.phrasing = phrasing
        self.task_id = task_id
        self._state = problem.init
        self._labels: dict[frozenset[Atom], tuple[int, set[int]]] = {}
        self._relaxed: dict[frozenset[Atom], int | None] = {}
        self._optimal = optimal_steps if optimal_steps is not None else self._distance()
        super().__init__(max_steps=max_steps or max(20, 3 * self._optimal))

    @cached_property
    def _ground(self) -> list[GroundAction]:
        return ground(self.domain, self.problem)

    @cached_property
    def _by_text(self) -> dict[str, GroundAction]:
        return {self.phrasing.action(a): a for a in self._ground}

    def _search(self) -> tuple[int, set[int]]:
        if self._state not in self._labels:
            self._labels[self._state] = good_first_actions(
                self._ground, self._state, self.problem.goal
            )
        return self._labels[self._state]

    def _distance(self) -> int:
        return self._search()[0]

    def _reset_task(self, seed: int | None, options: dict[str, Any] | None) -> None:
        self._state = self.problem.init

    def _state_text(self) -> str:
        return "As current conditions I have that, " + self.phrasing.state(self._state) + "."

    def _goal_text(self) -> str:
        goal = " and ".join(self.phrasing.atom(a) for a in sorted(self.problem.goal))
        return f"have that {goal}."

    def _admissible(self) -> list[str]:
        return [self.phrasing.action(a) for a in self._ground if a.applicable(self._state)]

    def _execute(self, action: str) -> tuple[bool, bool, str]:
        ground_action = self._by_text[action]
        before = self._state
        self._state = ground_action.apply(self._state)
        return True, self._state != before, f"You {action}."

    def _reasons(self, missing: Sequence[Atom]) -> list[str]:
        """Why preconditions ``missing`` block an action (domains may say it better)."""
        return [f"it needs that {self.phrasing.atom(m)}" for m in missing]

    def _explain(self, action: str) -> str:
        ground_action = self._by_text.get(action)
        if ground_action is None:
            return super()._explain(action)
        missing = sorted(ground_action.pre - self._state)
        return f"Cannot {action}: {' and '.join(self._reasons(missing))}."

    def _success(self) -> bool:
        return self.problem.goal <= self._state

    def _optimal_steps(self) -> int | None:
        return self._optimal

    def _relaxed_distance(self, state: frozenset[Atom]) -> int | None:
        if state not in self._relaxed:
            self._relaxed[state] = relaxed_plan_length(self._ground, state, self.problem.goal)
        return self._relaxed[state]

    def _goal_progress(self) -> float | None:
        """``start / (start + h)`` for the relaxed distance ``h`` (:mod:`aip_sdk.envs.relaxed`)
        and the start state's ``start``: 1 at the goal, 1/2 as far as the start, towards 0
        farther away, so every move that changes the distance changes it; 0 at a dead end.
        With ``progress="goals"``: the share of goal atoms met (flat on most moves)."""
        if self.progress == "goals":
            goal = self.problem.goal
            return len(goal & self._state) / len(goal) if goal else 1.0
        h = self._relaxed_distance(self._state)
        if h is None:
            return 0.0
        start = self._relaxed_distance(self.problem.init) or 1
        return start / (start + h)

    def good_actions(self) -> set[str]:
        """The admissible actions that start a shortest plan from the current state."""
        if self._success():
            return set()
        return {self.phrasing.action(self._ground[i]) for i in self._search()[1]}

    @property
    def state(self) -> frozenset[Atom]:
        return self._state

    def clone(self) -> PddlEnv:
        """An independent copy in the same state (for lookahead); it shares the label and
        relaxed-distance caches."""
        return copy.copy(self)


PROGRESS = ("relaxed", "goals")
"""The goal-progress measures of :class:`PddlEnv` (``progress=``)."""


def _check_progress(progress: object) -> None:
    if progress not in PROGRESS:
        raise ConfigError(
            f"progress={progress!r} is not a PDDL progress measure; choose one of "
            f"{', '.join(PROGRESS)} (e.g. --suite-option progress=goals)"
        )


def _check_objects(problem: Problem, source: str) -> None:
    known = set(problem.objects)
    for atom in (*problem.init, *problem.goal):
        unknown = [x for x in atom[1:] if x not in known]
        if unknown:
            raise DataError(
                f"{source}: the atom ({' '.join(atom)}) names {', '.join(unknown)}, which "
                f":objects does not declare"
            )


SHORT_PLAN = 12
"""The longest optimal plan in a PDDL suite's ``short`` split."""


def _plan_length(plan: str) -> int:
    return len([ln for ln in plan.splitlines() if ln.strip()])


def _in_split(split: str, optimal: int | None) -> bool:
    """Whether an instance with this optimal plan length belongs to ``split``."""
    return split != "short" or (optimal is not None and optimal <= SHORT_PLAN)


@attrs.define
class PddlSuite:
    """A PlanBench domain as a suite.

    Two splits: ``basic``, PlanBench's instance set, and ``short``, its instances whose optimal
    plan has at most :data:`SHORT_PLAN` steps. ``short`` is the horizon of PlanBench's 4-5-block
    Blocksworld set (all but 2 of its 500 plans), where the controllers were trained; use it to
    test a new domain without also testing a longer horizon (Logistics plans run to 48 steps,
    and an episode may take three times its optimal plan's steps).

    Args:
        domain: the domain's name (``configs/<domain>.yaml`` under the data root).
        data: the PlanBench data root (default: ``planbench`` under the data folder).
        progress: the goal-progress measure of its environments (:data:`PROGRESS`); a
            non-default one is part of the suite's name, so its episodes are never mixed with
            (or ``--reuse``-d for) the default's.
    """

    domain: str = "logistics"
    data: str | os.PathLike[str] | None = None
    default_split: str = "basic"
    progress: str = attrs.field(
        default="relaxed", validator=lambda _suite, _field, value: _check_progress(value)
    )
    _phrasings: dict[str, Phrasing] = attrs.field(factory=dict, init=False, repr=False)
    _plan_cache: dict[str, dict[str, str]] = attrs.field(factory=dict, init=False, repr=False)

    @property
    def name(self) -> str:
        return f"pddl:{self.domain}{self._progress_tag}"

    @property
    def _progress_tag(self) -> str:
        return "" if self.progress == PROGRESS[0] else f"[progress={self.progress}]"

    @property
    def splits(self) -> tuple[str, ...]:
        return ("basic", "short")

    @cached_property
    def root(self) -> Path:
        return resolve_data_dir("planbench", self.data)

    @cached_property
    def config(self) -> dict[str, Any]:
        path = self.root / "configs" / f"{self.domain}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in (self.root / "configs").glob("*.yaml"))
            raise ConfigError(
                f"PlanBench has no domain {self.domain!r} under {str(self.root)!r} (no "
                f"{path.name}); choose one of {', '.join(known) or '(none found)'}"
            )
        try:
            cfg = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
            raise DataError(f"PlanBench config {str(path)!r} is unreadable: {exc}") from exc
        if not isinstance(cfg, dict):
            raise DataError(f"PlanBench config {str(path)!r} is not a mapping")
        return cfg

    def phrasing(self, split: str | None = None) -> Phrasing:
        key = split or self.default_split
        if key not in self._phrasings:
            self._phrasings[key] = self._load_phrasing(key)
        return self._phrasings[key]

    def _load_phrasing(self, split: str) -> Phrasing:
        self.config  # noqa: B018 - an unknown domain is a ConfigError listing the known ones
        return Phrasing.load(self.root / "configs" / f"{self.domain}.yaml")

    @cached_property
    def pddl_domain(self) -> Domain:
        rel = self.config.get("domain_file", f"{self.domain}/generated_domain.pddl")
        domain = parse_domain(self.root / "instances" / str(rel))
        self.phrasing().check(domain)
        return domain

    def _instance_dir(self, split: str) -> Path:
        rel = self.config.get("instance_dir", f"{self.domain}/generated_basic")
        return self.root / "instances" / str(rel)

    def _plans(self, split: str) -> dict[str, str]:
        if split not in self._plan_cache:
            self._plan_cache[split] = self._read_plans(split)
        return self._plan_cache[split]

    def _read_plans(self, split: str) -> dict[str, str]:
        self.config  # noqa: B018 - an unknown domain is a ConfigError listing the known ones
        path = self.root / "prompts" / self.domain / "task_1_plan_generation.json"
        try:
            data = json.loads(path.read_text())
            return {str(i["instance_id"]): i["ground_truth_plan"] for i in data["instances"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"PlanBench prompt file {str(path)!r} is unreadable: {exc}") from exc

    def tasks(self, split: str | None = None) -> list[Task]:
        split = check_split(self, split)
        plans = self._plans(split)
        out = []
        for path in self._instance_dir(split).glob("instance-*.pddl"):
            tid = path.stem.split("-", 1)[1]
            if tid not in plans:  # PlanBench publishes no plan for a few instances
                continue
            length = _plan_length(plans[tid])
            if not _in_split(split, length):
                continue
            out.append(Task(suite=self.name, task_id=tid, split=split, difficulty=f"opt-{length}"))
        return sorted(out, key=lambda t: int(t.task_id) if t.task_id.isdigit() else t.task_id)

    def ground_truth_plan(self, task_id: str, split: str | None = None) -> list[str]:
        """PlanBench's optimal plan for an instance, as admissible-action strings."""
        split = check_split(self, split)
        plan = self._plans(split).get(task_id)
        if plan is None:
            raise DataError(
                f"PlanBench has no ground-truth plan for {self.domain} instance {task_id!r}"
            )
        phr = self.phrasing(split)
        ops = {o.name for o in self.pddl_domain.operators}
        steps = []
        for line in plan.splitlines():
            parts = line.strip().strip("()").lower().split()
            if not parts:
                continue
            if parts[0] not in ops:
                raise DataError(f"plan of instance {task_id!r} uses unknown action {parts[0]!r}")
            empty: frozenset[Atom] = frozenset()
            args = tuple(phr.resolve(x) for x in parts[1:])
            steps.append(phr.action(GroundAction(parts[0], args, empty, empty, empty)))
        return steps

    def _problem(self, path: Path) -> Problem:
        problem = parse_problem(path)
        _check_objects(problem, str(path))
        return problem

    def make(self, task_id: str, split: str | None = None, **options: Any) -> PddlEnv:
        """Build the environment of one instance.

        Raises:
            ConfigError: no such instance.
            DataError: the instance or the domain is malformed or not STRIPS-shaped.
        """
        split = check_split(self, split)
        path = self._instance_dir(split) / f"instance-{task_id}.pddl"
        if not path.is_file():
            raise ConfigError(
                f"{self.domain} has no instance {task_id!r} (no file {str(path)!r}); list them "
                f"with 'aip-sdk tasks --suite pddl --domain {self.domain}'"
            )
        problem = self._problem(path)
        phrasing = self.phrasing(split)
        phrasing.check(self.pddl_domain, problem, str(path))
        plans = self._plans(split)
        optimal = _plan_length(plans[task_id]) if task_id in plans else None
        if not _in_split(split, optimal):
            raise ConfigError(
                f"{self.domain} instance {task_id!r} is not in split 'short' (its optimal plan "
                f"has {optimal if optimal is not None else 'no known'} steps, the split at most "
                f"{SHORT_PLAN}); use --split basic, or list the short ones with 'aip-sdk tasks "
                f"--suite pddl --domain {self.domain} --split short'"
            )
        return PddlEnv(
            self.pddl_domain,
            problem,
            phrasing,
            optimal_steps=optimal,
            task_id=task_id,
            **{"progress": self.progress, **options},
        )
