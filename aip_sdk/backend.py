"""The backend contract: the one small thing a language-model runtime must do for the Planner.

A backend runs a model on a request. Everything else (sampling loops, voting, budgets, the
ledger, traces) lives in the Planner. A new backend implements :class:`Backend` in about fifty
lines plus its native calls, declares what it can do in :class:`Capabilities`, and registers under
the entry-point group ``aip_sdk.backends``. ``aip_sdk.testing.check_backend`` checks a backend
against this contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import attrs

from aip_sdk.cost import Cost

__all__ = [
    "Backend",
    "Capabilities",
    "ChatMessage",
    "Completion",
    "SampleResult",
    "ScoreResult",
]

ChatMessage = dict[str, str]


@attrs.frozen(kw_only=True)
class Capabilities:
    """What a backend can do, declared as data rather than probed with ``hasattr``.

    Attributes:
        can_score: ``score`` returns real log-probabilities.
        can_constrain: ``sample(choices=...)`` restricts output to the given strings.
        reuses_prefix: prompt tokens shared with the previous call are not evaluated again.
        device: where the model runs, e.g. ``"cpu"`` or ``"cuda"``.
        parallel_samples: how many samples of one prompt the backend decodes together.
    """

    can_score: bool = True
    can_constrain: bool = True
    reuses_prefix: bool = True
    device: str = "cpu"
    parallel_samples: int = 1


@attrs.frozen(kw_only=True)
class Completion:
    """One sampled completion.

    Attributes:
        text: the generated text (for a constrained sample, exactly one of the choices).
        token_ids: the generated token ids.
        token_logprobs: the model's log-probability of each generated token (temperature 1,
            before any constraint mask), so values are comparable across requests.
        finish_reason: ``"stop"`` (end of turn, stop string or complete choice) or ``"length"``.
        choice_logprobs: for a constrained sample, the log-probability of each chosen token
            among the tokens the choices allowed at that step (at temperature 1): their sum is
            the probability of the whole choice under constrained decoding.
        choice_margins: for a constrained sample, the top-1 minus top-2 probability among the
            allowed tokens at each step (1 where one token was allowed).
        choice_entropy: for a constrained sample, the entropy of the first step's allowed
            tokens over log(their number) (0 where one token was allowed).
    """

    text: str
    token_ids: tuple[int, ...] = ()
    token_logprobs: tuple[float, ...] = ()
    finish_reason: str = "stop"
    choice_logprobs: tuple[float, ...] = ()
    choice_margins: tuple[float, ...] = ()
    choice_entropy: float = 0.0

    @property
    def logprob(self) -> float:
        """Total log-probability of the completion."""
        return float(sum(self.token_logprobs))


@attrs.frozen(kw_only=True)
class SampleResult:
    """The answer to one ``sample`` call: ``n`` completions and what they cost together."""

    completions: tuple[Completion, ...]
    cost: Cost


@attrs.frozen(kw_only=True)
class ScoreResult:
    """The answer to one ``score`` call.

    Attributes:
        logprobs: total log-probability of each continuation given the prompt.
        token_counts: number of tokens of each continuation.
        cost: what the call cost (the shared prompt is evaluated at most once).
    """

    logprobs: tuple[float, ...]
    token_counts: tuple[int, ...]
    cost: Cost


@runtime_checkable
class Backend(Protocol):
    """What the Planner needs from a language-model runtime.

    Backends are not required to be thread-safe; the Planner serialises its calls.
    """

    name: str
    capabilities: Capabilities

    @property
    def model_name(self) -> str:
        """A short, stable name of the loaded model (e.g. the GGUF file stem)."""
        ...

    @property
    def n_ctx(self) -> int:
        """The context window in tokens."""
        ...

    def sample(
        self,
        prompt: str,
        *,
        n: int = 1,
        max_tokens: int = 64,
        temperature: float = 0.7,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: Sequence[str] = (),
        choices: Sequence[str] | None = None,
    ) -> SampleResult:
        """Draw ``n`` completions of ``prompt``.

        With ``choices`` every completion is exactly one of the given strings. ``temperature``
        0 means greedy. The same ``seed`` gives the same completions.
        """
        ...

    def score(self, prompt: str, continuations: Sequence[str]) -> ScoreResult:
        """Log-probability of each continuation after ``prompt``, evaluating the prompt once."""
        ...

    def render_chat(
        self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True
    ) -> str:
        """Render chat messages with the model's own chat template."""
        ...

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        """Token ids of ``text`` as the model sees it (no BOS added)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text``."""
        ...

    def close(self) -> None:
        """Free native resources. Further calls are an error."""
        ...
