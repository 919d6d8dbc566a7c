"""The training pipeline behind ``aip-sdk train-controller`` and the study scripts.

Read trace folders into one set (:func:`load_traces`), train and export a controller per beta
(:func:`train_controller`), and score decision rules in replay (:func:`rules_table`): the
learned controllers, every fixed decision of the table and the replay oracle, on the training
and the held-out episodes. The CLI and ``scripts/`` call these; they hold no logic of their own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from aip_sdk.decision import Decision, table_from_json
from aip_sdk.errors import ConfigError
from aip_sdk.traces import EpisodeTrace, TraceStore
from aip_sdk.util import write_json_atomic

__all__ = [
    "LivePhase",
    "TraceSet",
    "curve_path",
    "fixed_rules",
    "live_tasks",
    "load_traces",
    "onnx_rule",
    "rules_table",
    "sweep_path",
    "train_controller",
]

Rule = Any  # a callable features -> index, ("fixed", index), or "oracle"


@attrs.frozen(kw_only=True)
class TraceSet:
    """Episodes from one or more trace folders that share a decision table.

    Attributes:
        episodes: every recorded episode.
        table: the decision table the recordings serve.
        model: the model the traces were recorded with.
        suites: the suites recorded, sorted.
        widen: the folders recorded only the steps where the environment's rating ties
            (``collect --widen``): the controller is to be served as ``learned:widen=1``.
    """

    episodes: tuple[EpisodeTrace, ...]
    table: tuple[Decision, ...]
    model: str
    suites: tuple[str, ...]
    widen: bool = False

    def by_suite(self) -> dict[str, list[EpisodeTrace]]:
        out: dict[str, list[EpisodeTrace]] = {}
        for e in self.episodes:
            out.setdefault(e.suite, []).append(e)
        return out


def load_traces(folders: Sequence[str | Path]) -> TraceSet:
    """Read trace folders recorded for one decision table and one model.

    Raises:
        DataError: a folder is not a trace folder or holds a malformed or outdated episode.
        ConfigError: the folders were recorded with different tables or models, or hold no
            episodes.
    """
    episodes: list[EpisodeTrace] = []
    tables, models, widen = set(), set(), set()
    for folder in folders:
        store = TraceStore(Path(folder))
        manifest = store.manifest()
        tables.add(json.dumps(manifest["decision_table"]))
        models.add(str(manifest.get("model", "")))
        widen.add(bool(manifest.get("widen", False)))
        episodes += list(store.episodes())
    if len(tables) != 1 or len(widen) != 1:
        raise ConfigError(
            "the trace folders were recorded for different decision tables (pool sizes, "
            "horizons or --widen); train on folders collected with the same --pool, --horizon "
            "and --widen"
        )
    if len(models) != 1:
        raise ConfigError(
            f"the trace folders were recorded with different models ({', '.join(sorted(models))});"
            f" a controller is trained for one model"
        )
    if not episodes:
        raise ConfigError(
            f"no episodes in {', '.join(map(str, folders))}; record some with 'aip-sdk collect'"
        )
    return TraceSet(
        episodes=tuple(episodes),
        table=table_from_json(tables.pop()),
        model=models.pop(),
        suites=tuple(sorted({e.suite for e in episodes})),
        widen=widen.pop(),
    )


def sweep_path(out: str | Path, beta: float, sweep: bool) -> Path:
    """Where a sweep over betas writes each controller (``c.onnx`` -> ``c-beta0.5.onnx``)."""
    target = Path(out)
    return target.with_name(f"{target.stem}-beta{beta:g}{target.suffix}") if sweep else target


@attrs.frozen(kw_only=True)
class LivePhase:
    """The live RL phase after replay: PPO continues on real episodes.

    Attributes:
        backend: the real backend (the model the traces were recorded with).
        tasks: (suite, split, task id) triples the episodes are drawn from.
        steps: live steps (one planning step each).
        checkpoint: where the model is saved as it learns (resumable).
        max_steps: a cap on a live episode's steps; ``None`` plays to the environment's own
            limit (what serving and the benches do, so the reward sees what they see).
        widen: the agent decides only where the environment's rating ties (traces collected
            with ``--widen``, a controller served as ``learned:widen=1``); a live step is
            then one tied step, and the episode's reward still reads the whole episode.
        baseline: a (model-free) strategy played on each live episode's task and start, whose
            quality is subtracted from the reward (:class:`~aip_sdk.training.live.LiveEnv`).
        learning_rate: the live phase's PPO learning rate (default: the replay's).
    """

    backend: Any
    tasks: tuple[tuple[Any, str, str], ...]
    steps: int
    checkpoint: Path
    max_steps: int | None = None
    widen: bool = False
    baseline: str | None = None
    learning_rate: float | None = None


def live_tasks(specs: Sequence[str], per_suite: int, seed: int = 0) -> list[tuple[Any, str, str]]:
    """Tasks for the live phase from ``SUITE[:SPLIT]`` specs (a seeded sample of each split)."""
    import random

    from aip_sdk.envs.suite import load_suite

    out = []
    for spec in specs:
        name, _, split = spec.partition("@")
        suite = load_suite(name)
        split = split or suite.default_split
        tasks = [t.task_id for t in suite.tasks(split)]
        random.Random(seed).shuffle(tasks)
        out += [(suite, split, t) for t in tasks[:per_suite]]
    if not out:
        raise ConfigError("the live phase needs tasks: pass --live-suite SUITE[@SPLIT]")
    return out


def require_copies(tasks: Sequence[tuple[Any, str, str]], what: str) -> None:
    """Fail now, before any training, where ``what`` (a live baseline that peeks, such as the
    ``heuristic``) needs copies of environments that one of the live suites cannot give.

    One environment per suite is made and closed (a browser starts and stops for MiniWoB++).

    Raises:
        ConfigError: a live suite's environment cannot be copied.
    """
    from aip_sdk.lookahead import can_copy

    checked: set[str] = set()
    for suite, split, task in tasks:
        if suite.name in checked:
            continue
        checked.add(suite.name)
        env = suite.make(task, split)
        try:
            copyable = can_copy(env)
        finally:
            env.close()
        if not copyable:
            raise ConfigError(
                f"{what} peeks in copies of the environment, and {suite.name} cannot be copied "
                f"(MiniWoB++ runs in a live browser): give --live-suite only suites that can "
                f"be, or leave {what.split()[0]} out"
            )


def train_controller(
    train: Sequence[EpisodeTrace],
    table: Sequence[Decision],
    out: str | Path,
    *,
    alpha: float,
    beta: float,
    timesteps: int,
    seed: int,
    metadata: Mapping[str, Any],
    progress: Callable[[int], None] | None = None,
    live: LivePhase | None = None,
    live_progress: Callable[[int], None] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Train PPO in replay, optionally continue it live, and export the controller to ``out``
    (parity-checked).

    Returns:
        (the SB3 model, the export report). The report's ``curve`` holds the learning curves,
        ``{"replay": [(timesteps, mean episode reward), ...], "live": [...]}``; they are also
        written beside the controller (``<out stem>.curve.json``) for docs/training.md's plot.
    """
    from aip_sdk.training.ppo import export_onnx, train_ppo

    curves: dict[str, list[tuple[int, float]]] = {"replay": [], "live": []}
    model = train_ppo(
        train,
        table,
        alpha=alpha,
        beta=beta,
        timesteps=timesteps,
        seed=seed,
        progress=progress,
        curve=curves["replay"],
    )
    if live is not None and live.steps > 0:
        from aip_sdk.training.live import LiveEnv, train_live

        def make_env() -> LiveEnv:
            return LiveEnv(
                live.backend,
                live.tasks,
                table,
                alpha=alpha,
                beta=beta,
                max_steps=live.max_steps,
                widen=live.widen,
                baseline=live.baseline,
            )

        model = train_live(
            model,
            make_env,
            steps=live.steps,
            checkpoint=live.checkpoint,
            progress=live_progress,
            curve=curves["live"],
            learning_rate=live.learning_rate,
        )
    meta = {
        "alpha": alpha,
        "beta": beta,
        "timesteps": timesteps,
        "seed": seed,
        "episodes": len(train),
        "cost": "tokens",
        "live_steps": live.steps if live is not None else 0,
        **metadata,
    }
    report = export_onnx(model, out, table=table, metadata=meta)
    report["curve"] = curves
    write_json_atomic(curve_path(out), {"alpha": alpha, "beta": beta, **curves})
    return model, report


