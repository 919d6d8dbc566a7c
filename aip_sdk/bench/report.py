"""``summary.md`` and ``pareto.png`` from ``results.json``."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from aip_sdk.controllers.spec import parse_spec
from aip_sdk.util import bootstrap_ci

__all__ = [
    "aggregate_strategies",
    "best_fixed",
    "fixed_frontier",
    "strategy_label",
    "sweep_beta",
    "sweep_curves",
    "write_pareto",
    "write_summary",
]


# A marker and colour per strategy in a panel, so that each point has its own legend entry.
# (8 markers x 10 colours, paired cyclically: 40 distinct pairs.)
_MARKS = [("osD^vPXh"[i % 8], f"C{i % 10}") for i in range(40)]


def strategy_label(strategy: str) -> str:
    """A short label for plots and tables: ``learned:path/to/controller-grid.onnx`` ->
    ``learned[to/controller-grid]`` (the file and its folder: sweeps in different folders share
    file names), ``learned:path=c.onnx,widen=1`` -> ``learned[c,widen=1]``,
    ``learned:widen=1`` -> ``learned[widen=1]``; other strategies as they are."""
    if not strategy.startswith("learned:"):
        return strategy
    _, kwargs = parse_spec(strategy)
    parts = []
    if "path" in kwargs:
        path = Path(str(kwargs.pop("path")))
        parts.append(f"{path.parent.name}/{path.stem}" if path.parent.name else path.stem)
    parts += [f"{k}={v}" for k, v in kwargs.items()]
    return f"learned[{','.join(parts)}]"


def _swept(strategy: str) -> tuple[str, float] | None:
    """(family, beta) of a swept controller: ``learned:runs/c/controller-beta0.05.onnx`` ->
    (``runs/c/controller``, 0.05); ``None`` for anything else."""
    if not strategy.startswith("learned:"):
        return None
    m = re.fullmatch(r"(.*)-beta([0-9.]+)\.onnx", strategy.split(":", 1)[1])
    return (m.group(1), float(m.group(2))) if m else None


def sweep_beta(strategy: str) -> float | None:
    """The beta of a swept controller (``learned:.../controller-beta0.05.onnx`` -> 0.05)."""
    swept = _swept(strategy)
    return swept[1] if swept else None


def sweep_curves(
    rows: list[dict[str, Any]], shipped: Path | None = None, measure: str = "success"
) -> list[tuple[str, list[tuple[float, float, float]]]]:
    """The beta sweeps among aggregated rows, one per controller family (files that differ only
    in their ``-betaB`` suffix): ``[(family, [(tokens, value, beta), ...]), ...]`` with value the
    row's ``measure``, sweeps of two or more controllers only, points by tokens.

    ``shipped`` is the file the plain ``learned`` strategy loaded. The shipped controller is a
    copy of one sweep member, but its strategy name carries no beta; when a family holds a
    byte-identical ``-betaB.onnx`` file, the ``learned`` row joins that family as its beta
    point (unless that point was benched under its own name too).
    """
    sweeps: dict[str, dict[float, tuple[float, float, float]]] = {}
    for r in rows:
        if (swept := _swept(r["strategy"])) is not None:
            sweeps.setdefault(swept[0], {})[swept[1]] = (r["tokens"], r[measure], swept[1])
    learned = next((r for r in rows if r["strategy"] == "learned"), None)
    if learned is not None and shipped is not None and (twin := _twin(shipped, sweeps)):
        family, beta = twin
        sweeps[family].setdefault(beta, (learned["tokens"], learned[measure], beta))
    return sorted((f, sorted(p.values())) for f, p in sweeps.items() if len(p) > 1)


def _twin(shipped: Path, sweeps: dict[str, Any]) -> tuple[str, float] | None:
    """(family, beta) of the sweep file with the same bytes as ``shipped``, if any."""
    if not shipped.is_file():
        return None
    body = shipped.read_bytes()
    for family in sorted(sweeps):
        base = Path(family)
        for f in sorted(base.parent.glob(f"{base.name}-beta*.onnx")):
            swept = _swept(f"learned:{f}")
            if swept is not None and f.read_bytes() == body:
                return family, swept[1]
    return None


def _common_episodes(results: dict[str, Any]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """Episodes per (suite, split, strategy), restricted to the (seed, task) pairs that every
    strategy of that suite and split has finished, so a run stopped part-way compares like with
    like. Bounds (the oracle, slow to run) do not shrink that set: they show the shared pairs
    they have finished, and their row says how many."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    done: dict[tuple[str, str, str], set[tuple[int, str]]] = defaultdict(set)
    bounds = set()
    for run in results["runs"]:
        key = (run["suite"], run["split"], run["strategy"])
        for e in run["episodes"]:
            groups[key].append({**e, "seed": run["seed"]})
            done[key].add((int(run["seed"]), str(e["task_id"])))
            if e["bound"]:
                bounds.add(key)
    shared: dict[tuple[str, str], set[tuple[int, str]]] = {}
    for key, pairs in done.items():
        suite, split, _strategy = key
        if key in bounds and any(k[:2] == (suite, split) and k not in bounds for k in done):
            continue
        prev = shared.get((suite, split))
        shared[(suite, split)] = set(pairs) if prev is None else prev & pairs
    return {
        key: [e for e in eps if (int(e["seed"]), str(e["task_id"])) in shared[key[:2]]]
        for key, eps in groups.items()
    }


