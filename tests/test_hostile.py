"""Bad input and signals: a clear one-line error (or a clean resume), never a traceback.

Every CLI case runs the real ``aip-sdk`` entry point in a subprocess and checks the exit status
(1: what was wrong, 2: usage), one ``Error:`` line saying what to do, and no ``Traceback``.
Signal cases run long benches and collections with the scripted fake (the model is not the point
there) and check the files on disk afterwards.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from aip_sdk import AipError, ControllerError, ModelLoadError
from aip_sdk.features import FEATURE_NAMES
from aip_sdk.models import default_model_path
from aip_sdk.testing import build_controller_file
from aip_sdk_onnx._graph import GRAPH_FORMAT

HERE = Path(__file__).parent
FAKE_CLI = [sys.executable, str(HERE / "_cli_fake.py")]
AIP = [sys.executable, "-m", "aip_sdk.cli"]


def run(args, *, cli=AIP, timeout=120):
    return subprocess.run(
        [*cli, *args], capture_output=True, text=True, timeout=timeout, cwd=HERE.parent
    )


def assert_clean(proc, code, pattern):
    out = proc.stdout + proc.stderr
    assert proc.returncode == code, out
    assert "Traceback" not in out, out
    errors = [line for line in out.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, out
    import re

    assert re.search(pattern, errors[0]), errors[0]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "cut.gguf").write_bytes(default_model_path().read_bytes()[:2048])
    folder = d / "onnx-no-config"
    folder.mkdir()
    (folder / "aip_model.json").write_text(json.dumps({"format": GRAPH_FORMAT}))
    (folder / "model.onnx").write_bytes(b"x")
    (folder / "tokenizer.json").write_text("{}")
    w = np.zeros((len(FEATURE_NAMES), 3), np.float32)
    build_controller_file(d / "dynamic.onnx", [w])
    import onnx

    model = onnx.load(str(d / "dynamic.onnx"))
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "width"
    onnx.save(model, str(d / "dynamic.onnx"))
    build_controller_file(d / "table.onnx", [w])
    model = onnx.load(str(d / "table.onnx"))
    for p in model.metadata_props:
        if p.key == "aip.decision_table":
            p.value = "[{k: 1"  # broken JSON
    onnx.save(model, str(d / "table.onnx"))
    (d / "empty").mkdir()
    (d / "notraces").mkdir()
    return d


PLAN = ["plan", "--suite", "blocksworld", "--split", "basic_3", "--task", "2", "--max-steps", "1",
        "--controller", "fixed:k=1"]  # fmt: skip

CASES = [
    ([*PLAN, "--controller", "fixed:k=100"], 1, r"fixed:k=100.*bad parameter"),
    ([*PLAN, "--controller", "fixed:k=1,depth=9"], 1, r"bad parameter"),
    ([*PLAN, "--controller", "fixed:k=1.5"], 1, r"whole number"),
    ([*PLAN, "--controller", "sc:k=65"], 1, r"bad parameter"),
    ([*PLAN, "--controller", "esc:window=65"], 1, r"bad parameter"),
    ([*PLAN, "--controller", "esc:max=100"], 1, r"bad parameter"),
    ([*PLAN, "--controller", "ac:max=100"], 1, r"bad parameter"),
    ([*PLAN, "--controller", "conf:high_k=100"], 1, r"bad parameter"),
    ([*PLAN, "--controller", "fixd"], 1, r"did you mean 'fixed'"),
    ([*PLAN, "--model", "{d}"], 1, r"is a directory"),
    ([*PLAN, "--model", "{d}/cut.gguf"], 1, r"cut.gguf"),
    ([*PLAN, "--backend", "onnx", "--model", "{d}/cut.gguf"], 1, r"not a readable GGUF"),
    (["convert", "{d}/cut.gguf", "--out", "{d}/out"], 1, r"not a readable GGUF"),
    ([*PLAN, "--backend", "onnx", "--model", "{d}/onnx-no-config"], 1, r"lacks config"),
    ([*PLAN, "--controller", "learned:{d}/dynamic.onnx"], 1, r"width 'width'"),
    ([*PLAN, "--controller", "learned:{d}/table.onnx"], 1, r"broken 'aip.decision_table'"),
    ([*PLAN, "--controller", "learned:{d}/missing.onnx"], 1, r"does not exist"),
    ([*PLAN, "--backend", "scripted"], 1, r"no backend named 'scripted'"),
    ([*PLAN, "--model", "qwen2.5-coder-0.5b-instruc"], 1, r"did you mean"),
    ([*PLAN, "--seed", "-1"], 2, r"-1 is not in the range"),
    (["plan", "--suite", "gridd"], 1, r"did you mean 'grid'"),
    (["plan", "--suite", "pddl", "--domain", "nosuch"], 1, r"no domain 'nosuch'"),
    (["plan", "--suite", "grid", "--domain", "logistics"], 1, r"--domain is for --suite pddl"),
    (["plan", "--suite", "blocksworld", "--data", "{d}/missing"], 1, r"does not exist"),
    (["plan", "--suite", "alfworld", "--data", "{d}/empty"], 1, r"found no splits"),
    (["plan", "--suite", "blocksworld", "--task", "99999"], 1, r"no instance '99999'"),
    (["tasks", "--suite", "blocksworld", "--split", "nope"], 1, r"no split 'nope'"),
    (
        ["collect", "--suite", "grid", "--episodes", "1", "--pool", "9:2", "--out", "{d}/c1"],
        1,
        r"--pool '9:2'",
    ),
    (
        ["collect", "--suite", "grid", "--episodes", "1", "--pool", "0:0", "--out", "{d}/c2"],
        1,
        r"--pool '0:0'",
    ),
    (
        ["collect", "--suite", "grid", "--episodes", "1", "--pool", "x", "--out", "{d}/c3"],
        1,
        r"must look like",
    ),
    (
        ["train-controller", "--traces", "{d}/notraces", "--out", "{d}/c.onnx"],
        1,
        r"not a trace folder",
    ),
    (
        [
            "bench",
            "--suite",
            "grid",
            "--episodes",
            "1",
            "--strategy",
            "fixed:k=100",
            "--out",
            "{d}/b",
        ],
        1,
        r"bad parameter",
    ),
    (["models", "pull", "nope"], 1, r"unknown model name 'nope'"),
]


@pytest.mark.parametrize(("args", "code", "pattern"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_input_through_the_cli_is_one_clear_line(bad_files, args, code, pattern):
    proc = run([a.format(d=bad_files) for a in args])
    assert_clean(proc, code, pattern)
    for folder in ("c1", "c2", "c3"):  # a refused collection writes nothing
        assert not (bad_files / folder).exists()


def test_python_api_errors_are_aip_errors(bad_files):
    from aip_sdk import Planner, make_controller
    from aip_sdk_llamacpp import LlamaCppBackend

    with pytest.raises(ControllerError):
        make_controller(f"learned:{bad_files}/dynamic.onnx")
    with pytest.raises(ModelLoadError, match="is a directory"):
        LlamaCppBackend(bad_files)
    with pytest.raises(AipError):
        Planner.default(model=str(bad_files / "cut.gguf"))


def test_a_long_observation_with_many_actions_does_not_overflow_the_context(real_backend):
    """The probe once scored every action in parallel beside a long prompt and overflowed."""
    from aip_sdk import Planner

    obs = {
        "goal": "g",
        "text": "the red block is on the table. " * 200,
        "actions": [f"put the block number {i} onto the green table slowly" for i in range(16)],
    }
    rec = Planner(backend=real_backend, controller="conf:threshold=0.99,high_k=2,high_depth=0").act(
        obs
    )
    assert rec.action in obs["actions"] and rec.features is not None
    scored = real_backend.score(
        real_backend.render_chat([{"role": "user", "content": obs["text"]}]), obs["actions"]
    )
    assert len(scored.logprobs) == 16  # scoring batches within the context too


# -- signals ------------------------------------------------------------------------------------


def _wait_for(pred, timeout=60.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return True
        time.sleep(0.1)
    return False


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


BENCH = ["bench", "--backend", "slow", "--suite", "blocksworld", "--split", "basic_3",
         "--episodes", "6", "--strategy", "fixed:k=1", "--strategy", "fixed:k=2",
         "--max-steps", "8"]  # fmt: skip
COLLECT = ["collect", "--backend", "slow", "--suite", "blocksworld", "--split", "basic_3",
           "--episodes", "5", "--max-steps", "6", "--pool", "0:2", "--horizon", "1"]  # fmt: skip


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
@pytest.mark.parametrize("kind", ["bench", "collect"])
def test_an_interrupted_run_keeps_what_it_finished_and_resumes(tmp_path, sig, kind):
    out = tmp_path / "run"
    args = [*(BENCH if kind == "bench" else COLLECT), "--out", str(out)]
    # A shell's background job (`pytest &`) ignores SIGINT and a child inherits that: start the
    # run with the default handler, as from a terminal, so that the test does not depend on it.
    proc = subprocess.Popen([*FAKE_CLI, *args], cwd=HERE.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)  # fmt: skip
    episodes = out / "episodes"
    assert _wait_for(lambda: episodes.is_dir() and len(list(episodes.glob("*.json"))) >= 2)
    proc.send_signal(sig)
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "Traceback" not in stderr, stderr
    assert not list(out.rglob("*.tmp"))  # atomic writes: no half file
    done = sorted(p.name for p in episodes.glob("*.json"))
    if kind == "bench" and sig != signal.SIGKILL:  # rebuilt on the way out
        results = json.loads((out / "results.json").read_text())
        assert sum(len(r["episodes"]) for r in results["runs"]) == len(done)
        assert (out / "summary.md").is_file()
    finished = run(args, cli=FAKE_CLI, timeout=300)
    assert finished.returncode == 0, finished.stderr
    after = sorted(p.name for p in episodes.glob("*.json"))
    assert set(done) <= set(after)
    assert len(after) == (12 if kind == "bench" else 5)
    if kind == "bench":
        results = json.loads((out / "results.json").read_text())
        assert sum(len(r["episodes"]) for r in results["runs"]) == 12


def _browsers() -> set[int]:
    out = subprocess.run(["ps", "-eo", "pid,comm"], capture_output=True, text=True).stdout
    return {
        int(line.split()[0]) for line in out.splitlines()[1:] if "chrom" in line.split(None, 1)[1]
    }


def _sigterm_once_a_browser_runs(cmd):
    """Start ``cmd``, SIGTERM it once its browser is up; assert a clean exit and no browser left."""
    before = _browsers()
    proc = subprocess.Popen(
        cmd, cwd=HERE.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert _wait_for(lambda: len(_browsers() - before) >= 2, timeout=60), "no browser started"
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err
    assert _wait_for(lambda: not (_browsers() - before), timeout=20), _browsers() - before


@pytest.mark.browser
def test_sigterm_leaves_no_browser_behind():
    _sigterm_once_a_browser_runs(
        [*FAKE_CLI, "plan", "--backend", "sleepy", "--suite", "miniwob", "--task",
         "click-button/1000", "--controller", "fixed:k=1", "--max-steps", "200"]
    )  # fmt: skip


@pytest.mark.browser
def test_sigterm_to_a_benchmark_script_leaves_no_browser_behind(tmp_path):
    """The scripts in benchmarks/ unwind on SIGTERM like the CLI (util.unwind_on_sigterm)."""
    _sigterm_once_a_browser_runs(
        [sys.executable, str(HERE.parent / "benchmarks" / "miniwob_reach.py"), "email-inbox",
         "--seeds", "0", "--budget", "100000", "--out", str(tmp_path)]
    )  # fmt: skip
    assert not list(tmp_path.glob("*.json"))  # nothing half-found written


_SIGTERM_IN_A_CALLBACK = """
import ctypes, os, signal, time
from aip_sdk.util import unwind_on_sigterm
unwind_on_sigterm()
compare = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
def landing_in_the_callback(_a, _b):
    os.kill(os.getpid(), signal.SIGTERM)
    return 0
