"""Traces: what collection records at every visited step, and how it is stored.

A trace folder holds ``manifest.json`` (model, suites, pool sizes, reasoning budgets, feature
schema) and one JSON file per episode under ``episodes/``. Each file is written atomically
(temporary file + ``os.replace``), so an interrupted collection loses at most the episode in
progress and a re-run skips the finished ones. The format is documented in ``docs/traces.md``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from aip_sdk.decision import Decision
from aip_sdk.errors import DataError
from aip_sdk.records import token_confidence

__all__ = [
    "TRACE_VERSION",
    "EpisodeTrace",
    "PoolSample",
    "StepTrace",
    "TraceStore",
    "write_json_atomic",
]

TRACE_VERSION = "aip-trace/1"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@attrs.frozen(kw_only=True)
class PoolSample:
    """One candidate of a step's pool at some depth, with its cost and its label."""

    action: str
    generated_tokens: int
    prompt_tokens: int
    logprob: float
    good: bool
    action_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.generated_tokens + self.prompt_tokens

    @property
    def confidence(self) -> float:
        """Mean token probability of the action (its weight in a weighted vote)."""
        return token_confidence(self.logprob, self.action_tokens or self.generated_tokens)


@attrs.frozen(kw_only=True)
class StepTrace:
    """One visited step: features, the probe's cost, the labelled pools and the action taken."""

    index: int
    features: tuple[float, ...]
    probe_tokens: int
    pools: dict[int, tuple[PoolSample, ...]]
    good: tuple[str, ...]
    taken: str

    def vote(self, decision: Decision) -> PoolSample | None:
        """The candidate a decision would have chosen (majority of the pool prefix, ties by
        log-prob), or ``None`` when the pool is smaller than ``k``."""
        pool = self.pools.get(decision.depth, ())
        if len(pool) < decision.k:
            return None
        from aip_sdk.policy import aggregate

        head = pool[: decision.k]
        top, _ = aggregate(head)
        return max((s for s in head if s.action == top), key=lambda s: s.logprob)

    def cost(self, decision: Decision) -> int:
        """Tokens the decision would have spent here (the probe is counted separately)."""
        return sum(s.tokens for s in self.pools.get(decision.depth, ())[: decision.k])

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "features": list(self.features),
            "probe_tokens": self.probe_tokens,
            "good": list(self.good),
            "taken": self.taken,
            "pools": {str(d): [attrs.asdict(s) for s in p] for d, p in self.pools.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StepTrace:
        return cls(
            index=int(d["index"]),
            features=tuple(float(x) for x in d["features"]),
            probe_tokens=int(d["probe_tokens"]),
            good=tuple(d["good"]),
            taken=str(d["taken"]),
            pools={int(k): tuple(PoolSample(**s) for s in v) for k, v in d["pools"].items()},
        )


@attrs.frozen(kw_only=True)
class EpisodeTrace:
    """One collected episode."""

    suite: str
    split: str
    task_id: str
    seed: int
    success: bool
    quality: float
    optimal_steps: int | None
    steps: tuple[StepTrace, ...]

    @property
    def key(self) -> str:
        return episode_key(self.suite, self.split, self.task_id, self.seed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": TRACE_VERSION,
            "suite": self.suite,
            "split": self.split,
            "task_id": self.task_id,
            "seed": self.seed,
            "success": self.success,
            "quality": self.quality,
            "optimal_steps": self.optimal_steps,
            "steps": [s.to_dict() for s in self.steps],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EpisodeTrace:
        if d.get("version") != TRACE_VERSION:
            raise DataError(f"trace version {d.get('version')!r} is not {TRACE_VERSION!r}")
        return cls(
            suite=d["suite"],
            split=d["split"],
            task_id=d["task_id"],
            seed=int(d["seed"]),
            success=bool(d["success"]),
            quality=float(d["quality"]),
            optimal_steps=d.get("optimal_steps"),
            steps=tuple(StepTrace.from_dict(s) for s in d["steps"]),
        )


def episode_key(suite: str, split: str, task_id: str, seed: int) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", task_id)
    return f"{suite}__{split}__{safe}__{seed}"


@attrs.define
class TraceStore:
    """A trace folder: ``manifest.json`` plus ``episodes/*.json``."""

    root: Path = attrs.field(converter=Path)

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def manifest(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.manifest_path.read_text())
            return data
        except FileNotFoundError as exc:
            raise DataError(
                f"{str(self.root)!r} is not a trace folder (no manifest.json); "
                f"record one with 'aip-sdk collect'"
            ) from exc
        except ValueError as exc:
            raise DataError(f"{str(self.manifest_path)!r} is not valid JSON: {exc}") from exc

    def write_manifest(self, data: dict[str, Any]) -> None:
        write_json_atomic(self.manifest_path, data)

    def episode_path(self, key: str) -> Path:
        return self.root / "episodes" / f"{key}.json"

    def has(self, key: str) -> bool:
        return self.episode_path(key).is_file()

    def write(self, episode: EpisodeTrace) -> None:
        write_json_atomic(self.episode_path(episode.key), episode.to_dict())

    def episodes(self, suites: Sequence[str] | None = None) -> Iterator[EpisodeTrace]:
        for path in sorted((self.root / "episodes").glob("*.json")):
            try:
                ep = EpisodeTrace.from_dict(json.loads(path.read_text()))
            except (ValueError, KeyError, TypeError) as exc:
                raise DataError(f"trace file {str(path)!r} is malformed: {exc}") from exc
            if suites is None or ep.suite in suites:
                yield ep
