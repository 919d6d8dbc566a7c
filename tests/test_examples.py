"""The examples in examples/ run as documented (docs that cannot rot)."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_runs_and_reports_cost(capsys):
    runpy.run_path(str(EXAMPLES / "quickstart.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "success:" in out and "cost: Cost(llm_calls=" in out
    assert "1. " in out
