"""aip-sdk bench: a small real run writes all three files, the schema holds, resume skips."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from aip_sdk.cli import main
from aip_sdk.util import bootstrap_ci

EPISODE_KEYS = {"task_id", "success", "quality", "steps", "cost", "decisions", "family", "bound"}
COST_KEYS = {"llm_calls", "prompt_tokens", "reused_prompt_tokens", "generated_tokens", "seconds"}
SUMMARY_KEYS = {
    "episodes",
    "success_rate",
    "success_ci95",
    "mean_quality",
    "mean_generated_tokens",
    "mean_llm_calls",
    "mean_seconds",
}


def check_schema(results):
    """The results.json schema documented in docs/bench.md."""
    assert set(results) == {"version", "model", "runs"}
    model = results["model"]
    assert set(model) >= {"name", "file", "sha256"}
    assert len(model["sha256"]) == 64
    for run in results["runs"]:
        assert set(run) == {
            "suite",
            "split",
            "model",
            "backend",
            "device",
            "strategy",
            "seed",
            "episodes",
            "summary",
        }
        assert run["backend"] in ("llamacpp", "onnx") and run["device"] in ("cpu", "cuda")
        assert set(run["summary"]) == SUMMARY_KEYS
        lo, hi = run["summary"]["success_ci95"]
        assert 0.0 <= lo <= run["summary"]["success_rate"] <= hi <= 1.0
        for ep in run["episodes"]:
            assert set(ep) == EPISODE_KEYS and set(ep["cost"]) == COST_KEYS
            assert len(ep["decisions"]) == ep["steps"]
            assert all(set(d) == {"k", "depth"} for d in ep["decisions"])


def test_bootstrap_interval_brackets_the_mean():
    lo, hi = bootstrap_ci([1, 0, 1, 1, 0, 1, 0, 1])
    assert lo < 0.625 < hi
    assert bootstrap_ci([1, 1, 1]) == [1.0, 1.0]


@pytest.mark.slow
def test_small_bench_run_writes_three_files_and_resumes(tmp_path):
    args = [
        "bench",
        "--suite",
        "blocksworld",
        "--split",
        "basic_3",
        "--episodes",
        "2",
        "--strategy",
        "fixed:k=1,depth=0",
        "--strategy",
        "ac:threshold=0.95,max=4,depth=0",
        "--max-steps",
        "3",
        "--out",
        str(tmp_path),
    ]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    results = json.loads((tmp_path / "results.json").read_text())
    check_schema(results)
    assert len(results["runs"]) == 2 and all(len(x["episodes"]) == 2 for x in results["runs"])
    summary = (tmp_path / "summary.md").read_text()
    assert "fixed:k=1,depth=0" in summary and "tokens vs best fixed" in summary
    assert (tmp_path / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "episodes").glob("*.json")}
    r = CliRunner().invoke(main, args)  # resume: nothing is redone
    assert r.exit_code == 0
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "episodes").glob("*.json")} == stamps


def test_bad_strategy_fails_before_loading_a_model(tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "bench",
            "--suite",
            "grid",
            "--strategy",
            "acc",
            "--episodes",
            "1",
            "--out",
            str(tmp_path),
        ],
    )
    assert r.exit_code == 1 and "did you mean 'ac'" in r.output


def test_first_seed_runs_only_the_seeds_asked_for(tmp_path):
    from aip_sdk.bench.harness import run_bench
    from aip_sdk.envs.suite import load_suite
    from aip_sdk.testing import ScriptedBackend

    suite = load_suite("blocksworld")

    def bench(**seeds):
        return run_bench(
            ScriptedBackend(),
            suite,
            "basic_3",
            ["fixed:k=1,depth=0"],
            episodes=1,
            out=tmp_path,
            max_steps=2,
            **seeds,
        )

    results = bench(seeds=2, first_seed=1)
    assert sorted(r["seed"] for r in results["runs"]) == [1, 2]
    names = sorted(p.name for p in (tmp_path / "episodes").glob("*.json"))
    assert len(names) == 2 and "__1__" in names[0] and "__2__" in names[1]
    # A second process adds seed 0 to the same folder; the rebuilt results hold all three.
    results = bench(seeds=1)
    assert sorted(r["seed"] for r in results["runs"]) == [0, 1, 2]


def test_reuse_copies_episodes_of_another_folder_instead_of_running_them(tmp_path):
    from aip_sdk.bench.harness import run_bench
    from aip_sdk.envs.suite import load_suite
    from aip_sdk.testing import ScriptedBackend

    suite = load_suite("blocksworld")

    def bench(out, strategies, **kw):
        return run_bench(
            ScriptedBackend(),
            suite,
            "basic_3",
            strategies,
            episodes=1,
            seeds=1,
            out=out,
            max_steps=2,
            **kw,
        )

    bench(tmp_path / "big", ["fixed:k=1,depth=0"])
    (done,) = (tmp_path / "big" / "episodes").glob("*.json")
    # Mark the stored episode: a copy keeps the mark, a re-run would not.
    e = json.loads(done.read_text())
    done.write_text(json.dumps({**e, "quality": 0.123}))
    results = bench(
        tmp_path / "costly",
        ["fixed:k=1,depth=0", "fixed:k=2,depth=0"],
        reuse=[tmp_path / "big"],
    )
    quality = {r["strategy"]: r["episodes"][0]["quality"] for r in results["runs"]}
    assert quality["fixed:k=1,depth=0"] == 0.123
    assert quality["fixed:k=2,depth=0"] != 0.123
    copy = tmp_path / "costly" / "episodes" / done.name
    assert json.loads(copy.read_text()) == json.loads(done.read_text())


def test_a_bench_on_ray_writes_the_episode_files_the_local_executor_writes(tmp_path, blocksworld):
    """The same small bench, here and on (a local) Ray with two workers: identical files."""
    pytest.importorskip("ray")
    from aip_sdk.bench.harness import run_bench
    from aip_sdk.executor import RayExecutor
    from aip_sdk.testing import ScriptedBackend

    common = dict(episodes=3, seeds=2, max_steps=4)
    strategies = ["fixed:k=1", "fixed:k=2,vote=weighted"]
    local = run_bench(
        ScriptedBackend(), blocksworld, "basic_3", strategies, out=tmp_path / "a", **common
    )
    remote = run_bench(
        ScriptedBackend,  # a factory: every worker builds its own backend
        blocksworld,
        "basic_3",
        strategies,
        out=tmp_path / "b",
        executor=RayExecutor(workers=2),
        backend_name="scripted",
        suite_spec=("blocksworld", None, {}),
        **common,
    )
    a = {p.name: p.read_text() for p in (tmp_path / "a" / "episodes").glob("*.json")}
    b = {p.name: p.read_text() for p in (tmp_path / "b" / "episodes").glob("*.json")}
    assert len(a) == 2 * 3 * 2 and a == b
    assert local == json.loads((tmp_path / "a" / "results.json").read_text())
    assert remote["runs"] == local["runs"]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_more_ray_workers_than_cpus_runs_on_the_cpus_there_are_instead_of_hanging(tmp_path):
    # Pinned to one core, `--workers 2` used to leave the second worker unscheduled and its first
    # job waiting for ever.
    pytest.importorskip("ray")
    script = (
        "import os, sys, warnings\n"
        "os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})\n"
        "from aip_sdk.bench.harness import run_bench\n"
        "from aip_sdk.envs.suite import load_suite\n"
        "from aip_sdk.executor import RayExecutor\n"
        "from aip_sdk.testing import ScriptedBackend\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    run_bench(ScriptedBackend, load_suite('blocksworld'), 'basic_3', ['fixed:k=1'],\n"
        "              episodes=2, seeds=1, max_steps=2, out=sys.argv[1],\n"
        "              executor=RayExecutor(workers=2), backend_name='scripted',\n"
        "              suite_spec=('blocksworld', None, {}))\n"
        "print(len(os.listdir(os.path.join(sys.argv[1], 'episodes'))))\n"
        "print(any('running 1' in str(x.message) for x in w))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "b")],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["2", "True"]


def test_the_results_script_runs_valid_benches_and_its_page_reads_exactly_their_folders():
    """scripts/results.sh takes machine-days: check its commands parse before anyone runs it."""
    from aip_sdk.cli import bench
    from aip_sdk.controllers import make_controller
    from aip_sdk.envs.suite import load_suite

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(
        ["bash", "scripts/results.sh", "10", "3"],
        cwd=root,
        env={**os.environ, "DRY_RUN": "1"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    benches = [line.split()[2:] for line in out if line.startswith("aip-sdk bench ")]
    page = [line.split()[2:] for line in out if line.startswith("python3 scripts/results_page.py")]
    assert len(benches) == 10 and len(page) == 1
    outs = []
    for args in benches:
        params = bench.make_context("bench", list(args)).params  # click checks every option
        for spec in params["strategies"]:
            make_controller(spec)
        suite = load_suite(params["suite"], domain=params["domain"])
        assert params["split"] in suite.splits, (params["suite"], params["split"])
        if params["suite"] == "pddl":  # the unseen domain on Blocksworld's horizon
            assert params["split"] == "short"
        outs.append(params["out"])
    assert len(set(outs)) == len(outs)
    read = [a for a in page[0] if a.startswith("runs/bench/")]
    assert read == outs  # the page reads what the script wrote, not stale folders beside them
    unseen = [page[0][i + 1] for i, a in enumerate(page[0]) if a == "--unseen"]
    assert unseen and {f"runs/bench/{u}" for u in unseen} <= set(outs)