def curve_path(controller: str | Path) -> Path:
    """Where :func:`train_controller` writes the learning curves of ``controller``."""
    path = Path(controller)
    return path.with_name(f"{path.stem}.curve.json")


def onnx_rule(path: str | Path, table: Sequence[Decision]) -> Rule:
    """A replay rule from an exported controller, mapped onto ``table`` (its decisions must be
    in the table)."""
    from aip_sdk.controllers.learned import LearnedController

    ctrl = LearnedController(path=Path(path))
    index = {d: i for i, d in enumerate(table)}
    missing = [str(d) for d in ctrl.table if d not in index]
    if missing:
        raise ConfigError(
            f"controller {str(path)!r} decides {', '.join(missing)}, which the traces' table "
            f"does not hold"
        )
    order = [index[d] for d in ctrl.table]

    def choose(x: np.ndarray[Any, Any]) -> int:
        return order[int(np.argmax(ctrl.logits(x)))]

    return choose


def fixed_rules(table: Sequence[Decision]) -> dict[str, Rule]:
    """One replay rule per fixed decision, named by its strategy spec."""
    return {f"fixed:{str(d).replace(' ', ',')}": ("fixed", i) for i, d in enumerate(table)}


def rules_table(
    groups: Mapping[str, Sequence[EpisodeTrace]],
    table: Sequence[Decision],
    rules: Mapping[str, Rule],
    *,
    alpha: float,
    beta: float,
) -> list[str]:
    """Markdown rows scoring every rule on every group of episodes in replay.

    Columns: reward R = alpha*Q - beta*C, the good-step rate Q, the cost C in units of one
    sample, and tokens per step (evaluated prompt, probe where paid, candidates, rollouts).
    """
    from aip_sdk.training.replay import evaluate

    lines = [
        "| rule | episodes | reward | good steps | cost C (samples) | tokens/step |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for name, rule in rules.items():
        for label, eps in groups.items():
            if not eps:
                continue
            st = evaluate(eps, table, rule, alpha=alpha, beta=beta)
            lines.append(
                f"| {name} | {label} | {st['reward']:.3f} | {st['good_step_rate']:.2f} | "
                f"{st['cost']:.2f} | {st['tokens_per_step']:.0f} |"
            )
    return lines
