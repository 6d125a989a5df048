"""The LLM-guided algorithms through the real runner, against the scripted OpenAI-compatible server.

Each test drives a real run of the quadratic test network (real jobs on the local platform) while
the server answers from a script: good JSON, malformed JSON, out-of-range values, unknown keys,
timeouts and HTTP 500s. The assertions read what a user reads: the result dict, the brain log and
what the prompts carried.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import RunRunner, make_runner
from services.llm_server import ScriptedLLM, cooperative, slow, status, text

from tao_automl.errors import ConfigurationError, NoSuccessfulRecommendationError
from tao_automl.llm import read_records
from tao_automl.report import build_report, markdown
from tao_automl.report.html import render_html
from tao_automl.results import query_status

GOOD = {"train.x": 0.3, "train.y": -0.2, "train.optim.lr": 0.01, "dataset.batch_size": 16}
FAST = {"automl_final_eval": False, "llm_retries": 2}


def endpoint(server: ScriptedLLM, **extra: Any) -> dict[str, Any]:
    return {"llm_endpoint": server.url, "llm_model": "scripted", **FAST, **extra}


def brain(result: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in read_records(Path(result["workspace"])) if r["kind"] == kind]


def test_llm_validates_clamps_retries_and_logs_every_call(llm_server: ScriptedLLM, run_runner: RunRunner) -> None:
    llm_server.default = cooperative
    llm_server.script = [
        text("I think a learning rate of 0.01 is good."),  # malformed: no JSON
        {"params": {**GOOD, "train.z": 1.0}, "rationale": "unknown key"},  # rejected: unknown parameter
        {"params": {**GOOD, "train.x": 5.0}, "rationale": "push x far"},  # accepted, x clamped to 1.0
        status(500),
        {"params": {**GOOD, "dataset.batch_size": "sixteen"}, "rationale": "bad option"},
    ]
    settings = endpoint(
        llm_server, llm_price_per_1m_input_tokens=2.0, llm_price_per_1m_output_tokens=8.0, automl_max_concurrent=1
    )
    result = run_runner(settings, algorithm="llm")

    calls = brain(result, "call")
    assert [c["data"]["outcome"] for c in calls[:5]] == ["malformed", "invalid", "ok", "http_error", "invalid"]
    assert "train.z" in calls[1]["data"]["error"]
    assert calls[2]["data"]["clamped"] == [{"param": "train.x", "proposed": 5.0, "clamped_to": 1.0, "bound": "high"}]
    assert calls[2]["data"]["attempt"] == 3 and calls[2]["data"]["rationale"] == "push x far"
    # a rejected answer is sent back with the reason
    retry_messages = llm_server.requests[1]["messages"]
    assert retry_messages[-1]["role"] == "user" and "not JSON" in retry_messages[-1]["content"]
    assert llm_server.requests[0]["response_format"] == {"type": "json_object"}

    first = result["history"][0]
    assert first["params"]["train.x"] == 1.0 and first["note"] == "push x far"
    proposals = brain(result, "proposal")
    assert [p["rec_id"] for p in proposals] == [1, 2, 3]
    assert all(p["data"]["source"] == "llm" and p["job_id"] for p in proposals)
    assert proposals[0]["job_id"] == first["job_id"]

    health = result["llm_health"]
    assert health["calls"] == len(llm_server.requests) == len(calls)
    assert health["failed"] == 4 and health["succeeded"] == health["calls"] - 4
    assert health["fallbacks"] == 0 and health["llm_proposals"] == 3 and health["status"] == "ok"
    tokens = health["tokens"]
    assert tokens["prompt"] > 0 and tokens["completion"] > 0
    assert health["cost"] == pytest.approx(round(tokens["prompt"] * 2e-6 + tokens["completion"] * 8e-6, 6))
    assert result["progress"]["state"] == "complete"
    assert query_status(result["workspace"])["llm_health"] == health


def test_later_proposals_see_earlier_metrics(llm_server: ScriptedLLM, run_runner: RunRunner) -> None:
    llm_server.default = cooperative
    result = run_runner(endpoint(llm_server, automl_max_concurrent=1, automl_max_recommendations=3), algorithm="llm")
    prompts = llm_server.user_prompts()
    finished = [h for h in result["history"] if h["metric"] is not None]
    assert len(finished) == 3
    for k, prompt in enumerate(prompts):
        # the baseline and every recommendation finished before call k are listed with their metric
        earlier = [h for h in finished if h["rec_id"] <= k]
        for h in earlier:
            assert re.search(rf"#{h['rec_id']} .* -> loss={h['metric']:.6g}", prompt), (k, prompt)
        assert f"loss={result['baseline']['metric_value']:.6g}" in prompt
        assert "Best so far:" in prompt and "(minimize)" in prompt
    assert result["llm_health"]["used_history"] == 3


def test_fallbacks_are_counted_and_dominating_fallbacks_block_the_run(
    llm_server: ScriptedLLM, run_runner: RunRunner
) -> None:
    llm_server.default = cooperative
    llm_server.script = [slow(3.0, {"params": GOOD}), status(500), status(503), status(500)]
    settings = endpoint(
        llm_server, llm_timeout=0.5, llm_retries=1, llm_allow_fallback=True, automl_max_concurrent=1,
        automl_max_recommendations=3,
    )  # fmt: skip
    result = run_runner(settings, algorithm="llm")

    outcomes = [c["data"]["outcome"] for c in brain(result, "call")]
    assert outcomes[:4] == ["timeout", "http_error", "http_error", "http_error"]
    sources = [p["data"]["source"] for p in brain(result, "proposal")]
    assert sources == ["fallback", "fallback", "llm"]
    assert result["history"][0]["note"].startswith("FALLBACK")
    health = result["llm_health"]
    assert (health["fallbacks"], health["llm_proposals"], health["status"]) == (2, 1, "llm_blocked")
    assert any("fallbacks dominate" in r for r in health["reasons"])
    assert result["progress"]["state"] == "llm_blocked"
    assert query_status(result["workspace"])["state"] == "llm_blocked"
    _, report = build_report(result["workspace"])  # the report says so too, in words a reader can't miss
    assert report.llm_health == health
    assert "**LLM-BLOCKED**: fallbacks dominate" in markdown(report)
    assert "LLM-blocked:</strong> fallbacks dominate" in render_html(report, [])


def test_without_fallback_a_dead_endpoint_launches_nothing_and_blocks(
    llm_server: ScriptedLLM, run_runner: RunRunner, tmp_path: Path
) -> None:
    llm_server.default = lambda body, i: status(500)
    with pytest.raises(NoSuccessfulRecommendationError):
        run_runner(endpoint(llm_server, llm_retries=1, automl_baseline=False), algorithm="llm")
    status_ = query_status(tmp_path / "ws")
    assert status_["state"] == "llm_blocked"
    assert status_["progress"]["completed"] == 0 and not status_["running_jobs"]
    assert "llm_allow_fallback is false" in status_["progress"]["stop_reason"]
    health = status_["llm_health"]
    assert (health["calls"], health["succeeded"], health["proposals"]) == (2, 0, 0)


def test_repeating_tried_configurations_counts_as_ignoring_the_history(
    llm_server: ScriptedLLM, run_runner: RunRunner
) -> None:
    llm_server.default = lambda body, i: {"params": GOOD, "rationale": "always the same"}
    settings = endpoint(llm_server, llm_allow_fallback=True, automl_max_concurrent=1, automl_max_recommendations=3)
    result = run_runner(settings, algorithm="llm")
    calls = brain(result, "call")
    repeats = [c for c in calls if c["data"]["repeat_of"] is not None]
    assert repeats and all("already tried as #1" in c["data"]["error"] for c in repeats)
    health = result["llm_health"]
    assert health["history_ignored"] == len(repeats) and health["fallbacks"] == 2
    assert health["status"] == "llm_blocked"
    assert any("ignored the history" in r for r in health["reasons"])


def test_hybrid_llm_chooses_among_sampler_candidates(llm_server: ScriptedLLM, run_runner: RunRunner) -> None:
    llm_server.default = cooperative
    llm_server.script = [{"choice": 7, "rationale": "out of range"}]
    settings = endpoint(llm_server, llm_hybrid_candidates=3, automl_max_recommendations=4, automl_sampler="tpe")
    result = run_runner(settings, algorithm="hybrid")
    calls = brain(result, "call")
    assert calls[0]["data"]["outcome"] == "invalid" and "0..2" in calls[0]["data"]["error"]
    assert "candidate configurations" in llm_server.user_prompts()[0]
    for proposal, entry in zip(brain(result, "proposal"), result["history"], strict=True):
        data = proposal["data"]
        assert data["source"] == "llm" and len(data["extra"]["candidates"]) == 3
        assert data["params"] == data["extra"]["candidates"][data["extra"]["choice"]] == entry["params"]
    assert result["llm_health"]["status"] == "ok"


def test_autoresearch_keeps_improvements_and_records_each_experiment(
    llm_server: ScriptedLLM, run_runner: RunRunner
) -> None:
    llm_server.default = cooperative
    llm_server.script = [
        {"modifications": {"train.x": 0.0}, "hypothesis": "the current best again"},  # rejected: a repeat
        {"modifications": {"train.x": 0.3}, "hypothesis": "x near 0.3 lowers the loss"},
    ]
    settings = endpoint(llm_server, automl_max_experiments=4, automl_max_concurrent=1, automl_max_recommendations=9)
    result = run_runner(settings, algorithm="autoresearch")
    experiments = result["experiments"]
    assert len(experiments) == len(result["history"]) == 4  # stopped at automl_max_experiments
    keys = {"experiment_id", "spec", "modifications", "hypothesis", "metric", "status", "decision", "reasoning",
            "job_id", "timestamp"}  # fmt: skip
    assert all(set(e) == keys for e in experiments)
    first = experiments[0]
    assert first["modifications"] == {"train.x": {"from": 0.0, "to": 0.3}}
    assert first["hypothesis"] == "x near 0.3 lowers the loss"
    best = result["baseline"]["metric_value"]
    by_id = {h["rec_id"]: h for h in result["history"]}
    for e in experiments:
        entry = by_id[e["experiment_id"]]
        assert e["job_id"] == entry["job_id"] and e["metric"] == entry["metric"] and e["spec"] == entry["params"]
        assert len(e["modifications"]) >= 1
        improved = e["metric"] is not None and e["metric"] < best
        assert e["decision"] == ("keep" if improved else "discard"), e
        best = e["metric"] if improved else best
    assert first["decision"] == "keep"  # 0.3 is the optimum of x
    repeat = brain(result, "call")[0]["data"]
    assert repeat["outcome"] == "invalid" and repeat["repeat_of"] == "baseline"
    assert result["llm_health"]["history_ignored"] == 1 and result["llm_health"]["status"] == "ok"
    _, report = build_report(result["workspace"])
    assert [e["experiment_id"] for e in report.experiments] == [e["experiment_id"] for e in experiments]
    assert "x near 0.3 lowers the loss" in render_html(report, []) and "LLM-blocked" not in markdown(report)


def test_missing_endpoint_is_refused_before_any_workspace(
    run_runner: RunRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AUTOML_LLM_ENDPOINT", "AUTOML_LLM_MODEL", "AUTOML_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for algorithm in ("llm", "hybrid", "autoresearch"):
        with pytest.raises(ConfigurationError) as err:
            run_runner({}, algorithm=algorithm)
        assert err.value.field == "automl_settings.llm_endpoint" and "AUTOML_LLM_ENDPOINT" in str(err.value)
    with pytest.raises(ConfigurationError) as err:
        run_runner({"llm_endpoint": "http://127.0.0.1:9/v1"}, algorithm="llm")
    assert err.value.field == "automl_settings.llm_model"
    assert not (tmp_path / "ws").exists() or not list((tmp_path / "ws").glob("run_*"))


def test_endpoint_from_environment_and_the_key_is_never_stored(
    llm_server: ScriptedLLM, run_runner: RunRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = "sk-PLANTEDllmkey0123456789abcdefghij"
    monkeypatch.setenv("AUTOML_LLM_ENDPOINT", llm_server.url)
    monkeypatch.setenv("AUTOML_LLM_MODEL", "env-model")
    monkeypatch.setenv("AUTOML_LLM_API_KEY", key)
    llm_server.default = cooperative
    result = run_runner({**FAST, "automl_max_recommendations": 2}, algorithm="llm")
    assert {h["authorization"] for h in llm_server.headers} == {f"Bearer {key}"}
    assert {r["model"] for r in llm_server.requests} == {"env-model"}
    leaks = [p for p in tmp_path.rglob("*") if p.is_file() and key.encode() in p.read_bytes()]
    assert leaks == []
    assert result["llm_health"]["status"] == "ok"
    assert key not in json.dumps(result) and key not in os.environ.get("AUTOML_LLM_ENDPOINT", "")


def test_resume_rebuilds_from_the_store_without_calling_the_llm(
    llm_server: ScriptedLLM, quadratic_skill: Path, tmp_path: Path
) -> None:
    llm_server.default = cooperative
    settings = endpoint(llm_server, automl_max_experiments=2, automl_max_concurrent=1, automl_baseline=False)
    first = make_runner(quadratic_skill, tmp_path).run(automl_algorithm="autoresearch", automl_settings=settings)
    asked, log = len(llm_server.requests), read_records(Path(first["workspace"]))
    again = make_runner(quadratic_skill, tmp_path).run(workspace_path=first["workspace"], resume=True)
    assert len(llm_server.requests) == asked  # nothing asked: the stored history was replayed
    assert read_records(Path(first["workspace"])) == log  # and nothing journaled twice
    assert again["experiments"] == first["experiments"] and len(again["experiments"]) == 2
