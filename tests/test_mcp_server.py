"""The MCP server through the official clients: the gated flow on the demo network, every gate, fuzzing.

The whole flow (preflight -> image -> baseline -> review -> launch -> status -> summary) runs for
real on ``skills/models/digits-cnn`` with the Python client in memory (the TypeScript client over
stdio runs SKILL.md's flow in tests/test_skill_md_flow.py); every client and transport pair
(Python over stdio and streamable HTTP, TypeScript over streamable HTTP) gets a smoke test
(``tests/services/mcp_clients.py``). Each gate
has a test that tries to skip it, run with the Python and the TypeScript client; the TypeScript
client validates every structured result against the tool's output schema, so a refusal must show
its gate, reason and fix within the protocol. The review's wall-time estimate is compared with the
measured wall time of the same run and both are printed (``pytest -s``) for the issue note.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from mcp import Client
from services.mcp_clients import (
    CONSOLE_SCRIPT,
    Outcome,
    PythonCaller,
    ToolCaller,
    TypeScriptBridge,
    TypeScriptCaller,
    connect,
)

from server.app import build_server

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "skills" / "models" / "digits-cnn"
QUADRATIC = ROOT / "tests" / "fixtures" / "skills" / "quadratic"  # jobs of milliseconds
OVERRIDES = {"train.num_epochs": 2, "dataset.train_fraction": 0.3}
SETTINGS = {"automl_max_recommendations": 2, "automl_max_concurrent": 2, "automl_seed": 7}
TOOLS = {
    "preflight_check",
    "resolve_image",
    "run_baseline_eval",
    "estimate_budget",
    "launch_automl",
    "job_status",
    "summarize_results",
}


#: Clients every gate test runs with: the Python client in memory, the TypeScript client over stdio.
GATE_CLIENTS = pytest.mark.parametrize("kind", ["py-memory", "ts-stdio"])


@pytest.fixture(scope="module")
def ts_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TypeScriptBridge]:
    """One TypeScript client on one stdio server for this module's gate tests (each uses its own results root)."""
    root = tmp_path_factory.mktemp("ts-gates")
    stdio = {"command": str(CONSOLE_SCRIPT), "args": [], "cwd": str(root),
             "env": {**os.environ, "TAO_AUTOML_MCP_STATE": str(root / "state")}}  # fmt: skip
    bridge = TypeScriptBridge({"stdio": stdio}, root / "ts-client.log")
    yield bridge
    bridge.close()


@pytest.fixture
def gate_client(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[], Any]:
    """``async with gate_client() as client``: the test's client of ``kind``. The TypeScript client shares one
    server (and its state) across the module unless ``fresh``: a test of a server-wide record (an image shown
    for a skill) needs its own."""

    @asynccontextmanager
    async def opened(fresh: bool = False) -> AsyncIterator[ToolCaller]:
        if kind == "ts-stdio" and not fresh:
            yield TypeScriptCaller(request.getfixturevalue("ts_bridge"), kind)
        else:
            async with connect(kind, tmp_path / "state", tmp_path) as client:
                yield client

    return opened


async def ok(client: ToolCaller, tool: str, **args: Any) -> dict[str, Any]:
    """Call a tool that must succeed; its structured content (validated by the client)."""
    result = await client.call(tool, args)
    assert result.protocol_error is None, f"{client.label} rejected {tool}'s answer: {result.protocol_error}"
    assert not result.is_error, f"{tool} refused: {result.texts}"
    assert result.structured is not None
    return result.structured


def conforms(result: Outcome) -> dict[str, Any]:
    """A refusal within the protocol: accepted by the client, no structured content, gate/reason/fix readable."""
    error = result.refusal()
    assert result.structured is None, "a refusal must not carry structured content that breaks the output schema"
    assert error["gate"] and error["reason"] and error["fix"], error
    assert f"refused by gate '{error['gate']}': " in result.texts[0] and error["fix"] in result.texts[0]
    return error


