"""Can the step features see where compute pays? Read from collected traces, no model needed.

Run: python benchmarks/feature_signal.py runs/traces/MODEL/SUITE [...]

Per trace folder it prints how often the probe's choice (what ``fixed:k=0`` takes) is a good
action, how well each feature alone ranks the steps where it is (ROC AUC: 0.5 is chance; below
0.5 the feature ranks backwards), the probe's success by thirds of its confidence (``top1_prob``),
and by whether the probe's choice leads back to a state already seen (read from the trace's
one-step rollout of that action, where one was recorded). A controller can only save compute
where some signal tells a step the probe gets right from one it gets wrong.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np


def auc(score: np.ndarray[Any, Any], label: np.ndarray[Any, Any]) -> float:
    """ROC AUC of ``score`` for boolean ``label`` (Mann-Whitney U, ties share their mean rank)."""
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    for value in np.unique(score):  # ties: the mean of their ranks
        tied = score == value
        ranks[tied] = ranks[tied].mean()
    pos, neg = int(label.sum()), int((~label).sum())
    if not pos or not neg:
        return float("nan")
    return float((ranks[label].sum() - pos * (pos + 1) / 2) / (pos * neg))


def load(folder: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """Feature names and the labelled steps (those with a known set of good actions)."""
    names = json.loads((folder / "manifest.json").read_text())["feature_names"]
    steps = []
    for path in sorted((folder / "episodes").glob("*.json")):
        for step in json.loads(path.read_text())["steps"]:
            if step.get("good") and step.get("features") is not None:
                steps.append(step)
    return names, steps


def report(folder: Path) -> list[str]:
    names, steps = load(folder)
    if not steps:
        return [f"{folder}: no labelled steps"]
    x = np.array([s["features"] for s in steps], dtype=float)
    right = np.array([s["probe_top"] in set(s["good"]) for s in steps])
    aucs = sorted(
        ((auc(x[:, i], right), n) for i, n in enumerate(names) if np.ptp(x[:, i]) > 0),
        key=lambda t: -abs(t[0] - 0.5),
    )
    lines = [
        f"{folder}: {len(steps)} labelled steps, the probe's choice good on {right.mean():.2f}",
        "  AUC per feature (strongest first): "
        + ", ".join(f"{n} {a:.2f}" for a, n in aucs)
        + f"; constant here: {', '.join(n for i, n in enumerate(names) if np.ptp(x[:, i]) == 0)}",
    ]
    conf = x[:, names.index("top1_prob")]
    cuts = np.quantile(conf, [1 / 3, 2 / 3])
    third = np.searchsorted(cuts, conf, side="right")
    by_third = [f"{right[third == t].mean():.2f} (n={int((third == t).sum())})" for t in range(3)]
    lines.append("  probe good by top1_prob third (low, mid, high): " + ", ".join(by_third))
    loops = [
        (s["rollouts"][s["probe_top"]]["steps"][0]["repeat"], r)
        for s, r in zip(steps, right, strict=True)
        if s["probe_top"] in (s.get("rollouts") or {})
    ]
    for seen in (False, True):
        sub = [r for rep, r in loops if rep == seen]
        if sub:
            lines.append(
                f"  probe's choice leads to a state {'seen' if seen else 'not seen'} before: "
                f"good on {np.mean(sub):.2f} (n={len(sub)})"
            )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path, help="trace folders (aip-sdk collect --out)")
    for folder in ap.parse_args().folders:
        print("\n".join(report(folder)))


if __name__ == "__main__":
    main()
