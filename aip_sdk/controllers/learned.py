"""The learned controller: a few-KB ONNX policy run with onnxruntime.

The ONNX file carries, in its metadata, everything needed to use it: the feature schema version
(``aip.feature_schema``), the decision table (``aip.decision_table``, JSON) and the training
settings (``aip.alpha``, ``aip.beta``, ``aip.suites``, ``aip.model``). Input and output names are
read from the graph. The policy outputs one logit per decision; the decision is their argmax,
taken in numpy.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from aip_sdk.controllers.base import StepView
from aip_sdk.decision import Decision, count_validators, table_from_json
from aip_sdk.errors import ConfigError, ControllerError, MissingDependencyError
from aip_sdk.features import FEATURE_NAMES, FEATURE_SCHEMA

__all__ = ["DEFAULT_CONTROLLER_FILE", "LearnedController", "default_controller_path"]

DEFAULT_CONTROLLER_FILE = "controller.onnx"
META_SCHEMA = "aip.feature_schema"
META_TABLE = "aip.decision_table"


def default_controller_path(model: str | None = None) -> Path:
    """The controller shipped inside the package for ``model``.

    ``model`` is a catalogue name or a backend's model name (the GGUF file stem). A reference
    model has its own controller (``aip_sdk/data/controller-NAME.onnx``); any other model, and
    ``None``, gets the embedded default model's (``aip_sdk/data/controller.onnx``).
    """
    data = resources.files("aip_sdk") / "data"
    if model:
        from aip_sdk.models import CATALOGUE

        for spec in CATALOGUE.values():
            if model in (spec.name, Path(spec.filename).stem):
                own = data / f"controller-{spec.name}.onnx"
                if own.is_file():
                    return Path(str(own))
    return Path(str(data / DEFAULT_CONTROLLER_FILE))


def _as_path(p: str | os.PathLike[str] | None) -> Path:
    return Path(p) if p is not None else default_controller_path()


@attrs.define
class LearnedController:
    """Run an exported controller on the step features.

    Args:
        path: the ``.onnx`` file; ``None`` uses the controller shipped in the package.
        providers: onnxruntime execution providers (default CPU).
        threads: intra-op threads (1 is fastest for a model this small).
        widen: 1 asks the controller only where the environment's rating ties
            (``learned:widen=1``): where the environment can be copied, the Planner peeks at
            every admissible action first, takes a lone best with no model call, and carries
            the controller's decision out among the tied actions only (as ``fixed``'s
            ``peek=1,widen=1`` does with its samples). Elsewhere it decides every step.
            Default: 1 for a controller trained on such steps (``collect --widen``; its
            ``aip.widen`` metadata), else 0.

    Raises:
        ControllerError: the file is missing or malformed, or its schema or input width does not
            match this SDK's features.
        MissingDependencyError: onnxruntime is not installed.
    """

    path: Path = attrs.field(converter=_as_path, default=None)
    shipped: bool = attrs.field(default=False, kw_only=True)
    providers: Sequence[str] = ("CPUExecutionProvider",)
    threads: int = 1
    widen: int | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(count_validators(0, 1)),
        kw_only=True,
    )
    name: str = attrs.field(default="learned", init=False)
    needs_probe: bool = attrs.field(default=True, init=False)
    metadata: dict[str, str] = attrs.field(factory=dict, init=False)
    table: tuple[Decision, ...] = attrs.field(default=(), init=False)
    _session: Any = attrs.field(default=None, init=False, repr=False)
    _input: str = attrs.field(default="", init=False, repr=False)
    _warned: bool = attrs.field(default=False, init=False, repr=False)
    # A learned controller does without a copy: where the environment cannot be copied, its
    # lookahead decisions fall back to their vote (its ``copyable`` feature says which).
    needs_copy: bool = attrs.field(default=False, init=False)
    needs_labels: bool = attrs.field(default=False, init=False)
    bound: bool = attrs.field(default=False, init=False)

    def __attrs_post_init__(self) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - core dependency
            raise MissingDependencyError("onnxruntime", purpose="run a learned controller") from exc
        if not self.path.is_file():
            raise ControllerError(
                f"controller file {str(self.path)!r} does not exist; train one with "
                f"'aip-sdk train-controller' or pass an existing .onnx path"
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(self.path), opts, providers=list(self.providers))
        except Exception as exc:  # onnxruntime raises its own hierarchy
            raise ControllerError(
                f"controller file {str(self.path)!r} is not a loadable ONNX model: {exc}"
            ) from exc
        meta = dict(session.get_modelmeta().custom_metadata_map)
        schema = meta.get(META_SCHEMA)
        if schema != FEATURE_SCHEMA:
            raise ControllerError(
                f"controller {str(self.path)!r} was trained on feature schema {schema!r} but this "
                f"SDK computes {FEATURE_SCHEMA!r}; retrain it with 'aip-sdk train-controller'"
            )
        if META_TABLE not in meta:
            raise ControllerError(
                f"controller {str(self.path)!r} has no {META_TABLE!r} metadata; export it with "
                f"'aip-sdk train-controller'"
            )
        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise ControllerError(f"controller {str(self.path)!r} must have exactly one input")
        width = inputs[0].shape[-1] if inputs[0].shape else None
        if not isinstance(width, int):
            raise ControllerError(
                f"controller {str(self.path)!r} takes an input of width {width!r}; a controller "
                f"takes exactly {len(FEATURE_NAMES)} features ({FEATURE_SCHEMA}): export it "
                f"with 'aip-sdk train-controller'"
            )
        if width != len(FEATURE_NAMES):
            raise ControllerError(
                f"controller {str(self.path)!r} expects {width} features but schema "
                f"{FEATURE_SCHEMA!r} has {len(FEATURE_NAMES)}"
            )
        try:
            self.table = table_from_json(meta[META_TABLE])
        except ConfigError as exc:
            raise ControllerError(
                f"controller {str(self.path)!r} has a broken {META_TABLE!r} ({exc}); export it "
                f"again with 'aip-sdk train-controller'"
            ) from exc
        n_out = session.get_outputs()[0].shape[-1]
        if isinstance(n_out, int) and n_out != len(self.table):
            raise ControllerError(
                f"controller {str(self.path)!r} outputs {n_out} logits for a decision table of "
                f"{len(self.table)}"
            )
        self.metadata = meta
        self._session = session
        self._input = inputs[0].name

    @property
    def rates_first(self) -> bool:
        """The Planner rates every action first and asks this controller only at ties."""
        if self.widen is not None:
            return bool(self.widen)
        return self.metadata.get("aip.widen") == "1"

    @property
    def spec(self) -> str:
        if self.widen is None:
            return "learned" if self.shipped else f"learned:{self.path}"
        if self.shipped:
            return f"learned:widen={self.widen}"
        return f"learned:path={self.path},widen={self.widen}"

    @property
    def model(self) -> str:
        """The model the controller was trained for (its ``aip.model`` metadata; may be "")."""
        return self.metadata.get("aip.model", "")

    def check_model(self, model: str) -> None:
        """Warn (once per controller) when ``model`` is not the one it was trained for."""
        if self.model and self.model != model and not self._warned:
            self._warned = True
            warnings.warn(
                f"controller {self.spec!r} was trained for model {self.model!r}, not {model!r}; "
                f"its decisions may not fit this model (train one with 'aip-sdk collect' and "
                f"'aip-sdk train-controller')",
                UserWarning,
                stacklevel=3,
            )

    @classmethod
    def shipped_for(
        cls, model: str | None = None, *, widen: int | None = None
    ) -> LearnedController:
        """The controller shipped for ``model`` (see :func:`default_controller_path`)."""
        return cls(default_controller_path(model), shipped=True, widen=widen)

    def logits(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Raw policy logits for a batch of feature rows."""
        arr = np.asarray(x, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.shape[-1] != len(FEATURE_NAMES):
            raise ControllerError(
                f"got {arr.shape[-1]} features, the controller expects {len(FEATURE_NAMES)} "
                f"({FEATURE_SCHEMA})"
            )
        out: np.ndarray[Any, Any] = self._session.run(None, {self._input: arr})[0]
        return out

    def decide(self, view: StepView) -> Decision:
        features = view.features
        if features is None:
            raise ControllerError("the learned controller needs features; enable the probe")
        if features.schema != FEATURE_SCHEMA:
            raise ControllerError(
                f"features of schema {features.schema!r} given to a controller of "
                f"{FEATURE_SCHEMA!r}"
            )
        return self.table[int(np.argmax(self.logits(features.as_array())[0]))]

    def more(self, answers: Sequence[str]) -> int:
        return 0
