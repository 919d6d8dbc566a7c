"""The OpenAI-compatible server backend: the backend contract over ``/v1/completions``.

For users who serve a bigger model with vLLM (on one GPU or a Ray cluster), llama.cpp's
``llama-server`` or llama-cpp-python's server. At start the backend asks the server what it is
(``/v1/models``, its tokenizer endpoint, whether it constrains output by grammar or by guided
choice) and declares that as :class:`~aip_sdk.Capabilities`:

* ``sample``: one request per sample, run concurrently over one connection pool (servers that
  accept ``n`` would answer one request, but ``n`` is not honoured by every server and each
  sample needs its own seed); choices are constrained by the server's own means (a GBNF grammar
  for llama.cpp servers, ``guided_choice`` for vLLM) or, where it has none, sampled from the
  softmax of their scores;
* ``score``: prompt log-probabilities (``echo`` with ``logprobs``), the continuation's tokens
  found by their text offsets;
* the ledger comes from each response's ``usage`` (prompt and completion tokens, and cached
  prompt tokens where the server reports them); it is never estimated.

Requests time out, and 429 and 5xx answers and dropped connections are retried with exponential
backoff a bounded number of times before a :class:`~aip_sdk.BackendError` says what happened.
The API key comes from ``api_key=``, ``$AIP_SDK_API_KEY`` or ``$OPENAI_API_KEY``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np

from aip_sdk.backend import Capabilities, ChatMessage, Completion, SampleResult, ScoreResult
from aip_sdk.cost import Cost
from aip_sdk.errors import BackendError, ConfigError, ContextOverflowError
from aip_sdk.sampling import check_sample_args

__all__ = ["OpenAIBackend"]

BASE_URL_ENV = "AIP_SDK_BASE_URL"
KEY_ENVS = ("AIP_SDK_API_KEY", "OPENAI_API_KEY")
RETRY_STATUS = {429, 500, 502, 503, 504}


def _gbnf(choices: Sequence[str]) -> str:
    """A GBNF grammar whose only sentences are ``choices``."""
    return "root ::= " + " | ".join(json.dumps(c) for c in choices)


class OpenAIBackend:
    """Runs requests on an OpenAI-compatible completions server.

    Args:
        model_path: the served model's id (``None``: the first the server lists).
        base_url: the server's API root, e.g. ``http://127.0.0.1:8000/v1`` (default
            ``$AIP_SDK_BASE_URL``).
        api_key: the bearer token (default ``$AIP_SDK_API_KEY`` or ``$OPENAI_API_KEY``).
        timeout: seconds a request may take.
        retries: retries of a request answered 429/5xx or dropped, with exponential backoff.
        backoff: the first retry's wait in seconds (doubles each time).
        concurrency: most requests in flight at once (samples of one call run concurrently).
            The same seed gives the same samples only where the server's results do not depend
            on the order requests arrive in (llama-cpp-python's server reuses the previous
            request's cached prefix, so there use ``concurrency=1`` for reproducible runs).
        n_ctx: the context window, when the server does not say.

    Raises:
        ConfigError: no base URL.
        BackendError: the server cannot be reached, rejects the key, or serves no model.
    """

    name = "openai"
    preference = 0  # a server is chosen by name, never by "auto"

    def __init__(
        self,
        model_path: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.5,
        concurrency: int = 8,
        n_ctx: int = 4096,
    ) -> None:
        url = base_url or os.environ.get(BASE_URL_ENV)
        if not url:
            raise ConfigError(
                f"the openai backend needs the server's API root: pass base_url= or set "
                f"${BASE_URL_ENV} (e.g. http://127.0.0.1:8000/v1)"
            )
        self._url = url.rstrip("/")
        self._root = self._url[: -len("/v1")] if self._url.endswith("/v1") else self._url
        key = api_key or next((os.environ[k] for k in KEY_ENVS if os.environ.get(k)), None)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=timeout,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self._retries = retries
        self._backoff = backoff
        self._pool = ThreadPoolExecutor(max_workers=concurrency)
        self._lock = threading.Lock()
        self._closed = False
        models = self._request("GET", f"{self._url}/models").get("data") or []
        if not models:
            raise BackendError(f"the server at {self._url} serves no model")
        ids = [str(m.get("id")) for m in models]
        if model_path is not None and str(model_path) not in ids:
            raise ConfigError(
                f"the server at {self._url} serves {', '.join(ids)}, not {model_path!r}; pass "
                f"one of those as --model"
            )
        self._model = str(model_path) if model_path is not None else ids[0]
        info = next(m for m in models if str(m.get("id")) == self._model)
        self._n_ctx = int(info.get("max_model_len") or n_ctx)
        self._tokenize_route = self._find_tokenizer()
        self._constrain = self._find_constraint()
        self.capabilities = Capabilities(
            can_score=True,
            can_constrain=self._constrain != "scores",
            reuses_prefix=False,  # whatever the server caches, the ledger reports it
            device="server",
            parallel_samples=concurrency,
        )

    # -- HTTP ---------------------------------------------------------------------------------

    def _request(self, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
        """One request with bounded retries; translate every failure into a BackendError."""
        wait = self._backoff
        for attempt in range(self._retries + 1):
            try:
                resp = self._client.request(method, url, json=body)
            except httpx.TimeoutException as exc:
                problem = f"timed out ({exc})"
            except httpx.TransportError as exc:
                problem = f"could not be reached ({exc})"
            else:
                if resp.status_code in (401, 403):
                    raise BackendError(
                        f"the server at {self._url} rejected the API key ({resp.status_code}); "
                        f"set {KEY_ENVS[0]} or {KEY_ENVS[1]} to a key it accepts"
                    )
                if resp.status_code not in RETRY_STATUS:
                    if resp.status_code >= 400:
                        text = resp.text[:300]
                        if "context" in text.lower() and "length" in text.lower():
                            raise ContextOverflowError(
                                prompt_tokens=0, max_tokens=0, n_ctx=self._n_ctx
                            )
                        raise BackendError(
                            f"the server at {self._url} refused {url.rsplit('/', 1)[-1]} "
                            f"({resp.status_code}): {text}"
                        )
                    try:
                        return resp.json()
                    except ValueError as exc:
                        raise BackendError(f"the server answered non-JSON: {exc}") from exc
                problem = f"answered {resp.status_code}"
            if attempt < self._retries:
                time.sleep(wait)
                wait *= 2
        raise BackendError(
            f"the server at {self._url} {problem} {self._retries + 1} times in a row; it is "
            f"down or overloaded (lower the concurrency, or retry later)"
        )

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        if self._closed:
            raise BackendError("this backend was closed; build a new one")
        return self._request("POST", f"{self._url}{path}", body)

    def _find_tokenizer(self) -> tuple[str, str, str]:
        """(url, request field, response field) of the server's tokenizer endpoint."""
        routes = [
            (f"{self._root}/extras/tokenize", "input", "tokens"),  # llama-cpp-python
            (f"{self._root}/tokenize", "prompt", "tokens"),  # vLLM
            (f"{self._root}/tokenize", "content", "tokens"),  # llama.cpp llama-server
        ]
        for url, field, out in routes:
            try:
                resp = self._client.post(url, json={field: "a", "model": self._model})
            except httpx.TransportError:
                continue
            if resp.status_code == 200 and out in resp.json():
                return url, field, out
        raise BackendError(
            f"the server at {self._url} has no tokenizer endpoint (/extras/tokenize or "
            f"/tokenize); the backend counts tokens with it"
        )

    def _find_constraint(self) -> str:
        """How the server constrains output: ``grammar``, ``guided_choice`` or ``scores``."""
        for field in ("grammar", "guided_choice"):
            value: Any = _gbnf(["yes"]) if field == "grammar" else ["yes"]
            body = {"model": self._model, "prompt": "Say no.", "max_tokens": 4, field: value}
            body["temperature"] = 0.0
            try:
                out = self._post("/completions", body)
            except BackendError:
                continue
            if out["choices"][0]["text"].strip() == "yes":
                return field
        return "scores"

    def _map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return list(self._pool.map(fn, items))

    # -- contract -----------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        return self._model.rsplit("/", 1)[-1].removesuffix(".gguf")

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        url, field, out = self._tokenize_route
        body = {field: text, "model": self._model}
        return [int(t) for t in self._request("POST", url, body)[out]]

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def render_chat(
        self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True
    ) -> str:
        """ChatML (Qwen, SmolLM and most instruct models); the server sees a plain prompt."""
        out = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return out + ("<|im_start|>assistant\n" if add_generation_prompt else "")

    def _usage(self, responses: Sequence[dict[str, Any]]) -> tuple[int, int, int]:
        """(prompt tokens evaluated, reused from the server's cache, generated) of responses."""
        evaluated = reused = generated = 0
        for r in responses:
            usage = r.get("usage")
            if not usage:
                raise BackendError(
                    "the server reported no token usage; the ledger needs it (aip-sdk never "
                    "estimates cost): use a server that returns 'usage'"
                )
            cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
            evaluated += int(usage["prompt_tokens"]) - cached
            reused += cached
            generated += int(usage.get("completion_tokens") or 0)
        return evaluated, reused, generated

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
        if choices is not None and not list(choices):
            raise ConfigError("choices is empty; pass at least one allowed string")
        t0 = time.perf_counter()
        if choices is not None and self._constrain == "scores":
            return self._sample_by_scores(prompt, list(choices), n, temperature, seed, t0)
        base: dict[str, Any] = {
            "model": self._model,
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "logprobs": 1,
            # neutral sampling on every server (llama.cpp servers default to penalties)
            "top_k": 0 if self._constrain == "grammar" else -1,
            "min_p": 0.0,
            "repeat_penalty": 1.0,
        }
        if stop:
            base["stop"] = list(stop)
        if choices is not None:
            if self._constrain == "grammar":
                base["grammar"] = _gbnf(choices)
                # a grammar may spell a choice in many small tokens: at most one per character
                base["max_tokens"] = max(len(c.encode("utf-8")) for c in choices) + 4
            else:
                base["guided_choice"] = list(choices)

        def one(i: int) -> dict[str, Any]:
            body = dict(base)
            if seed is not None:
                body["seed"] = (seed * 1_000_003 + i) % (2**31)
            result: dict[str, Any] = self._post("/completions", body)
            return result

        responses = self._map(one, range(n))
        completions = []
        for r in responses:
            c = r["choices"][0]
            lp = c.get("logprobs") or {}
            token_lps = tuple(float(x) for x in lp.get("token_logprobs") or [] if x is not None)
            text = str(c["text"])
            if choices is not None and text not in choices:
                match = [ch for ch in choices if text.strip() == ch.strip()]
                if not match:
                    raise BackendError(f"the server's constrained answer {text!r} is no choice")
                text = match[0]
            completions.append(
                Completion(
                    text=text,
                    token_ids=tuple(range(len(token_lps))),  # ids: the server returns strings
                    token_logprobs=token_lps,
                    finish_reason="stop" if c.get("finish_reason") == "stop" else "length",
                )
            )
        evaluated, reused, generated = self._usage(responses)
        cost = Cost(
            llm_calls=1,
            prompt_tokens=evaluated,
            reused_prompt_tokens=reused,
            generated_tokens=generated,
            seconds=time.perf_counter() - t0,
        )
        return SampleResult(completions=tuple(completions), cost=cost)

    def _sample_by_scores(
        self,
        prompt: str,
        choices: list[str],
        n: int,
        temperature: float,
        seed: int | None,
        t0: float,
    ) -> SampleResult:
        """Constrained samples on a server that cannot constrain: from the choices' scores."""
        scored = self.score(prompt, choices)
        lps = np.asarray(scored.logprobs, dtype=np.float64)
        out = []
        for i in range(n):
            if temperature <= 0:
                j = int(np.argmax(lps))
            else:
                z = lps / temperature
                p = np.exp(z - z.max())
                p /= p.sum()
                rng = np.random.default_rng([seed if seed is not None else 0, i])
                j = int(rng.choice(len(choices), p=p))
            out.append(
                Completion(
                    text=choices[j],
                    token_ids=tuple(range(scored.token_counts[j])),
                    token_logprobs=(float(lps[j]),),
                )
            )
        cost = Cost(
            llm_calls=1,
            prompt_tokens=scored.cost.prompt_tokens,
            reused_prompt_tokens=scored.cost.reused_prompt_tokens,
            seconds=time.perf_counter() - t0,
        )
        return SampleResult(completions=tuple(out), cost=cost)

    def score(self, prompt: str, continuations: Sequence[str]) -> ScoreResult:
        """Log-probability of each continuation (``echo`` with ``logprobs``).

        The continuation's tokens are the last ones of the echoed prompt (servers do not agree
        on text offsets around special tokens); how many there are is what the server's
        tokenizer adds to the prompt's count.
        """
        conts = list(continuations)
        if not conts:
            return ScoreResult(logprobs=(), token_counts=(), cost=Cost())
        t0 = time.perf_counter()
        base = self.count_tokens(prompt)

        def one(cont: str) -> tuple[int, dict[str, Any]]:
            body = {
                "model": self._model,
                "prompt": prompt + cont,
                "max_tokens": 1,
                "echo": True,
                "logprobs": 1,
                "temperature": 0.0,
            }
            result: dict[str, Any] = self._post("/completions", body)
            return self.count_tokens(prompt + cont) - base, result

        answers = self._map(one, conts)
        totals, counts = [], []
        for n_cont, r in answers:
            values = (r["choices"][0].get("logprobs") or {}).get("token_logprobs") or []
            if not values:
                raise BackendError(
                    "the server returned no prompt log-probabilities (echo with logprobs); it "
                    "cannot score"
                )
            gen = int(r["usage"].get("completion_tokens") or 0)
            end = len(values) - gen
            picked = [float(v) for v in values[max(0, end - n_cont) : end] if v is not None]
            totals.append(sum(picked))
            counts.append(n_cont)
        evaluated, reused, _generated = self._usage([r for _, r in answers])
        cost = Cost(
            llm_calls=1,
            prompt_tokens=evaluated,
            reused_prompt_tokens=reused,
            seconds=time.perf_counter() - t0,
        )
        return ScoreResult(logprobs=tuple(totals), token_counts=tuple(counts), cost=cost)

    @classmethod
    def about(cls) -> str:
        """What ``aip-sdk models`` says of this backend."""
        return f"an OpenAI-compatible server at ${BASE_URL_ENV} (vLLM, llama-server, ...)"

    def __repr__(self) -> str:
        return f"<OpenAIBackend model={self._model!r} url={self._url!r}>"

    def __enter__(self) -> OpenAIBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._pool.shutdown(wait=False)
            self._client.close()
