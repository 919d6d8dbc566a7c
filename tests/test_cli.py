"""The aip-sdk command: version, help, models, plan (real model), error exits."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from aip_sdk import __version__
from aip_sdk.cli import main


def test_version_and_help():
    r = CliRunner().invoke(main, ["--version"])
    assert r.exit_code == 0 and __version__ in r.output
    r = CliRunner().invoke(main, ["-h"])
    assert r.exit_code == 0 and "plan" in r.output and "models" in r.output


def test_models_lists_default_model_and_backends():
    r = CliRunner().invoke(main, ["models"])
    assert r.exit_code == 0
    assert "SmolLM2-135M-Instruct" in r.output and "llamacpp" in r.output
    assert "onnx" in r.output and "CPUExecutionProvider" in r.output


def test_convert_then_plan_with_the_onnx_backend(tmp_path):
    from aip_sdk.models import default_model_path

    out = tmp_path / "smollm2-onnx"
    r = CliRunner().invoke(
        main, ["convert", str(default_model_path()), "--to", "onnx", "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert "wrote" in r.output and (out / "model.onnx").is_file()
    r = CliRunner().invoke(main, ["convert", str(default_model_path()), "--out", str(out)])
    assert r.exit_code == 1 and "already exists" in r.output
    r = CliRunner().invoke(
        main,
        [
            "plan",
            "--backend",
            "onnx",
            "--model",
            str(out),
            "--split",
            "basic_3",
            "--task",
            "2",
            "--max-steps",
            "2",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result["model"] == "SmolLM2-135M-Instruct.Q4_1" and 1 <= len(result["steps"]) <= 2


def test_plan_json_runs_a_real_episode_with_the_default_model():
    r = CliRunner().invoke(
        main,
        [
            "plan",
            "--suite",
            "blocksworld",
            "--split",
            "basic_3",
            "--task",
            "2",
            "--max-steps",
            "3",
            "--controller",
            "fixed:k=2,depth=0",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["model"] == "SmolLM2-135M-Instruct.Q4_1" and out["task_id"] == "2"
    assert 1 <= len(out["steps"]) <= 3
    for step in out["steps"]:
        assert step["decision"] == {"k": 2, "depth": 0}
        assert step["action"] in [c["action"] for c in step["candidates"]]
    assert out["cost"]["generated_tokens"] > 0 and out["cost"]["llm_calls"] == len(out["steps"])


def test_plan_human_summary():
    r = CliRunner().invoke(main, ["plan", "--split", "basic_3", "--task", "2", "--max-steps", "2"])
    assert r.exit_code == 0, r.output
    assert "cost:" in r.output and "LM calls" in r.output


def test_errors_exit_1_with_one_line_and_usage_errors_exit_2(tmp_path):
    r = CliRunner().invoke(main, ["plan", "--suite", "blockworld"])
    assert r.exit_code == 1 and "did you mean 'blocksworld'" in r.output
    r = CliRunner().invoke(
        main, ["plan", "--model", str(tmp_path / "x.gguf"), "--split", "basic_3"]
    )
    assert r.exit_code == 1 and "x.gguf" in r.output
    r = CliRunner().invoke(main, ["plan", "--max-steps", "zero"])
    assert r.exit_code == 2


def test_suite_options_reach_the_suite_and_bad_ones_are_named():
    r = CliRunner().invoke(
        main, ["tasks", "--suite", "blocksworld", "--suite-option", "progress=goals"]
    )
    assert r.exit_code == 0 and len(r.output.splitlines()) == 500
    r = CliRunner().invoke(main, ["tasks", "--suite", "grid", "--suite-option", "progress=goals"])
    assert r.exit_code == 1 and "does not take progress" in r.output
    r = CliRunner().invoke(main, ["tasks", "--suite-option", "progress=nearest"])
    assert r.exit_code == 1 and "choose one of relaxed, goals" in r.output
    r = CliRunner().invoke(main, ["tasks", "--suite-option", "goals"])
    assert r.exit_code == 2 and "not KEY=VALUE" in r.output


def test_backend_options_reach_the_backend_and_bad_ones_are_named():
    pytest.importorskip("llama_cpp")
    r = CliRunner().invoke(
        main, ["models", "--backend", "llamacpp", "--backend-option", "n_ctx=1024"]
    )
    assert r.exit_code == 0 and "context 1024 tokens" in r.output
    r = CliRunner().invoke(
        main, ["models", "--backend", "llamacpp", "--backend-option", "n_gpu_layer=-1"]
    )
    assert r.exit_code == 1 and "takes no option 'n_gpu_layer'" in r.output
    assert "n_gpu_layers" in r.output  # the options it does take
    r = CliRunner().invoke(main, ["plan", "--backend-option", "n_ctx"])
    assert r.exit_code == 2 and "not KEY=VALUE (e.g. n_gpu_layers=-1)" in r.output


def test_option_values_are_typed():
    from aip_sdk.cli import _option_value

    assert [_option_value(v) for v in ("-1", "0.5", "True", "false", "goals", "inf")] == [
        -1,
        0.5,
        True,
        False,
        "goals",
        "inf",
    ]
