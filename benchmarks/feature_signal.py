"""Can the step features see where compute pays? Read from collected traces, no model needed.

Run: python benchmarks/feature_signal.py runs/traces/MODEL/SUITE [...]

Per trace folder it prints how often the probe's choice (what ``fixed:k=0`` takes) is a good
action, how well each feature alone ranks the steps where it is (ROC AUC: 0.5 is chance; below
0.5 the feature ranks backwards), each decision's good-step rate in each third of the probe's
confidence (``top1_prob``; where a dearer decision pays), and the probe's
success by whether its choice leads back to a state already seen (read from the trace's
one-step rollout of that action, where one was recorded). A controller can only save compute
where some signal tells a step the probe gets right from one it gets wrong.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from aip_sdk.decision import Decision
from aip_sdk.traces import TraceStore
from aip_sdk.training.replay import step_outcome


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


def _rate(good: np.ndarray[Any, Any], mask: np.ndarray[Any, Any]) -> str:
    return f"{good[mask].mean():.2f}" if mask.any() else "-"


def report(folder: Path) -> list[str]:
    """The report's lines for one trace folder (``aip-sdk collect --out``)."""
    store = TraceStore(folder)
    names = list(store.manifest()["feature_names"])
    table = [Decision.from_dict(d) for d in store.manifest()["decision_table"]]
    steps = [s for e in store.episodes() for s in e.steps if s.good]
    if not steps:
        return [f"{folder}: no labelled steps"]
    x = np.array([s.features for s in steps], dtype=float)
    right = np.array([s.probe_top in s.good for s in steps])
    varied = [i for i in range(len(names)) if np.ptp(x[:, i]) > 0]
    aucs = sorted(((auc(x[:, i], right), names[i]) for i in varied), key=lambda t: -abs(t[0] - 0.5))
    lines = [
        f"{folder}: {len(steps)} labelled steps, the probe's choice good on {right.mean():.2f}",
        "  AUC per feature (strongest first): "
        + ", ".join(f"{n} {a:.2f}" for a, n in aucs)
        + f"; constant here: {', '.join(n for i, n in enumerate(names) if i not in varied)}",
    ]
    conf = x[:, names.index("top1_prob")]
    cuts = np.quantile(conf, [1 / 3, 2 / 3])
    third = np.searchsorted(cuts, conf, side="right")
    masks = [third == t for t in range(3)]
    lines.append(
        f"  good-step rate by top1_prob third (cuts {cuts[0]:.2f}, {cuts[1]:.2f}; "
        f"n = {', '.join(str(int(m.sum())) for m in masks)}), then over all steps:"
    )
    for decision in table:
        good = np.array([step_outcome(s, decision)[0] for s in steps])
        rates = ", ".join(_rate(good, m) for m in masks)
        lines.append(f"    {decision!s:32s} {rates}; all {good.mean():.2f}")
    loops = [
        (s.rollouts[s.probe_top].steps[0].repeat, r)
        for s, r in zip(steps, right, strict=True)
        if s.probe_top in s.rollouts
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
