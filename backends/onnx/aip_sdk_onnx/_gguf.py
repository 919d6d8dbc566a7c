"""Read a llama- or qwen2-architecture GGUF file: hyper-parameters, tokenizer, block weights.

Only what the ONNX graph needs is read. Weights stay in their GGUF block format wherever ONNX
Runtime's ``MatMulNBits`` can hold it exactly: Q4_0, Q4_1 and Q4_K as 4-bit blocks of 32 (the
minimums of Q4_1 and Q4_K as per-block offsets), Q8_0 and Q5_0 as 8-bit blocks of 32, Q6_K as
8-bit blocks of 16 (one per sub-block scale). Any other tensor type is dequantized with the
``gguf`` package and re-quantized to 8-bit blocks of 32 (see :func:`as_blocks`): 8 bits hold a
4-, 5- or 6-bit block's values to within a quarter of its smallest step (the error is measured
and written into the model's metadata).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from aip_sdk.errors import ConversionError

__all__ = ["Blocks", "GgufModel", "LlamaConfig", "TokenizerData", "as_blocks", "read_gguf"]

BLOCK = 32
SUPPORTED_ARCHITECTURES = ("llama", "qwen2")

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]


@attrs.frozen(kw_only=True)
class LlamaConfig:
    """Hyper-parameters of a llama-architecture decoder, as GGUF metadata states them."""

    n_layers: int
    hidden: int
    intermediate: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    vocab_size: int
    rope_theta: float
    rope_scale: float
    rms_eps: float
    context_length: int


@attrs.frozen(kw_only=True)
class TokenizerData:
    """The tokenizer as GGUF stores it (``tokenizer.ggml.*``)."""

    model: str
    pre: str
    tokens: tuple[str, ...]
    token_types: tuple[int, ...]
    merges: tuple[str, ...]
    bos_id: int
    eos_id: int
    add_bos: bool
    end_ids: tuple[int, ...]
    chat_template: str


@attrs.frozen(kw_only=True)
class Blocks:
    """A weight matrix ``[N, K]`` in blocks: ``w = (q - zero) * scale + zero * scale + min``
    for an asymmetric format (Q4_1, q in 0..15), ``w = (q - zero) * scale`` for a symmetric one.

    ``q - zero`` is what ONNX Runtime's ``MatMulNBits`` runs on its fast symmetric path (zero 8
    for 4 bits, 128 for 8 bits); the rest (``zero * scale + min`` per block) is added by a small
    extra product with the block sums of the input, which keeps Q4_1 exact without the slow
    float zero-point path.

    Attributes:
        bits: 4 or 8.
        packed: ``[N, K/block, block*bits/8]`` uint8; for 4 bits element ``2i`` is the low
            nibble.
        scales: ``[N, K/block]`` float32.
        mins: ``[N, K/block]`` float32 block minimums, or ``None`` for a symmetric format.
        block: values per block (32; 16 for Q6_K, whose scales cover 16 values each).
    """

    bits: int
    packed: U8
    scales: F32
    mins: F32 | None
    block: int = BLOCK
    requant_error: float | None = None  # max |w - w'| / max |w| where re-quantized, else None

    @property
    def zero(self) -> float:
        return 8.0 if self.bits == 4 else 128.0

    @property
    def shape(self) -> tuple[int, int]:
        n, blocks, _ = self.packed.shape
        return int(n), int(blocks) * self.block

    def dequantize(self) -> F32:
        """The float matrix ``[N, K]`` (for checks)."""
        n, k = self.shape
        if self.bits == 4:
            q = np.empty((n, k // self.block, self.block), dtype=np.float32)
            q[..., 0::2] = self.packed & 0x0F
            q[..., 1::2] = self.packed >> 4
            q -= 8.0
        else:
            q = self.packed.astype(np.float32) - 128.0
        w = q * self.scales[..., None]
        if self.mins is not None:
            w = w + (self.zero * self.scales + self.mins)[..., None]
        out: F32 = w.reshape(n, k).astype(np.float32)
        return out


@attrs.frozen(kw_only=True)
class GgufModel:
    """What the converter takes from one GGUF file."""

    path: Path
    name: str
    arch: str
    config: LlamaConfig
    tokenizer: TokenizerData
    tensors: dict[str, Any]  # name -> gguf ReaderTensor
    rope_freqs: F32 | None


def _field(reader: Any, key: str, default: Any = None) -> Any:
    field = reader.fields.get(key)
    if field is None:
        return default
    return field.contents()


# Tokens that end a turn in common chat formats; llama.cpp treats them as end-of-generation too.
_END_TEXTS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|eom_id|>", "<end_of_turn>", "</s>")


def read_gguf(path: Path) -> GgufModel:
    """Open ``path`` and read a llama-architecture model from it.

    Raises:
        ConversionError: the file is not GGUF, or holds an architecture or tokenizer we cannot
            express in ONNX.
    """
    try:
        import gguf
    except ImportError as exc:  # pragma: no cover - the convert extra is missing
        from aip_sdk.errors import MissingDependencyError

        raise MissingDependencyError(
            "gguf", purpose="convert GGUF models (pip install './backends/onnx[convert]')"
        ) from exc
    try:
        reader = gguf.GGUFReader(str(path))
    except Exception as exc:  # the reader fails in many ways on a cut or foreign file
        raise ConversionError(
            f"{str(path)!r} is not a readable GGUF file ({exc}); pass a .gguf model file"
        ) from exc
    arch = str(_field(reader, "general.architecture", ""))
    if arch not in SUPPORTED_ARCHITECTURES:
        raise ConversionError(
            f"{str(path)!r} holds a {arch!r} model; the ONNX converter handles "
            f"{', '.join(SUPPORTED_ARCHITECTURES)} (SmolLM, TinyLlama, Llama 2/3, Mistral 7B, "
            f"Qwen2 and Qwen2.5); "
            f"use the llamacpp backend for this model"
        )
    tensors = {t.name: t for t in reader.tensors}
    tokens = tuple(str(t) for t in _field(reader, "tokenizer.ggml.tokens", []))
    hidden = int(_field(reader, f"{arch}.embedding_length"))
    n_heads = int(_field(reader, f"{arch}.attention.head_count"))
    head_dim = int(_field(reader, f"{arch}.attention.key_length", hidden // n_heads))
    scaling = str(_field(reader, f"{arch}.rope.scaling.type", "none"))
    if scaling not in ("none", "linear"):
        raise ConversionError(
            f"{str(path)!r} uses rope scaling {scaling!r}; the ONNX converter supports none and "
            f"linear; use the llamacpp backend for this model"
        )
    rope_scale = float(_field(reader, f"{arch}.rope.scaling.factor", 1.0)) or 1.0
    if scaling == "none":
        rope_scale = 1.0
    config = LlamaConfig(
        n_layers=int(_field(reader, f"{arch}.block_count")),
        hidden=hidden,
        intermediate=int(_field(reader, f"{arch}.feed_forward_length")),
        n_heads=n_heads,
        n_kv_heads=int(_field(reader, f"{arch}.attention.head_count_kv", n_heads)),
        head_dim=head_dim,
        vocab_size=int(_field(reader, f"{arch}.vocab_size", len(tokens))),
        rope_theta=float(_field(reader, f"{arch}.rope.freq_base", 10000.0)),
        rope_scale=rope_scale,
        rms_eps=float(_field(reader, f"{arch}.attention.layer_norm_rms_epsilon", 1e-5)),
        context_length=int(_field(reader, f"{arch}.context_length", 2048)),
    )
    rope_dims = int(_field(reader, f"{arch}.rope.dimension_count", head_dim))
    if rope_dims != head_dim:
        raise ConversionError(
            f"{str(path)!r} rotates {rope_dims} of {head_dim} head dimensions; the ONNX converter "
            f"supports full rotary embeddings only; use the llamacpp backend for this model"
        )
    token_types = tuple(int(t) for t in _field(reader, "tokenizer.ggml.token_type", []))
    eos = int(_field(reader, "tokenizer.ggml.eos_token_id", -1))
    ends = {eos} | {int(_field(reader, f"tokenizer.ggml.{k}_token_id", -1)) for k in ("eot", "eom")}
    ends |= {i for i, t in enumerate(tokens) if t in _END_TEXTS}
    ends.discard(-1)
    tokenizer = TokenizerData(
        model=str(_field(reader, "tokenizer.ggml.model", "")),
        pre=str(_field(reader, "tokenizer.ggml.pre", "default")),
        tokens=tokens,
        token_types=token_types,
        merges=tuple(str(m) for m in _field(reader, "tokenizer.ggml.merges", [])),
        bos_id=int(_field(reader, "tokenizer.ggml.bos_token_id", -1)),
        eos_id=eos,
        add_bos=bool(_field(reader, "tokenizer.ggml.add_bos_token", False)),
        end_ids=tuple(sorted(ends)),
        chat_template=str(_field(reader, "tokenizer.chat_template", "")),
    )
    freqs = tensors.get("rope_freqs.weight")
    return GgufModel(
        path=path,
        name=path.stem,
        arch=arch,
        config=config,
        tokenizer=tokenizer,
        tensors=tensors,
        rope_freqs=None if freqs is None else np.asarray(freqs.data, dtype=np.float32),
    )


def _pack4(q: U8) -> U8:
    """``[..., 32]`` values 0..15 in element order -> ``[..., 16]`` bytes, element 2i low."""
    out: U8 = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    return out


def _requantize8(w: F32) -> Blocks:
    """Symmetric 8-bit blocks of 32 (the Q8_0 scheme) for a float matrix ``[N, K]``."""
    n, k = w.shape
    if k % BLOCK:
        raise ConversionError(f"a weight of shape {w.shape} has rows not divisible by {BLOCK}")
    blocks = w.reshape(n, k // BLOCK, BLOCK).astype(np.float32)
    amax = np.max(np.abs(blocks), axis=-1)
    scales = (amax / 127.0).astype(np.float32)
    safe = np.where(scales == 0, 1.0, scales)
    q = np.clip(np.rint(blocks / safe[..., None]), -127, 127).astype(np.int16) + 128
    return Blocks(bits=8, packed=q.astype(np.uint8), scales=scales, mins=None)


def _requantize4(w: F32) -> Blocks:
    """Asymmetric 4-bit blocks of 32 (the Q4_1 scheme) for a float matrix ``[N, K]``."""
    n, k = w.shape
    if k % BLOCK:
        raise ConversionError(f"a weight of shape {w.shape} has rows not divisible by {BLOCK}")
    blocks = w.reshape(n, k // BLOCK, BLOCK).astype(np.float32)
    lo = blocks.min(axis=-1)
    hi = blocks.max(axis=-1)
    scales = ((hi - lo) / 15.0).astype(np.float32)
    safe = np.where(scales == 0, 1.0, scales)
    q = np.clip(np.rint((blocks - lo[..., None]) / safe[..., None]), 0, 15).astype(np.uint8)
    return _asymmetric4(q, scales, lo)


def _asymmetric4(q: U8, d: F32, m: F32) -> Blocks:
    """Blocks for ``w = d * q + m`` with q in 0..15."""
    return Blocks(bits=4, packed=_pack4(q), scales=d.astype(np.float32), mins=m.astype(np.float32))


def as_blocks(tensor: Any, *, bits: int | None = None) -> Blocks:
    """A GGUF weight as ``MatMulNBits`` blocks, exactly where the format allows.

    Q4_0, Q4_1, Q4_K, Q5_0, Q6_K and Q8_0 map exactly (the minimums of Q4_1 and Q4_K become
    per-block offsets; Q5_0's and Q6_K's values fit 8 bits). Any other type, or a requested
    ``bits`` that the stored format does not fit, is dequantized and re-quantized (4 bits: Q4_1
    scheme; 8 bits: Q8_0 scheme).

    Args:
        tensor: a ``gguf.ReaderTensor`` of a 2-D weight.
        bits: force 4- or 8-bit blocks; ``None`` keeps the stored format where it maps exactly,
            else uses 8 bits.
    """
    import gguf

    qtype = gguf.GGMLQuantizationType(int(tensor.tensor_type))
    raw = np.asarray(tensor.data)
    exact = _EXACT.get(qtype.name)
    if exact is not None and bits in (None, exact[0]):
        return exact[1](raw)
    try:
        w = gguf.quants.dequantize(raw, qtype)
    except (NotImplementedError, ValueError) as exc:
        raise ConversionError(
            f"tensor {tensor.name!r} has type {qtype.name}, which the gguf package cannot "
            f"dequantize ({exc}); re-quantize the model (e.g. to Q4_1 or Q8_0) or use the "
            f"llamacpp backend"
        ) from exc
    w = np.asarray(w, dtype=np.float32).reshape(int(tensor.shape[1]), int(tensor.shape[0]))
    blocks = _requantize4(w) if bits == 4 else _requantize8(w)
    err = float(np.max(np.abs(blocks.dequantize() - w)) / max(float(np.max(np.abs(w))), 1e-30))
    return attrs.evolve(blocks, requant_error=err)


def _nibbles(qs: U8, axis: int = -1) -> U8:
    """Bytes holding two 4-bit values -> the low nibbles, then the high ones, along ``axis``
    (the GGML layout of Q4_0, Q4_1, Q5_0 and Q4_K)."""
    out: U8 = np.concatenate([qs & 0x0F, qs >> 4], axis=axis)
    return out


def _f16(rows: U8, at: int) -> F32:
    """The float16 field at byte ``at`` of every block in ``rows``, as float32."""
    out: F32 = rows[..., at : at + 2].copy().view(np.float16)[..., 0].astype(np.float32)
    return out


def _q4_0(raw: U8) -> Blocks:
    rows = raw.reshape(raw.shape[0], -1, 18)
    qs = rows[..., 2:18]
    q = _nibbles(qs)
    return Blocks(bits=4, packed=_pack4(q), scales=_f16(rows, 0), mins=None)


def _q4_1(raw: U8) -> Blocks:
    rows = raw.reshape(raw.shape[0], -1, 20)
    qs = rows[..., 4:20]
    q = _nibbles(qs)
    return _asymmetric4(q, _f16(rows, 0), _f16(rows, 2))


def _q8_0(raw: U8) -> Blocks:
    rows = raw.reshape(raw.shape[0], -1, 34)
    packed: U8 = rows[..., 2:34] ^ np.uint8(0x80)  # int8 q + 128: the byte, sign bit flipped
    return Blocks(bits=8, packed=packed, scales=_f16(rows, 0), mins=None)


def _q5_0(raw: U8) -> Blocks:
    """Q5_0: 5-bit values ``q - 16`` times one scale per 32 (their fifth bits in ``qh``)."""
    rows = raw.reshape(raw.shape[0], -1, 22)
    # bit j of the little-endian 32-bit qh is value j's fifth bit; all in uint8 (one byte a
    # value: the embedding of a 150k-token vocabulary is decoded without wider temporaries)
    high = np.unpackbits(rows[..., 2:6], axis=-1, bitorder="little")
    qs = rows[..., 6:22]
    q = _nibbles(qs)
    q |= high << 4
    q += np.uint8(112)  # q - 16 + 128, within 112..143
    return Blocks(bits=8, packed=q, scales=_f16(rows, 0), mins=None)


def _q4_k(raw: U8) -> Blocks:
    """Q4_K: super-blocks of 256 holding eight blocks of 32, each ``d * sc * q - dmin * m``
    with 6-bit ``sc`` and ``m`` (llama.cpp's ``get_scale_min_k4``)."""
    rows = raw.reshape(raw.shape[0], -1, 144)
    n, supers = rows.shape[:2]
    s = rows[..., 4:16]
    sc = np.concatenate([s[..., 0:4] & 63, (s[..., 8:12] & 0x0F) | ((s[..., 0:4] >> 6) << 4)], -1)
    m = np.concatenate([s[..., 4:8] & 63, (s[..., 8:12] >> 4) | ((s[..., 4:8] >> 6) << 4)], -1)
    qs = rows[..., 16:144].reshape(n, supers, 4, 1, 32)
    # each run of 32 bytes holds block 2c in its low nibbles and block 2c + 1 in its high ones
    q = _nibbles(qs, axis=3).reshape(n, supers * 8, 32)
    scales = (_f16(rows, 0)[..., None] * sc).reshape(n, supers * 8)
    mins = -(_f16(rows, 2)[..., None] * m).reshape(n, supers * 8)
    return _asymmetric4(q, scales, mins)


def _q6_k(raw: U8) -> Blocks:
    """Q6_K: super-blocks of 256, 6-bit values ``q - 32`` with a signed 8-bit scale per 16
    (llama.cpp's ``dequantize_row_q6_K``): 8-bit blocks of 16."""
    rows = raw.reshape(raw.shape[0], -1, 210)
    n, supers = rows.shape[:2]
    ql = rows[..., 0:128].reshape(n, supers, 2, 1, 64)
    qh = rows[..., 128:192].reshape(n, supers, 2, 1, 32)
    lo, hi = ql[..., :32], ql[..., 32:]
    q = np.concatenate(
        [
            (lo & 0x0F) | ((qh & 3) << 4),
            (hi & 0x0F) | (((qh >> 2) & 3) << 4),
            (lo >> 4) | (((qh >> 4) & 3) << 4),
            (hi >> 4) | (((qh >> 6) & 3) << 4),
        ],
        axis=3,
    ).reshape(n, supers * 16, 16)
    sc = rows[..., 192:208].copy().view(np.int8).astype(np.float32)
    scales = (_f16(rows, 208)[..., None] * sc).reshape(n, supers * 16).astype(np.float32)
    packed: U8 = q + np.uint8(96)  # q - 32 + 128, within 96..159
    return Blocks(bits=8, packed=packed, scales=scales, mins=None, block=16)


# GGUF type name -> (bits it maps to exactly, decoder)
_EXACT: dict[str, tuple[int, Callable[[U8], Blocks]]] = {
    "Q4_0": (4, _q4_0),
    "Q4_1": (4, _q4_1),
    "Q4_K": (4, _q4_k),
    "Q5_0": (8, _q5_0),
    "Q6_K": (8, _q6_k),
    "Q8_0": (8, _q8_0),
}
