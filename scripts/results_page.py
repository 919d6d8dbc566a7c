"""Render docs/results.md from bench folders: the seed's four claims, then each folder's table
and Pareto plot.

Usage:
    python3 scripts/results_page.py runs/bench/q05-* --unseen q05-logistics --out docs/results.md

Every figure comes from the folders' episode files (``aip_sdk.bench.claims``); a folder named
with ``--unseen`` is a suite or domain its controllers were not trained or tuned on (claim 4:
Logistics for every controller; Blocksworld for one trained on grid alone), as is any
strategy whose controller file name holds ``loso`` (trained leaving that folder's suite out).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from aip_sdk.bench.claims import MEASURES, Comparison, at_equal_tokens, easy_steps
from aip_sdk.bench.harness import build_results
from aip_sdk.bench.report import (
    aggregate_strategies,
    strategy_label,
    sweep_beta,
    write_pareto,
    write_summary,
)


def _ci(ci: list[float]) -> str:
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]"


def _diff(c: Comparison) -> str:
    d, ci = c.difference
    return f"{d:+.2f} {_ci(ci)}" + (" *" if c.significant else "")


def _ratio(c: Comparison) -> str:
    """Tokens over the other's; the model-free heuristic spends none, so there is no ratio."""
    return f"{c.token_ratio:.2f}x" if c.other_tokens else "(it spends 0)"


def _model(results: dict[str, Any]) -> str:
    m = results.get("model") or {}
    names = {str(run["model"]) for run in results["runs"]}
    name = m.get("name") or ", ".join(sorted(names))
    return f"{name} (sha256 {m['sha256'][:12]})" if m.get("sha256") else name


def _learned(rows: list[dict[str, Any]]) -> list[str]:
    """The learned strategies of a folder: the shipped one first, then files, by beta."""
    names = [r["strategy"] for r in rows if r["family"] == "learned"]
    return sorted(names, key=lambda s: (s != "learned", sweep_beta(s) or 0.0, s))


def _label(strategy: str) -> str:
    return "learned (shipped)" if strategy == "learned" else strategy_label(strategy)


def _claim2_header(measure: str) -> list[str]:
    return [
        f"| folder | controller | episodes | {measure} | best fixed within its tokens | its "
        f"{measure} | difference [95% CI] | tokens ratio | best fixed at any cost | "
        "difference [95% CI] | tokens ratio |",
        "| --- | --- | ---: | ---: | --- | ---: | --- | ---: | --- | --- | ---: |",
    ]


def _claim2_line(
    name: str, strat: str, within: Comparison | None, overall: Comparison | None
) -> str | None:
    """One row of claim 2's table (``None`` where nothing compares)."""
    ref = within or overall
    if ref is None:
        return None
    cells = [name, _label(strat), str(ref.episodes), f"{ref.value:.2f}"]
    if within is None:
        cells += ["none spends so little", "", "", ""]
    else:
        cells += [f"`{within.other}`", f"{within.other_value:.2f}", _diff(within), _ratio(within)]
    if overall is None:
        cells += ["", "", ""]
    else:
        cells += [f"`{overall.other}` ({overall.other_value:.2f})", _diff(overall)]
        cells += [_ratio(overall)]
    return "| " + " | ".join(cells) + " |"