async def refused(client: ToolCaller, tool: str, gate: str, **args: Any) -> dict[str, Any]:
    """Call a tool that must refuse through ``gate``; the refusal (gate, reason, fix) the client shows."""
    error = conforms(await client.call(tool, args))
    assert error["gate"] == gate, error
    return error


async def preflight(
    client: ToolCaller,
    root: Path,
    skill: str | Path = "digits-cnn",
    overrides: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    args = {"model_skill": str(skill), "results_root": str(root), "spec_overrides": OVERRIDES, **extra}
    if overrides is not None:
        args["spec_overrides"] = overrides
    return await ok(client, "preflight_check", **args)


async def ready_plan(
    client: ToolCaller, root: Path, *, image: bool = True, baseline: bool = True, skill: str | Path = "digits-cnn"
) -> str:
    """A passed preflight with the image resolved and the baseline knowingly waived (no job runs)."""
    pf = await preflight(client, root, skill=skill, overrides={} if skill != "digits-cnn" else None)
    assert pf["passed"]
    if image:
        await ok(client, "resolve_image", preflight_id=pf["preflight_id"])
    if baseline:
        out = await ok(
            client,
            "run_baseline_eval",
            preflight_id=pf["preflight_id"],
            declare_unavailable=True,
            reason="gate test: the user accepts no baseline",
        )
        assert out["status"] == "declared_unavailable" and out["gate_satisfied"]
    return pf["preflight_id"]


async def review(client: ToolCaller, preflight_id: str, **extra: Any) -> dict[str, Any]:
    args = {
        "preflight_id": preflight_id,
        "algorithm": "random",
        "settings": SETTINGS,
        "per_epoch_seconds": 0.2,
        "startup_seconds": 3.0,
        "probe": False,
        **extra,
    }
    return await ok(client, "estimate_budget", **args)


# ---- the whole gated flow --------------------------------------------------------------------------------


async def whole_flow(client: ToolCaller, root: Path, label: str) -> dict[str, Any]:
    """Preflight -> image -> baseline -> review -> launch -> status until done -> summary, with checks."""
    tools = {t["name"]: t for t in await client.list_tools()}
    assert set(tools) == TOOLS
    assert all(t["outputSchema"] and t["inputSchema"].get("additionalProperties") is False for t in tools.values())

    pf = await preflight(client, root)
    assert pf["passed"] and pf["model"]["metric"] == "val_accuracy"
    names = {c["name"]: c["status"] for c in pf["checks"]}
    for check in ("model:support", "model:template", "model:image", "plan:train", "compute:shape", "data:baseline"):
        assert names[check] == "pass", (check, pf["checks"])
    pid = pf["preflight_id"]

    image = await ok(client, "resolve_image", preflight_id=pid, action="train")
    assert image["source"] == "none" and image["confirmation_required"] and image["recorded_for"] == pid

    base = await ok(client, "run_baseline_eval", preflight_id=pid, wait_seconds=300)
    assert base["status"] == "measured" and base["gate_satisfied"] and base["source"] == "default_config"
    assert 0.0 < base["metric_value"] <= 1.0 and 0.0 < base["eval_metric_value"] <= 1.0
    assert base["eval_data"] == {"evaluate.split": "test"}  # validation ranks, the held-out test split checks
    assert base["train_job_id"] and base["eval_job_id"] and Path(base["record_path"]).is_dir()
    assert base["timing"]["per_epoch_s"] >= 0 and base["timing"]["startup_s"] > 0  # status.json has 1 s resolution
    again = await ok(client, "run_baseline_eval", preflight_id=pid)  # same inputs: the same record, no new job
    assert again["train_job_id"] == base["train_job_id"]

    # A review at another budget cannot reuse this baseline: its gate is open and says why.
    stale = await ok(
        client,
        "estimate_budget",
        preflight_id=pid,
        algorithm="bayesian",
        settings=SETTINGS,
        spec_overrides={**OVERRIDES, "train.num_epochs": 3},
        probe=False,  # only its gate is checked: no timing probe job
        per_epoch_seconds=0.2,
    )
    gates = {g["gate"]: g for g in stale["gates"]}
    assert not stale["launchable"] and not gates["baseline"]["satisfied"]
    assert "other spec overrides" in gates["baseline"]["detail"]

    rv = await ok(client, "estimate_budget", preflight_id=pid, algorithm="bayesian", settings=SETTINGS)
    assert rv["launchable"] and all(g["satisfied"] for g in rv["gates"])
    assert rv["budget"]["total_recommendations"] == 2 and rv["budget"]["epochs"] == 2
    assert rv["metric"] == "val_accuracy" and rv["direction"] == "maximize" and len(rv["first_batch"]) == 2
    assert {p["name"] for p in rv["parameters"]} >= {"train.optim.lr", "dataset.batch_size"}
    assert rv["baseline"]["record"]["metric_value"] == base["metric_value"]
    assert "baseline job" in rv["estimate"]["timing"]["source"]
    assert Path(rv["review_path"]).read_text() == rv["markdown"] and "## First batch" in rv["markdown"]

    await refused(client, "launch_automl", "confirmation", review_id=rv["review_id"])
    launch = await ok(client, "launch_automl", review_id=rv["review_id"], confirmed=True)
    started = time.monotonic()
    assert not launch["already_launched"] and launch["pid"] > 0 and Path(launch["workspace"]).is_dir()
    twice = await ok(client, "launch_automl", review_id=rv["review_id"], confirmed=True)
    assert twice["already_launched"] and twice["run_id"] == launch["run_id"] and twice["pid"] == launch["pid"]

    seen_running = False
    while True:
        status = await ok(client, "job_status", run_id=launch["run_id"])
        seen_running |= bool(status["running_jobs"])
        if status["state"] not in ("starting", "running"):
            break
        assert time.monotonic() - started < 240, status
        await asyncio.sleep(0.5)
    wall = time.monotonic() - started
    assert status["state"] == "complete", status
    assert seen_running and status["progress"]["completed"] == 2 and not status["failures"]
    assert not status["llm_brain"]["applicable"]

    summary = await ok(client, "summarize_results", run_id=launch["run_id"])
    assert summary["state"] == "complete" and len(summary["recommendations"]) == 2
    assert summary["baseline"]["status"] == "measured" and summary["baseline"]["provided_by"] == "run_baseline_eval"
    assert summary["baseline"]["job_id"] == base["train_job_id"]  # the measured baseline, not a second one
    ckpt = Path(summary["best_checkpoint"])
    assert ckpt.is_file() and not ckpt.is_symlink() and "latest" not in ckpt.name and ckpt.name.endswith("002.pth")
    assert f"recs/{summary['best']['rec_id']:04d}/" in str(ckpt)
    assert summary["final_evaluation"]["status"] == "measured"
    assert summary["improvement_over_baseline"] is not None and summary["next_steps"]
    assert Path(summary["report_path"]).is_file() and "baseline" in summary["headline"]
    # The review showed the exact first batch the run launched.
    assert [r["params"] for r in summary["recommendations"][:2]] == [b["params"] for b in rv["first_batch"]]

    estimate = rv["estimate"]["wall_s"]
    print(
        f"\n[{label}] review estimate {estimate:.1f} s vs measured wall time {wall:.1f} s (ratio {wall / estimate:.2f})"
    )
    assert estimate > 0  # its accuracy is measured by benchmarks/estimate_accuracy.py, not asserted here
    return {"review_id": rv["review_id"], "run_id": launch["run_id"], "estimate": estimate, "wall": wall}


@pytest.mark.asyncio
async def test_whole_flow_in_memory_and_gates_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with connect("py-memory", state, tmp_path) as client:
        flow = await whole_flow(client, tmp_path / "runs", "in memory")
    async with connect("py-memory", state, tmp_path) as client:  # a new server process would read the same files
        again = await ok(client, "launch_automl", review_id=flow["review_id"], confirmed=True)
        assert again["already_launched"] and again["run_id"] == flow["run_id"]
        status = await ok(client, "job_status", run_id=flow["run_id"])
        assert status["state"] == "complete" and status["progress"]["completed"] == 2


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["py-stdio", "py-http", "ts-http"])
async def test_each_client_over_each_transport(kind: str, tmp_path: Path) -> None:
    """The console script to each client over each transport: its tools, a passed preflight, a refusal it shows."""
    async with connect(kind, tmp_path / "state", tmp_path) as client:
        tools = {t["name"] for t in await client.list_tools()}
        assert tools == TOOLS
        assert (await preflight(client, tmp_path / "runs"))["passed"]
        await refused(client, "launch_automl", "review", review_id="rv-0123456789abcdef", confirmed=True)
    assert list((tmp_path / "state" / "plans").glob("pf-*.json"))


