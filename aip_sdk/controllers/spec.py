"""Strategy spec strings: ``name[:key=value,...]``, usable everywhere a controller is asked for.

Examples: ``fixed:k=4,depth=1``, ``sc:k=8``, ``ac:threshold=0.95,max=16``, ``esc:window=4,max=16``,
``conf:threshold=0.6``, ``learned``, ``learned:path/to/controller.onnx``, ``learned:widen=1``.
"""

from __future__ import annotations

from typing import Any

from aip_sdk.controllers.base import Controller
from aip_sdk.errors import ConfigError
from aip_sdk.registry import STRATEGIES

__all__ = ["STRATEGIES", "learned", "make_controller", "parse_spec"]


def learned(path: str | None = None, **kw: Any) -> Controller:
    """The ``learned`` strategy: a controller file, or without one the shipped controller (the
    Planner picks the one shipped for its model)."""
    from aip_sdk.controllers.learned import LearnedController

    if path is None and set(kw) <= {"widen"}:
        return LearnedController.shipped_for(None, **kw)
    return LearnedController(path, **kw)


def _value(text: str) -> int | float | str:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``name:key=value,...`` into the name and its keyword arguments.

    ``learned:some/path.onnx`` (a value without ``=``) is read as ``path=some/path.onnx``.
    """
    name, _, rest = spec.strip().partition(":")
    kwargs: dict[str, Any] = {}
    if rest:
        if name == "learned" and "=" not in rest:
            kwargs["path"] = rest
        else:
            for part in rest.split(","):
                key, eq, val = part.partition("=")
                if not eq or not key.strip():
                    raise ConfigError(
                        f"strategy spec {spec!r}: {part!r} is not key=value; "
                        f"write e.g. 'fixed:k=4,depth=1'"
                    )
                kwargs[key.strip()] = _value(val.strip())
    return name, kwargs


def make_controller(spec: str | Controller) -> Controller:
    """Build a controller from a spec string (a controller object is returned as is).

    Raises:
        ConfigError: unknown strategy name (with the closest one) or a bad parameter.
    """
    if not isinstance(spec, str):
        return spec
    name, kwargs = parse_spec(spec)
    try:
        factory = STRATEGIES.get(name)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (in spec {spec!r})") from None
    try:
        ctrl: Controller = factory(**kwargs)
        return ctrl
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"strategy spec {spec!r} has a bad parameter: {exc}") from exc
