"""A small STRIPS reader and simulator for PDDL domains and problems (own code, no GPL).

Supports STRIPS, as PlanBench's domains use it: untyped parameters, conjunctive positive
preconditions, add and delete effects, a conjunctive goal. Anything else (types, negative or
disjunctive conditions, conditional effects) is a :class:`DataError` naming the file.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Union

import attrs

from aip_sdk.errors import DataError

__all__ = ["Atom", "Domain", "GroundAction", "Operator", "Problem", "parse_domain", "parse_problem"]

Atom = tuple[str, ...]
SExpr = Union[str, list["SExpr"]]  # noqa: UP007 - a recursive alias needs Union on 3.10


def _tokens(text: str) -> Iterator[str]:
    for line in text.splitlines():
        line = line.split(";", 1)[0]
        yield from line.replace("(", " ( ").replace(")", " ) ").split()


def parse_sexpr(text: str, *, source: str = "<string>") -> SExpr:
    """Parse one s-expression; raise :class:`DataError` naming ``source`` when malformed."""
    stack: list[list[SExpr]] = [[]]
    for tok in _tokens(text):
        if tok == "(":
            stack.append([])
        elif tok == ")":
            if len(stack) == 1:
                raise DataError(f"{source}: unbalanced ')' in PDDL; check the parentheses")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(tok.lower())
    if len(stack) != 1:
        raise DataError(f"{source}: {len(stack) - 1} unclosed '(' in PDDL; check the parentheses")
    if len(stack[0]) != 1 or not isinstance(stack[0][0], list):
        raise DataError(f"{source}: expected one (define ...) form")
    return stack[0][0]


def _atoms(expr: SExpr, source: str) -> tuple[list[Atom], list[Atom]]:
    """Split a conjunction into positive and negated atoms."""
    if not isinstance(expr, list) or not expr:
        return [], []
    if expr[0] == "and":
        pos: list[Atom] = []
        neg: list[Atom] = []
        for sub in expr[1:]:
            p, n = _atoms(sub, source)
            pos += p
            neg += n
        return pos, neg
    if expr[0] == "not":
        p, _ = _atoms(expr[1], source)
        return [], p
    if not all(isinstance(x, str) for x in expr):
        raise DataError(f"{source}: unsupported PDDL expression {expr!r}")
    return [tuple(str(x) for x in expr)], []


@attrs.frozen
class Operator:
    name: str
    params: tuple[str, ...]
    pre: tuple[Atom, ...]
    add: tuple[Atom, ...]
    delete: tuple[Atom, ...]


@attrs.frozen
class GroundAction:
    name: str
    args: tuple[str, ...]
    pre: frozenset[Atom]
    add: frozenset[Atom]
    delete: frozenset[Atom]

    def applicable(self, state: frozenset[Atom]) -> bool:
        return self.pre <= state

    def apply(self, state: frozenset[Atom]) -> frozenset[Atom]:
        return (state - self.delete) | self.add


@attrs.frozen
class Domain:
    name: str
    operators: tuple[Operator, ...]

    def ground(self, objects: tuple[str, ...]) -> list[GroundAction]:
        """Every ground action over ``objects`` (distinct arguments)."""
        out = []
        for op in self.operators:
            for args in itertools.permutations(objects, len(op.params)):
                sub = dict(zip(op.params, args))

                def g(atoms: tuple[Atom, ...], sub: dict[str, str] = sub) -> frozenset[Atom]:
                    return frozenset(tuple(sub.get(t, t) for t in a) for a in atoms)

                out.append(GroundAction(op.name, args, g(op.pre), g(op.add), g(op.delete)))
        return out


@attrs.frozen
class Problem:
    name: str
    objects: tuple[str, ...]
    init: frozenset[Atom]
    goal: frozenset[Atom]


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except UnicodeDecodeError as exc:
        raise DataError(f"PDDL file {str(path)!r} is not text ({exc}); pass a .pddl file") from exc
    except OSError as exc:
        raise DataError(f"cannot read PDDL file {str(path)!r}: {exc}") from exc


def _name(part: list[SExpr], what: str, src: str) -> str:
    if len(part) < 2 or not isinstance(part[1], str):
        raise DataError(f"{src}: ({what} ...) has no name; write ({what} NAME)")
    return part[1]


def parse_domain(path: Path) -> Domain:
    """Read a STRIPS domain file."""
    src = str(path)
    expr = parse_sexpr(_read(path), source=src)
    if not isinstance(expr, list) or expr[:1] != ["define"]:
        raise DataError(f"{src}: a domain file must start with (define (domain ...))")
    name = ""
    ops = []
    for part in expr[1:]:
        if not isinstance(part, list) or not part:
            continue
        head = part[0]
        if head == "domain":
            name = _name(part, "domain", src)
        elif head == ":requirements":
            other = [str(r) for r in part[1:] if r != ":strips"]
            if other:
                raise DataError(
                    f"{src}: requirements {' '.join(other)} are not supported; only STRIPS "
                    f"domains (:strips) can be played"
                )
        elif head == ":types":
            raise DataError(f"{src}: typed domains are not supported; only STRIPS")
        elif head == ":action":
            if len(part) < 2 or not isinstance(part[1], str):
                raise DataError(f"{src}: an :action has no name")
            fields = {str(part[i]): part[i + 1] for i in range(2, len(part) - 1, 2)}
            params = fields.get(":parameters", [])
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                raise DataError(f"{src}: action {part[1]!r} has malformed :parameters")
            if "-" in params:
                raise DataError(
                    f"{src}: action {part[1]!r} has typed parameters; only STRIPS is supported"
                )
            pre, negated = _atoms(fields.get(":precondition", []), src)
            if negated:
                raise DataError(
                    f"{src}: action {part[1]!r} has negative preconditions; only STRIPS is "
                    f"supported"
                )
            add, delete = _atoms(fields.get(":effect", []), src)
            ops.append(
                Operator(
                    str(part[1]),
                    tuple(str(p) for p in params),
                    tuple(pre),
                    tuple(add),
                    tuple(delete),
                )
            )
    if not ops:
        raise DataError(f"{src}: the domain defines no :action")
    return Domain(name, tuple(ops))


def parse_problem(path: Path) -> Problem:
    """Read a STRIPS problem file."""
    src = str(path)
    expr = parse_sexpr(_read(path), source=src)
    if not isinstance(expr, list) or expr[:1] != ["define"]:
        raise DataError(f"{src}: a problem file must start with (define (problem ...))")
    name = ""
    objects: tuple[str, ...] = ()
    init: frozenset[Atom] = frozenset()
    goal: frozenset[Atom] = frozenset()
    seen = set()
    for part in expr[1:]:
        if not isinstance(part, list) or not part:
            continue
        head = part[0]
        seen.add(head)
        if head == "problem":
            name = _name(part, "problem", src)
        elif head == ":objects":
            objects = tuple(str(o) for o in part[1:])
        elif head == ":init":
            atoms: list[Atom] = []
            for a in part[1:]:
                atoms += _atoms(a, src)[0]
            init = frozenset(atoms)
        elif head == ":goal":
            pos, negated = _atoms(part[1], src) if len(part) > 1 else ([], [])
            if negated:
                raise DataError(f"{src}: the goal has negative conditions; only STRIPS")
            goal = frozenset(pos)
    for needed in (":objects", ":init", ":goal"):
        if needed not in seen:
            raise DataError(f"{src}: the problem has no {needed} section")
    return Problem(name, objects, init, goal)