# ---- every gate, tried without ------------------------------------------------------------------------------


@pytest.mark.asyncio
@GATE_CLIENTS
async def test_launch_without_review_is_refused(gate_client: Any) -> None:
    async with gate_client() as client:
        await refused(client, "launch_automl", "review", review_id="rv-0123456789abcdef", confirmed=True)
        await refused(client, "launch_automl", "review", review_id="../../etc/passwd", confirmed=True)


@pytest.mark.asyncio
@GATE_CLIENTS
async def test_launch_without_confirmation_is_refused(gate_client: Any, tmp_path: Path) -> None:
    async with gate_client() as client:
        rv = await review(client, await ready_plan(client, tmp_path / "runs"))
        assert rv["launchable"]
        await refused(client, "launch_automl", "confirmation", review_id=rv["review_id"])
        await refused(client, "launch_automl", "confirmation", review_id=rv["review_id"], confirmed=False)
        assert not list((tmp_path / "runs").glob("run-*")), "nothing may start without confirmation"


@pytest.mark.asyncio
@GATE_CLIENTS
async def test_launch_after_the_plan_changed_is_refused(gate_client: Any, tmp_path: Path) -> None:
    async with gate_client() as client:
        pid = await ready_plan(client, tmp_path / "runs")
        first = await review(client, pid)
        second = await review(client, pid, settings={**SETTINGS, "automl_max_recommendations": 5})
        assert first["review_id"] != second["review_id"]
        error = await refused(client, "launch_automl", "plan_unchanged", review_id=first["review_id"], confirmed=True)
        assert error["details"]["current_review"] == second["review_id"]


