"""Registries: names to dotted paths, imported on first use (backends, strategies, suites).

One helper serves every pluggable kind. Each :class:`Registry` holds the built-ins of a kind and
reads its entry-point group (``aip_sdk.backends``, ``aip_sdk.strategies``, ``aip_sdk.suites``) on
the first lookup, never at ``import aip_sdk``. The built-in backends register through that same
group from their own distributions. A name registered twice is refused unless ``override=True``;
an unknown name raises with the closest known name; targets resolve with
``pkgutil.resolve_name`` (``"package.module:attr"``).

``load_backend("auto")`` picks the best installed backend: the one whose class declares the
highest ``preference`` among those whose packages import (llama.cpp, then ONNX Runtime).
"""

from __future__ import annotations

import difflib
import inspect
import pkgutil
import threading
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

import attrs

from aip_sdk.backend import Backend
from aip_sdk.errors import AipError, BackendNotFoundError, ConfigError, MissingDependencyError

__all__ = [
    "BACKENDS",
    "STRATEGIES",
    "SUITES",
    "Registry",
    "available_backends",
    "best_backend",
    "get_backend_class",
    "load_backend",
    "register_backend",
]

AUTO = "auto"


@attrs.define
class Registry:
    """Names of one pluggable kind and what each resolves to.

    Args:
        kind: what is registered, for messages ("backend", "strategy", "suite").
        group: the entry-point group read on first lookup (``None``: built-ins only).
        builtins: name -> target (a dotted path or an object).
        not_found: the error raised for an unknown name.
    """

    kind: str
    group: str | None
    builtins: Mapping[str, str | Any] = attrs.field(factory=dict)
    not_found: type[AipError] = ConfigError
    _entries: dict[str, str | Any] = attrs.field(init=False, factory=dict)
    _read: bool = attrs.field(init=False, default=False)
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock, repr=False)

    def _load(self) -> None:
        if self._read:
            return
        for name, target in self.builtins.items():
            self._entries.setdefault(name, target)
        if self.group:
            for ep in metadata.entry_points(group=self.group):
                # An explicit registration made before the first lookup wins.
                self._entries.setdefault(ep.name, ep.value)
        self._read = True

    def register(self, name: str, target: str | Any, *, override: bool = False) -> None:
        """Register ``target`` (an object or ``"package.module:attr"``) under ``name``.

        Raises:
            ConfigError: ``name`` is taken by another target and ``override`` is false.
        """
        with self._lock:
            self._load()
            if name in self._entries and not override and self._entries[name] != target:
                raise ConfigError(
                    f"{self.kind} {name!r} is already registered as {self._entries[name]!r}; "
                    f"pass override=True to replace it"
                )
            self._entries[name] = target

    def names(self) -> dict[str, str]:
        """Registered names and the dotted path (or object) each resolves to."""
        with self._lock:
            self._load()
            return {
                k: v if isinstance(v, str) else f"{v.__module__}:{v.__qualname__}"
                for k, v in sorted(self._entries.items())
            }

    def get(self, name: str) -> Any:
        """Import and return what ``name`` resolves to.

        Raises:
            the registry's ``not_found`` error: no such name (the message suggests the closest).
            MissingDependencyError: its module or one of its packages is not installed.
        """
        with self._lock:
            self._load()
            target = self._entries.get(name)
            known = sorted(self._entries)
        if target is None:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise self.not_found(
                f"no {self.kind} named {name!r} (known: {', '.join(known) or 'none'}){hint}"
            )
        if not isinstance(target, str):
            return target
        try:
            return pkgutil.resolve_name(target)
        except MissingDependencyError:
            raise
        except ImportError as exc:
            raise MissingDependencyError(
                exc.name or target.partition(":")[0], purpose=f"use the {name!r} {self.kind}"
            ) from exc
        except (AttributeError, ValueError) as exc:
            raise ConfigError(f"{self.kind} {name!r} points at {target!r}: {exc}") from exc


