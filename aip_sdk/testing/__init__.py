"""Fakes and checks for testing code that uses aip-sdk.

* :class:`ScriptedBackend` replays queued outputs and records every request, so the Planner's
  logic (voting, stopping rules, ledgers) can be tested without a model. It never stands in for
  the real model in a test that claims the real thing works.
* :func:`check_backend` checks any backend against the contract, the way gymnasium's
  ``check_env`` checks an environment. Third-party backends call it in their own tests.
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from aip_sdk.backend import (
    Backend,
    Capabilities,
    ChatMessage,
    Completion,
    SampleResult,
    ScoreResult,
)
from aip_sdk.cost import Cost
from aip_sdk.decision import DEFAULT_DECISION_TABLE, Decision, table_to_json
from aip_sdk.errors import BackendError
from aip_sdk.features import FEATURE_SCHEMA

__all__ = ["ScriptedBackend", "build_controller_file", "check_backend"]


@attrs.define
class ScriptedBackend:
    """A backend that answers from scripts instead of a model.

    Args:
        samples: texts returned by ``sample`` one by one, in order; when it runs dry, a
            constrained call returns the first choice and a free call returns ``""``. A greedy
            (temperature 0) constrained call, such as the probe, does not read them: it picks
            the choice with the highest score.
        scores: per-continuation log-probs keyed by continuation; unknown ones score ``-5.0``.
            A constrained completion's choice statistics are the softmax of its choices' scores.
        delay: seconds each call sleeps (to test interruptions of long runs).
        model_path: accepted and ignored, so that the CLI's ``--model`` can be passed.

    Every call appends ``(operation, kwargs)`` to :attr:`requests`; each token is one
    whitespace-separated word, and each call reports that cost.
    """

    samples: collections.deque[str] = attrs.field(
        factory=collections.deque, converter=collections.deque
    )
    scores: dict[str, float] = attrs.field(factory=dict)
    name: str = "scripted"
    capabilities: Capabilities = attrs.field(
        factory=lambda: Capabilities(reuses_prefix=False, parallel_samples=1)
    )
    requests: list[tuple[str, dict[str, Any]]] = attrs.field(factory=list)
    closed: bool = False
    delay: float = 0.0
    model_path: Any = None

    @property
    def model_name(self) -> str:
        return "scripted"

    @property
    def n_ctx(self) -> int:
        return 4096

    def __enter__(self) -> ScriptedBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def queue(self, *texts: str) -> None:
        """Queue more sample outputs."""
        self.samples.extend(texts)

    def _check(self) -> None:
        if self.closed:
            raise BackendError("this backend was closed; build a new one")
        if self.delay:
            time.sleep(self.delay)

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
        self._check()
        self.requests.append(
            (
                "sample",
                {
                    "prompt": prompt,
                    "n": n,
                    "max_tokens": max_tokens,
                    "temperature": temperature,
                    "seed": seed,
                    "stop": tuple(stop),
                    "choices": tuple(choices) if choices else None,
                },
            )
        )
        out = []
        for _ in range(n):
            if choices is not None and temperature == 0:
                text = max(choices, key=lambda c: self.scores.get(c, -5.0))
            else:
                fallback = choices[0] if choices else ""
                text = self.samples.popleft() if self.samples else fallback
            if choices is not None and text not in choices:
                raise BackendError(
                    f"scripted output {text!r} is not one of the choices {choices!r}"
                )
            words = text.split() or [""]
            stats: dict[str, Any] = {}
            if choices is not None:
                lp = np.array([self.scores.get(c, -5.0) for c in choices], dtype=np.float64)
                p = np.exp(lp - lp.max())
                p /= p.sum()
                top = np.sort(p)[::-1]
                stats = {
                    "choice_logprobs": (float(np.log(p[list(choices).index(text)])),)
                    + (0.0,) * (len(words) - 1),
                    "choice_margins": (float(top[0] - top[1]) if len(top) > 1 else 1.0,),
                    "choice_entropy": float(-(p * np.log(p)).sum() / np.log(len(p)))
                    if len(p) > 1
                    else 0.0,
                }
            out.append(
                Completion(
                    text=text,
                    token_ids=tuple(range(len(words))),
                    token_logprobs=tuple(-0.1 for _ in words),
                    **stats,
                )
            )
        gen = sum(len(c.token_ids) for c in out)
        cost = Cost(llm_calls=1, prompt_tokens=self.count_tokens(prompt), generated_tokens=gen)
        return SampleResult(completions=tuple(out), cost=cost)

    def score(self, prompt: str, continuations: Sequence[str]) -> ScoreResult:
        self._check()
        self.requests.append(("score", {"prompt": prompt, "continuations": tuple(continuations)}))
        lps = tuple(self.scores.get(c, -5.0) for c in continuations)
        counts = tuple(self.count_tokens(c) for c in continuations)
        cost = Cost(llm_calls=1, prompt_tokens=self.count_tokens(prompt) + sum(counts))
        return ScoreResult(logprobs=lps, token_counts=counts, cost=cost)

    def render_chat(
        self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True
    ) -> str:
        text = "".join(f"[{m['role']}] {m['content']}\n" for m in messages)
        return text + ("[assistant] " if add_generation_prompt else "")

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        return list(range(len(text.split())))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def close(self) -> None:
        self.closed = True


def check_backend(backend: Backend, *, seed: int = 1234) -> None:
    """Check that ``backend`` honours the contract; raise ``AssertionError`` naming what fails.

    It checks declared capabilities, chat rendering, token counting, seeded reproducibility,
    constrained choice, scoring and cost reporting (and prefix reuse where declared).
    """
    caps = backend.capabilities
    assert isinstance(caps, Capabilities), "capabilities must be a Capabilities instance"
    assert isinstance(backend.model_name, str) and backend.model_name, (
        "model_name must be a non-empty str"
    )
    assert backend.n_ctx > 0, "n_ctx must be positive"
    prompt = backend.render_chat([{"role": "user", "content": "Name a colour."}])
    assert isinstance(prompt, str) and "Name a colour." in prompt, (
        "render_chat must keep the content"
    )
    assert backend.count_tokens("one two three") > 0, "count_tokens must count"
    a = backend.sample(prompt, n=3, max_tokens=8, temperature=0.9, seed=seed)
    b = backend.sample(prompt, n=3, max_tokens=8, temperature=0.9, seed=seed)
    assert len(a.completions) == 3, "sample must return n completions"
    assert [c.text for c in a.completions] == [c.text for c in b.completions], (
        "same seed must give same samples"
    )
    for c in a.completions:
        assert len(c.token_ids) == len(c.token_logprobs), "one log-prob per token"
        assert all(lp <= 1e-6 for lp in c.token_logprobs), "log-probs must be <= 0"
        assert c.finish_reason in ("stop", "length"), "finish_reason must be 'stop' or 'length'"
    assert a.cost.llm_calls == 1 and a.cost.generated_tokens >= 3, "sample must report its cost"
    assert a.cost.prompt_tokens + a.cost.reused_prompt_tokens > 0, "sample must count prompt tokens"
    if caps.can_constrain:
        choices = ["red", "green light", "blue sky today"]
        res = backend.sample(prompt, n=6, temperature=1.0, seed=seed, choices=choices)
        assert all(c.text in choices for c in res.completions), (
            "constrained samples must be choices"
        )
    if caps.can_score:
        sc = backend.score(prompt, ["Red.", "Red. Red. Red. Red. zebra quantum"])
        assert len(sc.logprobs) == 2 and len(sc.token_counts) == 2, (
            "score must answer per continuation"
        )
        assert all(lp <= 1e-6 for lp in sc.logprobs), "scores must be log-probs"
        assert sc.cost.llm_calls == 1, "score must report its cost"
    if caps.reuses_prefix:
        first = backend.sample(prompt + "A", n=1, max_tokens=2, seed=seed)
        again = backend.sample(prompt + "A", n=1, max_tokens=2, seed=seed)
        assert again.cost.reused_prompt_tokens > 0, "a backend that reuses prefixes must report it"
        assert again.cost.prompt_tokens < first.cost.prompt_tokens + first.cost.reused_prompt_tokens


def build_controller_file(
    path: str | os.PathLike[str],
    layers: Sequence[np.ndarray[Any, Any]],
    *,
    biases: Sequence[np.ndarray[Any, Any]] | None = None,
    table: Sequence[Decision] = DEFAULT_DECISION_TABLE,
    schema: str = FEATURE_SCHEMA,
) -> Path:
    """Write a small ONNX controller (Gemm layers with tanh between them) built with
    ``onnx.helper``, with the metadata a learned controller reads.

    Use it for tests and benchmarks of the learned-controller path without training one.
    ``layers[0]`` has one row per feature (its row count sets the input width); the last layer
    has one column per decision. Needs the ``onnx`` package (``dev`` or ``train`` extra).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    biases = biases or [np.zeros(w.shape[1], dtype=np.float32) for w in layers]
    nodes, inits, prev = [], [], "features"
    for i, (w, b) in enumerate(zip(layers, biases)):
        inits += [
            numpy_helper.from_array(np.asarray(w, np.float32), f"W{i}"),
            numpy_helper.from_array(np.asarray(b, np.float32), f"B{i}"),
        ]
        last = i == len(layers) - 1
        out = "logits" if last else f"z{i}"
        nodes.append(helper.make_node("Gemm", [prev, f"W{i}", f"B{i}"], [out]))
        if not last:
            nodes.append(helper.make_node("Tanh", [out], [f"h{i}"]))
            prev = f"h{i}"
    graph = helper.make_graph(
        nodes,
        "policy",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, layers[0].shape[0]])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, layers[-1].shape[1]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in {
        "aip.feature_schema": schema,
        "aip.decision_table": table_to_json(table),
    }.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return Path(path)