def claims_tables(folders: list[tuple[str, dict[str, Any]]], unseen: set[str]) -> list[str]:
    """The claims 1, 2 and 4 as tables (claim 3 is the Pareto plots)."""
    easy = [
        "| folder | model | controller | steps | cheapest-decision share [95% CI] | success | "
        "`fixed:k=0` success (same episodes) |",
        "| --- | --- | --- | ---: | --- | ---: | ---: |",
    ]
    hard = {m: _claim2_header(m) for m in MEASURES}
    general: dict[str, list[str]] = {m: [] for m in MEASURES}
    for name, results in folders:
        rows = aggregate_strategies(results)
        for strat in _learned(rows):
            e = easy_steps(results, strat)
            if e is not None:
                base = "n/a" if e.cheapest_success is None else f"{e.cheapest_success:.2f}"
                easy.append(
                    f"| {name} | {_model(results)} | {_label(strat)} | {e.steps} | "
                    f"{e.share:.2f} {_ci(e.ci)} | {e.success:.2f} | {base} |"
                )
            for measure in MEASURES:
                line = _claim2_line(name, strat, *at_equal_tokens(results, strat, measure=measure))
                if line is None:
                    continue
                hard[measure].append(line)
                if name in unseen or "loso" in strat:
                    general[measure].append(line)
    out = [
        "### 1. Less compute on easy steps",
        "",
        "The share of the controller's steps at one sample's cost or less (the probe's top "
        "action `k=0`, or one sample; no reasoning, no vote, no lookahead), with a 95% "
        "bootstrap interval over episodes; its success next to `fixed:k=0`, which spends the "
        "cheapest decision at every step, on the same episodes.",
        "",
        *easy,
        "",
        "### 2. Better results on hard tasks at equal compute",
        "",
        "The controller against the best fixed allocation that spends no more than 1.1x its "
        "total tokens, and against the best fixed allocation at any cost (the model-free "
        "`heuristic`, where it ran, is the allocation of no tokens); paired differences "
        "in success over the same (seed, task) episodes with 95% bootstrap intervals (* where "
        "the interval excludes 0). Tokens ratio: the controller's tokens over the other's.",
        "",
        *hard["success"],
        "",
        "The same on quality, the reward's Q the controller is trained to raise (the optimal "
        "step count over the steps taken on a success, 1 where no optimum is known, 0 on a "
        "failure): where every strategy succeeds, it says whose plans are shorter. The best "
        "fixed allocations are chosen on quality here.",
        "",
        *hard["quality"],
        "",
        "### 3. The trade-off",
        "",
        "One Pareto plot per folder below (success, top, and quality, bottom, against total "
        "tokens, every strategy; the controllers of the beta sweep joined by a dotted curve "
        "where they ran).",
        "",
        "### 4. Generalisation",
        "",
    ]
    if general["success"] or general["quality"]:
        out += [
            "Rows of claim 2 on a suite or domain the folder's controllers were not trained or "
            "tuned on"
            + (f" ({', '.join(sorted(unseen))})" if unseen else "")
            + ", and of controllers trained leaving the folder's suite out (`loso`), on "
            "success, then on quality:",
            "",
            *hard["success"][:2],
            *general["success"],
            "",
            *hard["quality"][:2],
            *general["quality"],
            "",
        ]
    else:
        out += ["No unseen-domain or leave-one-suite-out bench has run yet.", ""]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("docs/results.md"))
    ap.add_argument("--command", default="bash scripts/results.sh")
    ap.add_argument(
        "--unseen",
        action="append",
        default=[],
        help="Folder name of a suite its controllers never saw.",
    )
    ap.add_argument("--note", type=Path, default=None, help="A Markdown status note (what ran).")
    ap.add_argument("--section", type=Path, action="append", default=[], help="Markdown to append.")
    ap.add_argument("--title", default="Results", help="The page's heading.")
    ap.add_argument(
        "--no-claims",
        action="store_true",
        help="Leave out the four claims (a page of strategies without a learned controller).",
    )
    args = ap.parse_args()
    img = args.out.parent / "img"
    img.mkdir(parents=True, exist_ok=True)
    folders: list[tuple[str, dict[str, Any]]] = []
    body: list[str] = []
    for d in args.dirs:
        if not (d / "episodes").is_dir():
            continue
        results = build_results(d)  # rebuilt: a stopped run may not have written it
        rows = aggregate_strategies(results)
        if not rows:
            continue
        folders.append((d.name, results))
        pooled = {p for r in rows if not r["bound"] for p in r["pairs"]}
        seeds = sorted({seed for seed, _ in pooled})
        body += [
            f"## {d.name}",
            "",
            f"Model: {_model(results)}. {len(rows)} strategies; every row except a bound's pools "
            f"the same {len(pooled)} episodes: {len({t for _, t in pooled})} tasks x seeds "
            f"{', '.join(map(str, seeds))}.",
            "",
            write_summary(results, d / "summary.md"),
        ]
        write_pareto(results, d / "pareto.png")
        if (d / "pareto.png").is_file():
            target = img / f"pareto-{d.name}.png"
            shutil.copyfile(d / "pareto.png", target)
            body += [f"![Pareto plot for {d.name}](img/{target.name})", ""]
    out = [
        f"# {args.title}",
        "",
        f"Produced by `{args.command}` (live episodes: the real model in the real environments; "
        "nothing here is replayed from traces). Tokens are every token the model processed: "
        "the evaluated prompt (probes included) plus every generated token. SmolLM2-135M, the "
        "weak-model row, is on [results-smollm2.md](results-smollm2.md).",
        "",
    ]
    if args.note is not None:
        out += [args.note.read_text().strip(), ""]
    if not args.no_claims:
        out += ["## The four claims", "", *claims_tables(folders, set(args.unseen))]
    out += body
    for section in args.section:
        out += [section.read_text(), ""]
    args.out.write_text("\n".join(out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
