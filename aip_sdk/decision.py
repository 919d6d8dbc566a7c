"""Decisions: how much compute a step gets, and how it is turned into one action.

A :class:`Decision` allots ``k`` samples (0 = take the probe's top action, no sampling) at
reasoning ``depth``, aggregates them by a plain majority or a likelihood-weighted ``vote``, and
may look ``lookahead`` steps ahead in copies of the environment to choose among the distinct
candidates, or only ``peek`` at what each candidate does there (no model call); ``widen`` has
them try every admissible action, the model's candidates first. The decision
table (every decision a learned controller can pick, by index) is data: it is written into a
learned controller's metadata and read back from it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from aip_sdk.errors import ConfigError

__all__ = [
    "DEFAULT_DECISION_TABLE",
    "DEPTHS",
    "KS",
    "MAX_K",
    "MAX_LOOKAHEAD",
    "MODEL_FREE",
    "VOTES",
    "Decision",
    "count_validators",
    "table_from_json",
    "table_to_json",
]

KS = (1, 2, 4, 8, 16)
DEPTHS = (0, 1, 2)
VOTES = ("majority", "weighted")
MAX_K = 64
MAX_DEPTH = 4
MAX_LOOKAHEAD = 8


def count_validators(low: int, high: int) -> list[Any]:
    """Validators of a whole number in [low, high] (``1.5`` or ``True`` are refused)."""

    def whole(_: object, attr: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{attr.name}={value!r} must be a whole number")

    return [whole, attrs.validators.ge(low), attrs.validators.le(high)]


def _check_vote(_: object, __: attrs.Attribute[str], value: str) -> None:
    if value not in VOTES:
        raise ValueError(f"'vote' must be in {VOTES!r} (got {value!r})")


def _check_temperature(_: object, __: attrs.Attribute[float | None], value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 5.0:
        raise ValueError(f"temperature={value!r} must lie in [0, 5]")


@attrs.frozen(kw_only=True)
class Decision:
    """Compute allotted to one step.

    Attributes:
        k: candidates to draw (for a sequential rule, the number actually drawn); 0 takes the
            probe's top action without sampling (the cheapest decision; it needs the probe).
        depth: 0 = choose directly among the admissible actions; 1 = short reasoning first;
            2 = long reasoning first (budgets are the Planner's ``reasoning_budgets``).
        vote: ``majority`` (ties to the higher log-prob) or ``weighted`` (each candidate counts
            its mean token probability, as in Soft Self-Consistency).
        lookahead: ``h`` > 0 tries each distinct candidate in a copy of the environment and
            continues it ``h`` steps with the cheapest policy; the candidate whose continuation
            the environment rates best is taken. Needs an environment that can be copied.
        peek: 1 tries each distinct candidate in a copy of the environment and takes the one
            whose result the environment rates best, with no rollout (a lookahead of horizon
            0: it costs no model call beyond the samples). With ``lookahead=h`` as well it
            peeks first and looks ``h`` steps ahead only among the candidates peek rates
            equally best: compute where peek cannot choose, none where it can.
        widen: 1 has peek or lookahead try every admissible action, not only the drawn
            candidates: the candidates first, in vote order, then the other actions in a
            random order fixed by the step's seed (ties go to the earlier). With peek the
            environment rates every action first, and the candidates are drawn only where its
            rating ties: the model is asked only where the environment cannot choose, and its
            vote orders those ties. ``k=0`` with ``widen`` makes no model call at all: ties go
            to the seeded order (the ``heuristic`` baseline).
        temperature: sampling temperature of the candidates (``None``: the Planner's).
    """

    k: int = attrs.field(validator=count_validators(0, MAX_K))
    depth: int = attrs.field(default=0, validator=count_validators(0, MAX_DEPTH))
    vote: str = attrs.field(default="majority", validator=_check_vote)
    lookahead: int = attrs.field(default=0, validator=count_validators(0, MAX_LOOKAHEAD))
    peek: int = attrs.field(default=0, validator=count_validators(0, 1))
    widen: int = attrs.field(default=0, validator=count_validators(0, 1))
    temperature: float | None = attrs.field(default=None, validator=_check_temperature)

    def __attrs_post_init__(self) -> None:
        if self.widen and not self.looks_ahead:
            raise ValueError(
                "widen=1 widens the actions peek or lookahead tries, so it needs peek=1 or "
                "lookahead=h"
            )
        if self.k == 0 and (self.depth or (self.looks_ahead and not self.model_free)):
            raise ValueError(
                f"k=0 takes the probe's top action, so depth={self.depth}, "
                f"lookahead={self.lookahead} and peek={self.peek} must be 0 (or peek=1,widen=1 "
                f"to let the environment's rating choose among every action, with no model)"
            )

    @property
    def looks_ahead(self) -> bool:
        """The decision tries its candidates in copies of the environment (lookahead or peek)."""
        return bool(self.lookahead or self.peek)

    @property
    def model_free(self) -> bool:
        """The decision makes no model call: the environment's rating of every admissible
        action chooses, ties in the step's seeded order (``k=0,peek=1,widen=1``)."""
        return self.k == 0 and bool(self.widen and self.peek) and not self.lookahead

    @property
    def uses_probe(self) -> bool:
        """The decision acts on the probe (k = 0, unless ``widen`` lets the environment's
        rating choose with no model call)."""
        return self.k == 0 and not self.widen

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON; options at their defaults are left out (older files read the same)."""
        out: dict[str, Any] = {"k": self.k, "depth": self.depth}
        if self.vote != "majority":
            out["vote"] = self.vote
        if self.lookahead:
            out["lookahead"] = self.lookahead
        if self.peek:
            out["peek"] = self.peek
        if self.widen:
            out["widen"] = self.widen
        if self.temperature is not None:
            out["temperature"] = self.temperature
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """Read :meth:`to_dict`'s form (missing options take their defaults).

        Raises:
            ConfigError: a field has a value no decision can take.
        """
        try:
            temp = data.get("temperature")
            return cls(
                k=int(data["k"]),
                depth=int(data.get("depth", 0)),
                vote=str(data.get("vote", "majority")),
                lookahead=int(data.get("lookahead", 0)),
                peek=int(data.get("peek", 0)),
                widen=int(data.get("widen", 0)),
                temperature=None if temp is None else float(temp),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"decision {dict(data)!r} is not valid: {exc}") from exc

    def __str__(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.to_dict().items())


# The decision that makes no model call: the environment's rating of every admissible action
# chooses, ties in the step's seeded order (the ``heuristic`` strategy, and a ``widen`` step
# that drew nothing).
MODEL_FREE = Decision(k=0, peek=1, widen=1)

DEFAULT_DECISION_TABLE: tuple[Decision, ...] = tuple(
    Decision(k=k, depth=d) for d, k in itertools.product(DEPTHS, KS)
)


def table_to_json(table: Sequence[Decision]) -> str:
    """Serialise a decision table (as stored in ONNX metadata)."""
    return json.dumps([d.to_dict() for d in table])


def table_from_json(text: str) -> tuple[Decision, ...]:
    """Parse a decision table written by :func:`table_to_json`.

    Raises:
        ConfigError: the text is not a JSON list of decisions.
    """
    try:
        rows = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"decision table is not valid JSON ({exc}): {text[:80]!r}") from exc
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ConfigError(f"decision table must be a JSON list of objects, got {text[:80]!r}")
    return tuple(Decision.from_dict(r) for r in rows)
