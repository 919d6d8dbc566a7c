"""Shared fixtures: the real default model is loaded once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


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
