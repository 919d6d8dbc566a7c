"""Write a llama or qwen2 decoder as an ONNX graph with a key/value cache, from GGUF weights.

The graph is built node by node with ``onnx.helper`` (no torch, no tracing), so what runs is what
is written here::

    inputs   input_ids [batch, seq] int64, logits_keep [1] int64,
             past.{i}.key [batch, kv_heads, head_dim, past] float32 (keys stored transposed),
             past.{i}.value [batch, kv_heads, past, head_dim] float32
    outputs  logits [batch, logits_keep, vocab] float32,
             present.{i}.key / present.{i}.value: the same with past + seq positions

Positions continue from the past length and attention is causal, so one graph serves prompt
prefill (``seq`` > 1, a zero-length past), decoding (``seq`` = 1) and scoring several
continuations at once (a batch over a shared, repeated past). Every projection is a
``MatMulNBits`` (com.microsoft) over the GGUF blocks; the tied embedding shares the output
projection's 8-bit blocks. Rotary embeddings rotate adjacent pairs, as llama.cpp does on the
(permuted) GGUF query and key weights of llama models, and the two halves of each head (NEOX
style) for qwen2, whose query, key and value projections also carry biases. Grouped-query
attention folds the query heads that share a key/value head into the row dimension instead of
repeating the cache, and keys are cached transposed, so a decoding step copies the cache only
once (the ``Concat``).
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np

from aip_sdk.errors import ConversionError
from aip_sdk_onnx._gguf import Blocks, GgufModel, as_blocks

__all__ = ["GRAPH_FORMAT", "NUMERICS", "build_graph"]

GRAPH_FORMAT = "aip-onnx-decoder/3"
OPSET = 21
NUMERICS = ("exact", "fast")


class _Builder:
    """Accumulates nodes and initializers and hands out unique tensor names.

    The initializers go straight into the model being built (``self.model.graph``): making a
    graph from a list of them would copy every weight twice more (``make_graph``, then
    ``make_model``), tripling a large model's memory for a moment.
    """

    def __init__(self, *, accuracy_level: int) -> None:
        from onnx import ModelProto

        self.accuracy_level = accuracy_level
        self.model = ModelProto()
        self.nodes: list[Any] = []
        self._n = 0
        # id(Blocks) -> (a weak reference to the weight, its initializer names). Weak: a
        # weight's arrays are freed once they are in the graph (a model's weights are not
        # held twice while converting); the reference tells a live weight from a reused id.
        self._weights: dict[int, tuple[weakref.ref[Blocks], list[str]]] = {}
        self.requant_errors: list[float] = []  # max |w - w'| / max |w| of re-quantized weights

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, value: Any, hint: str = "c", dtype: Any = None) -> str:
        from onnx import numpy_helper

        arr = np.asarray(value, dtype=dtype)
        name = self.name(hint)
        self.model.graph.initializer.add().CopyFrom(numpy_helper.from_array(arr, name))
        return name

    def op(self, op_type: str, *inputs: str, domain: str = "", **attrs: Any) -> str:
        from onnx import helper

        out = self.name(op_type.lower())
        self.nodes.append(
            helper.make_node(op_type, list(inputs), [out], name=out, domain=domain, **attrs)
        )
        return out

    def op_to(self, out: str, op_type: str, *inputs: str, **attrs: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out

    def weights(self, w: Blocks, hint: str) -> list[str]:
        """Initializer names of ``w`` (packed, scales[, offsets]), created once per weight."""
        known = self._weights.get(id(w))
        if known is not None and known[0]() is w:
            return known[1]
        names = [self.const(w.packed, f"{hint}.q"), self.const(w.scales, f"{hint}.scales")]
        if w.mins is not None:
            names.append(self.const((w.zero * w.scales + w.mins).T.copy(), f"{hint}.offsets"))
        self._weights[id(w)] = (weakref.ref(w), names)
        if w.requant_error is not None:
            self.requant_errors.append(w.requant_error)
        return names

    def matmul_nbits(
        self, x: str, w: Blocks, hint: str, *, accuracy_level: int | None = None
    ) -> str:
        n, k = w.shape
        names = self.weights(w, hint)
        if accuracy_level is None:
            # ONNX Runtime has no prepacked float kernel for 8-bit blocks: at level 0 it would
            # dequantize the whole matrix on every call (15 ms for a 896 x 4864 weight, against
            # 0.1 ms at level 4), so 8-bit weights always multiply with 8-bit activations, as
            # llama.cpp's own kernels do for Q8_0, Q5_0 and Q6_K.
            accuracy_level = 4 if w.bits == 8 else self.accuracy_level
        y = self.op(
            "MatMulNBits",
            x,
            *names[:2],
            domain="com.microsoft",
            K=k,
            N=n,
            bits=w.bits,
            block_size=w.block,
            accuracy_level=accuracy_level,
        )
        if len(names) == 2:
            return y
        # w = (q - zero) * scale + (zero * scale + min): add (block sums of x) @ the rest.
        blocks = self.op("Reshape", x, self.const([0, 0, k // w.block, w.block], dtype=np.int64))
        sums = self.op("ReduceSum", blocks, self.const([-1], dtype=np.int64), keepdims=0)
        return self.op("Add", y, self.op("MatMul", sums, names[2]))


def _rms_norm(b: _Builder, x: str, weight: Any, eps: float, hint: str) -> str:
    sq = b.op("Pow", x, b.const(np.float32(2.0)))
    mean = b.op("ReduceMean", sq, b.const([-1], dtype=np.int64), keepdims=1)
    denom = b.op("Sqrt", b.op("Add", mean, b.const(np.float32(eps))))
    normed = b.op("Div", x, denom)
    return b.op("Mul", normed, b.const(np.asarray(weight, dtype=np.float32), f"{hint}.weight"))


def _rotation(head_dim: int, *, neox: bool) -> Any:
    """``x @ R`` rotates each pair by a quarter turn: adjacent pairs (a, b) -> (-b, a) (llama's
    GGUF layout), or the two halves (x1, x2) -> (-x2, x1) (NEOX style: qwen2)."""
    r = np.zeros((head_dim, head_dim), dtype=np.float32)
    half = head_dim // 2
    for i in range(half):
        a, c = (i, i + half) if neox else (2 * i, 2 * i + 1)
        r[c, a] = -1.0
        r[a, c] = 1.0
    return r


def build_graph(model: GgufModel, *, bits: int | None = None, numerics: str = "exact") -> Any:
    """The ONNX ``ModelProto`` of ``model``'s decoder.

    Args:
        model: a GGUF model read by :func:`aip_sdk_onnx._gguf.read_gguf`.
        bits: force 4- or 8-bit projection weights; ``None`` keeps the GGUF blocks where they
            map exactly (see :func:`aip_sdk_onnx._gguf.as_blocks`).
        numerics: ``"exact"`` multiplies 4-bit weights in float32 over the exact GGUF weights
            and 8-bit ones (Q8_0, Q5_0, Q6_K) with activations rounded to 8-bit blocks, as
            llama.cpp does (ONNX Runtime has no fast float kernel for them); ``"fast"`` rounds
            the activations of every product (faster on CPU, slightly less accurate).
    """
    from onnx import TensorProto, helper

    cfg = model.config
    t = model.tensors
    if numerics not in NUMERICS:
        raise ConversionError(f"numerics={numerics!r} is not one of {', '.join(NUMERICS)}")
    # accuracy_level 4 quantizes activations to 8-bit blocks inside MatMulNBits (int8 dot
    # products, the fast path); 0 computes in float32 (4-bit weights only, see matmul_nbits).
    b = _Builder(accuracy_level=4 if numerics == "fast" else 0)
    nh, nkv, hd = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
    rep = nh // nkv

    ids = "input_ids"
    keep = "logits_keep"
    inputs = [
        helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "seq"]),
        helper.make_tensor_value_info(keep, TensorProto.INT64, [1]),
    ]
    outputs = [
        helper.make_tensor_value_info(
            "logits", TensorProto.FLOAT, ["batch", "keep", cfg.vocab_size]
        )
    ]
    layouts: list[tuple[str, list[str | int], list[str | int]]] = [
        ("key", ["batch", nkv, hd, "past"], ["batch", nkv, hd, "total"]),
        ("value", ["batch", nkv, "past", hd], ["batch", nkv, "total", hd]),
    ]
    for i in range(cfg.n_layers):
        for kind, past_shape, total_shape in layouts:
            inputs.append(
                helper.make_tensor_value_info(f"past.{i}.{kind}", TensorProto.FLOAT, past_shape)
            )
            outputs.append(
                helper.make_tensor_value_info(f"present.{i}.{kind}", TensorProto.FLOAT, total_shape)
            )

    # Embedding: gather 8-bit blocks and their scales, shared with the output projection.
    emb = as_blocks(t["token_embd.weight"], bits=8)
    out_w = as_blocks(t["output.weight"], bits=8) if "output.weight" in t else emb
    emb_q, emb_s = b.weights(emb, "token_embd")
    rows = b.op("Cast", b.op("Gather", emb_q, ids, axis=0), to=TensorProto.FLOAT)
    rows = b.op("Sub", rows, b.const(np.float32(128.0)))
    scales = b.op("Unsqueeze", b.op("Gather", emb_s, ids, axis=0), b.const([-1], dtype=np.int64))
    hidden = b.op("Reshape", b.op("Mul", rows, scales), b.const([0, 0, cfg.hidden], dtype=np.int64))

    # Positions, rotary tables and the causal mask, computed once from the past length.
    past_len = b.op("Shape", "past.0.value", start=2, end=3)
    seq_len = b.op("Shape", ids, start=1, end=2)
    total = b.op("Add", past_len, seq_len)
    zero = b.const([0], dtype=np.int64)
    squeeze0 = b.const([0], dtype=np.int64)
    p0 = b.op("Squeeze", past_len, squeeze0)
    t0 = b.op("Squeeze", total, squeeze0)
    pos = b.op("Range", p0, t0, b.const(np.int64(1)))
    posf = b.op("Cast", pos, to=TensorProto.FLOAT)
    if cfg.rope_scale != 1.0:
        posf = b.op("Div", posf, b.const(np.float32(cfg.rope_scale)))
    inv_freq = 1.0 / (cfg.rope_theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    if model.rope_freqs is not None:
        inv_freq = inv_freq / np.asarray(model.rope_freqs, dtype=np.float64)
    # [hd]: each frequency for both slots of its pair (adjacent, or one in each half for NEOX)
    neox = model.arch == "qwen2"
    pair = (np.tile(inv_freq, 2) if neox else np.repeat(inv_freq, 2)).astype(np.float32)
    angles = b.op(
        "Mul",
        b.op("Unsqueeze", posf, b.const([1], dtype=np.int64)),
        b.const(pair.reshape(1, hd), "rope.inv_freq"),
    )
    cos = b.op("Cos", angles)
    sin = b.op("Sin", angles)
    rot = b.const(_rotation(hd, neox=neox), "rope.rotation")
    col = b.op("Range", b.op("Squeeze", zero, squeeze0), t0, b.const(np.int64(1)))
    future = b.op(
        "Greater",
        b.op("Unsqueeze", col, b.const([0], dtype=np.int64)),
        b.op("Unsqueeze", pos, b.const([1], dtype=np.int64)),
    )
    if rep > 1:  # rows of a head group are (query head in group, position)
        future = b.op("Tile", future, b.const([rep, 1], dtype=np.int64))
    neg_inf = b.const(np.float32(-np.inf))
    scale = b.const(np.float32(1.0 / math.sqrt(hd)))

    def heads(x: str, n: int) -> str:
        shaped = b.op("Reshape", x, b.const([0, 0, n, hd], dtype=np.int64))
        return b.op("Transpose", shaped, perm=[0, 2, 1, 3])

    def rope(x: str) -> str:
        return b.op("Add", b.op("Mul", x, cos), b.op("Mul", b.op("MatMul", x, rot), sin))

    def grouped(x: str) -> str:
        """[B, heads, S, D] -> [B, kv_heads, rep * S, D]: the heads sharing a key/value head."""
        return b.op("Reshape", x, b.const([0, nkv, -1, hd], dtype=np.int64))

    def project(x: str, name: str, hint: str) -> str:
        """A projection, plus its bias where the model has one (qwen2's q, k and v)."""
        y = b.matmul_nbits(x, as_blocks(t[f"{name}.weight"], bits=bits), hint)
        bias = t.get(f"{name}.bias")
        if bias is not None:
            y = b.op("Add", y, b.const(np.asarray(bias.data, dtype=np.float32), f"{hint}.bias"))
        return y

    for i in range(cfg.n_layers):
        p = f"blk.{i}"
        x = _rms_norm(b, hidden, t[f"{p}.attn_norm.weight"].data, cfg.rms_eps, f"{p}.attn_norm")
        q = rope(heads(project(x, f"{p}.attn_q", f"{p}.q"), nh))
        k = rope(heads(project(x, f"{p}.attn_k", f"{p}.k"), nkv))
        v = heads(project(x, f"{p}.attn_v", f"{p}.v"), nkv)
        k_t = b.op("Transpose", k, perm=[0, 1, 3, 2])  # only the new positions
        k_all = b.op_to(f"present.{i}.key", "Concat", f"past.{i}.key", k_t, axis=3)
        v_all = b.op_to(f"present.{i}.value", "Concat", f"past.{i}.value", v, axis=2)
        scores = b.op("MatMul", grouped(b.op("Mul", q, scale)), k_all)
        probs = b.op("Softmax", b.op("Where", future, neg_inf, scores), axis=-1)
        ctx = b.op(
            "Reshape", b.op("MatMul", probs, v_all), b.const([0, nh, -1, hd], dtype=np.int64)
        )
        ctx = b.op("Transpose", ctx, perm=[0, 2, 1, 3])
        ctx = b.op("Reshape", ctx, b.const([0, 0, nh * hd], dtype=np.int64))
        attn = b.matmul_nbits(ctx, as_blocks(t[f"{p}.attn_output.weight"], bits=bits), f"{p}.o")
        hidden = b.op("Add", hidden, attn)
        x = _rms_norm(b, hidden, t[f"{p}.ffn_norm.weight"].data, cfg.rms_eps, f"{p}.ffn_norm")
        gate = b.matmul_nbits(x, as_blocks(t[f"{p}.ffn_gate.weight"], bits=bits), f"{p}.gate")
        up = b.matmul_nbits(x, as_blocks(t[f"{p}.ffn_up.weight"], bits=bits), f"{p}.up")
        act = b.op("Mul", b.op("Mul", gate, b.op("Sigmoid", gate)), up)
        down = b.matmul_nbits(act, as_blocks(t[f"{p}.ffn_down.weight"], bits=bits), f"{p}.down")
        hidden = b.op("Add", hidden, down)

    hidden = _rms_norm(b, hidden, t["output_norm.weight"].data, cfg.rms_eps, "output_norm")
    start = b.op("Neg", keep)
    tail = b.op(
        "Slice",
        hidden,
        start,
        b.const([np.iinfo(np.int64).max], dtype=np.int64),
        b.const([1], dtype=np.int64),
    )
    logits = b.matmul_nbits(tail, out_w, "output")  # 8-bit blocks: the int8 path
    b.op_to("logits", "Identity", logits)

    proto = b.model
    proto.graph.MergeFrom(helper.make_graph(b.nodes, "decoder", inputs, outputs))  # keeps inits
    proto.opset_import.extend(
        [helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)]
    )
    proto.producer_name = "aip-sdk"
    proto.ir_version = 10
    errors = b.requant_errors
    entry = proto.metadata_props.add()
    entry.key = "aip.requantized"
    entry.value = (
        f"{len(errors)} weights re-quantized to 8-bit blocks, max |w - w'| / max |w| = "
        f"{max(errors):.4f}"
        if errors
        else "none: every weight kept its GGUF blocks"
    )
    return proto