@pytest.mark.asyncio
@GATE_CLIENTS
async def test_launch_after_the_model_skill_changed_on_disk_is_refused(gate_client: Any, tmp_path: Path) -> None:
    skill = tmp_path / "digits-copy"
    shutil.copytree(DIGITS, skill, ignore=shutil.ignore_patterns("__pycache__"))
    async with gate_client() as client:
        pf = await preflight(client, tmp_path / "runs", skill=skill)
        pid = pf["preflight_id"]
        await ok(client, "resolve_image", preflight_id=pid)
        await ok(client, "run_baseline_eval", preflight_id=pid, declare_unavailable=True, reason="gate test")
        rv = await review(client, pid)
        template = skill / "references" / "spec_template_train.yaml"
        spec = yaml.safe_load(template.read_text())
        spec["train"]["optim"]["lr"] = 0.5
        template.write_text(yaml.safe_dump(spec))
        error = await refused(client, "launch_automl", "plan_unchanged", review_id=rv["review_id"], confirmed=True)
        assert error["details"]["review_hash"] != error["details"]["current_hash"]


@pytest.mark.asyncio
@GATE_CLIENTS
async def test_launch_with_failed_preflight_is_refused(gate_client: Any, tmp_path: Path) -> None:
    async with gate_client() as client:
        pf = await preflight(client, tmp_path / "runs", datasets={"train": str(tmp_path / "missing")})
        assert not pf["passed"] and "path:train" in pf["failed"]
        pid = pf["preflight_id"]
        await ok(client, "resolve_image", preflight_id=pid)
        await refused(client, "run_baseline_eval", "preflight", preflight_id=pid)
        await refused(
            client,
            "run_baseline_eval",
            "preflight",
            preflight_id=pid,
            declare_unavailable=True,
            reason="trying to skip",
        )
        rv = await review(client, pid)  # the review shows the open gate...
        assert not rv["launchable"] and not {g["gate"]: g for g in rv["gates"]}["preflight"]["satisfied"]
        error = await refused(client, "launch_automl", "preflight", review_id=rv["review_id"], confirmed=True)
        assert "path:train" in error["reason"]  # ...and the launch names it


