"""llama.cpp backend for aip-sdk (GGUF models through llama-cpp-python).

Registered under the name ``llamacpp`` in the entry-point group ``aip_sdk.backends``.
"""

from aip_sdk_llamacpp._backend import LlamaCppBackend

__all__ = ["LlamaCppBackend"]
