"""Real MCP clients for the tests, behind one small interface: the official Python and TypeScript SDKs.

``connect(kind, state_dir, cwd)`` yields a :class:`ToolCaller` for one of

- ``py-memory``: ``mcp.Client(build_server(...))`` in this process;
- ``py-stdio`` / ``ts-stdio``: the client launches the ``tao-automl-mcp`` console script over stdio;
- ``py-http`` / ``ts-http``: ``tao-automl-mcp --http 127.0.0.1:PORT`` runs as a subprocess (started
  and stopped here) and the client talks streamable HTTP to ``/mcp``.

The TypeScript client is ``@modelcontextprotocol/sdk`` (pinned in ``tests/mcp_ts/package.json``,
installed by ``make test``) driven through ``tests/mcp_ts/bridge.mjs``, one JSON line per call. Both
clients validate structured results against the tools' output schemas; what a client rejects comes
back as :attr:`Outcome.protocol_error`, which no test accepts.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

ROOT = Path(__file__).resolve().parents[2]
TS_DIR = ROOT / "tests" / "mcp_ts"
BRIDGE = TS_DIR / "bridge.mjs"
CONSOLE_SCRIPT = Path(sys.executable).parent / "tao-automl-mcp"
KINDS = ("py-memory", "py-stdio", "py-http", "ts-stdio", "ts-http")


@dataclass
class Outcome:
    """One tool call as the client saw it."""

    is_error: bool
    structured: dict[str, Any] | None
    texts: list[str] = field(default_factory=list)
    protocol_error: str | None = None

    def refusal(self) -> dict[str, Any]:
        """The refusal a refused call carries as JSON in its text (``{"error": {...}}``)."""
        assert self.protocol_error is None, f"the client rejected the answer: {self.protocol_error}"
        assert self.is_error, f"not refused: {self.structured}"
        payloads = [json.loads(t) for t in self.texts if t.startswith("{")]
        assert payloads and "error" in payloads[0], self.texts
        return payloads[0]["error"]


class ToolCaller(Protocol):
    label: str

    async def list_tools(self) -> list[dict[str, Any]]:
        """Each tool as the wire has it: ``name``, ``inputSchema``, ``outputSchema``, ..."""
        ...

    async def call(self, tool: str, arguments: dict[str, Any], timeout: float = 600.0) -> Outcome: ...


class PythonCaller:
    """The official Python client (``mcp.Client``)."""

    def __init__(self, client: Client, label: str) -> None:
        self.client, self.label = client, label

    async def list_tools(self) -> list[dict[str, Any]]:
        tools = (await self.client.list_tools()).tools
        return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]

    async def call(self, tool: str, arguments: dict[str, Any], timeout: float = 600.0) -> Outcome:
        try:
            result = await asyncio.wait_for(self.client.call_tool(tool, arguments), timeout)
        except (TimeoutError, RuntimeError, MCPError) as exc:  # schema check failed, no answer, JSON-RPC error
            return Outcome(is_error=True, structured=None, protocol_error=f"{type(exc).__name__}: {exc}")
        texts = [c.text for c in result.content if getattr(c, "type", None) == "text"]
        return Outcome(is_error=bool(result.is_error), structured=result.structured_content, texts=texts)


class TypeScriptBridge:
    """``node bridge.mjs``: blocking line protocol, so one bridge can serve many event loops (hypothesis)."""

    def __init__(self, config: dict[str, Any], log_path: Path) -> None:
        node = shutil.which("node")
        assert node, "node is not installed: make test installs it (scripts/ci/node-local.sh)"
        assert (TS_DIR / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir(), (
            "the TypeScript MCP SDK is not installed: run `make test` (npm ci in tests/mcp_ts)"
        )
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [node, str(BRIDGE), json.dumps(config)],
            cwd=TS_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self._next = 0
        self._lock = threading.Lock()
        ready = self._read(60.0)
        if not ready.get("ready"):
            self.close()
            raise RuntimeError(f"TypeScript client could not connect: {ready} (log: {log_path})")

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _read(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty as exc:
                raise TimeoutError(f"no answer from the TypeScript client in {timeout:.0f} s") from exc
            if line is None:
                raise RuntimeError(f"the TypeScript client exited ({self.proc.poll()})")
            if line.startswith("{"):
                return json.loads(line)

    def request(self, op: str, timeout: float = 600.0, **payload: Any) -> dict[str, Any]:
        with self._lock:
            self._next += 1
            message = {"id": self._next, "op": op, **payload}
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
            answer = self._read(timeout + 30.0)
            assert answer.get("id") == self._next, answer
            return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"op": "close"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class TypeScriptCaller:
    """The official TypeScript client, through :class:`TypeScriptBridge`."""

    def __init__(self, bridge: TypeScriptBridge, label: str) -> None:
        self.bridge, self.label = bridge, label

    async def list_tools(self) -> list[dict[str, Any]]:
        answer = await asyncio.to_thread(self.bridge.request, "list_tools", 60.0)
        assert answer["ok"], answer
        return answer["result"]["tools"]

    async def call(self, tool: str, arguments: dict[str, Any], timeout: float = 600.0) -> Outcome:
        answer = await asyncio.to_thread(
            self.bridge.request, "call", timeout, tool=tool, arguments=arguments, timeout_ms=int(timeout * 1000)
        )
        return self.outcome(answer)

    @staticmethod
    def outcome(answer: dict[str, Any]) -> Outcome:
        if not answer["ok"]:
            error = answer["error"]
            return Outcome(is_error=True, structured=None, protocol_error=f"{error['code']}: {error['message']}")
        result = answer["result"]
        texts = [c["text"] for c in result.get("content", []) if c.get("type") == "text"]
        return Outcome(is_error=bool(result.get("isError")), structured=result.get("structuredContent"), texts=texts)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def http_server(state_dir: Path, cwd: Path, env: dict[str, str] | None = None) -> AsyncIterator[str]:
    """``tao-automl-mcp --http 127.0.0.1:PORT`` as a subprocess until the block ends; yields its URL."""
    port = free_port()
    log = (cwd / f"mcp-http-{port}.log").open("ab")
    proc = subprocess.Popen(
        [str(CONSOLE_SCRIPT), "--http", f"127.0.0.1:{port}", "--state-dir", str(state_dir)],
        cwd=cwd,
        env=env or dict(os.environ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"tao-automl-mcp --http exited ({proc.returncode}); see {log.name}"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                assert time.monotonic() < deadline, "tao-automl-mcp --http did not listen within 60 s"
                await asyncio.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _stdio_env(state_dir: Path, env: dict[str, str] | None) -> dict[str, str]:
    return {**(env or os.environ), "TAO_AUTOML_MCP_STATE": str(state_dir)}


@asynccontextmanager
async def connect(
    kind: str, state_dir: Path, cwd: Path, env: dict[str, str] | None = None
) -> AsyncIterator[ToolCaller]:
    """A connected client of ``kind`` (see the module docstring) on a server whose state is ``state_dir``."""
    assert kind in KINDS, kind
    if kind == "py-memory":
        from server.app import build_server

        async with Client(build_server(state_dir)) as client:
            yield PythonCaller(client, kind)
        return
    assert CONSOLE_SCRIPT.is_file(), "the tao-automl-mcp console script is not installed"
    if kind == "py-stdio":
        params = StdioServerParameters(command=str(CONSOLE_SCRIPT), env=_stdio_env(state_dir, env), cwd=str(cwd))
        async with Client(params) as client:
            yield PythonCaller(client, kind)
        return
    if kind == "ts-stdio":
        stdio = {"command": str(CONSOLE_SCRIPT), "args": [], "cwd": str(cwd), "env": _stdio_env(state_dir, env)}
        bridge = await asyncio.to_thread(TypeScriptBridge, {"stdio": stdio}, cwd / "ts-client.log")
        try:
            yield TypeScriptCaller(bridge, kind)
        finally:
            await asyncio.to_thread(bridge.close)
        return
    async with http_server(state_dir, cwd, env) as url:
        if kind == "py-http":
            async with Client(url) as client:
                yield PythonCaller(client, kind)
        else:
            bridge = await asyncio.to_thread(TypeScriptBridge, {"url": url}, cwd / "ts-client.log")
            try:
                yield TypeScriptCaller(bridge, kind)
            finally:
                await asyncio.to_thread(bridge.close)
