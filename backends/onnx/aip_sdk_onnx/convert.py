"""``GGUF -> ONNX`` conversion: one folder that :class:`aip_sdk_onnx.OnnxBackend` runs.

The folder holds ``model.onnx`` (the decoder with its KV cache, see :mod:`aip_sdk_onnx._graph`),
``tokenizer.json`` (a ``tokenizers`` tokenizer equal to llama.cpp's) and ``aip_model.json`` (the
format tag, hyper-parameters, special tokens, chat template and where it came from). Nothing is
downloaded: the weights, vocabulary and template all come from the GGUF file.

Use it from the command line (``aip-sdk convert MODEL.gguf --to onnx --out DIR``) or let the
backend convert on first use: ``OnnxBackend("model.gguf")`` converts into the cache once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aip_sdk.errors import ConfigError, ConversionError, MissingDependencyError, ModelLoadError
from aip_sdk.models import GGUF_MAGIC, resolve_model_path
from aip_sdk_onnx._graph import GRAPH_FORMAT, NUMERICS

__all__ = [
    "CONFIG_FILE",
    "MODEL_FILE",
    "TOKENIZER_FILE",
    "WEIGHTS",
    "cache_dir",
    "cached_conversion",
    "convert_gguf",
    "read_meta",
    "resolve_onnx_model",
]

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "aip_model.json"
WEIGHTS = ("gguf", "int4", "int8")
CACHE_ENV_VAR = "AIP_SDK_CACHE"


def cache_dir() -> Path:
    """Where converted models are kept: ``$AIP_SDK_CACHE``, else ``~/.cache/aip-sdk``."""
    root = os.environ.get(CACHE_ENV_VAR)
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "aip-sdk"


def _require() -> None:
    for module, package in (("gguf", "gguf"), ("onnx", "onnx"), ("tokenizers", "tokenizers")):
        try:
            __import__(module)
        except ImportError as exc:
            raise MissingDependencyError(
                package,
                purpose="convert GGUF models to ONNX (pip install './backends/onnx[convert]')",
            ) from exc


def convert_gguf(
    gguf_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    weights: str = "gguf",
    numerics: str = "exact",
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Convert a llama- or qwen2-architecture GGUF model into an ONNX model folder.

    The folder is written next to ``out`` and renamed into place at the end, so an interrupted
    conversion never leaves a half-written model behind.

    Args:
        gguf_path: the ``.gguf`` file.
        out: the folder to create.
        weights: ``"gguf"`` keeps the file's blocks where ONNX Runtime holds them exactly
            (Q4_0, Q4_1, Q4_K as 4-bit; Q5_0, Q6_K, Q8_0 as 8-bit; other types become
            8-bit); ``"int4"`` or ``"int8"`` forces 4-bit or 8-bit blocks for every projection.
        numerics: ``"exact"`` (the default: float32 products for 4-bit weights, int8
            activations for 8-bit ones, as llama.cpp) or ``"fast"`` (int8 activation blocks
            inside every quantized product; faster on CPU).
        force: replace ``out`` if it exists.
        progress: called with a short message after each stage.

    Returns:
        The folder.

    Raises:
        ConfigError: a bad option, or ``out`` exists and ``force`` is false.
        ConversionError: the model cannot be expressed (architecture, tensor or tokenizer type).
        MissingDependencyError: the ``convert`` extra (gguf, onnx, tokenizers) is not installed.
    """
    if weights not in WEIGHTS:
        raise ConfigError(f"weights={weights!r} is not one of {', '.join(WEIGHTS)}")
    if numerics not in NUMERICS:
        raise ConfigError(f"numerics={numerics!r} is not one of {', '.join(NUMERICS)}")
    _require()
    import onnx

    from aip_sdk_onnx._gguf import read_gguf
    from aip_sdk_onnx._graph import build_graph
    from aip_sdk_onnx._tokenizer import build_tokenizer

    src = Path(gguf_path).expanduser()
    dest = Path(out).expanduser()
    if not src.is_file():
        raise ConfigError(f"{str(src)!r} does not exist; pass the path of a .gguf model file")
    if dest.exists() and not force:
        raise ConfigError(f"{str(dest)!r} already exists; pass --force to replace it")
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    model = read_gguf(src)
    tokenizer = build_tokenizer(model.tokenizer)
    say(f"read {src.name}: {model.config.n_layers} layers, vocab {model.config.vocab_size}")
    bits = {"gguf": None, "int4": 4, "int8": 8}[weights]
    proto = build_graph(model, bits=bits, numerics=numerics)
    requantized = next(
        (p.value for p in proto.metadata_props if p.key == "aip.requantized"), "unknown"
    )
    say(f"built the graph ({len(proto.graph.node)} nodes); {requantized}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        # Past 1 GiB the weights go to a side file (protobuf caps one message at 2 GiB).
        # Summed per tensor: the model's own ByteSize() holds a second copy for a moment.
        big = sum(t.ByteSize() for t in proto.graph.initializer) > 1 << 30
        onnx.save_model(
            proto,
            str(tmp / MODEL_FILE),
            save_as_external_data=big,
            all_tensors_to_one_file=True,
            location=f"{MODEL_FILE}.data",
        )
        tokenizer.save(str(tmp / TOKENIZER_FILE))
        cfg = model.config
        tok = model.tokenizer
        meta: dict[str, Any] = {
            "format": GRAPH_FORMAT,
            "name": model.name,
            "architecture": model.arch,
            "requantized": requantized,
            "weights": weights,
            "numerics": numerics,
            "source": {"file": src.name, "bytes": src.stat().st_size},
            "config": {
                "n_layers": cfg.n_layers,
                "hidden": cfg.hidden,
                "n_heads": cfg.n_heads,
                "n_kv_heads": cfg.n_kv_heads,
                "head_dim": cfg.head_dim,
                "vocab_size": cfg.vocab_size,
                "context_length": cfg.context_length,
            },
            "tokenizer": {
                "bos_id": tok.bos_id,
                "eos_id": tok.eos_id,
                "add_bos": tok.add_bos,
                "end_ids": list(tok.end_ids),
                "bos_token": tok.tokens[tok.bos_id] if 0 <= tok.bos_id < len(tok.tokens) else "",
                "eos_token": tok.tokens[tok.eos_id] if 0 <= tok.eos_id < len(tok.tokens) else "",
                "chat_template": tok.chat_template,
            },
        }
        (tmp / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    size = sum(f.stat().st_size for f in dest.glob(f"{MODEL_FILE}*")) / 2**20
    say(f"wrote {dest} ({size:.0f} MiB) in {time.perf_counter() - t0:.1f} s")
    return dest


def cached_conversion(gguf_path: Path, *, numerics: str = "exact") -> Path:
    """The cached ONNX folder for ``gguf_path``, converting it on first use.

    The cache key is the file's absolute path, size and modification time, so a replaced file
    is converted again.
    """
    src = gguf_path.expanduser().resolve()
    try:
        st = src.stat()
    except OSError as exc:
        raise ConversionError(f"{str(src)!r} cannot be read: {exc}") from exc
    ident = f"{src}|{st.st_size}|{st.st_mtime_ns}|{numerics}|{GRAPH_FORMAT}"
    key = hashlib.sha256(ident.encode()).hexdigest()
    dest = cache_dir() / "onnx" / f"{src.stem}-{key[:12]}"
    if (dest / CONFIG_FILE).is_file():
        return dest
    return convert_gguf(src, dest, numerics=numerics, force=True)


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
        if magic == GGUF_MAGIC:
            return cached_conversion(path)
        raise ModelLoadError(
            f"{str(path)!r} is neither a GGUF file nor an ONNX model folder; pass a folder made "
            f"by 'aip-sdk convert MODEL.gguf --to onnx --out DIR' or a .gguf file"
        )
    raise ModelLoadError(
        f"model {str(path)!r} does not exist; pass a folder made by 'aip-sdk convert' or a .gguf "
        f"file (--model / AIP_SDK_MODEL)"
    )


def read_meta(folder: Path) -> dict[str, Any]:
    """The ``aip_model.json`` of a converted folder, checked before ONNX Runtime loads anything.

    Raises:
        ModelLoadError: the folder lacks a file, holds another format, or the metadata is
            damaged.
    """
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