values = (ctypes.c_int * 2)(1, 2)
try:
    ctypes.CDLL(None).qsort(values, 2, ctypes.sizeof(ctypes.c_int), compare(landing_in_the_callback))
    time.sleep(5)
    print("ran on after SIGTERM")
finally:
    print("unwound")
"""


def test_sigterm_inside_a_callback_from_c_still_ends_the_process():
    """SIGTERM's exit raised inside a ctypes callback (as llama.cpp's log callback is) is dropped
    by ctypes; the signal is sent again and the process unwinds (exit 143, finally blocks run)."""
    proc = subprocess.run(
        [sys.executable, "-c", _SIGTERM_IN_A_CALLBACK], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    assert proc.stdout.split() == ["unwound"]


_OTHER_UNRAISABLES = """
import sys
from aip_sdk.util import unwind_on_sigterm
seen = []
sys.unraisablehook = lambda u: seen.append(type(u.exc_value).__name__)
unwind_on_sigterm()
unwind_on_sigterm()  # twice: still one wrapper
class Dropped:
    def __del__(self):
        raise ValueError("raised in __del__")
Dropped()
print(seen)
"""


def test_other_unraisable_exceptions_reach_the_hook_installed_before():
    proc = subprocess.run(
        [sys.executable, "-c", _OTHER_UNRAISABLES], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["['ValueError']"]
