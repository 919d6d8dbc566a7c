"""Learned-controller decision latency (onnxruntime CPU, one thread) and file size.

Run: python benchmarks/controller.py [--path controller.onnx] [--n 10000]
Without --path it times the controller shipped in the package, or, when none is shipped yet, a
controller of the same architecture (64-64 MLP) built with onnx.helper.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from aip_sdk.controllers.base import StepView
from aip_sdk.controllers.learned import LearnedController, default_controller_path
from aip_sdk.decision import DEFAULT_DECISION_TABLE
from aip_sdk.features import FEATURE_NAMES, Features
from aip_sdk.testing import build_controller_file
from aip_sdk.util import unwind_on_sigterm


def _mlp(path: Path) -> Path:
    """A 64-64 tanh MLP with random weights: the architecture ``train-controller`` exports."""
    rng = np.random.default_rng(0)
    dims = [len(FEATURE_NAMES), 64, 64, len(DEFAULT_DECISION_TABLE)]
    layers = [rng.normal(size=(a, b)).astype(np.float32) for a, b in zip(dims, dims[1:])]
    return build_controller_file(path, layers)


def main() -> None:
    unwind_on_sigterm()  # finally blocks run on SIGTERM too
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--path", default=None)
    ap.add_argument("--n", type=int, default=10_000)
    args = ap.parse_args()
    path = Path(args.path) if args.path else default_controller_path()
    label = str(path)
    if not path.is_file():
        path = _mlp(Path(tempfile.mkdtemp()) / "mlp.onnx")
        label = "a 64-64 tanh MLP built in the script (no controller shipped yet)"
    ctrl = LearnedController(path, threads=1)
    rng = np.random.default_rng(1)
    feats = [
        Features(values=tuple(float(x) for x in rng.random(len(FEATURE_NAMES))))
        for _ in range(args.n)
    ]
    for f in feats[:200]:
        ctrl.decide(StepView(features=f))
    times = []
    for f in feats:
        t0 = time.perf_counter()
        ctrl.decide(StepView(features=f))
        times.append(time.perf_counter() - t0)
    us = np.asarray(times) * 1e6
    print(f"controller: {label}")
    print("| decisions | median (us) | p99 (us) | file size (bytes) |")
    print("| ---: | ---: | ---: | ---: |")
    print(
        f"| {args.n} | {statistics.median(us):.1f} | {np.percentile(us, 99):.1f} | "
        f"{path.stat().st_size} |"
    )


if __name__ == "__main__":
    main()