@pytest.mark.asyncio
@GATE_CLIENTS
async def test_launch_without_baseline_is_refused_and_the_estimate_probes(gate_client: Any, tmp_path: Path) -> None:
    async with gate_client() as client:
        pid = await ready_plan(client, tmp_path / "runs", baseline=False, skill=QUADRATIC)
        rv = await ok(client, "estimate_budget", preflight_id=pid, algorithm="random", settings=SETTINGS)
        assert "probe job" in rv["estimate"]["timing"]["source"]  # no baseline timing: a short probe ran
        assert rv["estimate"]["timing"]["epochs_measured"] == 2 and rv["estimate"]["wall_s"] > 0
        assert not rv["launchable"]
        await refused(client, "launch_automl", "baseline", review_id=rv["review_id"], confirmed=True)


@pytest.mark.asyncio
@GATE_CLIENTS
async def test_launch_without_image_is_refused(gate_client: Any, tmp_path: Path) -> None:
    async with gate_client(fresh=True) as client:
        rv = await review(client, await ready_plan(client, tmp_path / "runs", image=False))
        await refused(client, "launch_automl", "image", review_id=rv["review_id"], confirmed=True)


@pytest.mark.asyncio
@GATE_CLIENTS
async def test_a_failed_baseline_is_a_blocker_until_knowingly_waived(gate_client: Any, tmp_path: Path) -> None:
    async with gate_client() as client:
        pid = (await preflight(client, tmp_path / "runs", skill=QUADRATIC, overrides={}))["preflight_id"]
        # The job starts and fails: the model refuses the configuration. (A number outside the schema's range
        # would not get this far: preflight and the runner refuse it as input.)
        bad = {"train.optim.lr": "fast"}
        error = await refused(client, "run_baseline_eval", "baseline", preflight_id=pid, spec_overrides=bad)
        assert error["details"]["failure_class"] == "invalid_configuration" and error["details"]["train_job_id"]
        assert "lr='fast' must be a finite number" in error["reason"] and "accept_proxy" in error["fix"]
        crash = await refused(
            client, "run_baseline_eval", "baseline", preflight_id=pid, spec_overrides={"train.fail_mode": "crash"}
        )
        assert crash["details"]["failure_class"] == "model_code" and "simulated crash" in crash["details"]["log_tail"]
        await refused(client, "run_baseline_eval", "input", preflight_id=pid, accept_proxy=True)  # no reason
        await refused(
            client, "run_baseline_eval", "baseline", preflight_id=pid, accept_proxy=True, reason="nothing was measured"
        )
        proxy = await ok(
            client,
            "run_baseline_eval",
            preflight_id=pid,
            accept_proxy=True,
            proxy_metric_value=0.9,
            reason="the user's earlier run reached 0.9",
        )
        assert proxy["status"] == "proxy_accepted" and proxy["metric_value"] == 0.9 and proxy["gate_satisfied"]
        rv = await review(client, pid, spec_overrides=bad)
        assert {g["gate"]: g for g in rv["gates"]}["baseline"]["satisfied"] and "proxy" in rv["markdown"]


