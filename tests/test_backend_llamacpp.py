"""The llama.cpp backend on the real embedded model: the contract, plus what only it promises."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from aip_sdk import ContextOverflowError, ModelLoadError
from aip_sdk.testing.contract import PROMPT_MESSAGES, BackendContract
from aip_sdk_llamacpp import LlamaCppBackend


class TestLlamaCppContract(BackendContract):
    @pytest.fixture
    def backend(self, real_backend):
        return real_backend


def test_chat_template_comes_from_the_gguf(real_backend):
    prompt = real_backend.render_chat(PROMPT_MESSAGES)
    assert prompt.startswith("<|im_start|>system\n")
    assert prompt.endswith("<|im_start|>assistant\n")


def test_seeded_sampling_is_reproducible_across_calls_and_parallel_width(real_backend):
    prompt = real_backend.render_chat(PROMPT_MESSAGES)
    many = real_backend.sample(prompt, n=6, max_tokens=16, temperature=1.0, seed=42)
    again = real_backend.sample(prompt, n=6, max_tokens=16, temperature=1.0, seed=42)
    other = real_backend.sample(prompt, n=6, max_tokens=16, temperature=1.0, seed=43)
    texts = [c.text for c in many.completions]
    assert texts == [c.text for c in again.completions]
    assert texts != [c.text for c in other.completions]
    assert len(set(texts)) > 1  # temperature 1 really samples


def test_greedy_matches_llama_cpp_python_greedy(real_backend):
    import llama_cpp

    from aip_sdk.models import default_model_path

    prompt = real_backend.render_chat(PROMPT_MESSAGES)
    ours = real_backend.sample(prompt, n=1, max_tokens=8, temperature=0.0).completions[0]
    llm = llama_cpp.Llama(model_path=str(default_model_path()), n_ctx=256, verbose=False)
    toks = llm.tokenize(prompt.encode(), add_bos=True, special=True)
    theirs = []
    for tok in llm.generate(toks, temp=0.0):
        if len(theirs) == 8 or llm.token_eos() == tok:
            break
        theirs.append(tok)
    llm.close()
    assert list(ours.token_ids[:4]) == theirs[:4]


def test_score_ranks_the_obvious_continuation_first(real_backend):
    prompt = real_backend.render_chat(
        [{"role": "user", "content": "What is the capital of France?"}]
    )
    res = real_backend.score(
        prompt, ["The capital of France is Paris.", "Banana helicopter purple seven."]
    )
    assert res.logprobs[0] > res.logprobs[1] + 5


def test_score_evaluates_the_shared_prompt_once(real_backend):
    prompt = real_backend.render_chat([{"role": "user", "content": "Say something about trees."}])
    n_prompt = len(real_backend._prompt(prompt))
    conts = [f"Trees are number {i}." for i in range(10)]
    real_backend.sample("reset the cache", n=1, max_tokens=1, seed=0)
    res = real_backend.score(prompt, conts)
    extra = sum(n - 1 for n in res.token_counts)
    # the prompt once, plus each continuation's own tokens (not ten prompt evaluations)
    assert res.cost.prompt_tokens + res.cost.reused_prompt_tokens == n_prompt + extra
    assert res.cost.prompt_tokens + res.cost.reused_prompt_tokens < 2 * n_prompt + 10 * 6


def test_prefix_reuse_lowers_evaluated_prompt_tokens(real_backend):
    prompt = real_backend.render_chat([{"role": "user", "content": "List three fruits, please."}])
    real_backend.sample("something unrelated", n=1, max_tokens=1, seed=0)
    cold = real_backend.sample(prompt, n=1, max_tokens=4, seed=1)
    warm = real_backend.sample(prompt, n=8, max_tokens=4, seed=1)
    assert cold.cost.prompt_tokens >= 20
    assert warm.cost.prompt_tokens == 1  # only the last prompt token is re-evaluated
    assert (
        warm.cost.reused_prompt_tokens
        == cold.cost.prompt_tokens + cold.cost.reused_prompt_tokens - 1
    )
    longer = real_backend.sample(prompt + "Apple", n=1, max_tokens=2, seed=1)
    assert longer.cost.reused_prompt_tokens >= cold.cost.prompt_tokens - 1


def test_prompt_longer_than_the_context_raises_with_the_numbers():
    small = LlamaCppBackend(n_ctx=64)
    try:
        with pytest.raises(ContextOverflowError) as info:
            small.sample("word " * 200, n=1, max_tokens=8)
        assert info.value.n_ctx == 64 and info.value.prompt_tokens >= 200
        assert "64" in str(info.value)
        # the backend stays usable after the error
        assert small.sample("Hi", n=1, max_tokens=2, seed=0).completions
    finally:
        small.close()


def test_missing_model_file_is_named(tmp_path):
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ModelLoadError, match="nope.gguf"):
        LlamaCppBackend(missing)


def test_corrupt_model_file_is_named(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"NOTAGGUF" + b"\0" * 100)
    with pytest.raises(ModelLoadError, match="broken.gguf.*not a GGUF"):
        LlamaCppBackend(bad)
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(b"GGUF" + b"\x03\0\0\0" + b"\0" * 20)
    with pytest.raises(ModelLoadError, match="truncated.gguf"):
        LlamaCppBackend(truncated)


def test_from_llama_wraps_a_user_built_engine():
    import llama_cpp

    from aip_sdk.models import default_model_path

    llm = llama_cpp.Llama(model_path=str(default_model_path()), n_ctx=512, verbose=False)
    backend = LlamaCppBackend.from_llama(llm)
    try:
        assert backend.n_ctx == 512
        res = backend.sample(
            backend.render_chat(PROMPT_MESSAGES), n=2, choices=["yes", "no"], seed=0
        )
        assert {c.text for c in res.completions} <= {"yes", "no"}
    finally:
        backend.close()
    assert llm.n_ctx() == 512  # the caller's engine is left alive
    llm.close()


def test_closed_backend_refuses_calls():
    from aip_sdk import BackendError

    b = LlamaCppBackend(n_ctx=128)
    b.close()
    with pytest.raises(BackendError, match="closed"):
        b.sample("hi")


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_default_threads_follow_the_cpu_affinity_mask():
    # A process pinned to one core (taskset, a container's cpuset) must not start a llama.cpp
    # thread per machine core: two pinned benches would then slow each other down.
    script = (
        "import os, llama_cpp\n"
        "os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})\n"
        "from aip_sdk.util import usable_cpus\n"
        "from aip_sdk_llamacpp import LlamaCppBackend\n"
        "b = LlamaCppBackend(n_ctx=256)\n"
        "print(usable_cpus(), llama_cpp.llama_n_threads(b._runtime._ctx))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "1"]
