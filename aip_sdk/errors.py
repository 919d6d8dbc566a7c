"""The one exception tree of aip-sdk.

Every error the SDK raises on purpose derives from :class:`AipError`, so an application can catch
one class. Native errors (llama.cpp, onnxruntime, a browser) are translated at the boundary where
they happen and chained with ``raise ... from exc``::

    AipError
    ├── ConfigError (ValueError)          a value, spec string or option is wrong
    ├── MissingDependencyError (ImportError)  an optional package is not installed
    ├── BackendError                      the language-model backend failed
    │   ├── BackendNotFoundError (LookupError)  no backend is registered under that name
    │   ├── ModelLoadError                the model file is missing, unreadable or corrupt
    │   │   └── ConversionError           a model cannot be converted to another format
    │   └── ContextOverflowError          a prompt does not fit the model's context window
    ├── EnvError                          an environment failed while it ran (a browser died)
    ├── DataError                         a data file (PDDL, game, trace) is missing or malformed
    └── ControllerError                   a controller file or spec cannot be used

``EnvironmentError_`` is the old name of :class:`EnvError` (it also covered ``DataError``); it
still works, with a ``DeprecationWarning``, and goes in the next release.
"""

from __future__ import annotations

__all__ = [
    "AipError",
    "BackendError",
    "BackendNotFoundError",
    "ConfigError",
    "ContextOverflowError",
    "ControllerError",
    "ConversionError",
    "DataError",
    "EnvError",
    "MissingDependencyError",
    "ModelLoadError",
]


class AipError(Exception):
    """Base class: raised by aip-sdk for every failure it anticipates."""


class ConfigError(AipError, ValueError):
    """Raised when an argument, spec string or option has a value the SDK cannot use."""


class MissingDependencyError(AipError, ImportError):
    """Raised when an optional package is needed but not installed; carries the pip command."""

    def __init__(
        self,
        package: str,
        *,
        extra: str | None = None,
        purpose: str = "",
        command: str | None = None,
    ) -> None:
        self.package = package
        self.pip_command = command or (
            f"pip install 'aip-sdk[{extra}]'" if extra else f"pip install {package}"
        )
        why = f" to {purpose}" if purpose else ""
        super().__init__(f"{package} is needed{why} but is not installed; run: {self.pip_command}")


class BackendError(AipError):
    """Raised when the language-model backend fails on a request."""


class BackendNotFoundError(BackendError, LookupError):
    """Raised when no backend is registered under the requested name."""


class ModelLoadError(BackendError):
    """Raised when a model file is missing, unreadable or not a model the backend can load."""


class ConversionError(ModelLoadError):
    """Raised when a model cannot be converted (unsupported architecture, tensor or tokenizer)."""


class ContextOverflowError(BackendError):
    """Raised when a prompt plus its generation budget does not fit the context window."""

    def __init__(self, *, prompt_tokens: int, max_tokens: int, n_ctx: int) -> None:
        self.prompt_tokens = prompt_tokens
        self.max_tokens = max_tokens
        self.n_ctx = n_ctx
        super().__init__(
            f"prompt of {prompt_tokens} tokens plus {max_tokens} generated tokens does not fit "
            f"the context of {n_ctx} tokens; shorten the prompt or load the model with a larger "
            f"n_ctx"
        )


class EnvError(AipError):
    """Raised when an environment cannot be built or stepped (a browser died, a game broke)."""


class DataError(AipError):
    """Raised when a data file (PDDL, game file, trace) is missing or malformed; names the file."""


def __getattr__(name: str) -> type[AipError]:
    if name == "EnvironmentError_":
        import warnings

        warnings.warn(
            "aip_sdk.errors.EnvironmentError_ is renamed EnvError; the old name goes in the "
            "next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return EnvError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ControllerError(AipError):
    """Raised when a controller model or spec cannot be used (schema mismatch, bad file)."""
