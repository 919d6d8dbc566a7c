"""The engine under every in-process backend: one ``sample``/``score`` over native operations.

A backend plugin supplies a :class:`Runtime`: a model with its tokenizer and one key/value cache,
and a few native operations (evaluate tokens into the prompt's cache, decode a batch of samples
that share it, feed continuations after it). :class:`Engine` does everything else once, for every
plugin: argument checks, the lock and the closed check, prefix reuse (the prompt's tokens stay
cached between calls, and only the new suffix is evaluated), the choice trie and stop strings
(through :func:`aip_sdk.sampling.generate`), batching samples within what the runtime can hold,
and the ledger. A new backend is a ``Runtime`` of its native calls plus a constructor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from aip_sdk.backend import (
    Capabilities,
    ChatMessage,
    Completion,
    SampleResult,
    ScoreResult,
)
from aip_sdk.chat_template import ChatTemplate
from aip_sdk.cost import Cost
from aip_sdk.errors import BackendError, ConfigError, ContextOverflowError
from aip_sdk.sampling import (
    ChoiceTrie,
    as_choice,
    check_sample_args,
    choice_trie,
    common_prefix,
    generate,
    log_softmax,
)

__all__ = ["Engine", "Fork", "Runtime", "check_limits"]

FloatArray = npt.NDArray[np.float32]


class Fork(Protocol):
    """Samples decoded together over copies of the prompt's cache (see :meth:`Runtime.fork`)."""

    def advance(self, rows: list[int], tokens: list[int], step: int) -> list[FloatArray]:
        """Feed ``tokens[r]`` to the sample in row ``rows[r]`` at generated position ``step``;
        return the next logits of each (only the rows still running are passed)."""
        ...

    def close(self) -> None:
        """Free the copies (the prompt's cache stays)."""
        ...


class Runtime(Protocol):
    """The native part of a backend: what only the runtime itself can do.

    Positions count from the start of the prompt's cache; the engine keeps track of which
    tokens it holds and asks only for the new ones.
    """

    @property
    def n_ctx(self) -> int:
        """The context window in tokens."""
        ...

    @property
    def end_tokens(self) -> Sequence[int]:
        """Every end-of-generation token id."""
        ...

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        """Token ids of ``text`` (no BOS)."""
        ...

    def prompt_tokens(self, text: str) -> list[int]:
        """Token ids of a whole prompt (with a BOS where the model wants one)."""
        ...

    def detokenize(self, tokens: Sequence[int]) -> str:
        """Text of ``tokens``."""
        ...

    @property
    def chat_template(self) -> ChatTemplate | None:
        """The model's own chat template (``None``: the model has none; ChatML is used)."""
        ...

    def evaluate(self, tokens: list[int], keep: int) -> FloatArray:
        """Make the prompt's cache hold ``tokens``: keep its first ``keep`` positions, evaluate
        the rest; return the logits after the last token."""
        ...

    def forget(self) -> None:
        """Empty the prompt's cache (after a failure, or on request)."""
        ...

    def fork_width(self, prompt_len: int, max_tokens: int) -> int:
        """How many samples of up to ``max_tokens`` tokens can decode together now."""
        ...

    def fork(self, width: int, prompt_len: int) -> Fork:
        """``width`` samples continuing the prompt's cache (of ``prompt_len`` tokens)."""
        ...

    def continuations(
        self, prompt_len: int, bodies: Sequence[Sequence[int]]
    ) -> list[list[FloatArray]]:
        """Feed each body after the prompt's cache; return the logits after each of its tokens.

        The runtime batches them as it can (within its context, batch and parallel limits).
        """
        ...

    def close(self) -> None:
        """Free the native resources."""
        ...


def check_limits(*, n_ctx: int, max_parallel: int) -> None:
    """Check a runtime's size arguments before it allocates anything.

    Raises:
        ConfigError: ``n_ctx`` below 16 or ``max_parallel`` outside 1..64.
    """
    if n_ctx < 16:
        raise ConfigError(f"n_ctx={n_ctx!r} is too small; use at least 16 (typically 2048)")
    if not 1 <= max_parallel <= 64:
        raise ConfigError(f"max_parallel={max_parallel!r} must be between 1 and 64")


