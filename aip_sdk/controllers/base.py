"""The controller interface: one-shot allocation plus an optional sequential stopping rule.

Controllers read what they declare, through one door: the :class:`StepView` the Planner builds
before each step holds the features (``needs_probe``), the good-action labels and a hindsight
``trial`` (``needs_labels``: only bounds such as the oracle, never a deployable strategy).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

from aip_sdk.decision import Decision
from aip_sdk.features import Features

if TYPE_CHECKING:
    from aip_sdk.context import StepContext
    from aip_sdk.records import StepRecord

__all__ = ["Controller", "StepView", "rates_first", "top_two"]


@attrs.frozen(kw_only=True)
class StepView:
    """What a controller may read before it decides a step.

    Attributes:
        features: the step's features (``None`` unless the controller ``needs_probe``).
        context: the episode's step context (``None`` outside an episode).
        labels: the good actions of the step (``None`` unless the controller
            ``needs_labels``).
        trial: carries a decision out at this step in hindsight and returns its record, for a
            bound that picks the cheapest decision that works (``None`` unless
            ``needs_labels``). A trial's compute is not counted unless its decision is chosen.
    """

    features: Features | None = None
    context: StepContext | None = None
    labels: frozenset[str] | None = None
    trial: Callable[[Decision], StepRecord] | None = None


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
        needs_copy: some decision looks ahead and cannot do without, so the environment must
            be copyable.
        needs_labels: the controller reads the good-action labels (a bound, not deployable).
        bound: the strategy is a bound measured against, not a strategy to deploy (reports
            draw it apart).

    Optional: a controller with ``rates_first = True`` is asked only where the environment's
    own rating cannot choose. Where the environment can be copied, the Planner peeks at every
    admissible action first and takes a lone best with no model call (no probe, no
    ``decide``); where the rating ties, the controller decides as usual and its decision
    orders only the tied actions (see :func:`rates_first`).
    """

    name: str

    @property
    def needs_probe(self) -> bool: ...

    @property
    def needs_copy(self) -> bool: ...

    @property
    def needs_labels(self) -> bool: ...

    @property
    def bound(self) -> bool: ...

    @property
    def spec(self) -> str: ...

    def decide(self, view: StepView) -> Decision: ...

    def more(self, answers: Sequence[str]) -> int: ...


def rates_first(controller: Controller) -> bool:
    """Whether the Planner rates every action in a copy before it asks ``controller`` (the
    optional ``rates_first`` attribute; controllers without it are asked at every step)."""
    return bool(getattr(controller, "rates_first", False))


def top_two(votes: Counter[str]) -> tuple[int, int]:
    """Counts of the most and second most voted answers (0 where absent)."""
    common = votes.most_common(2)
    v1 = common[0][1] if common else 0
    v2 = common[1][1] if len(common) > 1 else 0
    return v1, v2
