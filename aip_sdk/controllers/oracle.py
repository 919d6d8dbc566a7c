"""The oracle: the least compute that would have produced a good action at each step.

It is not a deployable strategy but the bound the others are measured against. It reads the
step's good-action labels (those on an optimal path: ``env.good_actions()``) and, through the
:class:`~aip_sdk.controllers.base.StepView`'s hindsight ``trial``, carries decisions out from the
cheapest to the dearest until one chooses a good action; that decision is the step's. If none
does, it takes the cheapest: every allotment fails that step alike.

Its counted cost is the chosen decision's alone, as if it had been the only one carried out: the
prompt once, plus that decision's candidates, probe or rollouts. The trials of the cheaper
decisions it rejected are hindsight and are not counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from aip_sdk.controllers.base import StepView
from aip_sdk.decision import Decision
from aip_sdk.errors import ConfigError

__all__ = ["ORACLE_TABLE", "OracleController"]

# Cheapest first: the probe's top action, then samples (at each k the majority, the weighted
# vote and peek, which cost the same: peek makes no model call), then lookahead over 4 samples.
ORACLE_TABLE: tuple[Decision, ...] = (
    Decision(k=0),
    Decision(k=1),
    Decision(k=2),
    Decision(k=2, vote="weighted"),
    Decision(k=2, peek=1),
    Decision(k=4),
    Decision(k=4, vote="weighted"),
    Decision(k=4, peek=1),
    Decision(k=8),
    Decision(k=8, vote="weighted"),
    Decision(k=8, peek=1),
    Decision(k=4, lookahead=1),
    Decision(k=4, lookahead=2),
)


@attrs.define
class OracleController:
    """Pick, with hindsight from good-action labels, the cheapest decision that works.

    Args:
        table: the decisions tried, cheapest first (default :data:`ORACLE_TABLE`; peek and
            lookahead decisions are skipped where the environment cannot be copied).
    """

    table: tuple[Decision, ...] = ORACLE_TABLE
    name: str = attrs.field(default="oracle", init=False)
    needs_probe: bool = attrs.field(default=True, init=False)
    needs_copy: bool = attrs.field(default=False, init=False)
    needs_labels: bool = attrs.field(default=True, init=False)
    bound: bool = attrs.field(default=True, init=False)

    @property
    def spec(self) -> str:
        return "oracle"

    def decide(self, view: StepView) -> Decision:
        if view.labels is None or view.trial is None:
            raise ConfigError(
                "the oracle needs the good actions of each step; use an environment with "
                "good_actions() (blocksworld, grid, alfworld, miniwob) or pass good_actions="
            )
        copyable = view.context is not None and view.context.copyable
        for d in self.table:
            if d.looks_ahead and not copyable:
                continue
            if view.trial(d).action in view.labels:
                return d
        return self.table[0]

    def more(self, answers: Sequence[str]) -> int:
        return 0