def aggregate_strategies(
    results: dict[str, Any], *, pairs: set[tuple[int, str]] | None = None
) -> list[dict[str, Any]]:
    """One row per (suite, split, strategy), pooling its seeds over the episodes (seed, task)
    that every strategy of the suite has finished (see :func:`_common_episodes`); ``pairs``
    restricts them further (to compare with a bound on the pairs it finished)."""
    groups = _common_episodes(results)
    rows = []
    for (suite, split, strategy), eps in sorted(groups.items()):
        if pairs is not None:
            eps = [e for e in eps if (int(e["seed"]), str(e["task_id"])) in pairs]
        if not eps:
            continue
        succ = [1.0 if e["success"] else 0.0 for e in eps]
        rows.append(
            {
                "suite": suite,
                "split": split,
                "strategy": strategy,
                "episodes": len(eps),
                "success": float(np.mean(succ)),
                "ci": bootstrap_ci(succ),
                "quality": float(np.mean([e["quality"] for e in eps])),
                "quality_ci": bootstrap_ci([float(e["quality"]) for e in eps]),
                # tokens: every token the model processed (evaluated prompt + generated)
                "tokens": float(
                    np.mean(
                        [e["cost"]["prompt_tokens"] + e["cost"]["generated_tokens"] for e in eps]
                    )
                ),
                "generated": float(np.mean([e["cost"]["generated_tokens"] for e in eps])),
                "calls": float(np.mean([e["cost"]["llm_calls"] for e in eps])),
                "seconds": float(np.mean([e["cost"]["seconds"] for e in eps])),
                "pairs": sorted((int(e["seed"]), str(e["task_id"])) for e in eps),
                "family": eps[0]["family"],
                "bound": bool(eps[0]["bound"]),
            }
        )
    return rows


def fixed_frontier(rows: list[dict[str, Any]], measure: str = "success") -> list[dict[str, Any]]:
    """The fixed allocations no other fixed one dominates, cheapest first.

    A fixed row is on the frontier when every cheaper fixed row scores less on ``measure``
    (``success``, or ``quality``: the reward's Q, :data:`aip_sdk.bench.claims.MEASURES`):
    the best a user can buy with fixed allocations at each budget. The Pareto plot draws it as a
    staircase, so a strategy above it does better than any fixed allocation that costs as much.
    Ties in tokens keep the better row. The model-free ``heuristic`` counts as the allocation of
    no model compute at all (0 tokens): a strategy that spends tokens is measured against it too.
    """
    fixed = sorted(
        (r for r in rows if r["family"] in ("fixed", "heuristic") and not r["bound"]),
        key=lambda r: (r["tokens"], -r[measure]),
    )
    frontier: list[dict[str, Any]] = []
    for r in fixed:
        if not frontier or r[measure] > frontier[-1][measure]:
            frontier.append(r)
    return frontier


def best_fixed(
    rows: list[dict[str, Any]], *, max_tokens: float | None = None, measure: str = "success"
) -> dict[str, Any] | None:
    """The fixed row (``fixed:*`` or the ``heuristic``) that scores best on ``measure``, ties to
    fewer total tokens: the dearest point of :func:`fixed_frontier` that spends at most
    ``max_tokens`` (any, by default)."""
    affordable = [
        r for r in fixed_frontier(rows, measure) if max_tokens is None or r["tokens"] <= max_tokens
    ]
    return affordable[-1] if affordable else None


