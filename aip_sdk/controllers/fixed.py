"""Fixed allocations: the same decision at every step; Self-Consistency is k votes."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from aip_sdk.controllers.base import StepView
from aip_sdk.decision import MAX_DEPTH, MAX_K, Decision, count_validators

__all__ = ["FixedController", "SelfConsistency", "options_suffix"]


def options_suffix(d: Decision) -> str:
    """The spec suffix of a decision's options beyond k and depth (empty at their defaults)."""
    parts = []
    if d.vote != "majority":
        parts.append(f"vote={d.vote}")
    if d.lookahead:
        parts.append(f"lookahead={d.lookahead}")
    if d.peek:
        parts.append(f"peek={d.peek}")
    if d.widen:
        parts.append(f"widen={d.widen}")
    if d.temperature is not None:
        parts.append(f"temperature={d.temperature:g}")
    return "".join(f",{p}" for p in parts)


@attrs.define
class FixedController:
    """Carry out the same decision at every step (the baseline the others must beat).

    ``fixed:k=0`` acts on the probe's top action; ``vote=weighted`` weighs each candidate by its
    mean token probability; ``lookahead=h`` rates the distinct candidates by rollouts of ``h``
    steps in copies of the environment (``peek=1``: by the result of each alone, no rollout;
    ``widen=1``: every admissible action, the candidates first); ``temperature`` sets the
    sampling temperature.
    """

    k: int = attrs.field(default=1, validator=count_validators(0, MAX_K))
    depth: int = attrs.field(default=0, validator=count_validators(0, MAX_DEPTH))
    vote: str = "majority"
    lookahead: int = 0
    peek: int = 0
    widen: int = 0
    temperature: float | None = None
    name: str = attrs.field(default="fixed", init=False)
    needs_labels: bool = attrs.field(default=False, init=False)
    bound: bool = attrs.field(default=False, init=False)
    decision: Decision = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        # Decision validates every option (ranges, vote names, k=0 without depth/lookahead).
        self.decision = Decision(
            k=self.k,
            depth=self.depth,
            vote=self.vote,
            lookahead=self.lookahead,
            peek=self.peek,
            widen=self.widen,
            temperature=None if self.temperature is None else float(self.temperature),
        )

    @property
    def needs_probe(self) -> bool:
        return self.decision.uses_probe

    @property
    def needs_copy(self) -> bool:
        return self.decision.looks_ahead

    @property
    def spec(self) -> str:
        return f"{self.name}:k={self.k},depth={self.depth}{options_suffix(self.decision)}"

    def decide(self, view: StepView) -> Decision:
        return self.decision

    def more(self, answers: Sequence[str]) -> int:
        return 0


@attrs.define
class SelfConsistency(FixedController):
    """Self-Consistency (Wang et al., ICLR 2023): ``k`` samples, majority vote.

    The same allocation as ``fixed`` with reasoning depth 1 by default, since the paper samples
    reasoning paths and votes on their answers; ``sc:vote=weighted`` is Soft Self-Consistency
    (Wang et al., 2024).
    """

    k: int = attrs.field(default=8, validator=count_validators(1, MAX_K))
    depth: int = attrs.field(default=1, validator=count_validators(0, MAX_DEPTH))
    name: str = attrs.field(default="sc", init=False)