@pytest.mark.asyncio
@GATE_CLIENTS
async def test_a_checkpoint_without_an_evaluate_action_is_a_blocker(gate_client: Any, tmp_path: Path) -> None:
    skill = tmp_path / "digits-train-only"
    shutil.copytree(DIGITS, skill, ignore=shutil.ignore_patterns("__pycache__"))
    info_path = skill / "references" / "skill_info.yaml"
    info = yaml.safe_load(info_path.read_text())
    del info["actions"]["evaluate"]
    info_path.write_text(yaml.safe_dump(info))
    async with gate_client() as client:
        pid = (await preflight(client, tmp_path / "runs", skill=skill))["preflight_id"]
        error = await refused(client, "run_baseline_eval", "baseline", preflight_id=pid, checkpoint="/tmp/x.pth")
        assert "no evaluate action" in error["reason"]
        out = await ok(
            client,
            "run_baseline_eval",
            preflight_id=pid,
            declare_unavailable=True,
            reason="no evaluate action; the user accepts no baseline",
        )
        assert out["gate_satisfied"]


@pytest.mark.asyncio
@GATE_CLIENTS
async def test_over_a_time_limit_the_review_lists_cuts(gate_client: Any, tmp_path: Path) -> None:
    async with gate_client() as client:
        pid = await ready_plan(client, tmp_path / "runs")
        settings = {**SETTINGS, "automl_max_recommendations": 6}  # three waves of 2 x 10 min epochs: over an hour
        rv = await review(
            client,
            pid,
            settings=settings,
            per_epoch_seconds=600.0,
            startup_seconds=60.0,
            time_limit_hours=1.0,
            price_per_gpu_hour=3.0,
        )
        est = rv["estimate"]
        assert est["fits"] is False and est["cost"] == 0.0  # a CPU network: no GPU-hours
        fitting = {c["kind"] for c in est["cuts"] if c["fits"]}
        assert {"fewer_recommendations", "fewer_epochs", "smaller_dataset"} <= fitting
        assert "cuts that would fit" in rv["markdown"]


@pytest.mark.asyncio
@GATE_CLIENTS
async def test_credentials_never_travel_through_tools(gate_client: Any, tmp_path: Path) -> None:
    secret = "nvapi-" + "Q" * 40
    async with gate_client() as client:
        for args in (
            {"model_skill": "digits-cnn", "platform_options": {"api_key": secret}},
            {"model_skill": "digits-cnn", "platform_options": {"env": {"HF_TOKEN": "x" * 12}}},
            {"model_skill": "digits-cnn", "datasets": {"train": f"s3://bucket/{secret}"}},
        ):
            result = await client.call("preflight_check", args)
            assert conforms(result)["gate"] == "input"
            assert secret not in json.dumps(result.texts)
        pid = await ready_plan(client, tmp_path / "runs")
        await refused(client, "estimate_budget", "input", preflight_id=pid, settings={"llm_api_key": secret})


@pytest.mark.asyncio
@GATE_CLIENTS
async def test_unknown_ids_are_refused_by_their_gate(gate_client: Any, tmp_path: Path) -> None:
    async with gate_client() as client:
        await refused(client, "run_baseline_eval", "preflight", preflight_id="pf-000000000000")
        await refused(client, "estimate_budget", "preflight", preflight_id="nope")
        await refused(client, "resolve_image", "preflight", preflight_id="pf-000000000000")
        await refused(client, "job_status", "run", run_id="run-20260101T000000-abcdef")
        await refused(client, "summarize_results", "run", run_id="../x")
        await refused(client, "preflight_check", "input", model_skill="digits-cnn", gpu_count=-1)
        await refused(client, "preflight_check", "input", model_skill="digits-cnn", budget=3)  # unknown key


# ---- fuzzing --------------------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
_FIELDS = {
    "preflight_check": [
        "model_skill",
        "platform",
        "platform_options",
        "datasets",
        "gpu_count",
        "num_nodes",
        "spec_overrides",
        "min_free_disk_gb",
    ],
    "resolve_image": ["preflight_id", "action", "model_skill"],
    "run_baseline_eval": [
        "preflight_id",
        "checkpoint",
        "spec_overrides",
        "wait_seconds",
        "accept_proxy",
        "declare_unavailable",
        "reason",
        "proxy_metric_value",
    ],
    "estimate_budget": [
        "preflight_id",
        "algorithm",
        "settings",
        "spec_overrides",
        "custom_param_ranges",
        "automl_hyperparameters",
        "time_limit_hours",
        "per_epoch_seconds",
    ],
    "launch_automl": ["review_id", "confirmed"],
    "job_status": ["run_id"],
    "summarize_results": ["run_id"],
}


