"""SKILL.md as an agent reads it, against the live tools: the flow it writes, the shapes it names, its refusals.

The workflow's JSON examples are sent verbatim (only the ``"<preflight_id>"``-style placeholders are
replaced by the ids earlier answers returned) through the official TypeScript client, which validates
every answer against the tool's output schema. Every field the tools table says a tool answers must be
in that tool's live answers; the refusal shape SKILL.md spells out must be the one refusals have; each
gate in its refusal table is produced by the trigger the table names; and the rule for launching a
review again is the one it states.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from services.mcp_clients import Outcome, ToolCaller, connect

from server.app import DESCRIPTIONS
from tao_automl.workflow.models import Gate

ROOT = Path(__file__).resolve().parents[1]
SKILL_MD = (ROOT / "SKILL.md").read_text(encoding="utf-8")
QUADRATIC = ROOT / "tests" / "fixtures" / "skills" / "quadratic"  # jobs of milliseconds
PLACEHOLDER = re.compile(r'"<(preflight_id|review_id|run_id)>"')


def _section(title: str) -> str:
    start = SKILL_MD.index(f"\n{title}\n")
    end = SKILL_MD.find("\n## ", start + len(title) + 2)
    return SKILL_MD[start : end if end > 0 else None]


def documented_steps() -> list[tuple[int, str, str]]:
    """``(step number, tool, JSON arguments)`` of every example call in the workflow, in order."""
    workflow = _section("## Workflow")
    steps = re.split(r"\n(?=\d\. \*\*)", workflow)
    calls = []
    for step in steps:
        number = re.match(r"(\d)\. \*\*", step)
        if number is None:
            continue
        for tool, body in re.findall(r"`(\w+)` with:\n\s*```json\n(.*?)\n\s*```", step, flags=re.S):
            calls.append((int(number[1]), tool, body.strip()))
    return calls


def tools_table() -> dict[str, tuple[int, list[str]]]:
    """Tool -> (its step, the backticked names of what the table says it answers)."""
    rows = [line for line in _section("## The tools (MCP server `tao-automl-mcp`, stdio or `--http 127.0.0.1:PORT`)")
            .splitlines() if re.match(r"\| \d \|", line)]  # fmt: skip
    table = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        table[cells[1].strip("`")] = (int(cells[0]), re.findall(r"`([^`]+)`", cells[2]))
    return table


def refusal_table() -> dict[str, str]:
    """Gate -> when SKILL.md says it refuses."""
    rows = [line for line in _section("### Refusals").splitlines() if re.match(r"\| `\w+` \|", line)]
    return {re.match(r"\| `(\w+)`", r)[1]: r.split("|")[2] for r in rows}


def documented_refusal_keys() -> set[str]:
    shape = re.search(r'`(\{"error": \{.*?\}\}\})`', _section("### Refusals"))
    assert shape, "SKILL.md spells out the refusal JSON"
    return set(json.loads(shape[1].replace("... or null", "null").replace('"..."', '"x"'))["error"])


def keys_of(value: Any) -> set[str]:
    """Every key at any depth of a JSON value."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


