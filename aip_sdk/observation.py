"""What the model reads at a step: the environment's text, its goal and the admissible actions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from aip_sdk.errors import ConfigError

__all__ = ["Observation"]


def _str_tuple(xs: Iterable[Any]) -> tuple[str, ...]:
    return tuple(str(x) for x in xs)


@attrs.frozen(kw_only=True)
class Observation:
    """One observation of a text environment.

    Environments return it as a plain dict (``text``, ``goal``, ``actions``) so that it lies in
    a gymnasium space; :meth:`from_env` turns that dict into this object.

    Attributes:
        text: the state, as the model should read it (including the last action's feedback).
        goal: what the episode must achieve.
        actions: the admissible actions; the Planner chooses among them.
    """

    text: str
    goal: str = ""
    actions: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)

    @classmethod
    def from_env(cls, obs: Observation | Mapping[str, Any] | str) -> Observation:
        """Accept an environment observation dict, an ``Observation`` or bare text."""
        if isinstance(obs, Observation):
            return obs
        if isinstance(obs, str):
            return cls(text=obs)
        if isinstance(obs, Mapping) and "text" in obs:
            return cls(
                text=str(obs["text"]),
                goal=str(obs.get("goal", "")),
                actions=tuple(str(a) for a in obs.get("actions", ())),
            )
        raise ConfigError(
            f"observation {obs!r:.80} is not understood; pass a dict with 'text', 'goal' and "
            f"'actions', an Observation, or a string"
        )
