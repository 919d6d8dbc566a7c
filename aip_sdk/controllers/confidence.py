"""Confidence gate in the spirit of DeepConf (Fu et al., 2025).

DeepConf filters or stops reasoning traces by the model's own token log-prob confidence. Here the
confidence is the probe's: the probability the model gives its top admissible action. A confident
step gets the cheap allotment; a step below ``threshold`` is escalated to more samples, deeper
reasoning, a weighted vote or a lookahead in copies of the environment
(``conf:threshold=0.52,low_k=0,high_k=4,high_depth=0,high_lookahead=1``: look ahead only where
the model is unsure).

``loop=1`` escalates also where the episode is going round in circles: the current state was
seen before in the episode (the ``repeats`` feature). A greedy planner that loops repeats its
choice at the same state, so the cheap allotment there is the one that already failed; with
``threshold=0`` the gate escalates only there
(``conf:threshold=0,low_k=0,high_k=4,high_depth=0,high_lookahead=1,loop=1``).

``stall=N`` escalates where the episode has gone ``N`` steps without reaching a new best
``goal_progress`` (how near the goal the environment reports: grid's distance to the goal,
the PDDL suites' relaxed distance); it never fires in a suite that does not report progress.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from aip_sdk.controllers.base import StepView
from aip_sdk.controllers.fixed import options_suffix
from aip_sdk.decision import MAX_DEPTH, MAX_K, Decision, count_validators

__all__ = ["ConfidenceGate"]


@attrs.define
class ConfidenceGate:
    """Escalate from ``low_k`` samples (tried in copies with ``low_peek=1``) to the ``high``
    decision (``high_k``, ``high_depth``, ``high_vote``, ``high_lookahead``, ``high_peek``) when
    the probe's top-1 probability is below ``threshold`` or, with ``loop=1``, when the current
    state was seen before in the episode, or, with ``stall=N``, when the episode has gone ``N``
    steps without new goal progress."""

    threshold: float = attrs.field(default=0.6)
    low_k: int = attrs.field(default=1, validator=count_validators(0, MAX_K))
    low_peek: int = 0
    high_k: int = attrs.field(default=8, validator=count_validators(1, MAX_K))
    high_depth: int = attrs.field(default=1, validator=count_validators(0, MAX_DEPTH))
    high_vote: str = "majority"
    high_lookahead: int = 0
    high_peek: int = 0
    loop: int = attrs.field(default=0, validator=count_validators(0, 1))
    stall: int = attrs.field(default=0, validator=count_validators(0, 64))
    name: str = attrs.field(default="conf", init=False)
    needs_probe: bool = attrs.field(default=True, init=False)
    needs_labels: bool = attrs.field(default=False, init=False)
    bound: bool = attrs.field(default=False, init=False)
    high: Decision = attrs.field(init=False)
    low: Decision = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        # Decision validates both allotments (vote names, lookahead range, peek with k > 0).
        self.low = Decision(k=self.low_k, depth=0, peek=self.low_peek)
        self.high = Decision(
            k=self.high_k,
            depth=self.high_depth,
            vote=self.high_vote,
            lookahead=self.high_lookahead,
            peek=self.high_peek,
        )

    @threshold.validator
    def _check(self, _: attrs.Attribute[float], value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"threshold={value!r} must lie in [0, 1]")

    @property
    def needs_copy(self) -> bool:
        return self.high.looks_ahead or self.low.looks_ahead

    @property
    def spec(self) -> str:
        return (
            f"conf:threshold={self.threshold},low_k={self.low_k},"
            + (f"low_peek={self.low_peek}," if self.low_peek else "")
            + f"high_k={self.high_k},high_depth={self.high_depth}"
            # the escalated decision's options beyond k and depth, each under its high_ name
            + options_suffix(self.high).replace(",", ",high_")
            + (",loop=1" if self.loop else "")
            + (f",stall={self.stall}" if self.stall else "")
        )

    def decide(self, view: StepView) -> Decision:
        f, ctx = view.features, view.context
        if (
            f is None
            or f.top1_prob < self.threshold
            or (self.loop and f.repeats > 0)
            or (self.stall and ctx is not None and ctx.since_progress >= self.stall)
        ):
            return self.high
        return self.low

    def more(self, answers: Sequence[str]) -> int:
        return 0
