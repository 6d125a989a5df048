"""A scripted OpenAI-compatible chat-completions server on localhost (real HTTP, real ``openai`` client).

No hosted LLM can be reached from here, so tests run the LLM algorithms against this server. It
speaks ``POST /v1/chat/completions`` as the protocol defines it (``choices[].message.content``,
``usage``) and answers from a script: each request takes the next scripted step, and when the
script is empty the test's ``default`` responder answers. Steps:

* ``good(obj)`` / a dict: 200 with ``obj`` as JSON content;
* ``text(s)``: 200 with raw content (malformed JSON, prose);
* ``status(code)``: an HTTP error with an OpenAI-style error body;
* ``slow(seconds, obj)``: answers after ``seconds`` (past the client's timeout).

Every request body is recorded, so tests can check what the prompts carried.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Step:
    status: int = 200
    content: str | None = None
    delay: float = 0.0


def good(obj: dict[str, Any]) -> Step:
    return Step(content=json.dumps(obj))


def text(content: str) -> Step:
    return Step(content=content)


def status(code: int) -> Step:
    return Step(status=code)


def slow(seconds: float, obj: dict[str, Any]) -> Step:
    return Step(content=json.dumps(obj), delay=seconds)


Responder = Callable[[dict[str, Any], int], "Step | dict[str, Any]"]

_SPACE_LINE = re.compile(r'^- "([^"]+)": (?:one of (\[.*\])|(integer|number) in \[([^,]+), ([^\]]+)\])', re.M)
_CANDIDATE_LINE = re.compile(r"^(\d+): \{", re.M)


def user_prompt(body: dict[str, Any]) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def cooperative(body: dict[str, Any], index: int) -> dict[str, Any]:
    """Answers like a model that follows the instructions: valid names, values drawn inside the ranges
    stated in the prompt (seeded by the request index, so answers differ), a rationale."""
    prompt = user_prompt(body)
    rng = random.Random(index)
    values: dict[str, Any] = {}
    numeric = []
    for name, options, kind, low, high in _SPACE_LINE.findall(prompt):
        if options:
            values[name] = rng.choice(json.loads(options))
        elif kind == "integer":
            values[name] = rng.randint(int(float(low)), int(float(high)))
            numeric.append(name)
        else:
            values[name] = rng.uniform(float(low), float(high))
            numeric.append(name)
    reason = f"answer {index}: the finished trials above suggest exploring here"
    if "candidate configurations" in prompt:
        return {"choice": index % max(1, len(_CANDIDATE_LINE.findall(prompt))), "rationale": reason}
    if '"modifications"' in prompt:
        name = rng.choice(numeric or list(values))
        return {"modifications": {name: values[name]}, "hypothesis": reason}
    return {"params": values, "rationale": reason}


@dataclass
class ScriptedLLM:
    """The server's state: its URL, the script, the default responder and every request seen."""

    url: str = ""
    script: list[Step | dict[str, Any]] = field(default_factory=list)
    default: Responder | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.script, self.default = [], None
            self.requests.clear()
            self.headers.clear()

    def next_step(self, body: dict[str, Any]) -> Step:
        with self.lock:
            self.requests.append(body)
            index = len(self.requests) - 1
            step: Step | dict[str, Any] | None = self.script.pop(0) if self.script else None
            default = self.default
        if step is None:
            step = default(body, index) if default else status(503)
        return good(step) if isinstance(step, dict) else step

    def user_prompts(self) -> list[str]:
        return [user_prompt(r) for r in self.requests]


def _handler(state: ScriptedLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def _send(self, code: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
                self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                return
            with state.lock:
                state.headers.append({k.lower(): v for k, v in self.headers.items()})
            step = state.next_step(body)
            if step.delay:
                time.sleep(step.delay)
            if step.status != 200:
                self._send(step.status, {"error": {"message": f"scripted {step.status}", "type": "server_error"}})
                return
            prompt_chars = sum(len(m.get("content") or "") for m in body.get("messages", []))
            completion = step.content or ""
            self._send(
                200,
                {
                    "id": f"chatcmpl-{len(state.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "scripted"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": completion},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": prompt_chars // 4,
                        "completion_tokens": len(completion) // 4,
                        "total_tokens": prompt_chars // 4 + len(completion) // 4,
                    },
                },
            )

    return Handler


@pytest.fixture(scope="session")
def _llm_server_session() -> Iterator[ScriptedLLM]:
    state = ScriptedLLM()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="scripted-llm", daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def llm_server(_llm_server_session: ScriptedLLM) -> Iterator[ScriptedLLM]:
    """The scripted server, with an empty script and no requests, for one test."""
    _llm_server_session.reset()
    yield _llm_server_session
    _llm_server_session.reset()
