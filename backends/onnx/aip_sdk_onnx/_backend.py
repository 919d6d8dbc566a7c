"""The ONNX Runtime backend: decoder models exported with a key/value cache, on CPU or CUDA.

We run the graph with plain ``onnxruntime`` and keep the key/value cache ourselves, as numpy
arrays passed in as ``past.*`` and read back as ``present.*`` (see :mod:`aip_sdk_onnx._graph`).
Holding the cache in the SDK is what gives the contract its two savings: the prompt's cache is
kept between calls (prefix reuse), and ``n`` samples or several continuations run as one batch
over copies of the same prompt cache (one forward pass per generated position, not ``n``).
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from aip_sdk.backend import (
    Capabilities,
    ChatMessage,
    Completion,
    SampleResult,
    ScoreResult,
    usable_cpus,
)
from aip_sdk.cost import Cost
from aip_sdk.errors import BackendError, ConfigError, ContextOverflowError, ModelLoadError
from aip_sdk.models import resolve_model_path
from aip_sdk.sampling import (
    ChoiceTrie,
    as_choice,
    check_sample_args,
    choice_trie,
    common_prefix,
    generate,
    log_softmax,
)
from aip_sdk_onnx._graph import GRAPH_FORMAT
from aip_sdk_onnx._providers import CPU, Provider, choose_providers, device_of
from aip_sdk_onnx.convert import CONFIG_FILE, MODEL_FILE, TOKENIZER_FILE, cached_conversion

__all__ = ["OnnxBackend", "resolve_onnx_model"]

F32 = npt.NDArray[np.float32]
_GGUF_MAGIC = b"GGUF"


def resolve_onnx_model(model: str | os.PathLike[str] | None) -> Path:
    """The model folder to load: a converted folder, its ``model.onnx``, or a GGUF file.

    A GGUF file (the default model when ``model`` is ``None``) is converted once into the cache
    (:func:`aip_sdk_onnx.convert.cached_conversion`).

    Raises:
        ModelLoadError: the path does not exist or is neither a model folder nor a GGUF file.
    """
    path = resolve_model_path(model)
    if path.is_dir():
        return path
    if path.is_file() and path.name.endswith(".onnx"):
        return path.parent
    if path.is_file():
        with path.open("rb") as fh:
            magic = fh.read(4)
        if magic == _GGUF_MAGIC:
            return cached_conversion(path)
        raise ModelLoadError(
            f"{str(path)!r} is neither a GGUF file nor an ONNX model folder; pass a folder made "
            f"by 'aip-sdk convert MODEL.gguf --to onnx --out DIR' or a .gguf file"
        )
    raise ModelLoadError(
        f"model {str(path)!r} does not exist; pass a folder made by 'aip-sdk convert' or a .gguf "
        f"file (--model / AIP_SDK_MODEL)"
    )


@functools.lru_cache(maxsize=8)
def _compile(template: str) -> Any:
    """The compiled chat template (compiled once: the Planner renders a prompt every step)."""
    from jinja2 import BaseLoader
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(loader=BaseLoader(), trim_blocks=True, lstrip_blocks=True)
    return env.from_string(template)


def _render(template: str, messages: Sequence[ChatMessage], **variables: Any) -> str:
    """Render a Hugging Face chat template (the same sandboxed Jinja setup as llama.cpp's)."""
    from jinja2.exceptions import TemplateError

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    try:
        return str(
            _compile(template).render(
                messages=[dict(m) for m in messages], raise_exception=raise_exception, **variables
            )
        )
    except TemplateError as exc:
        raise ConfigError(f"the model's chat template rejected the messages: {exc}") from exc


class OnnxBackend:
    """Runs a decoder language model exported to ONNX, through ONNX Runtime.

    Use it where ONNX Runtime is the runtime you ship (edge devices, Windows, a CUDA machine
    with onnxruntime-gpu) or where llama.cpp cannot be built. The model is a folder written by
    ``aip-sdk convert MODEL.gguf --to onnx --out DIR``; passing a ``.gguf`` file converts it
    once into the cache. Calls are serialised by an internal lock.

    Args:
        model_path: a converted folder, its ``model.onnx``, or a ``.gguf`` file; ``None`` takes
            ``$AIP_SDK_MODEL`` or the embedded default (converted on first use).
        providers: ONNX Runtime execution providers, best first (names or ``(name, options)``);
            ``None`` picks CUDA when onnxruntime-gpu is installed and a GPU answers, else CPU.
            Providers this build lacks are dropped with a warning; CPU is always the fallback.
        n_ctx: context window in tokens (prompt plus generation).
        n_threads: CPU threads; ``None`` uses every core this process may run on.
        n_batch: most prompt tokens evaluated in one forward pass.
        max_parallel: most samples (or continuations) decoded together.

    Raises:
        ModelLoadError: the folder is missing, incomplete, of another format, or ONNX Runtime
            cannot load the model file.
    """

    name = "onnx"
    preference = 10  # needs no compiler: load_backend("auto") falls back to it

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        providers: Sequence[Provider] | None = None,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        n_batch: int = 256,
        max_parallel: int = 16,
    ) -> None:
        if n_ctx < 16:
            raise ConfigError(f"n_ctx={n_ctx!r} is too small; use at least 16 (typically 2048)")
        if not 1 <= max_parallel <= 64:
            raise ConfigError(f"max_parallel={max_parallel!r} must be between 1 and 64")
        folder = resolve_onnx_model(model_path)
        self._meta = self._read_meta(folder)
        self._session = self._open_session(folder, providers, n_threads)
        from tokenizers import Tokenizer

        try:
            self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        except Exception as exc:  # tokenizers raises a bare Exception on a bad file
            raise ModelLoadError(
                f"{str(folder / TOKENIZER_FILE)!r} is not a readable tokenizer ({exc}); "
                f"convert the model again"
            ) from exc
        cfg = self._meta["config"]
        tok = self._meta["tokenizer"]
        self._folder = folder
        self._lock = threading.Lock()
        self._model_name = str(self._meta.get("name") or folder.name)
        self._n_ctx = min(n_ctx, int(cfg.get("context_length", n_ctx)))
        self._n_batch = max(16, n_batch)
        self._max_parallel = max_parallel
        self._n_layers = int(cfg["n_layers"])
        self._kv_shape = (int(cfg["n_kv_heads"]), int(cfg["head_dim"]))
        self._past_names = [
            f"past.{i}.{kind}" for i in range(self._n_layers) for kind in ("key", "value")
        ]
        self._out_names = ["logits"] + [n.replace("past.", "present.") for n in self._past_names]
        self._end_tokens = [int(t) for t in tok["end_ids"]]
        self._pad = int(tok["eos_id"]) if int(tok["eos_id"]) >= 0 else 0
        self._cached: list[int] = []
        self._kv: list[F32] = self._empty_kv(1)
        self._closed = False
        self.provider = self._session.get_providers()[0]
        self.capabilities = Capabilities(
            can_score=True,
            can_constrain=True,
            reuses_prefix=True,
            device=device_of(self._session.get_providers()),
            parallel_samples=max_parallel,
        )

    # -- loading ------------------------------------------------------------------------------

    @staticmethod
    def _read_meta(folder: Path) -> dict[str, Any]:
        cfg_path = folder / CONFIG_FILE
        if not cfg_path.is_file():
            raise ModelLoadError(
                f"{str(folder)!r} has no {CONFIG_FILE}; it is not a model folder written by "
                f"'aip-sdk convert MODEL.gguf --to onnx --out DIR' (convert the model first)"
            )
        try:
            meta: dict[str, Any] = json.loads(cfg_path.read_text())
        except (OSError, ValueError) as exc:
            raise ModelLoadError(
                f"{str(cfg_path)!r} is not valid JSON ({exc}); convert the model again"
            ) from exc
        if meta.get("format") != GRAPH_FORMAT:
            raise ModelLoadError(
                f"{str(folder)!r} holds format {meta.get('format')!r}; this backend runs "
                f"{GRAPH_FORMAT!r}; convert the model again with this aip-sdk version"
            )
        for name in (MODEL_FILE, TOKENIZER_FILE):
            if not (folder / name).is_file():
                raise ModelLoadError(
                    f"{str(folder)!r} lacks {name}; the folder is incomplete, convert again"
                )
        needed = {
            "config": ("n_layers", "n_kv_heads", "head_dim"),
            "tokenizer": ("bos_id", "add_bos"),
        }
        for section, keys in needed.items():
            part = meta.get(section)
            missing = [k for k in keys if not isinstance(part, dict) or k not in part]
            if missing:
                raise ModelLoadError(
                    f"{str(cfg_path)!r} lacks {section} {', '.join(missing)}; the file is "
                    f"damaged or from another tool: convert the model again"
                )
        return meta

    @staticmethod
    def _open_session(
        folder: Path, providers: Sequence[Provider] | None, n_threads: int | None
    ) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = n_threads or usable_cpus()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.enable_cpu_mem_arena = False  # the KV cache changes shape every step
        chosen = choose_providers(providers)
        path = str(folder / MODEL_FILE)
        try:
            try:
                return ort.InferenceSession(path, options, providers=chosen)
            except Exception as exc:
                if chosen == [CPU]:
                    raise
                # A GPU provider that is installed but cannot start (no device, no driver).
                warnings.warn(
                    f"ONNX Runtime could not start {chosen[0]!r} ({exc}); running on CPU",
                    RuntimeWarning,
                    stacklevel=3,
                )
                return ort.InferenceSession(path, options, providers=[CPU])
        except Exception as exc:
            raise ModelLoadError(
                f"ONNX Runtime could not load {path!r}: {exc}; the file is damaged or not an "
                f"aip-sdk decoder, convert the model again"
            ) from exc

    @classmethod
    def about(cls) -> str:
        """What ``aip-sdk models`` says of this backend: the execution providers it can use."""
        import onnxruntime as ort

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chosen = choose_providers(None)
        order = ", ".join(p if isinstance(p, str) else p[0] for p in chosen)
        return (
            f"execution providers available: {', '.join(ort.get_available_providers())}; "
            f"default order: {order}"
        )

    def __enter__(self) -> OnnxBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<OnnxBackend model={self._model_name!r} n_ctx={self._n_ctx} "
            f"provider={self.provider!r}>"
        )

    # -- properties -------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def folder(self) -> Path:
        """The converted model folder in use."""
        return self._folder

    # -- text ---------------------------------------------------------------------------------

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        self._check_open()
        self._tokenizer.encode_special_tokens = not special
        try:
            return list(self._tokenizer.encode(text, add_special_tokens=False).ids)
        finally:
            self._tokenizer.encode_special_tokens = False

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def _prompt_tokens(self, prompt: str) -> list[int]:
        tokens = self.tokenize(prompt)
        bos = int(self._meta["tokenizer"]["bos_id"])
        if self._meta["tokenizer"]["add_bos"] and bos >= 0:
            tokens = [bos, *tokens]
        if not tokens:
            raise ConfigError("prompt is empty; pass at least one character of text")
        return tokens

    def _detok(self, tokens: Sequence[int]) -> str:
        return str(self._tokenizer.decode(list(tokens), skip_special_tokens=False))

    def render_chat(
        self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True
    ) -> str:
        """Render ``messages`` with the chat template taken from the GGUF file (ChatML if none)."""
        tok = self._meta["tokenizer"]
        template = tok.get("chat_template")
        if not template:
            out = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
            return out + ("<|im_start|>assistant\n" if add_generation_prompt else "")
        return _render(
            template,
            messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=tok.get("bos_token", ""),
            eos_token=tok.get("eos_token", ""),
        )

    # -- the forward pass -------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError("this backend was closed; build a new one")

    def _empty_kv(self, batch: int) -> list[F32]:
        heads, dim = self._kv_shape
        return [
            np.zeros(
                (batch, heads, dim, 0) if n.endswith(".key") else (batch, heads, 0, dim), np.float32
            )
            for n in self._past_names
        ]

    def _cut(self, kv: list[F32], keep: int) -> list[F32]:
        """The first ``keep`` positions of a cache (keys are stored transposed)."""
        return [
            np.ascontiguousarray(a[..., :keep] if n.endswith(".key") else a[:, :, :keep])
            for n, a in zip(self._past_names, kv)
        ]

    def _forward(
        self, ids: npt.NDArray[np.int64], kv: list[F32], keep: int
    ) -> tuple[F32, list[F32]]:
        """Run ``ids`` [batch, seq] after ``kv``; logits of the last ``keep`` positions."""
        feeds: dict[str, Any] = {"input_ids": ids, "logits_keep": np.array([keep], np.int64)}
        feeds.update(zip(self._past_names, kv))
        try:
            out = self._session.run(self._out_names, feeds)
        except Exception as exc:
            self._cached = []
            self._kv = self._empty_kv(1)
            raise BackendError(f"ONNX Runtime failed on a forward pass: {exc}") from exc
        return out[0], out[1:]

    def _prepare(self, tokens: list[int], extra: int) -> tuple[F32, int, int]:
        """Bring the cached prompt up to ``tokens`` reusing its prefix; return last logits.

        Returns:
            (logits of the last prompt token, tokens evaluated, tokens reused).
        """
        if len(tokens) + extra > self._n_ctx:
            raise ContextOverflowError(
                prompt_tokens=len(tokens), max_tokens=extra, n_ctx=self._n_ctx
            )
        keep = min(common_prefix(self._cached, tokens), len(tokens) - 1)
        kv = self._cut(self._kv, keep)
        self._cached, self._kv = [], self._empty_kv(1)  # consistent even if a pass fails
        logits: F32 | None = None
        for start in range(keep, len(tokens), self._n_batch):
            chunk = tokens[start : start + self._n_batch]
            out, kv = self._forward(np.array([chunk], np.int64), kv, 1)
            logits = out[0, -1]
        assert logits is not None
        self._cached, self._kv = list(tokens), kv
        return logits, len(tokens) - keep, keep

    # -- operations ---------------------------------------------------------------------------

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
            trie: ChoiceTrie | None = None
            choice_list: list[str] = []
            if choices is not None:
                trie, choice_list, max_tokens = choice_trie(
                    choices, lambda c: self.tokenize(c, special=False)
                )
            tokens = self._prompt_tokens(prompt)
            first, evaluated, reused = self._prepare(tokens, max_tokens)
            completions: list[Completion] = []
            generated = 0
            for lo in range(0, n, self._max_parallel):
                idxs = list(range(lo, min(n, lo + self._max_parallel)))
                outs, gen = generate(
                    first,
                    idxs,
                    advance=self._batch_decoder(),
                    detok=self._detok,
                    end_tokens=self._end_tokens,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    top_p=top_p,
                    seed=seed,
                    stop=stop,
                    trie=trie,
                )
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

    def _batch_decoder(self) -> Any:
        """An ``advance`` for :func:`aip_sdk.sampling.generate` over copies of the prompt cache.

        The batch holds only the samples still running: when some finish, their cache rows are
        dropped before the next step.
        """
        kv: list[F32] | None = None
        rows: list[int] = []  # batch row -> sample, for the rows in ``kv``

        def advance(active: list[int], toks: list[int], step: int) -> list[F32]:
            nonlocal kv, rows
            if kv is None:
                kv = [np.repeat(a, len(active), axis=0) for a in self._kv]
            elif active != rows:
                keep = [rows.index(j) for j in active]
                kv = [a[keep] for a in kv]
            rows = list(active)
            out, kv = self._forward(np.array([[t] for t in toks], np.int64), kv, 1)
            return [out[r, -1] for r in range(len(active))]

        return advance

    def score(self, prompt: str, continuations: Sequence[str]) -> ScoreResult:
        """Log-probability of each continuation; the prompt is evaluated once for all of them.

        The continuations (each tokenized on its own) run as one right-padded batch over copies
        of the prompt's cache; padding only follows a continuation, so it never changes it.
        """
        conts = list(continuations)
        with self._lock:
            self._check_open()
            t0 = time.perf_counter()
            if not conts:
                return ScoreResult(logprobs=(), token_counts=(), cost=Cost())
            tokens = self._prompt_tokens(prompt)
            ctoks = [self.tokenize(c, special=False) for c in conts]
            longest = max(len(c) for c in ctoks)
            first, evaluated, reused = self._prepare(tokens, longest)
            first_lp = log_softmax(first)
            totals = [float(first_lp[c[0]]) if c else 0.0 for c in ctoks]
            pending = [j for j, c in enumerate(ctoks) if len(c) > 1]
            extra = 0
            for lo in range(0, len(pending), self._max_parallel):
                group = pending[lo : lo + self._max_parallel]
                width = max(len(ctoks[j]) - 1 for j in group)
                ids = np.full((len(group), width), self._pad, np.int64)
                for r, j in enumerate(group):
                    body = ctoks[j][:-1]
                    ids[r, : len(body)] = body
                    extra += len(body)
                kv = [np.repeat(a, len(group), axis=0) for a in self._kv]
                out, _ = self._forward(ids, kv, width)
                for r, j in enumerate(group):
                    for p in range(len(ctoks[j]) - 1):
                        totals[j] += float(log_softmax(out[r, p])[ctoks[j][p + 1]])
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
            self._cached = []
            self._kv = self._empty_kv(1)

    def close(self) -> None:
        """Release the session and the cache."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._kv = []
            self._session = None
