"""aip-sdk: plan with a local language model and spend compute only where a step needs it.

``from aip_sdk import Planner``; ``Planner.default()`` runs offline on the embedded model.
Importing this package is light: no llama_cpp, onnxruntime, torch, gymnasium or
stable_baselines3 is imported until a backend, controller or environment is used.
"""

from aip_sdk._version import __version__
from aip_sdk.backend import Backend, Capabilities, Completion, SampleResult, ScoreResult
from aip_sdk.controllers import Controller, make_controller
from aip_sdk.cost import Cost
from aip_sdk.decision import Decision
from aip_sdk.errors import (
    AipError,
    BackendError,
    BackendNotFoundError,
    ConfigError,
    ContextOverflowError,
    ControllerError,
    ConversionError,
    DataError,
    EnvError,
    MissingDependencyError,
    ModelLoadError,
)
from aip_sdk.features import FEATURE_NAMES, FEATURE_SCHEMA, Features
from aip_sdk.models import default_model_path
from aip_sdk.observation import Observation
from aip_sdk.planner import Planner
from aip_sdk.records import Candidate, PlanResult, StepRecord
from aip_sdk.registry import available_backends, load_backend, register_backend

__all__ = [
    "FEATURE_NAMES",
    "FEATURE_SCHEMA",
    "AipError",
    "Backend",
    "BackendError",
    "BackendNotFoundError",
    "Candidate",
    "Capabilities",
    "Completion",
    "ConfigError",
    "ContextOverflowError",
    "Controller",
    "ControllerError",
    "ConversionError",
    "Cost",
    "DataError",
    "Decision",
    "EnvError",
    "Features",
    "MissingDependencyError",
    "ModelLoadError",
    "Observation",
    "PlanResult",
    "Planner",
    "SampleResult",
    "ScoreResult",
    "StepRecord",
    "__version__",
    "available_backends",
    "default_model_path",
    "load_backend",
    "make_controller",
    "register_backend",
]


def __getattr__(name: str) -> object:
    if name == "EnvironmentError_":  # deprecated alias, see aip_sdk.errors
        from aip_sdk import errors

        return errors.__getattr__(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
