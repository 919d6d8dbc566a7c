"""Plots of docs/training.md: a controller's learning curves and the decisions it takes per suite.

Usage:
    python3 scripts/training_plots.py --curves runs/controllers/MODEL/*.curve.json \
        --bench runs/bench/q05-grid --bench runs/bench/q05-blocksworld --strategy learned \
        --out docs/img/training-q05

Writes ``OUT-curves.png`` (replay and live learning curves: mean episode reward against steps,
one line per controller file, as ``aip-sdk train-controller`` recorded them) and
``OUT-decisions.png`` (the share of each decision ``--strategy`` took in the bench folders'
episodes, one bar group per suite), and prints the decision shares as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from aip_sdk.util import unwind_on_sigterm


def decision_label(d: dict[str, Any]) -> str:
    """``{"k": 4, "depth": 0, "lookahead": 1}`` -> ``k=4 look=1`` (depth and defaults omitted;
    ``peek``, and ``ties`` for a decision carried out among the rating's ties; the model-free
    ``k=0,peek=1,widen=1`` is ``model-free``)."""
    if d["k"] == 0 and d.get("peek") and d.get("widen") and not d.get("lookahead"):
        return "model-free"
    parts = [f"k={d['k']}"]
    if d.get("depth"):
        parts.append(f"depth={d['depth']}")
    if d.get("vote") and d["vote"] != "majority":
        parts.append(str(d["vote"]))
    if d.get("lookahead"):
        parts.append(f"look={d['lookahead']}")
    if d.get("peek") and not d.get("widen"):
        parts.append("peek")
    if d.get("widen"):
        parts.append("ties")
    return " ".join(parts)


def decision_shares(folder: Path, strategy: str) -> tuple[str, Counter[str]]:
    """(suite, decision label -> steps) of ``strategy`` in a bench folder's results.json."""
    runs = json.loads((folder / "results.json").read_text())["runs"]
    counts: Counter[str] = Counter()
    suite = folder.name
    for run in runs:
        if run["strategy"] != strategy:
            continue
        suite = run["suite"] if run["suite"] != "pddl" else folder.name
        for e in run["episodes"]:
            counts.update(decision_label(d) for d in e["decisions"])
    return suite, counts


def decision_labels(shares: list[tuple[str, Counter[str]]]) -> list[str]:
    """Every decision taken in ``shares``, cheapest-looking first (short labels first)."""
    return sorted({k for _, c in shares for k in c}, key=lambda s: (len(s), s))


def plot_curves(paths: list[Path], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for path in paths:
        data = json.loads(path.read_text())
        label = f"{path.parent.name}, beta {data.get('beta')}"
        for ax, phase in zip(axes, ("replay", "live")):
            pts = data.get(phase) or []
            if pts:
                ax.plot([t for t, _ in pts], [r for _, r in pts], label=label)
    for ax, phase, unit in zip(axes, ("replay", "live"), ("replay timesteps", "live steps")):
        ax.set_title(f"{phase} phase")
        ax.set_xlabel(unit)
        ax.set_ylabel("mean episode reward (last 100)")
        if ax.lines:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_decisions(shares: list[tuple[str, Counter[str]]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = decision_labels(shares)
    width = 0.8 / max(1, len(shares))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(labels)), 3.6))
    for i, (suite, counts) in enumerate(shares):
        total = sum(counts.values()) or 1
        xs = [j + i * width for j in range(len(labels))]
        ax.bar(xs, [counts[k] / total for k in labels], width, label=f"{suite} ({total} steps)")
    ax.set_xticks([j + width * (len(shares) - 1) / 2 for j in range(len(labels))])
    ax.set_xticklabels(labels, rotation=20, fontsize=8)
    ax.set_ylabel("share of steps")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    unwind_on_sigterm()
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--curves", nargs="*", type=Path, default=[])
    ap.add_argument("--bench", action="append", type=Path, default=[])
    ap.add_argument("--strategy", default="learned")
    ap.add_argument("--out", type=Path, required=True, help="path prefix of the two PNG files")
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.curves:
        plot_curves(args.curves, Path(f"{args.out}-curves.png"))
    if args.bench:
        shares = [decision_shares(f, args.strategy) for f in args.bench]
        plot_decisions(shares, Path(f"{args.out}-decisions.png"))
        labels = decision_labels(shares)
        print("| suite | steps | " + " | ".join(labels) + " |")
        print("| --- | ---: | " + " | ".join("---:" for _ in labels) + " |")
        for suite, counts in shares:
            total = sum(counts.values()) or 1
            cells = " | ".join(f"{counts[k] / total:.0%}" for k in labels)
            print(f"| {suite} | {sum(counts.values())} | {cells} |")


if __name__ == "__main__":
    main()