def _calls(ids: list[str]) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """A tool and arguments: its id argument mostly set (a real id, a hostile string or junk), plus random
    JSON under known keys and one unknown key."""
    special = st.sampled_from(["digits-cnn", "local", "rv-0123456789abcdef", "", "../..", "\x00", *ids])

    def for_tool(tool: str) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
        extra = st.dictionaries(st.sampled_from([*_FIELDS[tool], "bogus"]), _json | special, max_size=4)
        first = st.fixed_dictionaries({_FIELDS[tool][0]: special | st.text(max_size=12)})
        args = st.one_of(
            extra, st.builds(lambda a, b: {**a, **b}, extra, first), st.builds(lambda a, b: {**b, **a}, extra, first)
        )
        return st.tuples(st.just(tool), args)

    small = st.none() | st.booleans() | st.integers(-3, 3000) | st.floats(-1e3, 1e3) | st.text(max_size=8)
    keys = ["train.optim.lr", "model.width", "dataset.batch_size", "train.num_epochs", "nope"]
    typed = st.fixed_dictionaries(  # well-typed estimate_budget calls on a real plan reach the planner itself
        {"preflight_id": st.sampled_from(ids), "per_epoch_seconds": st.floats(0.001, 1e4)},
        optional={
            "algorithm": st.sampled_from(["random", "bayesian", "hyperband", "asha", "pbt", "bohb", "dehb", "nope"]),
            "settings": st.dictionaries(
                st.sampled_from(
                    [
                        "automl_max_recommendations",
                        "automl_max_concurrent",
                        "automl_max_epochs",
                        "metric",
                        "direction",
                        "nope",
                    ]
                ),
                small,
                max_size=3,
            ),
            "spec_overrides": st.dictionaries(st.sampled_from(keys), small, max_size=2),
            "custom_param_ranges": st.dictionaries(
                st.sampled_from(keys),
                st.dictionaries(
                    st.sampled_from(["valid_min", "valid_max", "valid_options", "option_weights"]),
                    small | st.lists(small, max_size=3),
                    max_size=2,
                ),
                max_size=1,
            ),
            "automl_hyperparameters": st.lists(st.sampled_from(keys), max_size=2),
            "time_limit_hours": st.floats(0.0001, 10),
        },
    )
    generic = st.sampled_from(sorted(_FIELDS)).flatmap(for_tool)
    return generic | st.tuples(st.just("estimate_budget"), typed) if ids else generic


#: Secret-looking strings the fuzzer plants as values and as keys: none may come back in an answer.
SECRETS = ("nvapi-" + "Q" * 40, "sk-proj-" + "a1B2" * 10, "AKIA" + "Z" * 16, "hf_" + "x9" * 17)
_hostile = st.sampled_from([*SECRETS, "x" * 300_000, "é" * 5_000, {"k" * 10_000: 1}, [[[[[[[[[[1]]]]]]]]]]])


def _planted(call: tuple[str, dict[str, Any]], data: st.DataObject) -> tuple[str, dict[str, Any]]:
    """The call with, sometimes, a secret or an oversized value under a random argument, or a secret as a key."""
    tool, args = call
    choice = data.draw(st.integers(0, 3))
    if choice == 1:
        args = {**args, data.draw(st.sampled_from([*_FIELDS[tool], "bogus"])): data.draw(_hostile)}
    elif choice == 2:
        args = {**args, data.draw(st.sampled_from(SECRETS)): 1}
    return tool, args


