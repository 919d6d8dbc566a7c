"""The controller interface: one-shot allocation plus an optional sequential stopping rule."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from aip_sdk.decision import Decision
from aip_sdk.features import Features

__all__ = ["Controller", "top_two"]


@runtime_checkable
class Controller(Protocol):
    """Decides how much compute a step gets.

    ``decide`` runs once per step, before any sample, and returns the first allotment (for a
    one-shot rule, the whole allotment). ``more`` runs after each batch of samples with every
    answer drawn so far, in order, and returns how many more to draw (0 = stop); one-shot rules
    always return 0.

    Attributes:
        name: the strategy's short name (``fixed``, ``sc``, ``ac``, ...).
        spec: the spec string that rebuilds this controller.
        needs_probe: the controller reads features (or acts on the probe's top action), so the
            Planner must run the probe.
        needs_copy: some decision looks ahead, so the environment must be copyable.
    """

    name: str

    @property
    def needs_probe(self) -> bool: ...

    @property
    def needs_copy(self) -> bool: ...

    @property
    def spec(self) -> str: ...

    def decide(self, features: Features | None) -> Decision: ...

    def more(self, answers: Sequence[str]) -> int: ...


def top_two(votes: Counter[str]) -> tuple[int, int]:
    """Counts of the most and second most voted answers (0 where absent)."""
    common = votes.most_common(2)
    v1 = common[0][1] if common else 0
    v2 = common[1][1] if len(common) > 1 else 0
    return v1, v2
