"""The claim figures of the results page (aip_sdk.bench.claims) on hand-made results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aip_sdk.bench.claims import (
    at_equal_tokens,
    compare,
    easy_steps,
    fixed_strategy,
    is_cheapest,
    paired_difference,
)
from aip_sdk.bench.harness import build_results, record_model
from aip_sdk.bench.report import best_fixed, fixed_frontier, sweep_beta, sweep_curves
from aip_sdk.decision import Decision
from aip_sdk.errors import ConfigError


def _episode(task: str, success: bool, tokens: int, decisions: list[dict[str, Any]]) -> dict:
    return {
        "task_id": task,
        "success": success,
        "quality": float(success),
        "steps": len(decisions),
        "cost": {"prompt_tokens": tokens, "generated_tokens": 0, "llm_calls": 1, "seconds": 1.0},
        "decisions": decisions,
        "family": "",
        "bound": False,
    }


def _results(spec: dict[str, tuple[str, list[tuple[bool, int, list[dict[str, Any]]]]]]) -> dict:
    """{strategy: (family, [(success, tokens, decisions) per task])} on seed 0."""
    runs = []
    for strategy, (family, eps) in spec.items():
        episodes = []
        for i, (ok, tok, dec) in enumerate(eps):
            e = _episode(f"t{i}", ok, tok, dec)
            e["family"] = family
            episodes.append(e)
        runs.append(
            {
                "suite": "grid",
                "split": "test",
                "strategy": strategy,
                "seed": 0,
                "model": "m",
                "episodes": episodes,
            }
        )
    return {"version": 2, "runs": runs}


K0 = {"k": 0, "depth": 0}
K1 = {"k": 1, "depth": 0}
LA = {"k": 4, "depth": 0, "lookahead": 1}


def test_is_cheapest_is_one_sample_or_the_probe() -> None:
    assert is_cheapest(K0) and is_cheapest(K1)
    assert not is_cheapest(LA)
    assert not is_cheapest({"k": 4, "depth": 0})
    # a step the environment's rating chose alone (widen drew nothing) made no model call
    assert is_cheapest({"k": 0, "depth": 0, "peek": 1, "widen": 1})
    assert not is_cheapest({"k": 4, "depth": 0, "peek": 1, "widen": 1})
    assert not is_cheapest({"k": 1, "depth": 1})


def test_easy_steps_counts_steps_and_compares_with_k0_on_the_same_episodes() -> None:
    res = _results(
        {
            "fixed:k=0": ("fixed", [(False, 100, [K0] * 4), (True, 50, [K0] * 2)]),
            "learned": ("learned", [(True, 300, [K0, K0, LA, LA]), (True, 60, [K1, K1])]),
        }
    )
    e = easy_steps(res)
    assert e is not None
    assert e.steps == 6 and e.episodes == 2
    assert e.share == pytest.approx(4 / 6)
    assert e.ci[0] <= e.share <= e.ci[1]
    assert e.success == 1.0 and e.cheapest_success == 0.5
    assert easy_steps(res, "sc:k=8") is None


def test_fixed_strategy_matches_the_allocation_not_the_spelling() -> None:
    res = _results({"fixed:k=0": ("fixed", [(True, 1, [K0])])})
    assert fixed_strategy(res, Decision(k=0)) == "fixed:k=0"
    assert fixed_strategy(res, Decision(k=1)) is None


def test_at_equal_tokens_picks_the_best_fixed_within_the_budget() -> None:
    res = _results(
        {
            "fixed:k=1": ("fixed", [(False, 100, [K1]), (True, 100, [K1])]),
            "fixed:k=4,lookahead=1": ("fixed", [(True, 400, [LA]), (True, 400, [LA])]),
            "learned": ("learned", [(True, 150, [K1]), (True, 150, [LA])]),
        }
    )
    within, overall = at_equal_tokens(res)
    assert within is not None and overall is not None
    assert within.other == "fixed:k=1" and within.other_value == 0.5
    assert within.difference[0] == pytest.approx(0.5)
    assert within.token_ratio == pytest.approx(1.5)
    assert overall.other == "fixed:k=4,lookahead=1"
    assert overall.difference[0] == 0.0 and not overall.significant


def test_on_quality_the_best_fixed_is_chosen_by_quality_and_compared_on_it() -> None:
    # every strategy succeeds; the learned one takes shorter plans than one sample, and the
    # lookahead's are shortest but dearer than the learned controller's 1.1x budget
    res = _results(
        {
            "fixed:k=1": ("fixed", [(True, 100, [K1]), (True, 100, [K1])]),
            "fixed:k=4,lookahead=1": ("fixed", [(True, 400, [LA]), (True, 400, [LA])]),
            "learned": ("learned", [(True, 150, [K1]), (True, 150, [LA])]),
        }
    )
    for run, quality in zip(res["runs"], ([0.5, 0.6], [1.0, 0.9], [0.8, 0.8]), strict=True):
        for e, q in zip(run["episodes"], quality, strict=True):
            e["quality"] = q
    within, overall = at_equal_tokens(res, measure="quality")
    assert within is not None and overall is not None
    assert within.measure == "quality" and within.other == "fixed:k=1"
    assert within.value == pytest.approx(0.8) and within.other_value == pytest.approx(0.55)
    assert within.difference[0] == pytest.approx(0.25) and within.significant
    assert overall.other == "fixed:k=4,lookahead=1"
    assert overall.difference[0] == pytest.approx(-0.15) and overall.significant
    # on success every one ties: the cheapest fixed allocation is the best
    assert at_equal_tokens(res)[1].other == "fixed:k=1"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="unknown measure"):
        at_equal_tokens(res, measure="speed")


def test_paired_difference_interval_excludes_zero_only_for_a_clear_difference() -> None:
    d, ci = paired_difference([1.0] * 30, [0.0] * 30)
    assert d == 1.0 and ci == [1.0, 1.0]
    d, ci = paired_difference([1.0, 0.0] * 10, [0.0, 1.0] * 10)
    assert d == 0.0 and ci[0] < 0 < ci[1]


def test_compare_uses_only_the_episodes_every_strategy_finished() -> None:
    res = _results(
        {
            "fixed:k=1": ("fixed", [(True, 100, [K1])]),
            "learned": ("learned", [(False, 100, [K1]), (True, 100, [K1])]),
        }
    )
    c = compare(res, "learned", "fixed:k=1")
    assert c is not None and c.episodes == 1 and c.value == 0.0


def test_sweep_beta_reads_the_controller_file_name() -> None:
    assert sweep_beta("learned:runs/c/controller-beta0.05.onnx") == 0.05
    assert sweep_beta("learned:runs/c/controller.onnx") is None
    assert sweep_beta("fixed:k=1") is None


def test_a_bench_folder_records_its_model_and_refuses_another(tmp_path: Path) -> None:
    record_model(tmp_path, {"name": "a", "file": "a.gguf", "sha256": "11" * 32})
    record_model(tmp_path, {"name": "a", "file": "a.gguf", "sha256": "11" * 32})  # same: fine
    with pytest.raises(ConfigError, match="its own --out"):
        record_model(tmp_path, {"name": "b", "file": "b.gguf", "sha256": "22" * 32})
    (tmp_path / "episodes").mkdir()
    assert build_results(tmp_path)["model"]["sha256"] == "11" * 32
    assert json.loads((tmp_path / "results.json").read_text())["model"]["name"] == "a"


def test_sweep_curves_draw_one_curve_per_controller_family() -> None:
    def row(strategy: str, tokens: float, success: float) -> dict[str, object]:
        return {"strategy": strategy, "tokens": tokens, "success": success}

    rows = [
        row("learned:runs/a/controller-beta0.05.onnx", 300.0, 0.6),
        row("learned:runs/a/controller-beta0.02.onnx", 400.0, 0.7),
        row("learned:runs/b/controller-beta0.05.onnx", 250.0, 0.5),
        row("learned:runs/b/controller-beta0.1.onnx", 200.0, 0.4),
        row("learned:runs/c/controller-beta0.1.onnx", 100.0, 0.3),  # a lone controller: no curve
        row("fixed:k=1", 150.0, 0.5),
        row("learned", 320.0, 0.6),
    ]
    assert sweep_curves(rows) == [
        ("runs/a/controller", [(300.0, 0.6, 0.05), (400.0, 0.7, 0.02)]),
        ("runs/b/controller", [(200.0, 0.4, 0.1), (250.0, 0.5, 0.05)]),
    ]


def test_the_shipped_controller_joins_the_sweep_it_was_copied_from(tmp_path: Path) -> None:
    family = tmp_path / "controller"
    for beta, body in (("0.02", b"a"), ("0.05", b"b"), ("0.1", b"c")):
        Path(f"{family}-beta{beta}.onnx").write_bytes(body)
    shipped = tmp_path / "shipped.onnx"
    shipped.write_bytes(b"b")
    rows = [
        {"strategy": f"learned:{family}-beta0.02.onnx", "tokens": 500.0, "success": 0.7},
        {"strategy": "learned", "tokens": 300.0, "success": 0.4},
    ]
    # Alone, beta 0.02 is no curve; the shipped copy of beta 0.05 makes it one.
    assert sweep_curves(rows) == []
    assert sweep_curves(rows, shipped) == [(str(family), [(300.0, 0.4, 0.05), (500.0, 0.7, 0.02)])]
    # When beta 0.05 was benched under its own name, that point stays (no duplicate).
    rows.append({"strategy": f"learned:{family}-beta0.05.onnx", "tokens": 310.0, "success": 0.45})
    assert sweep_curves(rows, shipped) == [(str(family), [(310.0, 0.45, 0.05), (500.0, 0.7, 0.02)])]
    shipped.write_bytes(b"z")  # a controller that is no sweep member joins nothing
    assert sweep_curves(rows[:2], shipped) == []


def test_the_fixed_frontier_keeps_only_allocations_no_cheaper_one_beats() -> None:
    def row(strategy: str, tokens: float, success: float, family: str = "fixed") -> dict[str, Any]:
        return {
            "strategy": strategy,
            "tokens": tokens,
            "success": success,
            "family": family,
            "bound": family == "oracle",
        }

    rows = [
        row("fixed:k=4,lookahead=1", 900.0, 0.7),
        row("fixed:k=1", 100.0, 0.3),
        row("fixed:k=4", 400.0, 0.2),  # dearer than k=1 and worse: off the frontier
        row("fixed:k=0", 60.0, 0.3),  # as good as k=1 for less: k=1 drops off
        row("fixed:k=4,peek=1", 400.0, 0.5),  # same tokens as k=4, better: kept
        row("fixed:k=8", 1200.0, 0.7),  # no better than a cheaper one
        row("learned", 300.0, 0.9, "learned"),
        row("oracle", 500.0, 1.0, "oracle"),
    ]
    assert [r["strategy"] for r in fixed_frontier(rows)] == [
        "fixed:k=0",
        "fixed:k=4,peek=1",
        "fixed:k=4,lookahead=1",
    ]
    assert fixed_frontier([r for r in rows if r["family"] != "fixed"]) == []
    # the model-free heuristic is the zero-token allocation: it heads the frontier and removes
    # every allocation that spends tokens for no more success
    with_floor = [*rows, row("heuristic", 0.0, 0.5, "heuristic")]
    assert [r["strategy"] for r in fixed_frontier(with_floor)] == [
        "heuristic",
        "fixed:k=4,lookahead=1",
    ]
    assert best_fixed(with_floor, max_tokens=300.0)["strategy"] == "heuristic"


def test_strategy_labels_name_the_controller_file_and_its_options():
    from aip_sdk.bench.report import strategy_label

    assert (
        strategy_label("learned:runs/c/controller-beta0.05.onnx")
        == "learned[c/controller-beta0.05]"
    )
    assert strategy_label("learned:widen=1") == "learned[widen=1]"
    assert strategy_label("learned:path=runs/c/x.onnx,widen=1") == "learned[c/x,widen=1]"
    assert strategy_label("learned:path=x.onnx") == "learned[x]"
    assert strategy_label("fixed:k=4,peek=1") == "fixed:k=4,peek=1"
