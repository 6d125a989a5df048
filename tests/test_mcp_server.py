"""The MCP server through the official client: the gated flow on the demo network, every gate, fuzzing.

The whole flow (preflight -> image -> baseline -> review -> launch -> status -> summary) runs for
real on ``skills/models/digits-cnn`` twice: in memory (``mcp.Client(server)``) and over stdio with
the ``tao-automl-mcp`` console script as a subprocess. Each gate has a test that tries to skip it.
The review's wall-time estimate is compared with the measured wall time of the same run and both
are printed (``pytest -s``) for the issue note.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client, StdioServerParameters

from server.app import build_server

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "skills" / "models" / "digits-cnn"
QUADRATIC = ROOT / "tests" / "fixtures" / "skills" / "quadratic"  # jobs of milliseconds
CONSOLE_SCRIPT = Path(sys.executable).parent / "tao-automl-mcp"
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


async def ok(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    """Call a tool that must succeed; its structured content."""
    result = await client.call_tool(tool, args)
    assert not result.is_error, f"{tool} refused: {result.structured_content or result.content}"
    assert result.structured_content is not None
    return result.structured_content


async def refused(client: Client, tool: str, gate: str, **args: Any) -> dict[str, Any]:
    """Call a tool that must refuse through ``gate``; the refusal (gate, reason, fix)."""
    result = await client.call_tool(tool, args)
    assert result.is_error, f"{tool} was not refused: {result.structured_content}"
    error = (result.structured_content or {})["error"]
    assert error["gate"] == gate, error
    assert error["reason"] and error["fix"]
    assert f"gate '{gate}'" in result.content[0].text
    return error


async def preflight(
    client: Client, root: Path, skill: str | Path = "digits-cnn", overrides: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    args = {"model_skill": str(skill), "results_root": str(root), "spec_overrides": OVERRIDES, **extra}
    if overrides is not None:
        args["spec_overrides"] = overrides
    return await ok(client, "preflight_check", **args)


async def ready_plan(
    client: Client, root: Path, *, image: bool = True, baseline: bool = True, skill: str | Path = "digits-cnn"
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


async def review(client: Client, preflight_id: str, **extra: Any) -> dict[str, Any]:
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


async def whole_flow(client: Client, root: Path, label: str) -> dict[str, Any]:
    """Preflight -> image -> baseline -> review -> launch -> status until done -> summary, with checks."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    assert all(t.output_schema and t.input_schema.get("additionalProperties") is False for t in tools.values())

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
    assert 0.0 < base["metric_value"] <= 1.0 and base["eval_metric_value"] == pytest.approx(base["metric_value"])
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
    async with Client(build_server(state)) as client:
        flow = await whole_flow(client, tmp_path / "runs", "in memory")
    async with Client(build_server(state)) as client:  # a new server process would read the same files
        again = await ok(client, "launch_automl", review_id=flow["review_id"], confirmed=True)
        assert again["already_launched"] and again["run_id"] == flow["run_id"]
        status = await ok(client, "job_status", run_id=flow["run_id"])
        assert status["state"] == "complete" and status["progress"]["completed"] == 2


@pytest.mark.asyncio
async def test_whole_flow_over_stdio(tmp_path: Path) -> None:
    assert CONSOLE_SCRIPT.is_file(), "the tao-automl-mcp console script is not installed"
    params = StdioServerParameters(
        command=str(CONSOLE_SCRIPT),
        env={**os.environ, "TAO_AUTOML_MCP_STATE": str(tmp_path / "state")},
        cwd=str(tmp_path),
    )
    async with Client(params) as client:
        await whole_flow(client, tmp_path / "runs", "stdio")
    assert list((tmp_path / "state" / "plans").glob("pf-*.json"))


# ---- every gate, tried without ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_launch_without_review_is_refused(tmp_path: Path) -> None:
    async with Client(build_server(tmp_path / "state")) as client:
        await refused(client, "launch_automl", "review", review_id="rv-0123456789abcdef", confirmed=True)
        await refused(client, "launch_automl", "review", review_id="../../etc/passwd", confirmed=True)


@pytest.mark.asyncio
async def test_launch_without_confirmation_is_refused(tmp_path: Path) -> None:
    async with Client(build_server(tmp_path / "state")) as client:
        rv = await review(client, await ready_plan(client, tmp_path / "runs"))
        assert rv["launchable"]
        await refused(client, "launch_automl", "confirmation", review_id=rv["review_id"])
        await refused(client, "launch_automl", "confirmation", review_id=rv["review_id"], confirmed=False)
        assert not list((tmp_path / "runs").glob("run-*")), "nothing may start without confirmation"


@pytest.mark.asyncio
async def test_launch_after_the_plan_changed_is_refused(tmp_path: Path) -> None:
    async with Client(build_server(tmp_path / "state")) as client:
        pid = await ready_plan(client, tmp_path / "runs")
        first = await review(client, pid)
        second = await review(client, pid, settings={**SETTINGS, "automl_max_recommendations": 5})
        assert first["review_id"] != second["review_id"]
        error = await refused(client, "launch_automl", "plan_unchanged", review_id=first["review_id"], confirmed=True)
        assert error["details"]["current_review"] == second["review_id"]


