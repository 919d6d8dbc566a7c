"""What a plan leaves behind: one :class:`StepRecord` per step and a :class:`PlanResult`."""

from __future__ import annotations

import math
from typing import Any

import attrs

from aip_sdk.cost import Cost
from aip_sdk.decision import Decision
from aip_sdk.features import Features

__all__ = ["Candidate", "PlanResult", "StepRecord", "token_confidence"]


def token_confidence(logprob: float, tokens: int) -> float:
    """``exp(logprob / tokens)``: the geometric-mean token probability of a choice.

    Length-normalised, so that a long action is not out-voted for being long (Soft
    Self-Consistency, Wang et al. 2024, scores candidates the same way).
    """
    return float(math.exp(logprob / max(1, tokens)))


@attrs.frozen(kw_only=True)
class Candidate:
    """One drawn candidate action.

    Attributes:
        action: the admissible action it chose.
        logprob: the model's log-probability of the action's tokens.
        reasoning: the reasoning text that preceded the choice (empty at depth 0).
        generated_tokens: tokens generated for this candidate alone (reasoning and choice).
        prompt_tokens: prompt tokens evaluated for this candidate alone (at depth > 0, the
            reasoning it chose after); the shared prompt is not included.
        action_tokens: tokens of the chosen action itself (0 when unknown: then
            ``generated_tokens``).
    """

    action: str
    logprob: float
    reasoning: str = ""
    generated_tokens: int = 0
    prompt_tokens: int = 0
    action_tokens: int = 0

    @property
    def confidence(self) -> float:
        """The action's mean token probability: its weight in a likelihood-weighted vote."""
        return token_confidence(self.logprob, self.action_tokens or self.generated_tokens)


@attrs.frozen(kw_only=True)
class StepRecord:
    """Everything about one step: what the controller saw and decided, what was drawn, the cost.

    Attributes:
        index: step number, from 0.
        features: the controller's input (``None`` when the controller needs no probe).
        decision: the allotment actually spent (for sequential rules, ``k`` = samples drawn).
        candidates: every candidate drawn.
        action: the chosen action (majority vote, ties broken by log-prob).
        votes: how many candidates chose each action.
        scores: what the action was chosen by, per action, when not a plain count: the summed
            confidences of a weighted vote, or the rollout rating of a lookahead.
        cost: the step's compute, probe and lookahead included.
        feedback: what the environment said after the action (filled by ``plan``).
        valid: the environment accepted the action (``info["valid"]``; filled by ``plan``).
    """

    index: int
    features: Features | None
    decision: Decision
    candidates: tuple[Candidate, ...]
    action: str
    votes: dict[str, int]
    cost: Cost
    feedback: str = ""
    scores: dict[str, float] = attrs.field(factory=dict)
    valid: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "features": self.features.as_dict() if self.features else None,
            "decision": self.decision.to_dict(),
            "candidates": [attrs.asdict(c) for c in self.candidates],
            "action": self.action,
            "votes": dict(self.votes),
            "scores": dict(self.scores),
            "cost": self.cost.to_dict(),
            "feedback": self.feedback,
            "valid": self.valid,
        }


@attrs.frozen(kw_only=True)
class PlanResult:
    """The outcome of one episode.

    Attributes:
        actions: the actions taken, in order.
        success: the environment reports the goal reached.
        quality: in [0, 1]; the environment's quality (optimal / taken steps on success).
        steps: the step records.
        cost: total compute.
        stop_reason: ``success``, ``terminated``, ``truncated``, ``max_steps``, ``budget``,
            ``env_error`` (the environment failed, e.g. its browser died) or ``backend_error``
            (the model failed, e.g. its server died); in both the episode failed.
        error: what failed, for ``env_error`` and ``backend_error``.
        optimal_steps: the optimal plan length when the environment knows it.
        model: the backend's model name.
        controller: the controller's spec.
    """

    actions: tuple[str, ...]
    success: bool
    quality: float
    steps: tuple[StepRecord, ...]
    cost: Cost
    stop_reason: str
    optimal_steps: int | None = None
    model: str = ""
    controller: str = ""
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "controller": self.controller,
            "success": self.success,
            "quality": self.quality,
            "stop_reason": self.stop_reason,
            "error": self.error,
            "optimal_steps": self.optimal_steps,
            "actions": list(self.actions),
            "cost": self.cost.to_dict(),
            "steps": [s.to_dict() for s in self.steps],
        }
