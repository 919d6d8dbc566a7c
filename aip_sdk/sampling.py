"""Token selection in numpy: temperature, top-p and choice constraints over raw logits.

Kept apart from the native calls so that it is plain, testable numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np
import numpy.typing as npt

from aip_sdk.backend import Completion

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
    return Completion(
        text=choices[trie.ends[node]],
        token_ids=c.token_ids,
        token_logprobs=c.token_logprobs,
        finish_reason="stop",
    )