class Engine:
    """A backend over a :class:`Runtime`: the whole contract of :class:`aip_sdk.Backend`.

    Calls are serialised by a lock (the runtime's cache is shared state).

    Args:
        runtime: the plugin's native operations.
        model_name: a short, stable name of the model.
        capabilities: what the backend declares.
    """

    name = "engine"

    def __init__(self, runtime: Runtime, *, model_name: str, capabilities: Capabilities) -> None:
        self._runtime = runtime
        self._model_name = model_name
        self.capabilities = capabilities
        self._lock = threading.Lock()
        self._cached: list[int] = []  # tokens the prompt's cache holds
        self._closed = False

    # -- contract: text ---------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def n_ctx(self) -> int:
        return self._runtime.n_ctx

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        with self._lock:
            self._check_open()
            return self._runtime.tokenize(text, special=special)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def render_chat(
        self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True
    ) -> str:
        """Render ``messages`` with the model's own chat template (ChatML where it has none)."""
        template = self._runtime.chat_template
        if template is not None:
            return template.render(messages, add_generation_prompt=add_generation_prompt)
        out = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return out + ("<|im_start|>assistant\n" if add_generation_prompt else "")

    # -- contract: operations -----------------------------------------------------------------

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
        """Draw ``n`` completions of ``prompt``; see :class:`aip_sdk.Backend`."""
        check_sample_args(n=n, max_tokens=max_tokens, temperature=temperature, top_p=top_p)
        with self._lock:
            self._check_open()
            t0 = time.perf_counter()
            rt = self._runtime
            trie: ChoiceTrie | None = None
            choice_list: list[str] = []
            if choices is not None:
                trie, choice_list, max_tokens = choice_trie(
                    choices, lambda c: rt.tokenize(c, special=False)
                )
            tokens = self._prompt(prompt)
            first, evaluated, reused = self._prepare(tokens, max_tokens)
            width = max(1, rt.fork_width(len(tokens), max_tokens))
            completions: list[Completion] = []
            generated = 0
            for lo in range(0, n, width):
                idxs = list(range(lo, min(n, lo + width)))
                fork = rt.fork(len(idxs), len(tokens))
                try:
                    outs, gen = generate(
                        first,
                        idxs,
                        advance=fork.advance,
                        detok=rt.detokenize,
                        end_tokens=rt.end_tokens,
                        max_tokens=max_tokens,
                        temperature=temperature,
                        top_p=top_p,
                        seed=seed,
                        stop=stop,
                        trie=trie,
                    )
                except BaseException:
                    self._forget()
                    raise
                finally:
                    fork.close()
                completions.extend(outs)
                generated += gen
            if trie is not None:
                completions = [as_choice(c, trie, choice_list) for c in completions]
            cost = Cost(
                llm_calls=1,
                prompt_tokens=evaluated,
                reused_prompt_tokens=reused,
                generated_tokens=generated,
                seconds=time.perf_counter() - t0,
            )
            return SampleResult(completions=tuple(completions), cost=cost)

    def score(self, prompt: str, continuations: Sequence[str]) -> ScoreResult:
        """Log-probability of each continuation; the prompt is evaluated once for all of them."""
        conts = list(continuations)
        with self._lock:
            self._check_open()
            t0 = time.perf_counter()
            if not conts:
                return ScoreResult(logprobs=(), token_counts=(), cost=Cost())
            rt = self._runtime
            tokens = self._prompt(prompt)
            ctoks = [rt.tokenize(c, special=False) for c in conts]
            first, evaluated, reused = self._prepare(tokens, max(len(c) for c in ctoks))
            first_lp = log_softmax(first)
            totals = [float(first_lp[c[0]]) if c else 0.0 for c in ctoks]
            pending = [j for j, c in enumerate(ctoks) if len(c) > 1]
            try:
                outs = rt.continuations(len(tokens), [ctoks[j][:-1] for j in pending])
            except BaseException:
                self._forget()
                raise
            extra = 0
            for j, logits in zip(pending, outs):
                for p, lg in enumerate(logits):
                    totals[j] += float(log_softmax(lg)[ctoks[j][p + 1]])
                extra += len(ctoks[j]) - 1
            cost = Cost(
                llm_calls=1,
                prompt_tokens=evaluated + extra,
                reused_prompt_tokens=reused,
                generated_tokens=0,
                seconds=time.perf_counter() - t0,
            )
            return ScoreResult(
                logprobs=tuple(totals), token_counts=tuple(len(c) for c in ctoks), cost=cost
            )

    def reset_cache(self) -> None:
        """Forget the cached prompt, so the next call evaluates its prompt in full."""
        with self._lock:
            self._check_open()
            self._forget()

    def close(self) -> None:
        """Free the runtime. Further calls are an error."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._runtime.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not getattr(self, "_closed", True):
                self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    # -- the shared machinery -----------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError("this backend was closed; build a new one")

    def _prompt(self, prompt: str) -> list[int]:
        tokens = self._runtime.prompt_tokens(prompt)
        if not tokens:
            raise ConfigError("prompt is empty; pass at least one character of text")
        return tokens

    def _forget(self) -> None:
        self._cached = []
        self._runtime.forget()

    def _prepare(self, tokens: list[int], extra: int) -> tuple[FloatArray, int, int]:
        """Bring the prompt's cache to ``tokens``, reusing its cached prefix.

        Returns:
            (logits after the last prompt token, tokens evaluated, tokens reused).

        Raises:
            ContextOverflowError: the prompt and ``extra`` generated tokens do not fit.
        """
        if len(tokens) + extra > self._runtime.n_ctx:
            raise ContextOverflowError(
                prompt_tokens=len(tokens), max_tokens=extra, n_ctx=self._runtime.n_ctx
            )
        keep = min(common_prefix(self._cached, tokens), len(tokens) - 1)
        self._cached = []  # consistent if the evaluation fails
        try:
            logits = self._runtime.evaluate(tokens, keep)
        except BaseException:
            self._forget()
            raise
        self._cached = list(tokens)
        return logits, len(tokens) - keep, keep
