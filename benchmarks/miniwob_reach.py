"""Which MiniWoB++ tasks clicks and typing can solve: a bounded search per task and seed.

Run: python benchmarks/miniwob_reach.py [TASK ...] [--seeds 0 1] [--budget 150]

For each task the ``miniwob`` package registers (minus those that plainly need dragging,
drawing and the like: ``aip_sdk.envs.miniwob_tasks.OUT_OF_SCOPE``), on each seed, episodes over
the suite's admissible actions (clicks on elements, typing the instruction's and fields'
strings) run in the real browser until one earns reward 1: the first picks the action whose
text shares the most words with the instruction, the next ones sample by that relevance; no
action is taken twice in an episode. ``--budget`` caps
the environment steps per seed. One JSON file per
task under --out (resumable); then a table: the shortest solution found, or why none was.
``aip_sdk/envs/miniwob_tasks.py`` transcribes the result.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import time
from pathlib import Path
from typing import Any

from aip_sdk.envs.miniwob import MiniWobEnv
from aip_sdk.envs.miniwob_tasks import OUT_OF_SCOPE, REGISTERED
from aip_sdk.util import unwind_on_sigterm

_SUBMIT = re.compile(r"> (submit|login|log in|search|ok|yes|no|next|send|buy|book)", re.I)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9@#]+", text.lower()) if len(w) > 1}


def relevance(action: str, goal: str) -> float:
    """How much an action's text shares with the instruction (higher: tried first)."""
    quoted = set(re.findall(r'"([^"]+)"', goal))
    score = float(len(_words(action) & _words(goal)))
    score += sum(3.0 for q in quoted if q in action)
    if _SUBMIT.search(action):
        score += 0.5
    return score


def _rollout(env: MiniWobEnv, seed: int, max_depth: int, pick: Any) -> tuple[list[str] | None, int]:
    """One episode from a reset, choosing with ``pick(actions, goal)``; returns (the actions
    taken, if the episode earned reward 1, else None; the steps used). An action is not taken
    twice in an episode (the page is the same after it, or it already changed it)."""
    obs, _ = env.reset(seed=seed)
    taken: list[str] = []
    for _ in range(max_depth):
        # a field is typed into once (typing again appends to it)
        filled = {a.split(" into ", 1)[1] for a in taken if a.startswith("type ")}
        acts = [
            a
            for a in obs["actions"]
            if a not in taken and not (a.startswith("type ") and a.split(" into ", 1)[1] in filled)
        ]
        if not acts:
            break
        a = pick(acts, obs["goal"])
        obs, _r, done, _t, info = env.step(a)
        taken.append(a)
        if done:
            return (taken if info.get("success") else None), len(taken)
    return None, len(taken)


def search(task: str, seed: int, budget: int, max_depth: int) -> dict[str, Any]:
    """Rollouts from resets, the first greedy by relevance to the instruction, the next ones
    sampled (softmax over relevance), until one earns reward 1 or ``budget`` steps are spent;
    the solution found is replayed once to confirm it."""
    rng = random.Random(seed)
    env = MiniWobEnv(task, seed, max_steps=max_depth * 2 + 1)

    def greedy(acts: list[str], goal: str) -> str:
        return max(acts, key=lambda a: relevance(a, goal))

    def sample(acts: list[str], goal: str) -> str:
        rel = [relevance(a, goal) for a in acts]
        top = max(rel)
        return rng.choices(acts, weights=[math.exp(r - top) for r in rel])[0]

    used = rollouts = 0
    try:
        while used < budget:
            found, n = _rollout(env, seed, max_depth, greedy if rollouts == 0 else sample)
            used += n
            rollouts += 1
            if found:
                env.reset(seed=seed)
                info: dict[str, Any] = {}
                for a in found:
                    _obs, _r, _done, _t, info = env.step(a)
                if info.get("success"):
                    return {"seed": seed, "found": found, "steps_used": used, "rollouts": rollouts}
        return {
            "seed": seed,
            "found": None,
            "why": "budget",
            "steps_used": used,
            "rollouts": rollouts,
        }
    finally:
        env.close()


