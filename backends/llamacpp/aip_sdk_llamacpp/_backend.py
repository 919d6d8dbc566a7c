"""The llama.cpp backend: GGUF models through llama-cpp-python, under the SDK's engine.

We load the model with ``llama_cpp.Llama`` (so every loading knob, including ``n_gpu_layers``, is
llama-cpp-python's) and run requests on a context of our own that holds several sequences in a
unified KV cache: the prompt lives in sequence 0 and stays there between calls (prefix reuse), and
the samples of one prompt are decoded together as sequences 1..n that share the prompt's cells
(one batched decode per generated position). This module holds only those native calls
(:class:`LlamaRuntime`); sampling, scoring, the ledger and the lock are the engine's
(:class:`aip_sdk.engine.Engine`).
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

from aip_sdk.backend import Capabilities
from aip_sdk.chat_template import ChatTemplate
from aip_sdk.engine import Engine, check_limits
from aip_sdk.errors import BackendError, ContextOverflowError, ModelLoadError
from aip_sdk.models import check_gguf, resolve_model_path
from aip_sdk.util import usable_cpus

__all__ = ["LlamaCppBackend", "LlamaRuntime"]

F32 = np.ndarray[Any, np.dtype[np.float32]]


class LlamaRuntime:
    """llama.cpp's native operations on one context (see :class:`aip_sdk.engine.Runtime`)."""

    def __init__(
        self,
        llm: llama_cpp.Llama,
        *,
        n_ctx: int,
        n_batch: int,
        n_threads: int | None,
        max_parallel: int,
        owns: bool,
    ) -> None:
        check_limits(n_ctx=n_ctx, max_parallel=max_parallel)
        self.llm = llm
        self._owns = owns
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
                f"llama.cpp could not create a context of {n_ctx} tokens; lower n_ctx or "
                f"max_parallel"
            )
        self._ctx = ctx
        self._mem = llama_cpp.llama_get_memory(ctx)
        self._vocab = llama_cpp.llama_model_get_vocab(llm.model)
        self._n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self._batch = llama_cpp.llama_batch_init(self._n_batch, 0, self._n_seq)
        # Every end-of-generation token (end of turn, end of text): a constrained choice that is
        # a prefix of a longer one may end on any of them.
        self._end = [
            t for t in range(self._n_vocab) if llama_cpp.llama_vocab_is_eog(self._vocab, t)
        ]
        source = llm.metadata.get("tokenizer.chat_template")
        bos_id = int(llama_cpp.llama_vocab_bos(self._vocab))
        self._template = (
            ChatTemplate(
                source=source,
                bos_token=self.detokenize([bos_id]) if bos_id >= 0 else "",
                eos_token=self.detokenize([int(llama_cpp.llama_vocab_eos(self._vocab))]),
            )
            if source
            else None
        )

    # -- text -------------------------------------------------------------------------------

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def end_tokens(self) -> Sequence[int]:
        return self._end

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def prompt_tokens(self, text: str) -> list[int]:
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True))

    def detokenize(self, tokens: Sequence[int]) -> str:
        return bytes(self.llm.detokenize(list(tokens))).decode("utf-8", errors="replace")

    @property
    def chat_template(self) -> ChatTemplate | None:
        return self._template

    # -- native decoding --------------------------------------------------------------------

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
            self.forget()  # leave no half-written state behind
            if rc == 1:
                raise ContextOverflowError(
                    prompt_tokens=max(pos for _, pos, _, _ in entries) + 1,
                    max_tokens=0,
                    n_ctx=self._n_ctx,
                )
            raise BackendError(f"llama_decode failed with code {rc}")
        return rows

    def _logits(self, row: int) -> F32:
        ptr = llama_cpp.llama_get_logits_ith(self._ctx, row)
        arr = np.ctypeslib.as_array(
            ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(self._n_vocab,)
        )
        return np.array(arr, dtype=np.float32, copy=True)

    def _drop_samples(self) -> None:
        for seq in range(1, self._n_seq):
            llama_cpp.llama_memory_seq_rm(self._mem, seq, -1, -1)

    def evaluate(self, tokens: list[int], keep: int) -> F32:
        self._drop_samples()
        llama_cpp.llama_memory_seq_rm(self._mem, 0, keep, -1)
        last_row = -1
        for start in range(keep, len(tokens), self._n_batch):
            chunk = tokens[start : start + self._n_batch]
            entries = [(t, start + i, 0, start + i == len(tokens) - 1) for i, t in enumerate(chunk)]
            rows = self._decode(entries)
            if rows:
                last_row = rows[-1]
        return self._logits(last_row)

    def forget(self) -> None:
        llama_cpp.llama_memory_clear(self._mem, True)

    def fork_width(self, prompt_len: int, max_tokens: int) -> int:
        # Samples share one KV cache of n_ctx cells with the prompt.
        room = max(1, (self._n_ctx - prompt_len) // max_tokens)
        return min(self._n_seq - 1, room)

    def fork(self, width: int, prompt_len: int) -> _LlamaFork:
        for j in range(width):  # every sample starts from the prompt's cells
            llama_cpp.llama_memory_seq_cp(self._mem, 0, j + 1, -1, -1)
        return _LlamaFork(self, prompt_len)

    def continuations(self, prompt_len: int, bodies: Sequence[Sequence[int]]) -> list[list[F32]]:
        out: list[list[F32]] = [[] for _ in bodies]
        pending = list(range(len(bodies)))
        room = self._n_ctx - prompt_len
        while pending:
            # As many as fit the batch, the sequences and the context (one shared KV cache).
            group: list[int] = []
            size = 0
            while (
                pending
                and len(group) < self._n_seq - 1
                and size + len(bodies[pending[0]]) <= min(self._n_batch, room)
            ):
                j = pending.pop(0)
                group.append(j)
                size += len(bodies[j])
            if not group:  # a body longer than a batch: decode it alone
                group.append(pending.pop(0))
            entries: list[tuple[int, int, int, bool]] = []
            owners: list[int] = []
            for s, j in enumerate(group):
                llama_cpp.llama_memory_seq_cp(self._mem, 0, s + 1, -1, -1)
                for p, tok in enumerate(bodies[j]):
                    entries.append((tok, prompt_len + p, s + 1, True))
                    owners.append(j)
            for lo in range(0, len(entries), self._n_batch):
                rows = self._decode(entries[lo : lo + self._n_batch])
                for row, j in zip(rows, owners[lo : lo + self._n_batch]):
                    out[j].append(self._logits(row))
            self._drop_samples()
        return out

    def close(self) -> None:
        llama_cpp.llama_batch_free(self._batch)
        llama_cpp.llama_free(self._ctx)
        if self._owns:
            self.llm.close()


class _LlamaFork:
    """Samples as sequences 1..n sharing the prompt's cells."""

    def __init__(self, runtime: LlamaRuntime, base: int) -> None:
        self._rt = runtime
        self._base = base

    def advance(self, rows: list[int], tokens: list[int], step: int) -> list[F32]:
        entries = [(t, self._base + step, j + 1, True) for j, t in zip(rows, tokens)]
        return [self._rt._logits(r) for r in self._rt._decode(entries)]

    def close(self) -> None:
        self._rt._drop_samples()


class LlamaCppBackend(Engine):
    """Runs a GGUF model with llama.cpp.

    Use it when you want the fastest CPU inference, or CUDA offload with ``n_gpu_layers`` when
    llama-cpp-python was built with CUDA. Calls are serialised by an internal lock.

    Args:
        model_path: a ``.gguf`` file or a catalogue name; ``None`` takes ``$AIP_SDK_MODEL`` or
            the embedded default.
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
        check_gguf(path)
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
        self._setup(llm, path.stem, n_ctx, n_batch, n_threads, max_parallel, True, n_gpu_layers)

    @classmethod
    def from_llama(
        cls, llm: llama_cpp.Llama, *, n_ctx: int | None = None, max_parallel: int = 16
    ) -> LlamaCppBackend:
        """Wrap a ``llama_cpp.Llama`` the caller built (exotic flags, LoRA, a draft model...).

        The backend decodes on a context of its own over the same weights, sized ``n_ctx``
        (default: the engine's own ``n_ctx``). The caller keeps ownership of ``llm``.
        """
        self = cls.__new__(cls)
        name = Path(getattr(llm, "model_path", "") or "model").stem
        params = getattr(llm, "model_params", None)
        layers = int(params.n_gpu_layers) if params is not None else 0
        self._setup(
            llm,
            name,
            n_ctx or llm.n_ctx(),
            llm.n_batch,
            llm.context_params.n_threads,
            max_parallel,
            False,
            layers,
        )
        return self

    def _setup(
        self,
        llm: llama_cpp.Llama,
        model_name: str,
        n_ctx: int,
        n_batch: int,
        n_threads: int | None,
        max_parallel: int,
        owns: bool,
        n_gpu_layers: int,
    ) -> None:
        runtime = LlamaRuntime(
            llm,
            n_ctx=n_ctx,
            n_batch=n_batch,
            n_threads=n_threads,
            max_parallel=max_parallel,
            owns=owns,
        )
        offload = n_gpu_layers != 0 and bool(llama_cpp.llama_supports_gpu_offload())
        super().__init__(
            runtime,
            model_name=model_name,
            capabilities=Capabilities(
                can_score=True,
                can_constrain=True,
                reuses_prefix=True,
                device="cuda" if offload else "cpu",
                parallel_samples=max_parallel,
            ),
        )

    @classmethod
    def about(cls) -> str:
        """What ``aip-sdk models`` says of this backend: whether it can offload to a GPU."""
        gpu = bool(llama_cpp.llama_supports_gpu_offload())
        return f"llama-cpp-python {llama_cpp.__version__}; GPU offload (n_gpu_layers): " + (
            "available" if gpu else "not in this build (CPU only)"
        )

    def __repr__(self) -> str:
        return (
            f"<LlamaCppBackend model={self.model_name!r} n_ctx={self.n_ctx} "
            f"device={self.capabilities.device!r}>"
        )

    @property
    def llama(self) -> llama_cpp.Llama:
        """The underlying ``llama_cpp.Llama`` (weights, tokenizer, metadata)."""
        runtime: LlamaRuntime = self._runtime  # type: ignore[assignment]
        return runtime.llm
