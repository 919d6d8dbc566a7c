"""Shared fixtures: the real default model is loaded once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aip_sdk import register_backend

# The scripted fake is registered for the tests only (never as a distribution's entry point).
register_backend("scripted", "aip_sdk.testing:ScriptedBackend", override=True)


@pytest.fixture(scope="session")
def real_backend() -> Iterator[object]:
    """The llama.cpp backend on the embedded SmolLM2-135M-Instruct (the real model)."""
    from aip_sdk_llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(n_ctx=2048)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def blocksworld():
    from aip_sdk.envs.suite import load_suite

    return load_suite("blocksworld")


@pytest.fixture(scope="session")
def onnx_folder(tmp_path_factory: pytest.TempPathFactory) -> object:
    """The embedded model converted to ONNX once per test session (a few seconds)."""
    from aip_sdk.models import default_model_path
    from aip_sdk_onnx.convert import convert_gguf

    return convert_gguf(default_model_path(), tmp_path_factory.mktemp("onnx") / "smollm2")


@pytest.fixture(scope="session")
def onnx_backend(onnx_folder: object) -> Iterator[object]:
    """The ONNX Runtime backend on the converted default model (CPU)."""
    from aip_sdk_onnx import OnnxBackend

    backend = OnnxBackend(onnx_folder, providers=["CPUExecutionProvider"])
    yield backend
    backend.close()
