"""The OpenAI-compatible server backend against a real server on 127.0.0.1 (llama-cpp-python's
own server with the default model): the contract, a plan, and the failures a network brings."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from aip_sdk import BackendError, Planner
from aip_sdk.models import default_model_path
from aip_sdk.testing.contract import BackendContract

pytest.importorskip("fastapi", reason="the test server needs aip-sdk-openai[server]")
from aip_sdk_openai import OpenAIBackend


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(*extra: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(default_model_path()),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "1",
         *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(120):
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code in (200, 401):
                return proc, url
        except httpx.TransportError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the test server did not start")


@pytest.fixture(scope="module")
def server():
    proc, url = _start_server()
    yield url
    proc.kill()
    proc.wait()


class TestOpenAIContract(BackendContract):
    @pytest.fixture
    def backend(self, server):
        # llama-cpp-python's server runs one request at a time and reuses the prefix the previous
        # request left in its cache; requests sent concurrently reach it in any order, so the
        # same seed could meet another cache state (and other numerics). One at a time, the
        # order, and so the samples, are fixed.
        b = OpenAIBackend(base_url=server, timeout=300, concurrency=1)
        yield b
        b.close()


def test_the_server_is_probed_once_and_declared(server):
    with OpenAIBackend(base_url=server, timeout=300) as b:
        assert b.capabilities.can_constrain and b.capabilities.device == "server"
        assert b.model_name == default_model_path().stem
        assert b.count_tokens("The sky is blue") == 4


def test_a_plan_runs_on_the_server_with_its_ledger(server, blocksworld):
    with OpenAIBackend(base_url=server, timeout=300) as b:
        env = blocksworld.make("2", "basic_3")
        result = Planner(backend=b, controller="fixed:k=2").plan(env, max_steps=2, seed=1)
    assert result.stop_reason != "backend_error" and len(result.steps) == 2
    for step in result.steps:
        assert step.action in env.reset()[0]["actions"] or step.index > 0
        assert step.cost.prompt_tokens > 0 and step.cost.generated_tokens > 0  # from usage


def test_a_server_that_dies_mid_episode_ends_it_with_the_reason_and_keeps_the_steps(blocksworld):
    proc, url = _start_server()
    env = blocksworld.make("2", "basic_3")
    real_step = env.step

    def step_then_die(action):
        out = real_step(action)
        proc.kill()
        proc.wait()
        return out

    env.step = step_then_die
    b = OpenAIBackend(base_url=url, timeout=60, retries=1, backoff=0.05)
    result = Planner(backend=b, controller="fixed:k=1").plan(env, max_steps=5)
    b.close()
    assert result.stop_reason == "backend_error" and len(result.steps) == 1
    assert "could not be reached" in result.error and not result.success


class _Busy(http.server.BaseHTTPRequestHandler):
    """A server that lists a model and tokenizes, but answers every completion with 429."""

    def log_message(self, *args):
        pass

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._send(200, {"data": [{"id": "busy"}]})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        if self.path.endswith("tokenize"):
            self._send(200, {"tokens": [1, 2]})
        else:
            self._send(429, {"error": "slow down"})


def test_a_429_storm_is_retried_then_a_clear_error():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
    b = OpenAIBackend(base_url=url, retries=2, backoff=0.01)
    assert not b.capabilities.can_constrain  # the probe was answered 429 too: choices by scores
    t0 = time.perf_counter()
    with pytest.raises(BackendError, match=r"answered 429 3 times in a row.*overloaded"):
        b.sample("p", n=1)
    assert time.perf_counter() - t0 >= 0.03  # it backed off: 0.01 + 0.02
    b.close()
    srv.shutdown()


def test_a_wrong_api_key_is_a_clear_error(monkeypatch):
    proc, url = _start_server("--api_key", "right")
    try:
        monkeypatch.setenv("AIP_SDK_API_KEY", "wrong")
        with pytest.raises(BackendError, match="rejected the API key"):
            OpenAIBackend(base_url=url)
        monkeypatch.setenv("AIP_SDK_API_KEY", "right")
        with OpenAIBackend(base_url=url, timeout=300) as b:
            assert b.count_tokens("hi") >= 1
    finally:
        proc.kill()
        proc.wait()
