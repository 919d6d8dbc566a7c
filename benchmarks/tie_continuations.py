"""Would a replay label that reads past the step see what a tie-break costs? No model needed.

Run: python benchmarks/tie_continuations.py runs/traces/MODEL/SUITE-widen --suite SUITE [--reps 4]

Reads a trace folder collected with ``collect --widen`` (only the steps where the environment's
rating ties are recorded) and plays each recorded episode again: the rating's lone bests and the
recorded actions at ties take it along the same path. At every tied step, each tied action is
taken in a copy of the environment and the model-free heuristic plays on to the end (``--reps``
times, ties in different random orders); the action's continuation quality is the mean quality
reached (0 for a failure). It then prints, for every decision of the folder's table, the mean
continuation quality of the action it picks (and its share of optimal-path picks, the replay's
step label), beside the best and the worst tied action. Where no decision beats the model-free
order here either, the harm of the model's tie-breaks lies in their sequence, which only whole
episodes (the live phase) show.
"""

from __future__ import annotations

import argparse
import copy
from typing import Any

import numpy as np

from aip_sdk.context import StepContext, step_limit
from aip_sdk.cost import Cost
from aip_sdk.envs.suite import load_suite
from aip_sdk.lookahead import copy_env, peek_step, rated_best
from aip_sdk.observation import Observation
from aip_sdk.planner import Planner
from aip_sdk.testing import ScriptedBackend
from aip_sdk.traces import StepTrace
from aip_sdk.training.pipeline import load_traces


def heuristic_quality(planner: Planner, env: Any, obs: Any, ctx: StepContext) -> float:
    """The quality ``planner`` (the ``heuristic`` strategy) reaches from ``env`` (0 on failure)."""
    info: dict[str, Any] = {}
    while ctx.step < ctx.limit:
        action = planner.act(obs, context=ctx, env=env).action
        obs, _r, terminated, truncated, info = env.step(action)
        ctx.advance(action, obs, info, Cost())
        if info.get("success") or terminated or truncated:
            break
    return float(info.get("quality", 0.0)) if info.get("success") else 0.0


def continuation(env: Any, ctx: StepContext, action: str, reps: int) -> float:
    """Mean quality of ``action`` then the heuristic, over ``reps`` seeds (tie orders)."""
    values = []
    for rep in range(reps):
        copied, context = copy_env(env), copy.deepcopy(ctx)
        obs, _r, terminated, truncated, info = copied.step(action)
        context.advance(action, obs, info, Cost())
        if info.get("success") or terminated or truncated:
            values.append(float(info.get("quality", 0.0)) if info.get("success") else 0.0)
        else:
            values.append(heuristic_quality(_heuristic(rep), copied, obs, context))
    return float(np.mean(values))


def _heuristic(seed: int) -> Planner:
    # The heuristic makes no model call; the scripted backend stands in for a model and would
    # record any call (none is made: tie_continuations checks).
    return Planner(backend=_NO_MODEL, controller="heuristic", seed=seed)


_NO_MODEL = ScriptedBackend()


def tied_continuations(
    folder: str, suite_name: str, reps: int
) -> list[tuple[StepTrace, dict[str, float]]]:
    """Every recorded tied step with each tied action's continuation quality."""
    traces = load_traces([folder])
    suite = load_suite(suite_name)
    rows = []
    for episode in traces.episodes:
        env = suite.make(episode.task_id, episode.split)
        obs, info = env.reset(seed=episode.seed)
        ctx = StepContext.start(obs, info, limit=step_limit(env, default=15), env=env)
        steps = list(episode.steps)
        while steps and ctx.step < ctx.limit:
            rated = rated_best(peek_step(env, Observation.from_env(obs).actions, ctx))
            if len(rated) == 1:
                action = rated[0]
            else:
                step = steps.pop(0)
                if set(rated) != set(step.tied):
                    raise SystemExit(f"{episode.key}: the replayed path left the recorded one")
                rows.append((step, {a: continuation(env, ctx, a, reps) for a in step.tied}))
                action = step.taken
            obs, _r, terminated, truncated, info = env.step(action)
            ctx.advance(action, obs, info, Cost())
            if info.get("success") or terminated or truncated:
                break
        env.close()
    assert not _NO_MODEL.requests, "the heuristic called the model"
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("folder", help="a trace folder collected with --widen")
    ap.add_argument("--suite", required=True)
    ap.add_argument("--reps", type=int, default=4, help="heuristic continuations per tied action")
    args = ap.parse_args()
    rows = tied_continuations(args.folder, args.suite, args.reps)
    if not rows:
        raise SystemExit("no tied step in the folder (was it collected with --widen?)")
    table = load_traces([args.folder]).table
    print(f"{len(rows)} tied steps, {args.reps} heuristic continuations per tied action\n")
    print("| decision | continuation quality | optimal-path picks |")
    print("| --- | ---: | ---: |")
    for decision in table:
        picks = [(q[out[0]], out[0] in s.good) for s, q in rows if (out := s.outcome(decision))]
        quality = np.mean([p[0] for p in picks])
        good = np.mean([p[1] for p in picks])
        print(f"| `{decision}` | {quality:.3f} | {good:.2f} |")
    best = np.mean([max(q.values()) for _, q in rows])
    worst = np.mean([min(q.values()) for _, q in rows])
    apart = sum(1 for _, q in rows if max(q.values()) - min(q.values()) > 0.05)
    print(f"| the best tied action | {best:.3f} | |")
    print(f"| the worst tied action | {worst:.3f} | |")
    print(f"\nsteps whose tied actions' continuations differ by more than 0.05: {apart}")


if __name__ == "__main__":
    main()
