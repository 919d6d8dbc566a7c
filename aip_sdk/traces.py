"""Traces: what collection records at every visited step, and how it is stored.

A trace folder holds ``manifest.json`` (model, suites, pool sizes, reasoning budgets, feature
schema) and one JSON file per episode under ``episodes/``. Each file is written atomically
(temporary file + ``os.replace``), so an interrupted collection loses at most the episode in
progress and a re-run skips the finished ones. The format is documented in ``docs/traces.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from aip_sdk.decision import Decision
from aip_sdk.errors import DataError
from aip_sdk.lookahead import Rollout, replay
from aip_sdk.policy import rank
from aip_sdk.records import token_confidence
from aip_sdk.util import write_json_atomic

__all__ = [
    "TRACE_VERSION",
    "EpisodeTrace",
    "PoolSample",
    "StepTrace",
    "TraceStore",
]

TRACE_VERSION = "aip-trace/2"


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
    """One visited step: what any decision of the table would have chosen there, and its cost.

    Attributes:
        index: the step number.
        features: the features the probe and the step context gave.
        prompt_tokens: prompt tokens a step evaluates here (the prompt minus what it shares
            with the previous step's prompt, which the KV cache keeps).
        probe_top: the probe's top action (what ``k=0`` takes).
        probe_tokens: the probe's own tokens beyond the prompt (the scored continuations).
        pools: depth -> the candidates drawn there, in draw order (k samples = the first k).
        rollouts: action -> its rollout in a copy of the environment, for the distinct actions
            among the first ``lookahead_k`` depth-0 candidates (empty if it cannot be copied).
        good: the good actions (on an optimal path), from the environment's labels.
        taken: the action the behaviour policy took.
        tied: where the collection rated every action first (``collect --widen``), the actions
            the environment's rating ties on, in the step's seeded order: every decision is
            read as carried out among them only (what ``learned:widen=1`` does), and
            ``rollouts`` holds one per tied action. Empty otherwise.
    """

    index: int
    features: tuple[float, ...]
    prompt_tokens: int
    probe_top: str
    probe_tokens: int
    pools: dict[int, tuple[PoolSample, ...]]
    rollouts: dict[str, Rollout] = attrs.field(factory=dict)
    good: tuple[str, ...]
    taken: str
    tied: tuple[str, ...] = ()

    def outcome(self, decision: Decision, *, probe_paid: bool = False) -> tuple[str, int] | None:
        """The action ``decision`` would have chosen here and the tokens it would have spent
        (the prompt, the probe when ``k=0`` or ``probe_paid``, the candidates and rollouts),
        or ``None`` when the recording cannot tell (a pool smaller than k, a rollout missing or
        shorter than the lookahead)."""
        tokens = self.prompt_tokens + (self.probe_tokens if probe_paid else 0)
        if decision.k == 0 and self.tied:  # the probe's choice where it is tied, else the seed's
            tied_probe = self.probe_top in self.tied and not decision.model_free
            top = self.probe_top if tied_probe else self.tied[0]
            return top, self.prompt_tokens + self.probe_tokens
        if decision.uses_probe:
            return self.probe_top, self.prompt_tokens + self.probe_tokens
        pool = self.pools.get(decision.depth, ())
        if len(pool) < decision.k:
            return None
        head = pool[: decision.k]
        tokens += sum(s.tokens for s in head)
        order = rank(head, vote=decision.vote)
        if self.tied:  # the vote orders the tied actions, the seeded order the rest of them
            order = [a for a in dict.fromkeys([*order, *self.tied]) if a in self.tied]
            if not decision.lookahead:  # the tied actions all peek alike
                return order[0], tokens
        # Without rollouts the environment could not be copied: serving falls back to the vote.
        if not decision.looks_ahead or len(order) == 1 or not self.rollouts:
            return order[0], tokens
        rolls = [self.rollouts.get(a) for a in order]
        if any(r is None or not r.covers(decision.lookahead) for r in rolls):
            return None
        action, cost = replay(
            [r for r in rolls if r is not None],
            decision.lookahead,
            peek_first=bool(decision.peek) and not self.tied,
        )
        return action, tokens + cost.tokens

    def good_for(self, decision: Decision) -> bool | None:
        """Whether ``decision`` would have chosen a good action (``None``: cannot tell)."""
        out = self.outcome(decision)
        return None if out is None else out[0] in self.good

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "features": list(self.features),
            "prompt_tokens": self.prompt_tokens,
            "probe_top": self.probe_top,
            "probe_tokens": self.probe_tokens,
            "good": list(self.good),
            "taken": self.taken,
            "pools": {str(d): [attrs.asdict(s) for s in p] for d, p in self.pools.items()},
            "rollouts": {a: r.to_dict() for a, r in self.rollouts.items()},
            **({"tied": list(self.tied)} if self.tied else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StepTrace:
        return cls(
            index=int(d["index"]),
            features=tuple(float(x) for x in d["features"]),
            prompt_tokens=int(d["prompt_tokens"]),
            probe_top=str(d["probe_top"]),
            probe_tokens=int(d["probe_tokens"]),
            good=tuple(d["good"]),
            taken=str(d["taken"]),
            pools={int(k): tuple(PoolSample(**s) for s in v) for k, v in d["pools"].items()},
            rollouts={a: Rollout.from_dict(r) for a, r in d.get("rollouts", {}).items()},
            tied=tuple(d.get("tied", ())),
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
            raise DataError(
                f"trace version {d.get('version')!r} is not {TRACE_VERSION!r}; traces of an "
                f"older SDK cannot be replayed with this one: collect them again"
            )
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
