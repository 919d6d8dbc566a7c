"""Backend registry: names to dotted paths, imported on first use.

Backends are plugins found through the entry-point group ``aip_sdk.backends``; the built-in
llama.cpp backend registers through that same group from its own distribution. Entry points are
read on the first lookup, never at ``import aip_sdk``. A name registered twice is refused unless
``override=True``; an unknown name raises with the closest known name.
"""

from __future__ import annotations

import difflib
import importlib
import threading
from importlib import metadata
from typing import Any

from aip_sdk.backend import Backend
from aip_sdk.errors import BackendNotFoundError, ConfigError, MissingDependencyError

__all__ = ["available_backends", "get_backend_class", "load_backend", "register_backend"]

ENTRY_POINT_GROUP = "aip_sdk.backends"

# Install hints for backends whose distributions we know, keyed by backend name.
_INSTALL_HINTS = {
    "llamacpp": "aip-sdk-llamacpp (pip install ./backends/llamacpp from a checkout)",
}

_lock = threading.Lock()
_registry: dict[str, str | type[Any]] = {}
_entry_points_read = False


def _read_entry_points() -> None:
    global _entry_points_read
    if _entry_points_read:
        return
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        # An explicit registration made before the first lookup wins over the entry point.
        _registry.setdefault(ep.name, ep.value)
    _entry_points_read = True


def register_backend(name: str, target: str | type[Any], *, override: bool = False) -> None:
    """Register a backend under ``name``.

    Use this for a backend that is not installed as a distribution (a class in your app).

    Args:
        name: the name used in ``load_backend`` and ``--backend``.
        target: the class, or its dotted path ``"package.module:Class"``.
        override: replace an existing registration instead of refusing.

    Raises:
        ConfigError: ``name`` is taken and ``override`` is false.
    """
    with _lock:
        _read_entry_points()
        if name in _registry and not override and _registry[name] != target:
            raise ConfigError(
                f"backend {name!r} is already registered as {_registry[name]!r}; "
                f"pass override=True to replace it"
            )
        _registry[name] = target


def available_backends() -> dict[str, str]:
    """Registered backend names and the dotted path (or class) each resolves to."""
    with _lock:
        _read_entry_points()
        return {
            k: v if isinstance(v, str) else f"{v.__module__}:{v.__qualname__}"
            for k, v in sorted(_registry.items())
        }


def get_backend_class(name: str) -> type[Any]:
    """Import and return the backend class registered under ``name``.

    Raises:
        BackendNotFoundError: no backend has that name (the message suggests the closest).
        MissingDependencyError: the backend's module or one of its packages is not installed.
    """
    with _lock:
        _read_entry_points()
        target = _registry.get(name)
        known = sorted(_registry)
    if target is None:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        installed = ", ".join(known) or "none"
        raise BackendNotFoundError(f"no backend named {name!r} (installed: {installed}){hint}")
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = exc.name or module_name
        raise MissingDependencyError(
            _INSTALL_HINTS.get(name, missing) if missing == module_name else missing,
            purpose=f"use the {name!r} backend",
        ) from exc
    obj: Any = module
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise ConfigError(f"backend {name!r} points at {target!r}, which is not a class")
    return obj


def load_backend(name: str, **options: Any) -> Backend:
    """Build the backend ``name`` with ``options`` passed to its constructor."""
    cls = get_backend_class(name)
    backend: Backend = cls(**options)
    return backend
