"""The oracle: the least compute that would have produced a good action at each step.

It is not a deployable strategy but the physical limit the others are measured against. At each
step it needs the environment's labels of the good actions (those on an optimal path:
``env.good_actions()``). It draws a pool of candidates per depth and, going through the decisions
from cheapest to dearest, takes the first whose majority vote over its first ``k`` candidates is a
good action; its counted cost is that decision's share of the pool (the shared prompt once, plus
the first ``k`` candidates' own tokens). If no decision yields a good action, it takes the cheapest
one: every allotment fails that step alike.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import attrs

from aip_sdk.decision import DEFAULT_DECISION_TABLE, Decision
from aip_sdk.features import Features
from aip_sdk.records import Candidate

__all__ = ["OracleController", "majority"]


def majority(candidates: Sequence[Candidate]) -> str:
    """The majority action (ties to the higher log-prob), as ``policy.aggregate`` votes."""
    from aip_sdk.policy import aggregate

    return aggregate(candidates)[0]


@attrs.define
class OracleController:
    """Pick, with hindsight from good-action labels, the cheapest decision that works."""

    table: tuple[Decision, ...] = DEFAULT_DECISION_TABLE
    name: str = attrs.field(default="oracle", init=False)
    needs_probe: bool = attrs.field(default=False, init=False)
    needs_copy: bool = attrs.field(default=False, init=False)
    needs_labels: bool = attrs.field(default=True, init=False)

    @property
    def spec(self) -> str:
        return "oracle"

    @property
    def pool_size(self) -> int:
        return max(d.k for d in self.table)

    def ordered(self, budgets: Mapping[int, int]) -> list[Decision]:
        """Decisions from the cheapest to the dearest (k times the per-sample token budget)."""
        return sorted(self.table, key=lambda d: (d.k * (8 + budgets.get(d.depth, 0)), d.depth))

    def decide(self, features: Features | None) -> Decision:
        return self.table[0]

    def more(self, answers: Sequence[str]) -> int:
        return 0

    def choose(
        self,
        pools: Mapping[int, Sequence[Candidate]],
        good: Collection[str],
        order: Sequence[Decision],
    ) -> Decision | None:
        """The first decision in ``order`` whose vote over its pool prefix is good."""
        for d in order:
            pool = pools.get(d.depth)
            if pool is not None and len(pool) >= d.k and majority(pool[: d.k]) in good:
                return d
        return None