def _answered(result: Outcome, outputs: dict[str, Any]) -> None:
    """Within the protocol: a conforming refusal or a result the client validated; no secret echoed."""
    assert result.protocol_error is None, result.protocol_error
    if result.is_error:
        assert conforms(result)["gate"] != "internal", result.texts
    else:
        assert result.structured is not None
    echoed = json.dumps([result.texts, result.structured])
    assert not [s for s in SECRETS if s in echoed], "a secret came back"
    assert len(echoed) < 200_000, "an oversized argument came back"


def _fuzz_plan(server_call: Any, root: Path) -> str:
    """A real plan whose preflight failed: calls get past the id check, and still no job may start."""
    args = {"model_skill": "digits-cnn", "results_root": str(root), "spec_overrides": OVERRIDES,
            "datasets": {"train": str(root / "missing")}}  # fmt: skip
    pf = server_call("preflight_check", args)
    assert pf.protocol_error is None and not pf.is_error and not pf.structured["passed"], pf
    return pf.structured["preflight_id"]


def _fuzz(call_sync: Any, root: Path, examples: int) -> None:
    """Hypothesis drives ``call_sync(tool, args) -> Outcome``; the server must stay up and start no job."""
    plan_id = _fuzz_plan(call_sync, root)
    outputs: dict[str, Any] = {}

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_calls([plan_id]), st.data())
    def check(call: tuple[str, dict[str, Any]], data: st.DataObject) -> None:
        tool, args = _planted(call, data)
        if tool == "preflight_check" and "results_root" not in args:
            args = {**args, "results_root": str(root)}
        _answered(call_sync(tool, args), outputs)
        assert call_sync("job_status", {"run_id": "run-0"}).is_error  # the server still answers

    check()
    assert not [*root.glob("run-*"), *root.glob("baselines/*"), *root.glob("probes/*")], "no job may start"


def test_fuzzed_inputs_always_get_an_answer_within_the_protocol(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python client, in memory: whatever the arguments, its output model or a conforming refusal."""
    monkeypatch.chdir(tmp_path)
    server = build_server(tmp_path / "state")

    def call_sync(tool: str, args: dict[str, Any]) -> Outcome:
        async def one() -> Outcome:
            async with Client(server) as client:
                caller = PythonCaller(client, "py-memory")
                await caller.list_tools()  # the client checks results against the listed output schemas
                return await caller.call(tool, args)

        return asyncio.run(one())

    _fuzz(call_sync, tmp_path / "runs", 40)


def test_fuzzed_inputs_through_the_typescript_client(tmp_path: Path) -> None:
    """The official TypeScript client over stdio: malformed, missing, wrong-typed, oversized and secret-looking
    arguments all come back as answers it accepts, from one server process that never goes down."""
    stdio = {"command": str(CONSOLE_SCRIPT), "args": [], "cwd": str(tmp_path),
             "env": {**os.environ, "TAO_AUTOML_MCP_STATE": str(tmp_path / "state")}}  # fmt: skip
    bridge = TypeScriptBridge({"stdio": stdio}, tmp_path / "ts-client.log")
    try:

        def call_sync(tool: str, args: dict[str, Any]) -> Outcome:
            try:
                json.dumps(args, allow_nan=False)
            except ValueError:
                assume(False)  # NaN/Infinity: JSON, so a JavaScript client, cannot send them at all
            return TypeScriptCaller.outcome(bridge.request("call", 120.0, tool=tool, arguments=args))

        _fuzz(call_sync, tmp_path / "runs", 40)
        assert bridge.proc.poll() is None
    finally:
        bridge.close()


@pytest.mark.asyncio
async def test_an_oversized_request_over_http_is_refused_and_the_server_lives(tmp_path: Path) -> None:
    """Over HTTP the transport caps a request at 4 MiB (the SDK's default): the TypeScript client gets the 413 as
    an error naming the size, and the same server answers the next call."""
    async with connect("ts-http", tmp_path / "state", tmp_path) as client:
        big = await client.call("job_status", {"run_id": "x" * (5 * 1024 * 1024)})
        assert big.protocol_error and "too large" in big.protocol_error
        await refused(client, "job_status", "run", run_id="run-20260101T000000-abcdef")
