"""The policy carries a decision out: it draws the candidates and aggregates them into one action.

Depth 0 draws ``k`` constrained choices among the admissible actions in one backend call (the
samples share the prompt's KV cache and are decoded together). Depth ``d > 0`` first samples ``k``
short reasoning texts of at most ``reasoning_budgets[d]`` tokens, then one constrained choice after
each; all of them reuse the evaluated prompt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Protocol

import attrs
import numpy as np

from aip_sdk.backend import Backend
from aip_sdk.cost import Cost
from aip_sdk.features import Probe, make_probe
from aip_sdk.observation import Observation
from aip_sdk.prompts import ACTION_CUE, THOUGHT_CUE, choice_messages
from aip_sdk.records import Candidate

__all__ = [
    "DEFAULT_REASONING_BUDGETS",
    "ROLLOUT_SALT",
    "TIE_ORDER_SALT",
    "Policy",
    "Vote",
    "aggregate",
    "derive_seed",
    "rank",
    "weighted_scores",
]

DEFAULT_REASONING_BUDGETS: Mapping[int, int] = {1: 24, 2: 64}
# Sub-seeds of a step's seed, shared by serving and collection so that both make the same
# choices: the rollouts' sampling, and the seeded order of the actions widen tries.
ROLLOUT_SALT = 104729
TIE_ORDER_SALT = 7919


def derive_seed(*parts: int) -> int:
    """A 32-bit seed derived from ``parts`` (episode, step, draw...): stable and well mixed."""
    return int(np.random.SeedSequence([p & 0xFFFFFFFF for p in parts]).generate_state(1)[0])


class Vote(Protocol):
    """Anything that votes: a drawn candidate or a recorded pool sample."""

    @property
    def action(self) -> str: ...

    @property
    def logprob(self) -> float: ...

    @property
    def confidence(self) -> float: ...


def weighted_scores(candidates: Sequence[Vote]) -> dict[str, float]:
    """Each action's summed confidence (mean token probability) over the candidates."""
    scores: dict[str, float] = {}
    for c in candidates:
        scores[c.action] = scores.get(c.action, 0.0) + c.confidence
    return scores


def rank(
    candidates: Sequence[Vote], probe: Probe | None = None, *, vote: str = "majority"
) -> list[str]:
    """The distinct actions of ``candidates``, the one the vote chooses first.

    ``majority``: by count; ties go to the probe's choice, when there is one, then to the
    higher log-prob.
    ``weighted``: by summed confidence (see :func:`weighted_scores`), then count, then log-prob.
    """
    votes = Counter(c.action for c in candidates)
    best_lp: dict[str, float] = {}
    for c in candidates:
        best_lp[c.action] = max(best_lp.get(c.action, -np.inf), c.logprob)
    chosen = probe.best if probe is not None else None
    if vote == "weighted":
        score = weighted_scores(candidates)
        return sorted(
            votes, key=lambda a: (score[a], votes[a], a == chosen, best_lp[a]), reverse=True
        )
    return sorted(votes, key=lambda a: (votes[a], a == chosen, best_lp[a]), reverse=True)


def aggregate(
    candidates: Sequence[Vote], probe: Probe | None = None, *, vote: str = "majority"
) -> tuple[str, dict[str, int]]:
    """The action the candidates choose by ``vote`` (see :func:`rank`), and each one's count."""
    return rank(candidates, probe, vote=vote)[0], dict(Counter(c.action for c in candidates))


@attrs.define
class Policy:
    """Draws candidate actions for one observation from a backend."""

    backend: Backend
    temperature: float = 0.7
    reasoning_budgets: Mapping[int, int] = attrs.field(
        factory=lambda: dict(DEFAULT_REASONING_BUDGETS)
    )

    def prompt(self, obs: Observation, history: Sequence[str]) -> str:
        """The rendered choice prompt (the probe and depth-0 samples continue it directly)."""
        return self.backend.render_chat(choice_messages(obs, history))

    def probe(self, obs: Observation, history: Sequence[str]) -> tuple[Probe, Cost]:
        """One greedy constrained choice: the cheap first look at the step (see ``Probe``)."""
        res = self.backend.sample(
            self.prompt(obs, history), n=1, temperature=0.0, seed=0, choices=obs.actions
        )
        return make_probe(obs.actions, res.completions[0]), res.cost

    def draw(
        self,
        obs: Observation,
        history: Sequence[str],
        *,
        n: int,
        depth: int,
        seed: int,
        temperature: float | None = None,
    ) -> tuple[list[Candidate], Cost]:
        """Draw ``n`` candidates at ``depth`` (at ``temperature``, default the policy's)."""
        temp = self.temperature if temperature is None else temperature
        prompt = self.prompt(obs, history)
        if depth <= 0:
            res = self.backend.sample(prompt, n=n, temperature=temp, seed=seed, choices=obs.actions)
            cands = [
                Candidate(
                    action=c.text,
                    logprob=c.logprob,
                    generated_tokens=len(c.token_ids),
                    action_tokens=len(c.token_ids),
                )
                for c in res.completions
            ]
            return cands, res.cost
        budget = self.reasoning_budgets.get(depth, max(self.reasoning_budgets.values()))
        head = prompt + THOUGHT_CUE
        thoughts = self.backend.sample(
            head,
            n=n,
            max_tokens=budget,
            temperature=temp,
            seed=seed,
            stop=("Action:", "\n\n"),
        )
        cost = thoughts.cost
        out: list[Candidate] = []
        for i, t in enumerate(thoughts.completions):
            text = t.text.strip()
            pick = self.backend.sample(
                head + " " + text + ACTION_CUE,
                n=1,
                temperature=temp,
                seed=seed + 7919 * (i + 1),
                choices=obs.actions,
            )
            cost = cost + pick.cost
            c = pick.completions[0]
            out.append(
                Candidate(
                    action=c.text,
                    logprob=c.logprob,
                    reasoning=text,
                    generated_tokens=len(t.token_ids) + len(c.token_ids),
                    prompt_tokens=pick.cost.prompt_tokens,
                    action_tokens=len(c.token_ids),
                )
            )
        return out, cost
