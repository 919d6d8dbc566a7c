"""The ledger: what every language-model call cost.

A :class:`Cost` is an immutable sum of counters; costs add with ``+`` so a step's cost is the sum
of its calls and an episode's cost the sum of its steps.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

__all__ = ["Cost"]


@attrs.frozen(kw_only=True)
class Cost:
    """Compute spent by one or more language-model calls.

    Attributes:
        llm_calls: backend calls made (one ``sample`` or ``score`` call counts once).
        prompt_tokens: prompt tokens the model evaluated (not counting reused ones).
        reused_prompt_tokens: prompt tokens served from the KV cache instead of evaluated.
        generated_tokens: tokens sampled by the model.
        seconds: wall-clock seconds spent inside the backend.
    """

    llm_calls: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    prompt_tokens: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    reused_prompt_tokens: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    generated_tokens: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    seconds: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))

    def __add__(self, other: Cost) -> Cost:
        if not isinstance(other, Cost):
            return NotImplemented
        return Cost(
            llm_calls=self.llm_calls + other.llm_calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            reused_prompt_tokens=self.reused_prompt_tokens + other.reused_prompt_tokens,
            generated_tokens=self.generated_tokens + other.generated_tokens,
            seconds=self.seconds + other.seconds,
        )

    @property
    def tokens(self) -> int:
        """Evaluated prompt tokens plus generated tokens: the default compute measure C."""
        return self.prompt_tokens + self.generated_tokens

    @classmethod
    def total(cls, costs: Iterable[Cost]) -> Cost:
        """Sum an iterable of costs (the empty sum is zero cost)."""
        out = cls()
        for c in costs:
            out = out + c
        return out

    def to_dict(self) -> dict[str, float | int]:
        """Plain-JSON form, as written in results and traces."""
        return attrs.asdict(self)
