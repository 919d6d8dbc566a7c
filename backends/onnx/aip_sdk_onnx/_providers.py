"""Choosing ONNX Runtime execution providers: CUDA when it can run, CPU otherwise.

``onnxruntime-gpu`` lists ``CUDAExecutionProvider`` even on a machine without a GPU or driver; the
session then fails to create or silently runs on CPU. We filter what this build offers, let the
session decide, and report what it really uses.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from aip_sdk.errors import ConfigError, ModelLoadError
from aip_sdk.util import usable_cpus

__all__ = ["CPU", "CUDA", "choose_providers", "device_of", "open_session"]

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
_DEVICES = {CUDA: "cuda", "TensorrtExecutionProvider": "cuda", "ROCMExecutionProvider": "rocm"}

Provider = str | tuple[str, dict[str, Any]]


def _name(p: Provider) -> str:
    return p if isinstance(p, str) else p[0]


def choose_providers(requested: Sequence[Provider] | None) -> list[Provider]:
    """The providers to ask a session for, best first, always ending with CPU.

    Args:
        requested: ``None`` for the default (CUDA if this onnxruntime build has it, then CPU),
            or the caller's list (names or ``(name, options)`` pairs). Providers this build
            lacks are dropped with a ``RuntimeWarning``.

    Raises:
        ConfigError: a name is not an ONNX Runtime execution provider at all.
    """
    import onnxruntime as ort

    available = list(ort.get_available_providers())
    if requested is None:
        chosen: list[Provider] = [CUDA] if CUDA in available else []
        return [*chosen, CPU]
    known = set(ort.get_all_providers())
    chosen = []
    for p in requested:
        name = _name(p)
        if name not in known:
            raise ConfigError(
                f"{name!r} is not an ONNX Runtime execution provider; use one of "
                f"{', '.join(available)} (available in this build)"
            )
        if name not in available:
            warnings.warn(
                f"{name} is not available in this onnxruntime build (available: "
                f"{', '.join(available)}); falling back. For CUDA install onnxruntime-gpu "
                f"instead of onnxruntime.",
                RuntimeWarning,
                stacklevel=3,
            )
            continue
        chosen.append(p)
    if CPU not in [_name(p) for p in chosen]:
        chosen.append(CPU)
    return chosen


def device_of(session_providers: Sequence[str]) -> str:
    """``"cuda"`` when the session's first provider is a CUDA one, else ``"cpu"``."""
    return _DEVICES.get(session_providers[0], "cpu") if session_providers else "cpu"


def open_session(path: str, providers: Sequence[Provider] | None, n_threads: int | None) -> Any:
    """An ``InferenceSession`` on the best of ``providers`` that starts, CPU as the fallback.

    Raises:
        ModelLoadError: ONNX Runtime cannot load the file.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = n_threads or usable_cpus()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = False  # the KV cache changes shape every step
    chosen = choose_providers(providers)
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