@pytest.mark.asyncio
async def test_launch_after_the_model_skill_changed_on_disk_is_refused(tmp_path: Path) -> None:
    skill = tmp_path / "digits-copy"
    shutil.copytree(DIGITS, skill, ignore=shutil.ignore_patterns("__pycache__"))
    async with Client(build_server(tmp_path / "state")) as client:
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
async def test_launch_with_failed_preflight_is_refused(tmp_path: Path) -> None:
    async with Client(build_server(tmp_path / "state")) as client:
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
async def test_launch_without_baseline_is_refused_and_the_estimate_probes(tmp_path: Path) -> None:
    async with Client(build_server(tmp_path / "state")) as client:
        pid = await ready_plan(client, tmp_path / "runs", baseline=False, skill=QUADRATIC)
        rv = await ok(client, "estimate_budget", preflight_id=pid, algorithm="random", settings=SETTINGS)
        assert "probe job" in rv["estimate"]["timing"]["source"]  # no baseline timing: a short probe ran
        assert rv["estimate"]["timing"]["epochs_measured"] == 2 and rv["estimate"]["wall_s"] > 0
        assert not rv["launchable"]
        await refused(client, "launch_automl", "baseline", review_id=rv["review_id"], confirmed=True)


@pytest.mark.asyncio
async def test_launch_without_image_is_refused(tmp_path: Path) -> None:
    async with Client(build_server(tmp_path / "state")) as client:
        rv = await review(client, await ready_plan(client, tmp_path / "runs", image=False))
        await refused(client, "launch_automl", "image", review_id=rv["review_id"], confirmed=True)


@pytest.mark.asyncio
async def test_a_failed_baseline_is_a_blocker_until_knowingly_waived(tmp_path: Path) -> None:
    async with Client(build_server(tmp_path / "state")) as client:
        pid = (await preflight(client, tmp_path / "runs", skill=QUADRATIC, overrides={}))["preflight_id"]
        bad = {"train.optim.lr": -1.0}  # the job starts and fails: the model refuses the configuration
        error = await refused(client, "run_baseline_eval", "baseline", preflight_id=pid, spec_overrides=bad)
        assert error["details"]["failure_class"] == "invalid_configuration" and error["details"]["train_job_id"]
        assert "lr=-1.0 must be > 0" in error["reason"] and "accept_proxy" in error["fix"]
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
async def test_a_checkpoint_without_an_evaluate_action_is_a_blocker(tmp_path: Path) -> None:
    skill = tmp_path / "digits-train-only"
    shutil.copytree(DIGITS, skill, ignore=shutil.ignore_patterns("__pycache__"))
    info_path = skill / "references" / "skill_info.yaml"
    info = yaml.safe_load(info_path.read_text())
    del info["actions"]["evaluate"]
    info_path.write_text(yaml.safe_dump(info))
    async with Client(build_server(tmp_path / "state")) as client:
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
async def test_over_a_time_limit_the_review_lists_cuts(tmp_path: Path) -> None:
    async with Client(build_server(tmp_path / "state")) as client:
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
async def test_credentials_never_travel_through_tools(tmp_path: Path) -> None:
    secret = "nvapi-" + "Q" * 40
    async with Client(build_server(tmp_path / "state")) as client:
        for args in (
            {"model_skill": "digits-cnn", "platform_options": {"api_key": secret}},
            {"model_skill": "digits-cnn", "platform_options": {"env": {"HF_TOKEN": "x" * 12}}},
            {"model_skill": "digits-cnn", "datasets": {"train": f"s3://bucket/{secret}"}},
        ):
            result = await client.call_tool("preflight_check", args)
            assert result.is_error and result.structured_content["error"]["gate"] == "input"
            assert secret not in json.dumps(result.structured_content) and secret not in result.content[0].text
        pid = await ready_plan(client, tmp_path / "runs")
        await refused(client, "estimate_budget", "input", preflight_id=pid, settings={"llm_api_key": secret})


@pytest.mark.asyncio
async def test_unknown_ids_are_refused_by_their_gate(tmp_path: Path) -> None:
    async with Client(build_server(tmp_path / "state")) as client:
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


def test_fuzzed_inputs_always_get_a_structured_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the arguments, a tool answers with its output model or a structured error, and lives on."""
    monkeypatch.chdir(tmp_path)
    server = build_server(tmp_path / "state")
    outputs: dict[str, dict[str, Any]] = {}

    async def failed_plan() -> str:
        """A real plan whose preflight failed: calls get past the id check, and still no job may start."""
        async with Client(server) as client:
            pf = await preflight(client, tmp_path / "runs", datasets={"train": str(tmp_path / "missing")})
            assert not pf["passed"]
            return pf["preflight_id"]

    plan_id = asyncio.run(failed_plan())

    async def one(tool: str, args: dict[str, Any]) -> None:
        async with Client(server) as client:
            if not outputs:
                outputs.update({t.name: t.output_schema for t in (await client.list_tools()).tools})
            result = await client.call_tool(
                tool,
                {**args, "results_root": str(tmp_path / "runs")}
                if tool == "preflight_check" and "results_root" not in args
                else args,
            )
            if result.is_error:
                error = result.structured_content["error"]
                assert error["gate"] and error["reason"] and error["fix"], error
                assert error["gate"] != "internal", error
            else:
                assert result.structured_content is not None  # validated against the output schema by the client
            assert (await client.list_tools()).tools  # the server still answers

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_calls([plan_id]))
    def check(call: tuple[str, dict[str, Any]]) -> None:
        asyncio.run(one(*call))

    check()
    runs = tmp_path / "runs"
    assert not [*runs.glob("run-*"), *runs.glob("baselines/*"), *runs.glob("probes/*")], "no job may start"
