"""The model-free baseline: the environment's own rating of every admissible action, no model.

Peek and lookahead rate candidates by what the environment reports (success, rejected moves,
repeated states, ``goal_progress``: the PDDL suites' relaxed-plan distance, grid's distance to
the goal). That rating is a heuristic in its own right, and a strong one on PDDL domains: greedy
descent on the relaxed-plan distance is how FF-style planners begin. Any claim that a model's
samples help must beat the rating alone, so the bench runs it as a strategy beside the others:
every step peeks at every admissible action in a copy of the environment and takes the best
rated, ties in a random order fixed by the step's seed. It makes no model call and costs no
token.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from aip_sdk.controllers.base import StepView
from aip_sdk.decision import MODEL_FREE, Decision

__all__ = ["HeuristicBaseline"]


@attrs.define
class HeuristicBaseline:
    """Take the admissible action the environment rates best after one step; no model.

    Needs an environment that can be copied (every suite but MiniWoB++). ALFWorld reports no
    goal progress, so there the rating only avoids rejected, idle and repeated moves, and each
    peek replays the game: slow and near random. ``fixed:k=0,peek=1,widen=1`` carries out the
    same decision; this class only names it apart, so that reports never count it as a model's
    fixed allocation.
    """

    name: str = attrs.field(default="heuristic", init=False)
    needs_probe: bool = attrs.field(default=False, init=False)
    needs_copy: bool = attrs.field(default=True, init=False)
    needs_labels: bool = attrs.field(default=False, init=False)
    bound: bool = attrs.field(default=False, init=False)

    @property
    def spec(self) -> str:
        return "heuristic"

    def decide(self, view: StepView) -> Decision:
        return MODEL_FREE

    def more(self, answers: Sequence[str]) -> int:
        return 0
