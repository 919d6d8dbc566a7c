"""Render docs/results.md from bench folders (their results.json and pareto.png).

Usage: python3 scripts/results_page.py runs/bench/* --out docs/results.md
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from aip_sdk.bench.harness import build_results
from aip_sdk.bench.report import aggregate_strategies, best_fixed, write_pareto, write_summary


def _episodes(n: int) -> str:
    return f"{n} episode" if n == 1 else f"{n} episodes"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def headline(rows: list[dict], anchor: str, results: dict) -> list[str]:
    """The README's head-line comparisons for one suite, from its aggregated rows."""
    by = {r["strategy"]: r for r in rows}
    best = best_fixed(rows)
    learned = by.get("learned")
    if best is None or learned is None:
        return []

    def show(r: dict) -> str:
        return f"{r['success']:.2f} success at {r['tokens']:.0f} tokens"

    def than(r: dict) -> str:
        d = learned["success"] - r["success"]
        return "higher" if d > 0 else "equal" if d == 0 else "lower"

    out = [
        f"- **[{anchor}](#{anchor})** ({_episodes(learned['episodes'])} per strategy): "
        f"learned {show(learned)}; best fixed `{best['strategy']}` {show(best)} -> learned uses "
        f"{_ratio(learned['tokens'], best['tokens'])} its tokens "
        f"({than(best)} success)."
    ]
    cheap = min((r for r in rows if r["strategy"].startswith("fixed")), key=lambda r: r["tokens"])
    if cheap is not best:
        gap = round((best["success"] - cheap["success"]) * best["episodes"])
        overlap = cheap["ci"][1] >= best["ci"][0]
        out.append(
            f"  The cheapest fixed allocation `{cheap['strategy']}`: {show(cheap)}; the best "
            f"fixed one succeeds on {gap} more of {best['episodes']} episodes"
            + (" (95% intervals overlap: not a significant difference)." if overlap else ".")
        )
    for name in ("ac", "esc"):
        if name in by:
            r = by[name]
            out.append(
                f"  vs `{name}` ({show(r)}): learned uses {_ratio(learned['tokens'], r['tokens'])} "
                f"its tokens ({than(r)} success)."
            )
    if "oracle" in by:
        r = by["oracle"]
        # The oracle (a bound) may have finished fewer episodes: compare with it on those.
        same = {x["strategy"]: x for x in aggregate_strategies(results, pairs=set(r["pairs"]))}
        mine = same["learned"]
        note = ""
        if r["pairs"] != learned["pairs"]:
            note = f" (on the {r['episodes']} episodes the oracle finished: learned {show(mine)})"
        out.append(
            f"  vs `oracle` ({show(r)}): learned spends {_ratio(mine['tokens'], r['tokens'])} "
            f"the oracle's tokens at {mine['success'] - r['success']:+.2f} success{note}."
        )
        k1 = same.get("fixed:k=1,depth=0")
        if k1 is not None and r["success"] <= k1["success"]:
            out.append(
                f"  The default model is too weak here for allocation to matter: even the "
                f"oracle succeeds no more often than `fixed:k=1,depth=0` ({r['success']:.2f} "
                f"vs {k1['success']:.2f} on the {_episodes(r['episodes'])} it ran)."
            )
    if len({round(x["success"], 9) for x in rows if x["strategy"] != "oracle"}) == 1:
        out.append(
            f"  Every strategy but the oracle has the same success ({learned['success']:.2f}): "
            "no allocation changes the outcome on these tasks; only the cost differs."
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("docs/results.md"))
    ap.add_argument("--command", default="bash scripts/results.sh")
    ap.add_argument("--note", default="", help="A status paragraph placed under the title.")
    ap.add_argument(
        "--section", type=Path, action="append", default=[], help="Markdown file to append."
    )
    args = ap.parse_args()
    img = args.out.parent / "img"
    img.mkdir(parents=True, exist_ok=True)
    top = [
        "# Results",
        "",
        f"Produced by `{args.command}` (live episodes: the real default model in the real "
        "environments; nothing here is replayed from traces).",
        "",
    ]
    if args.note:
        top += [args.note, ""]
    heads: list[str] = []
    body: list[str] = []
    for d in args.dirs:
        res_path = d / "results.json"
        if (d / "episodes").is_dir():  # rebuild: a stopped run may not have written it
            results = build_results(d)
        elif res_path.is_file():
            results = json.loads(res_path.read_text())
        else:
            continue
        rows = aggregate_strategies(results)
        if not rows:
            continue
        heads += headline(rows, d.name, results)
        body += [f"## {d.name}", "", write_summary(results, d / "summary.md")]
        write_pareto(results, d / "pareto.png")
        if (d / "pareto.png").is_file():
            target = img / f"pareto-{d.name}.png"
            shutil.copyfile(d / "pareto.png", target)
            body += [f"![Pareto plot for {d.name}](img/{target.name})", ""]
        pooled = {p for r in rows if r["strategy"] != "oracle" for p in r["pairs"]}
        seeds = sorted({seed for seed, _ in pooled})
        body += [
            f"({len(rows)} strategies; every row except the oracle's pools the same "
            f"{len(pooled)} episodes: {len({t for _, t in pooled})} tasks x seeds "
            f"{', '.join(map(str, seeds))}.)",
            "",
        ]
    out = [*top, "## Head-line figures", "", *heads, "", *body]
    for section in args.section:
        out += [section.read_text(), ""]
    args.out.write_text("\n".join(out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
