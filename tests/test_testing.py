"""aip_sdk.testing: the scripted fake obeys the same contract suite as real backends."""

from __future__ import annotations

import pytest

from aip_sdk import BackendError
from aip_sdk.testing import ScriptedBackend
from aip_sdk.testing.contract import BackendContract


class TestScriptedContract(BackendContract):
    @pytest.fixture
    def backend(self):
        return ScriptedBackend()


def test_scripted_backend_replays_queue_and_records_requests():
    b = ScriptedBackend(samples=["b", "a"])
    res = b.sample("p", n=2, choices=["a", "b"])
    assert [c.text for c in res.completions] == ["b", "a"]
    assert b.requests[0][0] == "sample" and b.requests[0][1]["choices"] == ("a", "b")


def test_scripted_backend_rejects_a_script_outside_the_choices():
    b = ScriptedBackend(samples=["z"])
    with pytest.raises(BackendError, match="not one of the choices"):
        b.sample("p", choices=["a"])
