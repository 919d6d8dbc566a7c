"""Environment overhead per suite: median reset and step time, without any model.

Run: python benchmarks/envs.py [--episodes 5]
Steps take the first admissible action (or the expert's where the suite has one), so the time is
the environment's own work: simulation, text rendering, admissible actions, browser round-trips.
"""

from __future__ import annotations

import argparse
import statistics
import time

from aip_sdk.envs.suite import load_suite
from aip_sdk.util import unwind_on_sigterm

PLAN = {
    "blocksworld": ("basic", ["2", "3", "4", "5", "6"]),
    "grid": (
        "test",
        [
            "Empty-8x8/1000",
            "DoorKey-5x5/1000",
            "FourRooms/1000",
            "SimpleCrossingS9N1/1000",
            "MultiRoom-N2-S4/1000",
        ],
    ),
    "alfworld": ("valid_seen", None),
    "miniwob": (
        "test",
        [
            "click-button/1000",
            "enter-text/1000",
            "login-user/1000",
            "click-tab/1000",
            "click-option/1000",
        ],
    ),
}


def main() -> None:
    unwind_on_sigterm()  # finally blocks run on SIGTERM too
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    print("| suite | median reset (ms) | median step (ms) | steps timed |")
    print("| --- | ---: | ---: | ---: |")
    for name, (split, ids) in PLAN.items():
        suite = load_suite(name)
        task_ids = ids or [t.task_id for t in suite.tasks(split)[:: 140 // args.episodes]]
        resets, steps = [], []
        for tid in task_ids[: args.episodes]:
            env = suite.make(tid, split)
            for _ in range(2):  # the first reset of a browser suite also starts the browser
                t0 = time.perf_counter()
                obs, _info = env.reset()
                resets.append(time.perf_counter() - t0)
            for _ in range(args.steps):
                if not obs["actions"]:
                    break
                t0 = time.perf_counter()
                obs, _r, term, trunc, _info = env.step(obs["actions"][-1])
                steps.append(time.perf_counter() - t0)
                if term or trunc:
                    break
            env.close()
        print(
            f"| {name} | {1000 * statistics.median(resets):.1f} | "
            f"{1000 * statistics.median(steps):.2f} | {len(steps)} |"
        )


if __name__ == "__main__":
    main()
