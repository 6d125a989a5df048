"""An LLM-guided run launched through the MCP server: ``job_status`` reports ``llm_health`` and blocks honestly.

The launched runner is a detached process; it reaches the scripted OpenAI-compatible server over
localhost HTTP, exactly as it would reach a real endpoint.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from services.llm_server import ScriptedLLM, cooperative, status
from services.mcp_clients import ToolCaller, connect
from test_mcp_server import QUADRATIC, ok, ready_plan, review


async def _launch_and_wait(client: ToolCaller, root: Path, settings: dict[str, Any]) -> dict[str, Any]:
    pid = await ready_plan(client, root, skill=QUADRATIC)
    rv = await review(client, pid, algorithm="llm", settings=settings)
    assert rv["launchable"] and rv["first_batch"] == []  # the LLM is not asked before launch
    assert "chooses every configuration at run time" in rv["markdown"]
    launch = await ok(client, "launch_automl", review_id=rv["review_id"], confirmed=True)
    started = time.monotonic()
    while True:
        out = await ok(client, "job_status", run_id=launch["run_id"])
        if out["state"] not in ("starting", "running"):
            return out
        assert time.monotonic() - started < 120, out
        await asyncio.sleep(0.3)


@pytest.mark.asyncio
async def test_job_status_reports_llm_health_and_llm_blocked(tmp_path: Path, llm_server: ScriptedLLM) -> None:
    base = {"automl_max_recommendations": 2, "automl_max_concurrent": 1, "automl_seed": 7,
            "llm_endpoint": llm_server.url, "llm_model": "scripted"}  # fmt: skip
    async with connect("py-memory", tmp_path / "state", tmp_path) as client:
        llm_server.default = cooperative
        done = await _launch_and_wait(client, tmp_path / "ok", base)
        assert done["state"] == "complete", done
        health = done["llm_health"]
        assert health["status"] == "ok" and health["llm_proposals"] == 2 and health["fallbacks"] == 0
        assert health["calls"] == len(llm_server.requests) and health["used_history"] >= 1
        assert done["llm_brain"]["applicable"] and done["llm_brain"]["healthy"]

        llm_server.reset()
        llm_server.default = lambda body, i: status(500)
        blocked = await _launch_and_wait(
            client, tmp_path / "blocked", {**base, "llm_allow_fallback": True, "llm_retries": 0}
        )
        assert blocked["state"] == "llm_blocked", blocked
        assert blocked["llm_health"]["fallbacks"] == 2 and blocked["llm_health"]["llm_proposals"] == 0
        assert blocked["llm_brain"]["healthy"] is False and "llm_blocked" in blocked["llm_brain"]["detail"]
        assert "llm_health.reasons" in blocked["next_step"]
