"""Fixed allocations: the same ``k`` and ``depth`` at every step; Self-Consistency is k votes."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from aip_sdk.decision import Decision
from aip_sdk.features import Features

__all__ = ["FixedController", "SelfConsistency"]


@attrs.define
class FixedController:
    """Draw ``k`` candidates at ``depth`` at every step (the baseline the others must beat)."""

    k: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    depth: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    name: str = attrs.field(default="fixed", init=False)
    needs_probe: bool = attrs.field(default=False, init=False)

    @property
    def spec(self) -> str:
        return f"fixed:k={self.k},depth={self.depth}"

    def decide(self, features: Features | None) -> Decision:
        return Decision(k=self.k, depth=self.depth)

    def more(self, answers: Sequence[str]) -> int:
        return 0


@attrs.define
class SelfConsistency(FixedController):
    """Self-Consistency (Wang et al., ICLR 2023): ``k`` samples, majority vote.

    The same allocation as ``fixed`` with reasoning depth 1 by default, since the paper samples
    reasoning paths and votes on their answers.
    """

    k: int = attrs.field(default=8, validator=attrs.validators.ge(1))
    depth: int = attrs.field(default=1, validator=attrs.validators.ge(0))
    name: str = attrs.field(default="sc", init=False)

    @property
    def spec(self) -> str:
        return f"sc:k={self.k},depth={self.depth}"
