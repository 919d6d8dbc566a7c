"""PPO training on the replay environment and ONNX export with a parity check.

Needs the ``train`` extra (stable-baselines3, torch, onnx). The export follows stable-baselines3's
recipe (the deterministic policy: features -> MLP -> action logits, argmax outside the graph),
pins the opset, writes the controller's metadata, and refuses to write a file on which
onnxruntime and torch disagree (1,000 random inputs: max |diff| <= 1e-5 on the logits and the same
argmax everywhere).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aip_sdk.decision import Decision, table_to_json
from aip_sdk.errors import ControllerError, MissingDependencyError
from aip_sdk.features import FEATURE_NAMES, FEATURE_SCHEMA
from aip_sdk.traces import EpisodeTrace
from aip_sdk.util import usable_cpus

__all__ = [
    "OPSET",
    "PARITY_INPUTS",
    "PARITY_TOL",
    "check_parity",
    "export_onnx",
    "mean_episode_reward",
    "train_ppo",
]

OPSET = 17
PARITY_INPUTS = 1000
PARITY_TOL = 1e-5


def _require() -> tuple[Any, Any]:
    try:
        import stable_baselines3
        import torch
    except ImportError as exc:
        raise MissingDependencyError(
            exc.name or "stable-baselines3", extra="train", purpose="train a controller"
        ) from exc
    return stable_baselines3, torch


def train_ppo(
    episodes: Sequence[EpisodeTrace],
    table: Sequence[Decision],
    *,
    alpha: float = 1.0,
    beta: float = 0.5,
    timesteps: int = 100_000,
    seed: int = 0,
    n_envs: int = 4,
    progress: Callable[[int], None] | None = None,
    curve: list[tuple[int, float]] | None = None,
) -> Any:
    """Train a PPO policy (64-64 MLP) on the replay environment; returns the SB3 model.

    Args:
        curve: if given, gets ``(timesteps, mean episode reward)`` appended after every rollout
            (SB3's Monitor buffer: the last 100 replay episodes), the learning curve of
            docs/training.md.
    """
    sb3, torch = _require()
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    from aip_sdk.training.replay import ReplayEnv

    torch.set_num_threads(usable_cpus())
    vec = make_vec_env(
        lambda: ReplayEnv(episodes, table, alpha=alpha, beta=beta),
        n_envs=n_envs,
        seed=seed,
    )

    class _Progress(BaseCallback):
        def _on_step(self) -> bool:
            if progress is not None:
                progress(self.num_timesteps)
            return True

        def _on_rollout_end(self) -> None:
            if curve is not None:
                point = mean_episode_reward(self.model)
                if point is not None:
                    curve.append((int(self.num_timesteps), point))

    model = sb3.PPO(
        "MlpPolicy",
        vec,
        n_steps=256,
        batch_size=256,
        n_epochs=4,
        learning_rate=3e-4,
        gamma=1.0,
        ent_coef=0.01,
        policy_kwargs={"net_arch": [64, 64]},
        seed=seed,
        device="cpu",
        verbose=0,
    )
    model.learn(total_timesteps=timesteps, callback=_Progress())
    return model


def mean_episode_reward(model: Any) -> float | None:
    """Mean reward of the episodes in an SB3 model's Monitor buffer (``None`` before any ended)."""
    infos = list(model.ep_info_buffer or [])
    if not infos:
        return None
    return float(np.mean([float(i["r"]) for i in infos]))


def _onnxable(model: Any) -> Any:
    _, torch = _require()

    class OnnxablePolicy(torch.nn.Module):  # type: ignore[misc,name-defined]
        """features -> action logits of the deterministic policy (SB3's export recipe)."""

        def __init__(self, policy: Any) -> None:
            super().__init__()
            self.policy = policy

        def forward(self, features: Any) -> Any:
            latent = self.policy.extract_features(features)
            latent_pi, _ = self.policy.mlp_extractor(latent)
            return self.policy.action_net(latent_pi)

    module = OnnxablePolicy(model.policy).eval()
    return module


def check_parity(module: Any, onnx_bytes: bytes, *, n: int = PARITY_INPUTS, seed: int = 0) -> float:
    """Compare torch and onnxruntime on ``n`` random feature vectors.

    Returns:
        The largest absolute logit difference.

    Raises:
        ControllerError: the difference exceeds 1e-5 or an argmax differs.
    """
    import onnxruntime as ort

    _, torch = _require()
    x = np.random.default_rng(seed).uniform(-1, 1, size=(n, len(FEATURE_NAMES))).astype(np.float32)
    with torch.no_grad():
        ref = module(torch.as_tensor(x)).cpu().numpy()
    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    diff = float(np.max(np.abs(ref - got)))
    same = bool(np.all(ref.argmax(-1) == got.argmax(-1)))
    if diff > PARITY_TOL or not same:
        raise ControllerError(
            f"ONNX export disagrees with torch on {n} random inputs (max |diff| = {diff:.2e}, "
            f"argmax identical: {same}); the controller was not written"
        )
    return diff


def export_onnx(
    model: Any,
    path: str | Path,
    *,
    table: Sequence[Decision],
    metadata: Mapping[str, Any],
    corrupt: Callable[[bytes], bytes] | None = None,
) -> dict[str, Any]:
    """Export the policy to ``path`` (atomically) after the torch-vs-onnxruntime parity check.

    Args:
        model: a trained SB3 PPO model.
        path: the ``.onnx`` file to write.
        table: the decision table (written into the metadata).
        metadata: more ``aip.*`` entries (alpha, beta, suites, model name, ...).
        corrupt: test hook that alters the serialized model before the parity check.

    Returns:
        A report: max |diff|, file size, export seconds.
    """
    import time

    import onnx

    _, torch = _require()
    t0 = time.perf_counter()
    module = _onnxable(model)
    buf = io.BytesIO()
    dummy = torch.zeros((1, len(FEATURE_NAMES)), dtype=torch.float32)
    with warnings.catch_warnings():  # the TorchScript exporter warns that it is the legacy path
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (dummy,),
            buf,
            opset_version=OPSET,
            input_names=["features"],
            output_names=["logits"],
            dynamic_axes={"features": {0: "batch"}, "logits": {0: "batch"}},
            dynamo=False,
        )
    proto = onnx.load_from_string(buf.getvalue())
    meta = {
        "aip.feature_schema": FEATURE_SCHEMA,
        "aip.feature_names": json.dumps(list(FEATURE_NAMES)),
        "aip.decision_table": table_to_json(table),
        **{f"aip.{k}": v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()},
    }
    del proto.metadata_props[:]
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    data = proto.SerializeToString()
    if corrupt is not None:
        data = corrupt(data)
    diff = check_parity(module, data)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)
    return {"max_abs_diff": diff, "bytes": len(data), "seconds": time.perf_counter() - t0}