BACKENDS = Registry("backend", "aip_sdk.backends", not_found=BackendNotFoundError)
STRATEGIES = Registry(
    "strategy",
    "aip_sdk.strategies",
    {
        "fixed": "aip_sdk.controllers.fixed:FixedController",
        "sc": "aip_sdk.controllers.fixed:SelfConsistency",
        "ac": "aip_sdk.controllers.adaptive:AdaptiveConsistency",
        "esc": "aip_sdk.controllers.adaptive:EarlyStoppingSC",
        "conf": "aip_sdk.controllers.confidence:ConfidenceGate",
        "learned": "aip_sdk.controllers.spec:learned",
        "oracle": "aip_sdk.controllers.oracle:OracleController",
        "heuristic": "aip_sdk.controllers.baseline:HeuristicBaseline",
    },
)
SUITES = Registry(
    "suite",
    "aip_sdk.suites",
    {
        "blocksworld": "aip_sdk.envs.blocksworld:BlocksworldSuite",
        "pddl": "aip_sdk.envs.planbench:PddlSuite",
        "grid": "aip_sdk.envs.grid:GridSuite",
        "alfworld": "aip_sdk.envs.alfworld:AlfworldSuite",
        "miniwob": "aip_sdk.envs.miniwob:MiniWobSuite",
    },
)


def register_backend(name: str, target: str | type[Any], *, override: bool = False) -> None:
    """Register a backend under ``name`` (a class in your app, not installed as a distribution).

    Args:
        name: the name used in ``load_backend`` and ``--backend``.
        target: the class, or its dotted path ``"package.module:Class"``.
        override: replace an existing registration instead of refusing.

    Raises:
        ConfigError: ``name`` is taken and ``override`` is false.
    """
    BACKENDS.register(name, target, override=override)


def available_backends() -> dict[str, str]:
    """Registered backend names and the dotted path (or class) each resolves to."""
    return BACKENDS.names()


def get_backend_class(name: str) -> type[Any]:
    """Import and return the backend class registered under ``name``.

    Raises:
        BackendNotFoundError: no backend has that name (the message suggests the closest).
        MissingDependencyError: the backend's module or one of its packages is not installed.
    """
    obj = BACKENDS.get(name)
    if not isinstance(obj, type):
        raise ConfigError(f"backend {name!r} resolves to {obj!r}, which is not a class")
    return obj


def best_backend() -> str:
    """The installed backend to use when none is named: the highest declared ``preference``
    among those whose packages import.

    Raises:
        BackendNotFoundError: no backend is installed.
    """
    ranked = []
    for name in BACKENDS.names():
        try:
            cls = get_backend_class(name)
        except MissingDependencyError:
            continue
        preference = int(getattr(cls, "preference", 0))
        if preference > 0:
            ranked.append((preference, name))
    if not ranked:
        raise BackendNotFoundError(
            "no backend is installed; run: bash scripts/install.sh (ONNX Runtime), or "
            "bash scripts/install.sh --llamacpp"
        )
    return max(ranked)[1]


def load_backend(
    name: str, *, notify: Callable[[str], None] | None = None, **options: Any
) -> Backend:
    """Build the backend ``name`` (``"auto"``: :func:`best_backend`) with ``options``.

    Args:
        name: a registered backend, or ``"auto"``.
        notify: told which backend ``"auto"`` picked.
        **options: passed to the backend's constructor.

    Raises:
        ConfigError: the backend's constructor takes no keyword of that name.
    """
    if name == AUTO:
        name = best_backend()
        if notify is not None:
            notify(name)
    cls = get_backend_class(name)
    params = inspect.signature(cls).parameters
    unknown = sorted(set(options) - set(params))
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        raise ConfigError(  # a misspelt keyword, named before anything loads
            f"backend {name!r} takes no option {', '.join(map(repr, unknown))}; its options "
            f"are: {', '.join(params)}"
        )
    backend: Backend = cls(**options)
    return backend
