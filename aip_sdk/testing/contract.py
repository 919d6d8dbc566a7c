"""The backend contract suite, shipped so that any backend can run it (needs pytest).

Subclass :class:`BackendContract` in your backend's tests and provide a ``backend`` fixture;
each test states one rule of the contract. The built-in backends' tests do exactly that::

    from aip_sdk.testing.contract import BackendContract

    class TestMyBackend(BackendContract):
        @pytest.fixture
        def backend(self):
            return MyBackend(...)
"""

from __future__ import annotations

import pytest

from aip_sdk import Backend, Capabilities
from aip_sdk.testing import check_backend

__all__ = ["CHOICES", "PROMPT_MESSAGES", "BackendContract"]

PROMPT_MESSAGES = [{"role": "user", "content": "Which colour is the sky on a clear day?"}]
CHOICES = ["blue", "green", "a very long answer that nobody would give"]


class BackendContract:
    @pytest.fixture
    def backend(self) -> Backend:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    def test_capabilities_are_declared_as_data(self, backend: Backend) -> None:
        assert isinstance(backend.capabilities, Capabilities)
        assert backend.capabilities.parallel_samples >= 1

    def test_check_backend_passes(self, backend: Backend) -> None:
        check_backend(backend)

    def test_sample_returns_n_completions_with_one_logprob_per_token(
        self, backend: Backend
    ) -> None:
        prompt = backend.render_chat(PROMPT_MESSAGES)
        res = backend.sample(prompt, n=4, max_tokens=6, seed=3)
        assert len(res.completions) == 4
        for c in res.completions:
            assert len(c.token_ids) == len(c.token_logprobs) >= 1

    def test_same_seed_same_samples_other_seed_other_samples(self, backend: Backend) -> None:
        prompt = backend.render_chat(PROMPT_MESSAGES)
        a = backend.sample(prompt, n=4, max_tokens=12, temperature=1.0, seed=11)
        b = backend.sample(prompt, n=4, max_tokens=12, temperature=1.0, seed=11)
        assert [c.text for c in a.completions] == [c.text for c in b.completions]

    def test_constrained_choice_is_always_one_of_the_choices(self, backend: Backend) -> None:
        if not backend.capabilities.can_constrain:
            pytest.skip("backend cannot constrain")
        prompt = backend.render_chat(PROMPT_MESSAGES)
        res = backend.sample(prompt, n=12, temperature=1.5, seed=5, choices=CHOICES)
        assert len(res.completions) == 12
        assert {c.text for c in res.completions} <= set(CHOICES)

    def test_score_reports_one_logprob_per_continuation(self, backend: Backend) -> None:
        if not backend.capabilities.can_score:
            pytest.skip("backend cannot score")
        prompt = backend.render_chat(PROMPT_MESSAGES)
        res = backend.score(prompt, CHOICES)
        assert len(res.logprobs) == len(CHOICES) == len(res.token_counts)
        assert all(lp <= 0 for lp in res.logprobs)
        assert res.cost.llm_calls == 1

    def test_every_call_reports_its_cost(self, backend: Backend) -> None:
        prompt = backend.render_chat(PROMPT_MESSAGES)
        res = backend.sample(prompt, n=2, max_tokens=4, seed=1)
        assert res.cost.llm_calls == 1
        assert res.cost.generated_tokens == sum(len(c.token_ids) for c in res.completions)
        assert res.cost.prompt_tokens + res.cost.reused_prompt_tokens > 0
        assert res.cost.seconds >= 0
