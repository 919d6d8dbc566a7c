"""Generalisation across suites, in replay: controllers trained on one suite, scored on the others.

Usage: python3 scripts/generalisation.py runs/traces/* [--timesteps 300000] [--beta 1.0]
           [--out runs/generalisation]

For every suite found in the trace folders it trains a controller with PPO on that suite's
training episodes only (the same 80/20 split by episode key as ``aip-sdk train-controller``), then
scores every controller - the four single-suite ones and the shipped default (trained on all four
suites' training parts) - next to the best fixed decision and the replay oracle, on all recorded
episodes of each suite (the same episodes for every row; cells where the controller was trained
on part of them are marked). Writes ``OUT/generalisation.md`` (Markdown
tables) and ``OUT/controller-<suite>.onnx``. Replay answers "which decision would have been good
at this recorded step", not a live success rate; see docs/training.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aip_sdk.controllers.learned import default_controller_path
from aip_sdk.training.pipeline import fixed_rules, load_traces, onnx_rule, train_controller
from aip_sdk.training.replay import evaluate, split_holdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("traces", nargs="+", type=Path)
    ap.add_argument("--timesteps", type=int, default=300_000)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--beta", type=float, default=0.05)
    ap.add_argument("--holdout", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("runs/generalisation"))
    args = ap.parse_args()
    traces = load_traces(args.traces)
    by_suite, table = traces.by_suite(), traces.table
    suites = sorted(by_suite)
    split = {s: split_holdout(eps, args.holdout) for s, eps in by_suite.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    rules: dict[str, Any] = {}
    for s in suites:
        train, _ = split[s]
        path = args.out / f"controller-{s}.onnx"
        train_controller(
            train,
            table,
            path,
            alpha=args.alpha,
            beta=args.beta,
            timesteps=args.timesteps,
            seed=args.seed,
            metadata={"suites": [s], "model": traces.model},
        )
        rules[f"trained on {s} only"] = onnx_rule(path, table)
        print(f"trained {path} on {len(train)} {s} episodes")
    rules["shipped (all four suites)"] = onnx_rule(default_controller_path(traces.model), table)
    fixed = fixed_rules(table)

    lines = [
        "## Generalisation across suites (replay)",
        "",
        "Produced by `python3 scripts/generalisation.py "
        + " ".join(str(t) for t in args.traces)
        + f" --timesteps {args.timesteps} --beta {args.beta:g}`.",
        "",
        f"Replay on all recorded episodes of each suite (alpha {args.alpha:g}, beta "
        f"{args.beta:g}, PPO {args.timesteps} timesteps, seed {args.seed}). Per cell: reward "
        "R = alpha*Q - beta*C / good-step rate Q / tokens per step; * marks cells "
        "where the controller was trained on 80% of those episodes (in distribution). Sizes: "
        + ", ".join(
            f"{s} {len(by_suite[s])} episodes ({sum(len(e.steps) for e in by_suite[s])} steps)"
            for s in suites
        )
        + ".",
        "",
        "| controller | " + " | ".join(suites) + " |",
        "| --- | " + " | ".join("---" for _ in suites) + " |",
    ]

    def cell(rule: Any, s: str, seen: bool = False) -> tuple[str, float]:
        st = evaluate(by_suite[s], table, rule, alpha=args.alpha, beta=args.beta)
        text = f"{st['reward']:.3f} / {st['good_step_rate']:.2f} / {st['tokens_per_step']:.0f}"
        return text + (" *" if seen else ""), st["reward"]

    for name, rule in rules.items():
        cells = [cell(rule, s, seen=name.startswith("shipped") or s in name)[0] for s in suites]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    best = []
    for s in suites:
        scored = [(cell(rule, s)[1], n) for n, rule in fixed.items()]
        _, n = max(scored)
        best.append(f"{cell(fixed[n], s)[0]} (`{n}`)")
    lines.append("| best fixed decision, per suite | " + " | ".join(best) + " |")
    lines.append("| replay oracle | " + " | ".join(cell("oracle", s)[0] for s in suites) + " |")
    (args.out / "generalisation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