def write_summary(results: dict[str, Any], path: Path) -> str:
    """A Markdown table per suite; tokens relative to the best fixed allocation."""
    rows = aggregate_strategies(results)
    lines = []
    for suite_split in sorted({(r["suite"], r["split"]) for r in rows}):
        sub = [r for r in rows if (r["suite"], r["split"]) == suite_split]
        best = best_fixed(sub)
        lines += [
            f"### {suite_split[0]} ({suite_split[1]})",
            "",
            "| strategy | episodes | success (95% CI) | quality | tokens | generated | calls | "
            "seconds | tokens vs best fixed |",
            "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in sub:
            rel = f"{r['tokens'] / best['tokens']:.2f}x" if best and best["tokens"] else "n/a"
            lines.append(
                f"| {r['strategy']} | {r['episodes']} | {r['success']:.2f} "
                f"[{r['ci'][0]:.2f}, {r['ci'][1]:.2f}] | {r['quality']:.2f} | {r['tokens']:.0f} | "
                f"{r['generated']:.0f} | {r['calls']:.1f} | {r['seconds']:.1f} | {rel} |"
            )
        if best:
            lines.append("")
            lines.append(f"Best fixed allocation: `{best['strategy']}`.")
        lines.append("")
    text = "\n".join(lines)
    path.write_text(text)
    return text


def write_pareto(results: dict[str, Any], path: Path) -> None:
    """Success (top row) and quality (bottom row) against mean total tokens (log x) per strategy,
    with the fixed frontier and the oracle: one column per suite and split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from aip_sdk.controllers.learned import default_controller_path

    rows = aggregate_strategies(results)
    groups = sorted({(r["suite"], r["split"]) for r in rows})
    shipped = default_controller_path(results.get("model", {}).get("name") or None)
    # Each panel is a plot plus its legend to the right: wide enough that the plot keeps its
    # width however many strategies the legend lists.
    fig, axes = plt.subplots(2, len(groups), figsize=(9.0 * len(groups), 9.2), squeeze=False)
    for column, group in enumerate(groups):
        sub = [r for r in rows if (r["suite"], r["split"]) == group]
        for row, measure in enumerate(("success", "quality")):
            _pareto_panel(axes[row][column], sub, measure, shipped)
            axes[row][column].set_title(f"{group[0]} ({group[1]}): {measure}")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def _pareto_panel(ax: Any, sub: list[dict[str, Any]], measure: str, shipped: Path | None) -> None:
    """One panel of :func:`write_pareto`: ``measure`` (with its 95% interval) against tokens."""
    import matplotlib.ticker

    ci = "ci" if measure == "success" else f"{measure}_ci"
    frontier = fixed_frontier(sub, measure)
    if frontier:
        # Beyond its dearest point the frontier stays flat: more tokens buy nothing more.
        xs = [max(r["tokens"], 1) for r in frontier]
        ys = [r[measure] for r in frontier]
        ax.step(
            [*xs, max(max(r["tokens"], 1) for r in sub)],
            [*ys, ys[-1]],
            where="post",
            color="0.6",
            label="fixed allocations' frontier",
            zorder=1,
        )
    marks = iter(_MARKS)
    for r in sub:
        x = max(r["tokens"], 1)
        if r["bound"]:
            ax.axhline(r[measure], ls="--", color="k", lw=1, label="oracle bound")
            ax.scatter([x], [r[measure]], marker="*", s=120, color="k", zorder=3)
            continue
        marker, color = next(marks, ("o", None))
        ax.errorbar(
            [x],
            [r[measure]],
            yerr=[[r[measure] - r[ci][0]], [r[ci][1] - r[measure]]],
            fmt=marker,
            color=color,
            capsize=3,
            zorder=2,
            label=strategy_label(r["strategy"]),
        )
    curves = sweep_curves(sub, shipped, measure)
    for (family, sweep), color in zip(curves, ("C3", "C4", "C5", "C6"), strict=False):
        name = "learned, beta sweep" + (
            f" ({Path(family).parent.name}/{Path(family).name})" if len(curves) > 1 else ""
        )
        ax.plot(
            [max(t, 1) for t, _, _ in sweep],
            [v for _, v, _ in sweep],
            ":",
            color=color,
            label=name,
            zorder=1,
        )
        for t, v, b in sweep:
            ax.annotate(
                f"b={b:g}",
                (max(t, 1), v),
                fontsize=6,
                xytext=(3, -9),
                textcoords="offset points",
                color=color,
            )
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    lo, hi = ax.get_xlim()
    if hi < 10 * lo:  # under one decade the log axis has no labelled tick: use a few plain ones
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=3))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _p: f"{v:.0f}"))
    ax.set_xlabel("mean tokens per episode, evaluated + generated (log)")
    ax.set_ylabel("success rate" if measure == "success" else f"mean {measure}")
    ax.set_ylim(-0.05, 1.05)
    # Outside the axes: strategies often sit at the same value and nearby costs (all at 0 where
    # the model cannot solve a suite), where labels written next to points overlap.
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_box_aspect(0.9)  # the plot keeps its shape; the legend takes the rest
