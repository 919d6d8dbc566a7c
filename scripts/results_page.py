"""Render docs/results.md from bench folders (their results.json and pareto.png).

Usage: python3 scripts/results_page.py runs/bench/* --out docs/results.md
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from aip_sdk.bench.report import aggregate_strategies, write_pareto, write_summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("docs/results.md"))
    ap.add_argument("--command", default="bash scripts/results.sh")
    ap.add_argument("--note", default="", help="A status paragraph placed under the title.")
    args = ap.parse_args()
    img = args.out.parent / "img"
    img.mkdir(parents=True, exist_ok=True)
    parts = [
        "# Results",
        "",
        f"Produced by `{args.command}` (live episodes: the real default model in the real "
        "environments; nothing here is replayed from traces).",
        "",
    ]
    if args.note:
        parts += [args.note, ""]
    for d in args.dirs:
        res_path = d / "results.json"
        if not res_path.is_file():
            continue
        results = json.loads(res_path.read_text())
        rows = aggregate_strategies(results)
        parts.append(f"## {d.name}")
        parts.append("")
        parts.append(write_summary(results, d / "summary.md"))
        write_pareto(results, d / "pareto.png")
        if (d / "pareto.png").is_file():
            target = img / f"pareto-{d.name}.png"
            shutil.copyfile(d / "pareto.png", target)
            parts.append(f"![Pareto plot for {d.name}](img/{target.name})")
            parts.append("")
        parts.append(f"({len(rows)} strategies.)")
        parts.append("")
    args.out.write_text("\n".join(parts))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
