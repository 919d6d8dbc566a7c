"""The ONNX Runtime backend: decoder models exported with a key/value cache, on CPU or CUDA.

We run the graph with plain ``onnxruntime`` and keep the key/value cache ourselves, passed in
as ``past.*`` and read back as ``present.*`` (see :mod:`aip_sdk_onnx._graph`). Holding the cache
in the SDK is what gives the contract its two savings: the prompt's cache is kept between calls
(prefix reuse), and ``n`` samples or several continuations run as one batch over copies of the
same prompt cache (one forward pass per generated position, not ``n``). On CPU the cache is numpy
arrays; on a GPU it stays in ONNX Runtime's tensors on the device between tokens (IO binding), and
crosses to host memory only where rows are copied, dropped or cut (once a call, not per token). This
module holds only those native calls (:class:`OnnxRuntime`); sampling, scoring, the ledger and
the lock are the engine's (:class:`aip_sdk.engine.Engine`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from aip_sdk.backend import Capabilities
from aip_sdk.chat_template import ChatTemplate
from aip_sdk.engine import Engine, check_limits
from aip_sdk.errors import BackendError, ModelLoadError
from aip_sdk_onnx._providers import Provider, choose_providers, device_of, open_session
from aip_sdk_onnx.convert import MODEL_FILE, TOKENIZER_FILE, read_meta, resolve_onnx_model

__all__ = ["OnnxBackend", "resolve_onnx_model"]

F32 = npt.NDArray[np.float32]
KV = list[Any]  # one tensor per past.* input: numpy arrays, or OrtValues on the bound device


class OnnxRuntime:
    """ONNX Runtime's native operations on one model folder (see :class:`aip_sdk.engine.Runtime`).

    Raises:
        ModelLoadError: the folder is missing, incomplete, of another format, or ONNX Runtime
            cannot load the model file.
    """

    def __init__(
        self,
        folder: Path,
        *,
        providers: Sequence[Provider] | None,
        n_ctx: int,
        n_threads: int | None,
        n_batch: int,
        max_parallel: int,
        io_binding: bool | None = None,
    ) -> None:
        check_limits(n_ctx=n_ctx, max_parallel=max_parallel)
        self.meta = read_meta(folder)
        self.session = open_session(str(folder / MODEL_FILE), providers, n_threads)
        device = device_of(self.session.get_providers())
        # where the cache lives between forward passes (None: numpy arrays, no binding)
        self._bound: str | None = (
            device if io_binding or (io_binding is None and device == "cuda") else None
        )
        from tokenizers import Tokenizer

        try:
            self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        except Exception as exc:  # tokenizers raises a bare Exception on a bad file
            raise ModelLoadError(
                f"{str(folder / TOKENIZER_FILE)!r} is not a readable tokenizer ({exc}); "
                f"convert the model again"
            ) from exc
        cfg = self.meta["config"]
        tok = self.meta["tokenizer"]
        self._n_ctx = min(n_ctx, int(cfg.get("context_length", n_ctx)))
        self._n_batch = max(16, n_batch)
        self._max_parallel = max_parallel
        self._n_layers = int(cfg["n_layers"])
        self._kv_shape = (int(cfg["n_kv_heads"]), int(cfg["head_dim"]))
        self._past_names = [
            f"past.{i}.{kind}" for i in range(self._n_layers) for kind in ("key", "value")
        ]
        self._out_names = ["logits"] + [n.replace("past.", "present.") for n in self._past_names]
        self._end = [int(t) for t in tok["end_ids"]]
        self._pad = int(tok["eos_id"]) if int(tok["eos_id"]) >= 0 else 0
        self._kv: KV = self._empty_kv(1)
        self._template = (
            ChatTemplate(
                source=tok["chat_template"],
                bos_token=tok.get("bos_token", ""),
                eos_token=tok.get("eos_token", ""),
            )
            if tok.get("chat_template")
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
        self._tokenizer.encode_special_tokens = not special
        try:
            return list(self._tokenizer.encode(text, add_special_tokens=False).ids)
        finally:
            self._tokenizer.encode_special_tokens = False

    def prompt_tokens(self, text: str) -> list[int]:
        tokens = self.tokenize(text, special=True)
        bos = int(self.meta["tokenizer"]["bos_id"])
        if self.meta["tokenizer"]["add_bos"] and bos >= 0:
            tokens = [bos, *tokens]
        return tokens

    def detokenize(self, tokens: Sequence[int]) -> str:
        return str(self._tokenizer.decode(list(tokens), skip_special_tokens=False))

    @property
    def chat_template(self) -> ChatTemplate | None:
        """The chat template taken from the GGUF file (``None`` when there is none)."""
        return self._template

    # -- the forward pass -------------------------------------------------------------------

    def _empty_kv(self, batch: int) -> KV:
        heads, dim = self._kv_shape
        return [
            np.zeros(
                (batch, heads, dim, 0) if n.endswith(".key") else (batch, heads, 0, dim), np.float32
            )
            for n in self._past_names
        ]

    @staticmethod
    def host(kv: KV) -> list[F32]:
        """A cache as numpy arrays (copied from the device where it is bound there)."""
        return [a if isinstance(a, np.ndarray) else a.numpy() for a in kv]

    def _cut(self, kv: KV, keep: int) -> KV:
        """The first ``keep`` positions of a cache (keys are stored transposed)."""
        return [
            np.ascontiguousarray(a[..., :keep] if n.endswith(".key") else a[:, :, :keep])
            for n, a in zip(self._past_names, self.host(kv))
        ]

    def forward(self, ids: npt.NDArray[np.int64], kv: KV, keep: int) -> tuple[F32, KV]:
        """Run ``ids`` [batch, seq] after ``kv``; logits of the last ``keep`` positions."""
        try:
            if self._bound is not None:
                return self._forward_bound(ids, kv, keep, self._bound)
            feeds: dict[str, Any] = {"input_ids": ids, "logits_keep": np.array([keep], np.int64)}
            feeds.update(zip(self._past_names, kv))
            out = self.session.run(self._out_names, feeds)
        except Exception as exc:
            raise BackendError(f"ONNX Runtime failed on a forward pass: {exc}") from exc
        return out[0], out[1:]

    def _forward_bound(
        self, ids: npt.NDArray[np.int64], kv: KV, keep: int, device: str
    ) -> tuple[F32, KV]:
        """:meth:`forward` with the cache read and written on ``device`` (IO binding); only the
        ids go in and the logits come out through host memory."""
        binding = self.session.io_binding()
        binding.bind_cpu_input("input_ids", ids)
        binding.bind_cpu_input("logits_keep", np.array([keep], np.int64))
        for name, a in zip(self._past_names, kv):
            if isinstance(a, np.ndarray):
                binding.bind_cpu_input(name, a)
            else:
                binding.bind_ortvalue_input(name, a)
        binding.bind_output("logits")
        for name in self._out_names[1:]:
            binding.bind_output(name, device)
        self.session.run_with_iobinding(binding)
        out = binding.get_outputs()
        return out[0].numpy(), list(out[1:])

    def evaluate(self, tokens: list[int], keep: int) -> F32:
        kv = self._cut(self._kv, keep)
        self._kv = self._empty_kv(1)  # consistent even if a pass fails
        logits: F32 | None = None
        for start in range(keep, len(tokens), self._n_batch):
            chunk = tokens[start : start + self._n_batch]
            out, kv = self.forward(np.array([chunk], np.int64), kv, 1)
            logits = out[0, -1]
        assert logits is not None
        self._kv = kv
        return logits

    def forget(self) -> None:
        self._kv = self._empty_kv(1)

    def fork_width(self, prompt_len: int, max_tokens: int) -> int:
        return self._max_parallel  # every row holds its own copy of the prompt's cache

    def fork(self, width: int, prompt_len: int) -> _OnnxFork:
        return _OnnxFork(self)

    def continuations(self, prompt_len: int, bodies: Sequence[Sequence[int]]) -> list[list[F32]]:
        """One right-padded batch per group over copies of the prompt's cache; padding only
        follows a body, so it never changes it."""
        out: list[list[F32]] = []
        for lo in range(0, len(bodies), self._max_parallel):
            group = bodies[lo : lo + self._max_parallel]
            width = max(len(b) for b in group)
            ids = np.full((len(group), width), self._pad, np.int64)
            for r, body in enumerate(group):
                ids[r, : len(body)] = body
            kv: KV = [np.repeat(a, len(group), axis=0) for a in self.host(self._kv)]
            logits, _ = self.forward(ids, kv, width)
            out += [[logits[r, p] for p in range(len(body))] for r, body in enumerate(group)]
        return out

    def close(self) -> None:
        self._kv = []
        self.session = None


class _OnnxFork:
    """Samples as the rows of a batch over copies of the prompt's cache; the rows of samples
    that finished are dropped before the next step."""

    def __init__(self, runtime: OnnxRuntime) -> None:
        self._rt = runtime
        self._kv: KV | None = None
        self._rows: list[int] = []  # batch row -> sample, for the rows in ``_kv``

    def advance(self, rows: list[int], tokens: list[int], step: int) -> list[F32]:
        if self._kv is None:
            self._kv = [np.repeat(a, len(rows), axis=0) for a in self._rt.host(self._rt._kv)]
        elif rows != self._rows:
            keep = [self._rows.index(j) for j in rows]
            self._kv = [a[keep] for a in self._rt.host(self._kv)]
        self._rows = list(rows)
        ids = np.array([[t] for t in tokens], np.int64)
        out, self._kv = self._rt.forward(ids, self._kv, 1)
        return [out[r, -1] for r in range(len(rows))]

    def close(self) -> None:
        self._kv = None


class OnnxBackend(Engine):
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
        io_binding: keep the key/value cache in ONNX Runtime's tensors on the session's device
            between tokens rather than in numpy arrays; ``None`` binds it where the session
            runs on CUDA (it saves two copies of the whole cache a token), not on CPU (where
            it is no faster).

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
        io_binding: bool | None = None,
    ) -> None:
        folder = resolve_onnx_model(model_path)
        runtime = OnnxRuntime(
            folder,
            providers=providers,
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_batch=n_batch,
            max_parallel=max_parallel,
            io_binding=io_binding,
        )
        self._folder = folder
        used = runtime.session.get_providers()
        self.provider = used[0]
        super().__init__(
            runtime,
            model_name=str(runtime.meta.get("name") or folder.name),
            capabilities=Capabilities(
                can_score=True,
                can_constrain=True,
                reuses_prefix=True,
                device=device_of(used),
                parallel_samples=max_parallel,
            ),
        )

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

    def __repr__(self) -> str:
        return (
            f"<OnnxBackend model={self.model_name!r} n_ctx={self.n_ctx} provider={self.provider!r}>"
        )

    @property
    def folder(self) -> Path:
        """The converted model folder in use."""
        return self._folder
