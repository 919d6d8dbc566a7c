"""OpenAI-compatible server backend for aip-sdk (vLLM, llama.cpp's llama-server,
llama-cpp-python's server).

Registered under the name ``openai`` in the entry-point group ``aip_sdk.backends``.
"""

from aip_sdk_openai._backend import OpenAIBackend

__all__ = ["OpenAIBackend"]
