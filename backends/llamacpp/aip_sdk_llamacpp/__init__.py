"""llama.cpp backend for aip-sdk (GGUF models through llama-cpp-python).

Registered under the name ``llamacpp`` in the entry-point group ``aip_sdk.backends``.
"""

from aip_sdk.errors import MissingDependencyError

try:
    import llama_cpp  # noqa: F401 - checked here so the error says how to get it
except ImportError as exc:  # pragma: no cover - depends on the install
    raise MissingDependencyError(
        "llama-cpp-python",
        purpose="run GGUF models with llama.cpp (built from source, about 10 minutes on 2 cores)",
        command="bash scripts/install.sh --llamacpp",
    ) from exc

from aip_sdk_llamacpp._backend import LlamaCppBackend

__all__ = ["LlamaCppBackend"]