def export(out: Path, dest: Path) -> None:
    """The solutions found, as the tests replay them, and the catalogue's step counts."""
    found = {}
    for f in sorted(out.glob("*.json")):
        rec = json.loads(f.read_text())
        hit = next((r for r in rec["runs"] if r["found"]), None)
        if hit:
            found[rec["task"]] = {"seed": hit["seed"], "actions": hit["found"]}
    dest.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
    print("SOLUTION_STEPS: dict[str, int] = {")
    for task, sol in found.items():
        print(f'    "{task}": {len(sol["actions"])},')
    print("}")


def docs_table() -> None:
    """The catalogue as docs/suites.md lists it (after SOLUTION_STEPS is transcribed)."""
    from aip_sdk.envs.miniwob import offered_tasks
    from aip_sdk.envs.miniwob_tasks import catalogue

    test_tasks = set(offered_tasks("test_tasks"))
    print("| task | family | split | solution found (steps) | step limit |")
    print("| --- | --- | --- | ---: | ---: |")
    for t in catalogue().values():
        if t.offered:
            split = "test_tasks" if t.name in test_tasks else "train / test"
            print(f"| {t.name} | {t.family} | {split} | {t.steps} | {t.max_steps} |")
    print()
    print("| task not offered | why |")
    print("| --- | --- |")
    for t in sorted(catalogue().values(), key=lambda t: (t.reason, t.name)):
        if not t.offered:
            print(f"| {t.name} | {t.reason} |")


def main() -> None:
    unwind_on_sigterm()  # finally blocks run on SIGTERM too
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("tasks", nargs="*")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--budget", type=int, default=150)
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--out", type=Path, default=Path("runs/miniwob-reach"))
    ap.add_argument(
        "--export",
        type=Path,
        help="write the solutions found ({task: {seed, actions}}) to this JSON file (the tests' "
        "scripted sequences: tests/data/miniwob_solutions.json) and print SOLUTION_STEPS",
    )
    ap.add_argument("--docs", action="store_true", help="print the docs/suites.md tables")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.export:
        export(args.out, args.export)
        return
    if args.docs:
        docs_table()
        return
    tasks = args.tasks or [t for t in REGISTERED if t not in OUT_OF_SCOPE]
    for task in tasks:
        path = args.out / f"{task}.json"
        if path.is_file():
            continue
        t0 = time.perf_counter()
        runs = []
        for seed in args.seeds:
            try:
                runs.append(search(task, seed, args.budget, args.depth))
            except Exception as exc:  # a task the browser cannot run is a finding too
                runs.append({"seed": seed, "found": None, "why": f"error: {exc}"[:300]})
            if runs[-1]["found"]:
                break
        rec = {"task": task, "runs": runs, "seconds": round(time.perf_counter() - t0, 1)}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec, indent=1))
        tmp.replace(path)
        best = next((r["found"] for r in runs if r["found"]), None)
        print(
            f"{task}: {f'{len(best)} steps: {best}' if best else 'none'} ({rec['seconds']} s)",
            flush=True,
        )
    print("| task | solution steps | seed | how found |")
    print("| --- | ---: | ---: | --- |")
    for f in sorted(args.out.glob("*.json")):
        rec = json.loads(f.read_text())
        hit = next((r for r in rec["runs"] if r["found"]), None)
        if hit:
            print(
                f"| {rec['task']} | {len(hit['found'])} | {hit['seed']} | "
                f"{hit['rollouts']} rollouts, {hit['steps_used']} steps |"
            )
        else:
            whys = ", ".join(str(r.get("why")) for r in rec["runs"])
            print(f"| {rec['task']} | none | | {whys} |")


if __name__ == "__main__":
    main()
