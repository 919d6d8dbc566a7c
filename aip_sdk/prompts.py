"""Prompts written for small models: short context, a numbered-free list of admissible actions,
and the answer constrained to one of them."""

from __future__ import annotations

from collections.abc import Sequence

from aip_sdk.backend import ChatMessage
from aip_sdk.observation import Observation

__all__ = ["ACTION_CUE", "SYSTEM_PROMPT", "THOUGHT_CUE", "choice_messages"]

SYSTEM_PROMPT = (
    "You are a careful planner. Read the goal and the state, then pick the one next action "
    "that brings the goal closer."
)
THOUGHT_CUE = "Thought:"
ACTION_CUE = "\nAction: "


def choice_messages(
    obs: Observation, history: Sequence[str] = (), *, max_history: int = 6
) -> list[ChatMessage]:
    """Chat messages asking for the next action; only the last ``max_history`` actions are shown."""
    parts = []
    if obs.goal:
        parts.append(f"Goal: {obs.goal}")
    parts.append(f"State: {obs.text}")
    if history:
        shown = list(history)[-max_history:]
        parts.append("Actions so far: " + "; ".join(shown))
    parts.append("Possible actions:\n" + "\n".join(f"- {a}" for a in obs.actions))
    parts.append("Answer with one action from the list.")
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "\n\n".join(parts)},
    ]
