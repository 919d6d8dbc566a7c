"""Build a Hugging Face ``tokenizers`` tokenizer that tokenizes exactly as llama.cpp does.

GGUF stores a byte-level BPE vocabulary and merges plus the name of llama.cpp's pre-tokenizer
(``tokenizer.ggml.pre``); we rebuild the same pipeline with ``tokenizers`` (Rust, no torch) and
save it as ``tokenizer.json`` next to the ONNX model.
"""

from __future__ import annotations

from typing import Any

from aip_sdk.errors import ConversionError
from aip_sdk_onnx._gguf import TokenizerData

__all__ = ["build_tokenizer"]

# llama.cpp's pre-tokenizer regexes (src/llama-vocab.cpp), by ``tokenizer.ggml.pre``.
_GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_LLAMA3 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# qwen2: llama3's regex with single digits (llama.cpp's LLAMA_VOCAB_PRE_TYPE_QWEN2).
_QWEN2 = (
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_PRE = {
    # name: (split digits one by one first, main regex)
    "smollm": (True, _GPT2),
    "gpt2": (False, _GPT2),
    "default": (False, _GPT2),
    "llama-bpe": (False, _LLAMA3),
    "llama3": (False, _LLAMA3),
    "qwen2": (False, _QWEN2),
}
_CONTROL = 3
_USER_DEFINED = 4


def build_tokenizer(data: TokenizerData) -> Any:
    """A ``tokenizers.Tokenizer`` equivalent to llama.cpp's for this vocabulary.

    Raises:
        ConversionError: the vocabulary is not byte-level BPE or its pre-tokenizer is unknown.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

    if data.model != "gpt2":
        raise ConversionError(
            f"tokenizer type {data.model!r} is not supported by the ONNX converter (it handles "
            f"byte-level BPE, 'gpt2'); use the llamacpp backend for this model"
        )
    if data.pre not in _PRE:
        raise ConversionError(
            f"pre-tokenizer {data.pre!r} is not supported by the ONNX converter (known: "
            f"{', '.join(sorted(_PRE))}); use the llamacpp backend for this model"
        )
    digits, regex = _PRE[data.pre]
    vocab = {tok: i for i, tok in enumerate(data.tokens)}
    pairs = [m.split(" ", 1) for m in data.merges]
    merges = [(a, b) for a, b in pairs]
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=False))
    steps: list[Any] = []
    if digits:
        steps.append(pre_tokenizers.Digits(individual_digits=True))
    steps.append(pre_tokenizers.Split(Regex(regex), behavior="isolated"))
    steps.append(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(steps)
    tokenizer.decoder = decoders.ByteLevel()
    special = [
        AddedToken(tok, special=True, normalized=False)
        for tok, kind in zip(data.tokens, data.token_types)
        if kind in (_CONTROL, _USER_DEFINED)
    ]
    tokenizer.add_special_tokens(special)
    return tokenizer
