"""A GGUF's skeleton: its header with random weights of the same shapes and quantisation.

A lent GPU machine reaches no package index or model hub, and only 64 MiB travel to it, so the
reference models (0.5-1.1 GB) cannot. Their speed does not depend on the weights' values, so
this tool keeps a model's header (architecture, tokenizer, tensor shapes and types: a few MB)
and, on the GPU machine, fills every tensor with random blocks that are valid for its type
(finite scales, norms of one, zero biases). Throughput measured on the result is the model's;
its answers are noise, so it measures speed only, never quality.

    python benchmarks/gpu/skeleton.py strip MODEL.gguf OUT.skel      # here
    python benchmarks/gpu/skeleton.py inflate OUT.skel MODEL.gguf    # there (numpy only)
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np

# ggml type -> (block bytes, elements per block, byte offsets of float16 scale fields)
BLOCKS = {
    0: (4, 1, ()),  # F32
    1: (2, 1, ()),  # F16
    2: (18, 32, (0,)),  # Q4_0
    3: (20, 32, (0, 2)),  # Q4_1
    6: (22, 32, (0,)),  # Q5_0
    7: (24, 32, (0, 2)),  # Q5_1
    8: (34, 32, (0,)),  # Q8_0
    10: (84, 256, (80, 82)),  # Q2_K
    11: (110, 256, (108,)),  # Q3_K
    12: (144, 256, (0, 2)),  # Q4_K
    13: (176, 256, (0, 2)),  # Q5_K
    14: (210, 256, (208,)),  # Q6_K
}


def strip(model: Path, out: Path) -> None:
    """Write the header bytes of ``model`` and its tensor table to ``out``."""
    from gguf import GGUFReader

    reader = GGUFReader(str(model))
    start = int(reader.data_offset)
    tensors = [
        {
            "name": t.name,
            "type": int(t.tensor_type),
            "offset": int(t.data_offset) - start,
            "bytes": int(t.n_bytes),
        }
        for t in reader.tensors
    ]
    unknown = {t["type"] for t in tensors} - set(BLOCKS)
    if unknown:
        raise SystemExit(f"tensor types {sorted(unknown)} are not handled")
    with model.open("rb") as fh:
        header = fh.read(start)
    table = json.dumps({"size": model.stat().st_size, "tensors": tensors}).encode()
    out.write_bytes(struct.pack("<QQ", len(header), len(table)) + header + table)
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB for {model.stat().st_size / 1e6:.0f} MB")


def _fill(name: str, kind: int, nbytes: int, rng: np.random.Generator) -> bytes:
    size, _per, scales = BLOCKS[kind]
    if kind == 0:
        n = nbytes // 4
        if name.endswith("norm.weight"):
            return np.ones(n, np.float32).tobytes()
        if name.endswith(".bias"):
            return np.zeros(n, np.float32).tobytes()
        return (rng.standard_normal(n) * 0.02).astype(np.float32).tobytes()
    if kind == 1:
        return (rng.standard_normal(nbytes // 2) * 0.02).astype(np.float16).tobytes()
    blocks = rng.integers(0, 256, size=(nbytes // size, size), dtype=np.uint8)
    for at in scales:
        half = rng.uniform(0.0005, 0.003, size=blocks.shape[0]).astype(np.float16)
        blocks[:, at : at + 2] = half.view(np.uint8).reshape(-1, 2)
    return blocks.tobytes()


def inflate(skel: Path, out: Path, seed: int = 0) -> None:
    """Rebuild a loadable GGUF from ``skel`` with random, valid weights."""
    raw = skel.read_bytes()
    n_head, n_table = struct.unpack("<QQ", raw[:16])
    header = raw[16 : 16 + n_head]
    table = json.loads(raw[16 + n_head : 16 + n_head + n_table])
    rng = np.random.default_rng(seed)
    with out.open("wb") as fh:
        fh.write(header)
        for t in table["tensors"]:
            fh.seek(n_head + t["offset"])
            fh.write(_fill(t["name"], t["type"], t["bytes"], rng))
        fh.truncate(table["size"])
    print(f"{out}: {out.stat().st_size / 1e6:.0f} MB of random weights")


if __name__ == "__main__":
    cmd, src, dst = sys.argv[1:4]
    (strip if cmd == "strip" else inflate)(Path(src), Path(dst))
