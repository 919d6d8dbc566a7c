"""Decisions: how much compute a step gets.

A :class:`Decision` allots ``k`` samples at reasoning ``depth``. The decision table (every
decision a learned controller can pick, by index) is data: it is written into a learned
controller's metadata and read back from it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence

import attrs

__all__ = ["DEFAULT_DECISION_TABLE", "DEPTHS", "KS", "Decision", "table_from_json", "table_to_json"]

KS = (1, 2, 4, 8, 16)
DEPTHS = (0, 1, 2)


@attrs.frozen(kw_only=True, order=True)
class Decision:
    """Compute allotted to one step.

    Attributes:
        k: candidates to draw (for a sequential rule, the number actually drawn).
        depth: 0 = choose directly among the admissible actions; 1 = short reasoning first;
            2 = long reasoning first (budgets are the Planner's ``reasoning_budgets``).
    """

    k: int = attrs.field(validator=[attrs.validators.ge(1), attrs.validators.le(64)])
    depth: int = attrs.field(default=0, validator=[attrs.validators.ge(0), attrs.validators.le(4)])

    def to_dict(self) -> dict[str, int]:
        return {"k": self.k, "depth": self.depth}


DEFAULT_DECISION_TABLE: tuple[Decision, ...] = tuple(
    Decision(k=k, depth=d) for d, k in itertools.product(DEPTHS, KS)
)


def table_to_json(table: Sequence[Decision]) -> str:
    """Serialise a decision table (as stored in ONNX metadata)."""
    return json.dumps([d.to_dict() for d in table])


def table_from_json(text: str) -> tuple[Decision, ...]:
    """Parse a decision table written by :func:`table_to_json`."""
    return tuple(Decision(k=int(d["k"]), depth=int(d["depth"])) for d in json.loads(text))
