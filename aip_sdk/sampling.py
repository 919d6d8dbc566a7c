"""Token selection in numpy: temperature, top-p and choice constraints over raw logits.

Kept apart from the native calls so that it is plain, testable numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
import numpy as np
import numpy.typing as npt

from aip_sdk.backend import Completion
from aip_sdk.errors import ConfigError

FloatArray = npt.NDArray[np.float32]


def log_softmax(logits: FloatArray) -> FloatArray:
    """Numerically stable log-softmax of a 1-D logit vector."""
    shifted = logits - np.max(logits)
    out: FloatArray = shifted - np.log(np.sum(np.exp(shifted)))
    return out


def pick(
    logits: FloatArray,
    *,
    temperature: float,
    top_p: float,
    rng: np.random.Generator,
    allowed: npt.NDArray[np.intp] | None = None,
) -> int:
    """Choose one token id from ``logits`` (restricted to ``allowed`` ids when given).

    Temperature 0 (or a single allowed id) is greedy. Top-p keeps the smallest set of tokens whose
    probability reaches ``top_p``.
    """
    sub = logits if allowed is None else logits[allowed]
    if temperature <= 0.0 or sub.shape[0] == 1:
        idx = int(np.argmax(sub))
    else:
        z = sub.astype(np.float64) / temperature
        probs = np.exp(z - np.max(z))
        if top_p < 1.0:
            order = np.argsort(-probs)
            cum = np.cumsum(probs[order])
            keep = order[: int(np.searchsorted(cum, top_p * cum[-1])) + 1]
            mask = np.zeros_like(probs)
            mask[keep] = probs[keep]
            probs = mask
        cdf = np.cumsum(probs)
        idx = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
        idx = min(idx, sub.shape[0] - 1)
    return idx if allowed is None else int(allowed[idx])


@attrs.define
class ChoiceTrie:
    """A token trie over the allowed completions; walks one token at a time.

    A node where a choice ends and no other choice continues finishes the sample at once; a node
    where a choice ends and longer choices continue also allows the end-of-turn token.
    """

    children: list[dict[int, int]] = attrs.field(factory=lambda: [{}])
    ends: dict[int, int] = attrs.field(factory=dict)  # node -> choice index

    @classmethod
    def build(cls, tokenized: Sequence[Sequence[int]]) -> ChoiceTrie:
        trie = cls()
        for index, tokens in enumerate(tokenized):
            node = 0
            for tok in tokens:
                nxt = trie.children[node].get(tok)
                if nxt is None:
                    nxt = len(trie.children)
                    trie.children.append({})
                    trie.children[node][tok] = nxt
                node = nxt
            trie.ends.setdefault(node, index)
        return trie

    def allowed(self, node: int, end_tokens: Sequence[int]) -> npt.NDArray[np.intp]:
        ids = list(self.children[node])
        if node in self.ends:
            ids.extend(end_tokens)
        return np.asarray(ids, dtype=np.intp)

    def advance(self, node: int, token: int) -> int | None:
        """Next node, or ``None`` when ``token`` is not a child (the end-of-turn token)."""
        return self.children[node].get(token)

    def finished(self, node: int) -> bool:
        return node in self.ends and not self.children[node]


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token lists (what a KV cache can keep)."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def as_choice(c: Completion, trie: ChoiceTrie, choices: Sequence[str]) -> Completion:
    """``c`` with its text set to the choice its tokens spell out in ``trie``."""
    node = 0
    for tok in c.token_ids:
        nxt = trie.advance(node, tok)
        if nxt is None:
            break
        node = nxt
    return attrs.evolve(c, text=choices[trie.ends[node]], finish_reason="stop")


def check_sample_args(*, n: int, max_tokens: int, temperature: float, top_p: float) -> None:
    """Refuse ``sample`` arguments no backend can honour, before any work is done."""
    if n < 1:
        raise ConfigError(f"n={n!r} must be at least 1")
    if max_tokens < 1:
        raise ConfigError(f"max_tokens={max_tokens!r} must be at least 1")
    if temperature < 0:
        raise ConfigError(f"temperature={temperature!r} must be >= 0")
    if not 0 < top_p <= 1:
        raise ConfigError(f"top_p={top_p!r} must be in (0, 1]")


def choice_trie(
    choices: Sequence[str], tokenize: Callable[[str], list[int]]
) -> tuple[ChoiceTrie, list[str], int]:
    """The trie over ``choices`` (tokenized without special tokens), the choices as a list, and
    the generation budget that spells out the longest one plus an end token."""
    choice_list = list(choices)
    if not choice_list:
        raise ConfigError("choices is empty; pass at least one allowed string")
    tokenized = [tokenize(c) for c in choice_list]
    if any(not t for t in tokenized):
        raise ConfigError("choices contains an empty string; drop it")
    return ChoiceTrie.build(tokenized), choice_list, max(len(t) for t in tokenized) + 1


Advance = Callable[[list[int], list[int], int], list[FloatArray]]


def generate(
    first: FloatArray,
    idxs: Sequence[int],
    *,
    advance: Advance,
    detok: Callable[[Sequence[int]], str],
    end_tokens: Sequence[int],
    max_tokens: int,
    temperature: float,
    top_p: float,
    seed: int | None,
    stop: Sequence[str],
    trie: ChoiceTrie | None,
) -> tuple[list[Completion], int]:
    """Decode samples ``idxs`` of one prompt together; the loop both backends share.

    Each sample has its own generator ``default_rng([seed, i])``, so a sample does not depend on
    how samples are batched. ``advance(rows, tokens, step)`` feeds ``tokens[r]`` to sample
    ``rows[r]`` (rows are positions in ``idxs``) at generated position ``step`` and returns
    their next logits; it is only called for samples still running.

    Returns:
        (the completions in ``idxs`` order, generated tokens in all).
    """
    m = len(idxs)
    ends = set(end_tokens)
    rngs = [
        np.random.default_rng([seed, i]) if seed is not None else np.random.default_rng()
        for i in idxs
    ]
    toks: list[list[int]] = [[] for _ in range(m)]
    lps: list[list[float]] = [[] for _ in range(m)]
    clps: list[list[float]] = [[] for _ in range(m)]  # among the allowed tokens (constrained)
    margins: list[list[float]] = [[] for _ in range(m)]
    entropy = [0.0] * m
    nodes = [0] * m
    reason = ["length"] * m
    texts = [""] * m
    active = list(range(m))
    logits = {j: first for j in range(m)}
    generated = 0
    for step in range(max_tokens):
        feed: list[int] = []
        for j in active:
            lg = logits[j]
            allowed = trie.allowed(nodes[j], end_tokens) if trie is not None else None
            tok = pick(lg, temperature=temperature, top_p=top_p, rng=rngs[j], allowed=allowed)
            generated += 1
            toks[j].append(tok)
            lps[j].append(float(log_softmax(lg)[tok]))
            if allowed is not None:
                sub = log_softmax(lg[allowed])
                clps[j].append(float(sub[int(np.flatnonzero(allowed == tok)[0])]))
                probs = np.sort(np.exp(sub))[::-1]
                margins[j].append(float(probs[0] - probs[1]) if probs.size > 1 else 1.0)
                if step == 0 and probs.size > 1:
                    h = float(-(probs * np.log(np.clip(probs, 1e-12, 1.0))).sum())
                    entropy[j] = h / float(np.log(probs.size))
            if trie is not None:
                nxt = trie.advance(nodes[j], tok)
                if nxt is None or trie.finished(nxt):
                    if nxt is not None:
                        nodes[j] = nxt
                    reason[j] = "stop"
                    continue
                nodes[j] = nxt
            elif tok in ends:
                reason[j] = "stop"
                continue
            if stop and trie is None:
                text = detok(toks[j])
                hit = min((text.find(s) for s in stop if s in text), default=-1)
                if hit >= 0:
                    texts[j] = text[:hit]
                    reason[j] = "stop"
                    continue
            feed.append(j)
        active = feed
        if not active or step == max_tokens - 1:
            break
        for j, lg in zip(active, advance(active, [toks[j][-1] for j in active], step)):
            logits[j] = lg
    out: list[Completion] = []
    for j in range(m):
        body = toks[j]
        if reason[j] == "stop" and trie is None and body and not texts[j]:
            texts[j] = detok(body[:-1] if body[-1] in ends else body)
        elif not texts[j] and trie is None:
            texts[j] = detok(body)
        out.append(
            Completion(
                text=texts[j],
                token_ids=tuple(body),
                token_logprobs=tuple(lps[j]),
                finish_reason=reason[j],
                choice_logprobs=tuple(clps[j]),
                choice_margins=tuple(margins[j]),
                choice_entropy=entropy[j],
            )
        )
    return out, generated
