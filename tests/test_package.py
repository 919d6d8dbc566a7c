"""Package-level promises: light import, exact public names, the error tree, the registry."""

from __future__ import annotations

import subprocess
import sys

import pytest

import aip_sdk
from aip_sdk import (
    AipError,
    BackendNotFoundError,
    ConfigError,
    MissingDependencyError,
    register_backend,
)
from aip_sdk.registry import available_backends, get_backend_class


def test_import_aip_sdk_imports_no_heavy_package():
    code = (
        "import sys, aip_sdk, aip_sdk.cli;"
        "heavy = ['llama_cpp', 'onnxruntime', 'torch', 'gymnasium', 'stable_baselines3'];"
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_are_exactly_the_intended_ones():
    assert sorted(aip_sdk.__all__) == sorted(
        [
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
            "ConversionError",
            "Controller",
            "ControllerError",
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
    )
    for name in aip_sdk.__all__:
        assert hasattr(aip_sdk, name), name


@pytest.mark.parametrize(
    "name",
    [
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
    ],
)
def test_every_error_derives_from_aip_error(name):
    assert issubclass(getattr(aip_sdk, name), AipError)


def test_builtin_backends_come_through_the_entry_point_group():
    backends = available_backends()
    assert backends["llamacpp"] == "aip_sdk_llamacpp:LlamaCppBackend"
    assert backends["onnx"] == "aip_sdk_onnx:OnnxBackend"


def test_the_test_fake_is_not_a_registered_backend():
    import subprocess
    import sys

    code = "from aip_sdk import available_backends; print(sorted(available_backends()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "scripted" not in out.stdout and "llamacpp" in out.stdout


def test_the_old_environment_error_name_still_works_with_a_warning():
    with pytest.warns(DeprecationWarning, match="renamed EnvError"):
        old = aip_sdk.EnvironmentError_
    assert old is aip_sdk.EnvError
    assert not issubclass(aip_sdk.DataError, aip_sdk.EnvError)  # a bad file is not a crash


def test_unknown_backend_suggests_the_closest_name():
    with pytest.raises(BackendNotFoundError, match="did you mean 'llamacpp'"):
        get_backend_class("llamcpp")


def test_registering_a_taken_name_is_refused_unless_overridden():
    register_backend("tmp-backend", "aip_sdk.testing:ScriptedBackend")
    with pytest.raises(ConfigError, match="already registered"):
        register_backend("tmp-backend", "somewhere:Else")
    register_backend("tmp-backend", "somewhere:Else", override=True)
    assert available_backends()["tmp-backend"] == "somewhere:Else"


def test_missing_dependency_carries_the_pip_command():
    register_backend("needs-missing", "a_package_that_is_not_installed:Backend")
    with pytest.raises(MissingDependencyError) as info:
        get_backend_class("needs-missing")
    assert info.value.pip_command == "pip install a_package_that_is_not_installed"
    assert "pip install" in str(info.value)
    assert isinstance(info.value, ImportError)
