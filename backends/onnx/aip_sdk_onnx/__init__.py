"""ONNX Runtime backend for aip-sdk: decoder models with a KV cache, on CPU or CUDA.

Registered under the name ``onnx`` in the entry-point group ``aip_sdk.backends``. Models come from
``aip-sdk convert MODEL.gguf --to onnx --out DIR`` (:func:`aip_sdk_onnx.convert.convert_gguf`).
"""

from aip_sdk_onnx._backend import OnnxBackend, resolve_onnx_model

__all__ = ["OnnxBackend", "resolve_onnx_model"]
