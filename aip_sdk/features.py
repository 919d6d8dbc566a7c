"""Step features: the controller's input, cheap, domain-agnostic and versioned.

They come from one *probe* (one greedy constrained choice among the admissible actions: its
prompt is the choice prompt, so the samples drawn after it reuse the evaluated prompt, and it
generates only the action's tokens) and from the episode's
:class:`~aip_sdk.context.StepContext`. Changing the list or the meaning of a feature
changes :data:`FEATURE_SCHEMA`; a learned controller refuses features of another schema.

Schema ``aip-features/2`` (``aip-features/1`` was the first nine without the context signals
9-13, with ``step_frac`` read against different limits in collection and serving):

| index | name | meaning |
| --- | --- | --- |
| 0 | top1_prob | probability of the greedy choice under constrained decoding |
| 1 | margin | smallest top-1 minus top-2 probability among the allowed tokens of its steps |
| 2 | entropy | entropy of the first step's allowed tokens / log(their number) |
| 3 | log_actions | log(number of actions) / log(64), clipped to [0, 1] |
| 4 | step_frac | step index / the environment's step limit |
| 5 | budget_frac | compute spent / budget (0 without a budget), clipped to [0, 1] |
| 6 | last_failed | 1 if the previous action was rejected by the environment |
| 7 | no_progress | 1 if the previous action was rejected, changed nothing or undid the one before |
| 8 | mean_logprob | mean per-token log-prob of the greedy choice / 10, clipped to [-1, 0] |
| 9 | since_change | steps since the state last changed / 5, clipped to [0, 1] |
| 10 | repeats | times the current state was seen before in the episode / 3, clipped to [0, 1] |
| 11 | undone | 1 if the previous action returned to the state before the one before |
| 12 | top_is_last | 1 if the probe's choice is the action just taken (a loop in the making) |
| 13 | copyable | 1 if the environment can be copied (lookahead is possible) |

Where the context signals can fire: the planner chooses among the listed actions, which every
suite applies, so ``last_failed`` fires only for an action from outside the list (an app that
steps the environment itself). On grid and PDDL suites every listed action changes the state,
so ``since_change`` stays 0 there and ``no_progress`` equals ``undone``; on MiniWoB++ (a click on
plain text) and ALFWorld ("Nothing happens.") an action can leave the state as it was.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np
import numpy.typing as npt

from aip_sdk.backend import Completion

if TYPE_CHECKING:
    from aip_sdk.context import StepContext

__all__ = ["FEATURE_NAMES", "FEATURE_SCHEMA", "Features", "Probe", "make_probe"]

FEATURE_SCHEMA = "aip-features/2"
FEATURE_NAMES = (
    "top1_prob",
    "margin",
    "entropy",
    "log_actions",
    "step_frac",
    "budget_frac",
    "last_failed",
    "no_progress",
    "mean_logprob",
    "since_change",
    "repeats",
    "undone",
    "top_is_last",
    "copyable",
)


@attrs.frozen(kw_only=True)
class Probe:
    """The probe's reading of a step: one greedy constrained choice among the admissible actions.

    The cheapest look at a step: its prompt is the choice prompt (the samples a decision draws
    after it reuse the evaluated prompt) and it generates only the action's few tokens, however
    many actions there are. Its action is what ``k=0`` takes.

    Attributes:
        actions: the admissible actions, in the environment's order.
        best: the greedy choice.
        logprob: the choice's log-probability under constrained decoding (the sum, over its
            tokens, of the chosen token's log-prob among the tokens the actions allowed).
        margin: the smallest top-1 minus top-2 probability among the allowed tokens over the
            choice's steps (1: never a rival).
        entropy: the first step's entropy over its allowed tokens / log(their number).
        mean_logprob: the mean unconstrained log-prob of the choice's tokens.
        tokens: tokens the choice generated.
    """

    actions: tuple[str, ...]
    best: str
    logprob: float = 0.0
    margin: float = 1.0
    entropy: float = 0.0
    mean_logprob: float = 0.0
    tokens: int = 0

    @property
    def top1_prob(self) -> float:
        return float(math.exp(self.logprob))


def make_probe(actions: Sequence[str], choice: Completion) -> Probe:
    """The probe of a greedy constrained ``choice`` among ``actions``."""
    n = max(1, len(choice.token_ids))
    return Probe(
        actions=tuple(actions),
        best=choice.text,
        logprob=float(sum(choice.choice_logprobs)),
        margin=min(choice.choice_margins, default=1.0),
        entropy=choice.choice_entropy,
        mean_logprob=float(sum(choice.token_logprobs)) / n,
        tokens=len(choice.token_ids),
    )


@attrs.frozen(kw_only=True)
class Features:
    """The feature vector of one step, with its schema version."""

    values: tuple[float, ...]
    schema: str = FEATURE_SCHEMA

    def as_array(self) -> npt.NDArray[np.float32]:
        return np.asarray(self.values, dtype=np.float32)

    def as_dict(self) -> dict[str, float]:
        return dict(zip(FEATURE_NAMES, self.values))

    @property
    def top1_prob(self) -> float:
        return self.values[0]

    @property
    def repeats(self) -> float:
        """Times the current state was seen before in the episode / 3 (0: a new state)."""
        return self.values[FEATURE_NAMES.index("repeats")] if len(self.values) > 10 else 0.0

    @classmethod
    def compute(cls, probe: Probe | None, context: StepContext) -> Features:
        """Build the features of a step from its probe and the episode's step context."""
        n = len(probe.actions) if probe is not None else 0
        if probe is not None and n > 0:
            top1, margin, entropy = probe.top1_prob, probe.margin, probe.entropy
            mean_lp = probe.mean_logprob
            top_is_last = bool(context.history) and probe.best == context.history[-1]
        else:
            top1, margin, entropy, mean_lp, top_is_last = 0.0, 0.0, 1.0, -10.0, False
        values = (
            top1,
            margin,
            min(1.0, max(0.0, entropy)),
            min(1.0, math.log(max(n, 1)) / math.log(64)),
            context.step_frac,
            min(1.0, max(0.0, context.budget_frac)),
            1.0 if context.last_failed else 0.0,
            1.0 if context.no_progress else 0.0,
            min(0.0, max(-1.0, mean_lp / 10.0)),
            min(1.0, context.since_change / 5.0),
            min(1.0, context.repeats / 3.0),
            1.0 if context.undone else 0.0,
            1.0 if top_is_last else 0.0,
            1.0 if context.copyable else 0.0,
        )
        return cls(values=tuple(float(v) for v in values))