def enum_values(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        found = {str(v) for v in schema.get("enum", [])} | ({str(schema["const"])} if "const" in schema else set())
        return found | {v for item in schema.values() for v in enum_values(item)}
    if isinstance(schema, list):
        return {v for item in schema for v in enum_values(item)}
    return set()


def refusal(result: Outcome, gate: str) -> dict[str, Any]:
    """The refusal as SKILL.md describes it: error result, no structured content, sentence, then JSON."""
    assert result.protocol_error is None, result.protocol_error
    assert result.is_error and result.structured is None, result
    payload = json.loads(result.texts[1])
    assert set(payload) == {"error"} and set(payload["error"]) == documented_refusal_keys(), payload
    error = payload["error"]
    assert error["gate"] == gate, error
    assert result.texts[0] == f"refused by gate '{gate}': {error['reason']}. Fix: {error['fix']}"
    return error


async def answer(client: ToolCaller, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call(tool, args)
    assert result.protocol_error is None, f"{tool}: {result.protocol_error}"
    assert not result.is_error, f"{tool} refused: {result.texts}"
    assert result.structured is not None
    return result.structured


# ---- static: numbering and names ---------------------------------------------------------------------------


def test_one_step_numbering_for_skill_md_and_the_tool_descriptions() -> None:
    table = tools_table()
    assert set(table) == set(DESCRIPTIONS)
    for tool, (step, _) in table.items():
        assert DESCRIPTIONS[tool].startswith(f"Step {step}. "), (tool, DESCRIPTIONS[tool][:20])
    calls = documented_steps()
    assert [tool for _, tool, _ in calls] == list(DESCRIPTIONS), "the workflow shows every tool once, in order"
    info = yaml.safe_load((ROOT / "references" / "skill_info.yaml").read_text(encoding="utf-8"))
    assert {t["name"]: t["step"] for t in info["tools"]} == {tool: step for tool, (step, _) in table.items()}
    for step, tool, _ in calls:
        assert table[tool][0] == step, f"SKILL.md step {step} calls {tool}, described as step {table[tool][0]}"


def test_every_documented_gate_is_a_gate_and_every_gate_is_documented() -> None:
    assert set(refusal_table()) == {g.value for g in Gate}


def test_the_launch_row_names_gates_and_the_argument_apart() -> None:
    row = next(line for line in _section("## The tools (MCP server `tao-automl-mcp`, stdio or `--http 127.0.0.1:PORT`)")
               .splitlines() if "`launch_automl`" in line)  # fmt: skip
    gates = re.findall(r"`([a-z_]+)`", row.split("|")[4])
    assert set(gates) <= {g.value for g in Gate} and "confirmation" in gates and "plan_unchanged" in gates
    assert "`confirmed=true`" in row, "the argument is named as the argument"


# ---- live: the documented flow, its shapes and its refusals -------------------------------------------------


@pytest.mark.asyncio
async def test_the_documented_flow_runs_verbatim_and_answers_what_skill_md_says(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}  # the examples' "~/tao-automl-runs" lands here
    answers: dict[str, list[dict[str, Any]]] = {tool: [] for tool in DESCRIPTIONS}
    ids: dict[str, str] = {}
    async with connect("ts-stdio", tmp_path / "state", tmp_path, env=env) as client:
        schemas = {t["name"]: t for t in await client.list_tools()}
        for _, tool, body in documented_steps():
            args = json.loads(PLACEHOLDER.sub(lambda m: json.dumps(ids[m[1]]), body))
            if tool == "job_status":
                out = await follow(client, args, answers[tool])
            else:
                out = await answer(client, tool, args)
                answers[tool].append(out)
            if tool == "preflight_check":
                assert out["passed"], out["checks"]
            if tool == "run_baseline_eval":
                while out["status"] == "running":  # SKILL.md: on status "running" call it again
                    out = await answer(client, tool, args)
                    answers[tool].append(out)
                assert out["status"] == "measured"
            ids.update({k: out[k] for k in ("preflight_id", "review_id", "run_id") if out.get(k)})

        # Every field the tools table names is in that tool's live answers (or a value its schema lists).
        for tool, (_, names) in tools_table().items():
            live = set().union(*(keys_of(a) for a in answers[tool]))
            values = enum_values(schemas[tool]["outputSchema"])
            for name in names:
                if re.fullmatch(r"[a-z_]+", name) and name not in {g.value for g in Gate}:
                    assert name in live or name in values, f"SKILL.md says {tool} answers `{name}`; it does not"

        review = answers["estimate_budget"][-1]
        assert review["budget"]["settings"] == {"automl_max_recommendations": 4}, "bayesian: no multi-fidelity knob"
        assert "max_epochs" not in review["markdown"] and "max epochs" not in review["markdown"]
        launch = answers["launch_automl"][-1]
        summary = answers["summarize_results"][-1]
        statuses = answers["job_status"]
        # One run identity: the launch's workspace is the run directory status and the report read.
        assert all(s["workspace"] == launch["workspace"] == s["run_dir"] for s in statuses if s.get("run_dir"))
        assert Path(summary["report_path"]).parents[1] == Path(launch["workspace"])
        assert Path(launch["workspace"]).name == launch["run_id"]
        assert str(Path(launch["workspace"])).startswith(str(home / "tao-automl-runs"))
        # digits-cnn: the final evaluation reads the test split, beside the validation metric that chose it.
        final = summary["final_evaluation"]
        assert final["status"] == "measured" and final["eval_data"] == {"evaluate.split": "test"}
        assert final["selection_metric_value"] == summary["best"]["metric_value"]
        assert "evaluate.split=test" in summary["headline"]
        assert summary["baseline"]["eval_data"] == {"evaluate.split": "test"}

        await documented_refusals(client, ids, launch)


async def follow(client: ToolCaller, args: dict[str, Any], seen: list[dict[str, Any]]) -> dict[str, Any]:
    """job_status until the run is over, as step 6 says; each answer checked against what it claims."""
    started = time.monotonic()
    while True:
        status = await answer(client, "job_status", args)
        seen.append(status)
        if status["state"] not in ("starting", "running"):
            assert status["poll_after_s"] is None and status["phase"] == "done"
            break
        assert status["poll_after_s"] is not None and 5 <= status["poll_after_s"] <= 600, status
        for job in status["running_jobs"]:
            assert job["description"] and (job["eta_s"] is None or job["eta_s"] >= 0)
            if job["role"] in ("baseline_eval", "final_eval"):  # an evaluation job is described as itself
                assert job["current_epoch"] is None and job["current_metric"] is None and job["checkpoint"]
                assert job["params"], "the evaluated recommendation's parameters"
        assert time.monotonic() - started < 300, status
        await asyncio.sleep(0.5)  # faster than poll_after_s: the test wants to see every phase
    assert status["state"] == "complete", status
    phases = [s["phase"] for s in seen]
    assert "search" in phases and "final_evaluation" in phases, phases
    return status


async def documented_refusals(client: ToolCaller, ids: dict[str, str], launch: dict[str, Any]) -> None:
    """Each gate of SKILL.md's refusal table, by the trigger it names; then the rule for launching again."""
    table = refusal_table()
    first_review = ids["review_id"]

    # input: a range key other than valid_min/valid_max/valid_options/option_weights.
    assert "valid_min" in table["input"]
    error = refusal(
        await client.call(
            "estimate_budget",
            {
                "preflight_id": ids["preflight_id"],
                "custom_param_ranges": {"train.optim.lr": {"low": 1e-4, "high": 0.01}},
            },
        ),
        "input",
    )
    assert error["field"] == "custom_param_ranges.train.optim.lr" and "valid_min" in error["fix"]
    # input: a value that looks like a secret is refused, not stored.
    error = refusal(await client.call("preflight_check", {"model_skill": "nvapi-" + "Z" * 40}), "input")
    assert "nvapi-" not in json.dumps(error)
    # preflight: an unknown preflight_id.
    refusal(await client.call("run_baseline_eval", {"preflight_id": "pf-000000000000"}), "preflight")
    # review: a review_id no estimate_budget returned.
    refusal(await client.call("launch_automl", {"review_id": "rv-0123456789abcdef", "confirmed": True}), "review")
    # confirmation: without confirmed=true.
    refusal(await client.call("launch_automl", {"review_id": first_review}), "confirmation")
    # run: an unknown run_id.
    refusal(await client.call("job_status", {"run_id": "run-20000101T000000-000000"}), "run")

    # A second plan, of a model whose image was never shown, for the gates the first plan passed.
    plan = await answer(client, "preflight_check", {"model_skill": str(QUADRATIC), "results_root": "~/tao-automl-runs"})
    second = plan["preflight_id"]
    refusal(await client.call("estimate_budget", {"preflight_id": second, "probe": False}), "estimate")
    timed = {"preflight_id": second, "per_epoch_seconds": 0.5, "probe": False}
    review = await answer(client, "estimate_budget", timed)
    refusal(await client.call("launch_automl", {"review_id": review["review_id"], "confirmed": True}), "image")
    await answer(client, "resolve_image", {"preflight_id": second, "action": "train"})
    review = await answer(client, "estimate_budget", timed)
    refusal(await client.call("launch_automl", {"review_id": review["review_id"], "confirmed": True}), "baseline")

    # Launching again: a launched review returns its run, even after a newer review; an older review that
    # was never launched is refused as plan_unchanged.
    other = {"preflight_id": ids["preflight_id"], "settings": {"automl_max_recommendations": 2}}
    older = await answer(client, "estimate_budget", other)
    await answer(client, "estimate_budget", {**other, "settings": {"automl_max_recommendations": 3}})
    again = await answer(client, "launch_automl", {"review_id": first_review, "confirmed": True})
    assert again["already_launched"] and again["run_id"] == launch["run_id"]
    error = refusal(
        await client.call("launch_automl", {"review_id": older["review_id"], "confirmed": True}), "plan_unchanged"
    )
    assert error["details"]["current_review"] != older["review_id"]
