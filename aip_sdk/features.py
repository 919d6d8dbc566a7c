"""Step features: the controller's input, cheap, domain-agnostic and versioned.

They come from one *probe* (a single ``score`` pass over the admissible actions; its prompt is
the choice prompt, so the samples drawn after it reuse the evaluated prompt) and from the
episode's :class:`~aip_sdk.context.StepContext`. Changing the list or the meaning of a feature
changes :data:`FEATURE_SCHEMA`; a learned controller refuses features of another schema.

Schema ``aip-features/2`` (``aip-features/1`` was the first nine without the context signals
9-13, with ``step_frac`` read against different limits in collection and serving):

| index | name | meaning |
| --- | --- | --- |
| 0 | top1_prob | probability of the most likely action (softmax of the summed log-probs) |
| 1 | margin | top-1 minus top-2 probability |
| 2 | entropy | entropy of the action distribution / log(number of actions) |
| 3 | log_actions | log(number of actions) / log(64), clipped to [0, 1] |
| 4 | step_frac | step index / the environment's step limit |
| 5 | budget_frac | compute spent / budget (0 without a budget), clipped to [0, 1] |
| 6 | last_failed | 1 if the previous action was rejected by the environment |
| 7 | no_progress | 1 if the previous action was rejected, changed nothing or undid the one before |
| 8 | mean_logprob | mean per-token log-prob of the top action / 10, clipped to [-1, 0] |
| 9 | since_change | steps since the state last changed / 5, clipped to [0, 1] |
| 10 | repeats | times the current state was seen before in the episode / 3, clipped to [0, 1] |
| 11 | undone | 1 if the previous action returned to the state before the one before |
| 12 | top_is_last | 1 if the probe's top action is the action just taken (a loop in the making) |
| 13 | copyable | 1 if the environment can be copied (lookahead is possible) |
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np
import numpy.typing as npt

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
    """The probe's reading of a step: the model's distribution over the admissible actions.

    Attributes:
        actions: the admissible actions, in the environment's order.
        logprobs: summed log-probability of each action.
        token_counts: tokens of each action.
    """

    actions: tuple[str, ...]
    logprobs: tuple[float, ...]
    token_counts: tuple[int, ...]

    @property
    def probs(self) -> npt.NDArray[np.float64]:
        lp = np.asarray(self.logprobs, dtype=np.float64)
        if lp.size == 0:
            return lp
        p = np.exp(lp - lp.max())
        out: npt.NDArray[np.float64] = p / p.sum()
        return out

    @property
    def best(self) -> str:
        """The action the probe ranks first."""
        return self.actions[int(np.argmax(self.logprobs))]


def make_probe(actions: Sequence[str], logprobs: Sequence[float], counts: Sequence[int]) -> Probe:
    return Probe(actions=tuple(actions), logprobs=tuple(logprobs), token_counts=tuple(counts))


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

    @classmethod
    def compute(cls, probe: Probe | None, context: StepContext) -> Features:
        """Build the features of a step from its probe and the episode's step context."""
        n = len(probe.actions) if probe is not None else 0
        if probe is not None and n > 0:
            p = np.sort(probe.probs)[::-1]
            top1 = float(p[0])
            margin = float(p[0] - p[1]) if n > 1 else 1.0
            ent = float(-(p * np.log(np.clip(p, 1e-12, 1.0))).sum())
            entropy = ent / math.log(n) if n > 1 else 0.0
            i = int(np.argmax(probe.logprobs))
            mean_lp = probe.logprobs[i] / max(1, probe.token_counts[i])
            top_is_last = bool(context.history) and probe.actions[i] == context.history[-1]
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
