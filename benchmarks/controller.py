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

from aip_sdk.controllers.learned import LearnedController, default_controller_path
from aip_sdk.features import FEATURE_NAMES, Features


def _mlp(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from aip_sdk.decision import DEFAULT_DECISION_TABLE, table_to_json
    from aip_sdk.features import FEATURE_SCHEMA

    rng = np.random.default_rng(0)
    dims = [len(FEATURE_NAMES), 64, 64, len(DEFAULT_DECISION_TABLE)]
    nodes, inits, prev = [], [], "features"
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        inits += [
            numpy_helper.from_array(rng.normal(size=(a, b)).astype(np.float32), f"W{i}"),
            numpy_helper.from_array(np.zeros(b, np.float32), f"B{i}"),
        ]
        out = "logits" if i == len(dims) - 2 else f"h{i}"
        nodes.append(
            helper.make_node(
                "Gemm", [prev, f"W{i}", f"B{i}"], [out + ("" if out == "logits" else "_")]
            )
        )
        if out != "logits":
            nodes.append(helper.make_node("Tanh", [out + "_"], [out]))
        prev = out
    graph = helper.make_graph(
        nodes,
        "policy",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, dims[0]])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, dims[-1]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for k, v in {
        "aip.feature_schema": FEATURE_SCHEMA,
        "aip.decision_table": table_to_json(DEFAULT_DECISION_TABLE),
    }.items():
        e = model.metadata_props.add()
        e.key, e.value = k, v
    onnx.save(model, str(path))
    return path


def main() -> None:
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
        ctrl.decide(f)
    times = []
    for f in feats:
        t0 = time.perf_counter()
        ctrl.decide(f)
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
