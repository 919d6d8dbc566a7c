"""Sequential stopping rules from the adaptive-consistency literature.

* Adaptive-Consistency (Aggarwal et al., EMNLP 2023): after each sample, model the share of the
  leading answer against the runner-up as ``Beta(v1 + 1, v2 + 1)`` and stop once
  ``P(p1 > p2) >= threshold`` or at the cap.
* Early-Stopping Self-Consistency, ESC (Li et al., ICLR 2024): sample in windows of ``window``;
  stop as soon as every sample of a window gives the same answer, or at the cap.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import attrs

from aip_sdk.controllers.base import StepView, top_two
from aip_sdk.decision import MAX_DEPTH, MAX_K, Decision, count_validators

__all__ = ["AdaptiveConsistency", "EarlyStoppingSC", "beta_stop_probability"]


def beta_stop_probability(v1: int, v2: int) -> float:
    """``P(p1 > p2)`` under ``p1 ~ Beta(v1 + 1, v2 + 1)`` (the Beta stopping criterion).

    For integer parameters ``I_x(a, b) = P(Binomial(a + b - 1, x) >= a)``, so the probability
    that the leader's share exceeds one half is ``P(Binomial(v1 + v2 + 1, 1/2) <= v1)``.
    """
    n = v1 + v2 + 1
    return sum(math.comb(n, j) for j in range(v1 + 1)) / 2.0**n


@attrs.define
class AdaptiveConsistency:
    """Adaptive-Consistency with the Beta stopping rule, one sample at a time."""

    threshold: float = attrs.field(default=0.95)
    max: int = attrs.field(default=16, validator=count_validators(1, MAX_K))
    depth: int = attrs.field(default=1, validator=count_validators(0, MAX_DEPTH))
    batch: int = attrs.field(default=1, validator=count_validators(1, MAX_K))
    name: str = attrs.field(default="ac", init=False)
    needs_probe: bool = attrs.field(default=False, init=False)
    needs_copy: bool = attrs.field(default=False, init=False)
    needs_labels: bool = attrs.field(default=False, init=False)
    bound: bool = attrs.field(default=False, init=False)

    @threshold.validator
    def _check(self, _: attrs.Attribute[float], value: float) -> None:
        if not 0.5 < value < 1.0:
            raise ValueError(f"threshold={value!r} must lie in (0.5, 1)")

    @property
    def spec(self) -> str:
        batch = f",batch={self.batch}" if self.batch != 1 else ""
        return f"ac:threshold={self.threshold},max={self.max},depth={self.depth}{batch}"

    def decide(self, view: StepView) -> Decision:
        return Decision(k=min(self.batch, self.max), depth=self.depth)

    def more(self, answers: Sequence[str]) -> int:
        drawn = len(answers)
        if drawn >= self.max:
            return 0
        v1, v2 = top_two(Counter(answers))
        if beta_stop_probability(v1, v2) >= self.threshold:
            return 0
        return min(self.batch, self.max - drawn)


@attrs.define
class EarlyStoppingSC:
    """ESC: sample windows of ``window`` answers; stop when one window is unanimous."""

    window: int = attrs.field(default=4, validator=count_validators(1, MAX_K))
    max: int = attrs.field(default=16, validator=count_validators(1, MAX_K))
    depth: int = attrs.field(default=1, validator=count_validators(0, MAX_DEPTH))
    name: str = attrs.field(default="esc", init=False)
    needs_probe: bool = attrs.field(default=False, init=False)
    needs_copy: bool = attrs.field(default=False, init=False)
    needs_labels: bool = attrs.field(default=False, init=False)
    bound: bool = attrs.field(default=False, init=False)

    @property
    def spec(self) -> str:
        return f"esc:window={self.window},max={self.max},depth={self.depth}"

    def decide(self, view: StepView) -> Decision:
        return Decision(k=min(self.window, self.max), depth=self.depth)

    def more(self, answers: Sequence[str]) -> int:
        drawn = len(answers)
        last = answers[-self.window :]
        if drawn >= self.max or (len(last) == self.window and len(set(last)) == 1):
            return 0
        return min(self.window, self.max - drawn)
