"""The seed's four claims, measured on a bench folder's ``results.json``.

The results page (``scripts/results_page.py``) states each claim with a 95% interval, whatever
it says. Every figure compares strategies on the same (seed, task) pairs
(:func:`~aip_sdk.bench.report.aggregate_strategies`), so a bench stopped part-way still compares
like with like; intervals are percentile bootstraps over episodes (paired where two strategies
are compared), because steps within an episode are not independent.

- **Easy steps**: the share of a strategy's steps spent at one sample's cost or less
  (:func:`is_cheapest`), and its success next to ``fixed:k=0`` (the cheapest decision at
  every step) on the same episodes.
- **Hard tasks**: its success against the best fixed allocation that spends no more tokens
  (:func:`at_equal_tokens`), and against the best fixed allocation at any cost; the same on
  quality (the reward's Q), which separates strategies that all succeed.
- **Trade-off**: drawn, not computed here (``pareto.png``, with the beta sweep as a curve).
- **Generalisation**: the same comparisons on a suite or domain the controller was not trained
  on; the page says which folders those are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from aip_sdk.bench.report import aggregate_strategies, best_fixed
from aip_sdk.controllers.spec import parse_spec
from aip_sdk.decision import Decision
from aip_sdk.errors import ConfigError
from aip_sdk.util import bootstrap_ci

__all__ = [
    "MEASURES",
    "Comparison",
    "EasySteps",
    "at_equal_tokens",
    "compare",
    "easy_steps",
    "fixed_strategy",
    "is_cheapest",
    "paired_difference",
]


def is_cheapest(decision: dict[str, Any]) -> bool:
    """Whether a recorded decision costs at most one sample: the probe's top action (``k=0``)
    or one sample, without reasoning, votes over several samples or lookahead; or no model call
    at all (the environment's rating alone, where a ``widen`` step drew nothing)."""
    d = Decision.from_dict(decision)
    return d.model_free or (d.k <= 1 and d.depth == 0 and not d.looks_ahead)


def _episodes(results: dict[str, Any], strategy: str) -> dict[tuple[int, str], dict[str, Any]]:
    """The episodes of ``strategy`` on the pairs every strategy finished, keyed by pair."""
    rows = {r["strategy"]: r for r in aggregate_strategies(results)}
    if strategy not in rows:
        return {}
    pairs = {tuple(p) for p in rows[strategy]["pairs"]}
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for run in results["runs"]:
        if run["strategy"] != strategy:
            continue
        for e in run["episodes"]:
            key = (int(run["seed"]), str(e["task_id"]))
            if key in pairs:
                out[key] = e
    return out


def fixed_strategy(results: dict[str, Any], decision: Decision) -> str | None:
    """The name under which ``results`` ran the fixed allocation ``decision`` (``fixed:k=0``
    and ``fixed:k=0,depth=0`` are the same allocation), or ``None``."""
    for run in results["runs"]:
        name, kwargs = parse_spec(run["strategy"])
        if name == "fixed":
            try:
                if Decision(**kwargs) == decision:
                    return str(run["strategy"])
            except (TypeError, ValueError):
                continue
    return None


def _tokens(e: dict[str, Any]) -> float:
    return float(e["cost"]["prompt_tokens"] + e["cost"]["generated_tokens"])


def paired_difference(
    a: Sequence[float], b: Sequence[float], *, n: int = 4000, seed: int = 0
) -> tuple[float, list[float]]:
    """Mean of ``a - b`` over paired episodes and its 95% percentile-bootstrap interval."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if diff.size == 0:
        return 0.0, [0.0, 0.0]
    return float(diff.mean()), bootstrap_ci(diff, n=n, seed=seed)


@attrs.frozen(kw_only=True)
class EasySteps:
    """Claim 1 for one strategy: how often it spent the cheapest decision.

    Attributes:
        strategy: the strategy measured.
        steps: the steps it took on the shared episodes.
        share: the share of those steps at one sample's cost or less.
        ci: 95% interval of ``share`` (bootstrap over episodes).
        success: its success on those episodes.
        cheapest_success: ``fixed:k=0``'s success on the same episodes (``None`` if not run).
        episodes: how many episodes.
    """

    strategy: str
    steps: int
    share: float
    ci: list[float]
    success: float
    cheapest_success: float | None
    episodes: int


def easy_steps(
    results: dict[str, Any], strategy: str = "learned", *, n: int = 4000, seed: int = 0
) -> EasySteps | None:
    """Claim 1 (less compute on easy steps) for ``strategy``; ``None`` if it did not run."""
    eps = _episodes(results, strategy)
    if not eps:
        return None
    keys = sorted(eps)
    cheap = np.asarray(
        [sum(is_cheapest(d) for d in eps[k]["decisions"]) for k in keys], dtype=float
    )
    total = np.asarray([len(eps[k]["decisions"]) for k in keys], dtype=float)
    share = float(cheap.sum() / max(1.0, total.sum()))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(keys), size=(n, len(keys)))
    ratios = cheap[idx].sum(axis=1) / np.maximum(1.0, total[idx].sum(axis=1))
    cheapest = fixed_strategy(results, Decision(k=0))
    base = _episodes(results, cheapest) if cheapest else {}
    shared = [k for k in keys if k in base]
    return EasySteps(
        strategy=strategy,
        steps=int(total.sum()),
        share=share,
        ci=[float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5))],
        success=float(np.mean([eps[k]["success"] for k in keys])),
        cheapest_success=(float(np.mean([base[k]["success"] for k in shared])) if shared else None),
        episodes=len(keys),
    )


MEASURES = ("success", "quality")
"""What claim 2 compares: success, or quality (the reward's Q, which the controller is trained
to raise: the optimal step count over the steps taken on a success, 1 where no optimum is
known, 0 on a failure)."""


@attrs.frozen(kw_only=True)
class Comparison:
    """A strategy against a fixed allocation on the same episodes.

    Attributes:
        strategy: the strategy measured (e.g. ``learned``).
        other: the fixed allocation it is compared with.
        measure: what is compared, one of :data:`MEASURES`.
        episodes: the shared episodes.
        value: the strategy's mean ``measure``.
        other_value: the fixed allocation's.
        difference: ``value - other_value`` (paired) and its 95% interval.
        tokens: the strategy's mean total tokens per episode.
        other_tokens: the fixed allocation's.
    """

    strategy: str
    other: str
    measure: str = "success"
    episodes: int
    value: float
    other_value: float
    difference: tuple[float, list[float]]
    tokens: float
    other_tokens: float

    @property
    def token_ratio(self) -> float:
        return self.tokens / self.other_tokens if self.other_tokens else float("nan")

    @property
    def significant(self) -> bool:
        """Whether the 95% interval of the difference excludes 0."""
        lo, hi = self.difference[1]
        return lo > 0 or hi < 0


def _check_measure(measure: str) -> None:
    if measure not in MEASURES:
        raise ConfigError(f"unknown measure {measure!r}: use one of {', '.join(MEASURES)}")


def compare(
    results: dict[str, Any], strategy: str, other: str, *, measure: str = "success"
) -> Comparison | None:
    """``strategy`` against ``other`` on ``measure`` over the episodes both finished (``None``
    if none)."""
    _check_measure(measure)
    a, b = _episodes(results, strategy), _episodes(results, other)
    keys = sorted(set(a) & set(b))
    if not keys:
        return None
    sa = [float(a[k][measure]) for k in keys]
    sb = [float(b[k][measure]) for k in keys]
    return Comparison(
        strategy=strategy,
        other=other,
        measure=measure,
        episodes=len(keys),
        value=float(np.mean(sa)),
        other_value=float(np.mean(sb)),
        difference=paired_difference(sa, sb),
        tokens=float(np.mean([_tokens(a[k]) for k in keys])),
        other_tokens=float(np.mean([_tokens(b[k]) for k in keys])),
    )


def at_equal_tokens(
    results: dict[str, Any],
    strategy: str = "learned",
    *,
    slack: float = 0.1,
    measure: str = "success",
) -> tuple[Comparison | None, Comparison | None]:
    """Claim 2 (better results on hard tasks): ``strategy`` against (the best fixed allocation
    on ``measure`` spending at most ``1 + slack`` times its tokens, the best fixed allocation on
    ``measure`` at any cost).

    Either is ``None`` where no fixed allocation qualifies or ``strategy`` did not run.
    """
    _check_measure(measure)
    rows = aggregate_strategies(results)
    mine = next((r for r in rows if r["strategy"] == strategy), None)
    if mine is None:
        return None, None
    within = best_fixed(rows, max_tokens=(1 + slack) * mine["tokens"], measure=measure)
    overall = best_fixed(rows, measure=measure)
    return (
        compare(results, strategy, within["strategy"], measure=measure) if within else None,
        compare(results, strategy, overall["strategy"], measure=measure) if overall else None,
    )
