"""LLM algorithms without the runner: resume without calls, parallel prompts, autoresearch's stop, validation.

The algorithms still talk to the scripted OpenAI-compatible server over real HTTP; only the runner
is left out, so each decision can be checked one call at a time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import QUADRATIC_SKILL_DIR, tiny_tao_schema
from services.llm_server import ScriptedLLM, cooperative, status

from tao_automl.algorithms import Feedback, RecStatus, make_algorithm
from tao_automl.algorithms.autoresearch import MAX_CONSECUTIVE_FAILURES
from tao_automl.llm.proposal import ProposalError, check_params
from tao_automl.settings import AutoMLSettings
from tao_automl.space import SearchSpace, build_search_space

LLM_ALGORITHMS = ("llm", "hybrid", "autoresearch")


@pytest.fixture
def space() -> SearchSpace:
    return build_search_space(tiny_tao_schema())


def make(name: str, space: SearchSpace, server: ScriptedLLM, **settings: Any) -> Any:
    merged = {"llm_endpoint": server.url, "llm_model": "scripted", "automl_sampler": "tpe", "automl_seed": 3,
              **settings}  # fmt: skip
    return make_algorithm(name, space, direction="minimize", settings=AutoMLSettings.parse(merged), metric="loss")


def loss(params: dict[str, Any]) -> float:
    return round((params["train.optim.lr"] - 0.002) ** 2 * 1e5 + params["model.depth"] / 10, 6)


@pytest.mark.parametrize("name", LLM_ALGORITHMS)
def test_restore_rebuilds_the_history_without_calling_the_llm(
    name: str, space: SearchSpace, llm_server: ScriptedLLM
) -> None:
    llm_server.default = cooperative
    algo = make(name, space, llm_server)
    history = []
    for rec_id in (1, 2, 3):
        (proposal,) = algo.propose(1)
        algo.bind(rec_id, proposal)
        feedback = Feedback(rec_id, RecStatus.SUCCESS, loss(proposal.params))
        algo.report(feedback)
        history.append((rec_id, proposal, feedback))
    asked = len(llm_server.requests)

    fresh = make(name, space, llm_server)
    fresh.restore(history)
    assert len(llm_server.requests) == asked  # no call on resume
    assert fresh.drain_journal() == []  # the brain log already holds those records
    (proposal,) = fresh.propose(1)
    prompt = llm_server.user_prompts()[-1]
    for _, _, feedback in history:
        assert f"#{feedback.rec_id} " in prompt and f"loss={feedback.metric:.6g}" in prompt
    assert proposal.meta["history_in_prompt"] == 3


def test_parallel_proposals_list_the_ones_before_them_as_running(space: SearchSpace, llm_server: ScriptedLLM) -> None:
    llm_server.default = cooperative
    algo = make("llm", space, llm_server)
    batch = algo.propose(3)
    assert len(batch) == 3 and len({json.dumps(p.params, sort_keys=True) for p in batch}) == 3
    prompts = llm_server.user_prompts()
    assert len(prompts) == 3 and "Running now" not in prompts[0]
    for k in (1, 2):
        running = prompts[k].split("Running now")[1]
        assert running.count("\n- {") == k


def test_autoresearch_stops_after_five_failed_experiments_in_a_row(space: SearchSpace, llm_server: ScriptedLLM) -> None:
    llm_server.default = cooperative
    algo = make("autoresearch", space, llm_server, automl_max_experiments=50)
    for rec_id in range(1, MAX_CONSECUTIVE_FAILURES + 1):
        assert not algo.done()
        (proposal,) = algo.propose(1)
        algo.bind(rec_id, proposal)
        algo.report(Feedback(rec_id, RecStatus.FAILURE, failure_class="out_of_memory"))
    assert algo.done() and algo.propose(1) == []
    experiments = [r["data"] for r in algo.drain_journal() if r["kind"] == "experiment"]
    assert [e["decision"] for e in experiments] == ["discard"] * MAX_CONSECUTIVE_FAILURES
    assert "5 failed in a row" in experiments[-1]["reasoning"]


def test_autoresearch_never_proposes_past_max_experiments(space: SearchSpace, llm_server: ScriptedLLM) -> None:
    llm_server.default = cooperative
    algo = make("autoresearch", space, llm_server, automl_max_experiments=2)
    assert algo.planned_recommendations() == 2
    batch = algo.propose(4)
    assert len(batch) == 2
    for rec_id, proposal in enumerate(batch, start=1):
        algo.bind(rec_id, proposal)
    assert algo.done() and algo.propose(1) == []


def test_answers_are_checked_against_the_space(space: SearchSpace) -> None:
    reference = {p.name: p.default for p in space}
    ok = check_params(space, {"train.optim.optimizer": "SGD", "model.depth": "5.4", "train.optim.lr": 3}, reference)
    assert ok.params["train.optim.optimizer"] == "sgd" and ok.params["model.depth"] == 5
    assert {c["param"]: c["bound"] for c in ok.clamped} == {"model.depth": "step", "train.optim.lr": "high"}
    assert ok.params["train.optim.lr"] == space["train.optim.lr"].high
    assert set(ok.filled) == set(space.names) - {"train.optim.optimizer", "model.depth", "train.optim.lr"}
    for bad, word in (
        ({"train.optim.lr_rate": 0.1}, "unknown parameter"),
        ({"model.use_bn": "maybe"}, "must be one of"),
        ({"train.optim.lr": True}, "must be a number"),
        ({"train.optim.lr": "fast"}, "must be a number"),
        ({"train.optim.lr": float("nan")}, "finite"),
    ):
        with pytest.raises(ProposalError, match=word):
            check_params(space, bad, reference)
    with pytest.raises(ProposalError, match="at least one"):
        check_params(space, {}, reference, partial=True)


def _cli(tmp_path: Path, server: ScriptedLLM, algorithm: str, *settings: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "tao_automl.cli", "run", "--skill", str(QUADRATIC_SKILL_DIR), "--algorithm",
            algorithm, "--workspace", str(tmp_path / algorithm), "--poll-interval", "0.05", "--json", "--quiet",
            "--setting", f"llm_endpoint={server.url}", "--setting", "llm_model=scripted",
            "--setting", "automl_final_eval=false", "--setting", "automl_baseline=false", "--setting",
            "automl_sampler=tpe", *settings]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)


def test_cli_runs_every_llm_algorithm_and_fails_a_blocked_run(tmp_path: Path, llm_server: ScriptedLLM) -> None:
    llm_server.default = cooperative
    for algorithm in LLM_ALGORITHMS:
        done = _cli(tmp_path, llm_server, algorithm, "--max-recommendations", "2", "--max-concurrent", "2",
                    "--setting", "automl_max_experiments=2")  # fmt: skip
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout[done.stdout.index("{\n") :])
        assert result["progress"]["algorithm"] == algorithm and result["llm_health"]["status"] == "ok"
        assert result["llm_health"]["llm_proposals"] == 2
    llm_server.default = lambda body, i: status(500)
    blocked = _cli(tmp_path, llm_server, "llm", "--max-recommendations", "1", "--setting", "llm_retries=0",
                   "--setting", "llm_allow_fallback=true")  # fmt: skip
    assert blocked.returncode == 3 and "llm_blocked" in blocked.stderr


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("json_object", "json_object"), ("json_schema", "json_schema"), ("json_object_schema", "json_object"),
     ("off", None)],
)  # fmt: skip
def test_json_mode_is_asked_for_as_configured(
    mode: str, expected: str | None, space: SearchSpace, llm_server: ScriptedLLM
) -> None:
    llm_server.default = cooperative
    make("llm", space, llm_server, llm_json_mode=mode).propose(1)
    (request,) = llm_server.requests
    fmt = request.get("response_format")
    assert (fmt or {}).get("type") == expected
    schema = (fmt or {}).get("schema") or (fmt or {}).get("json_schema", {}).get("schema")
    if mode in ("json_schema", "json_object_schema"):
        assert set(schema["properties"]["params"]["properties"]) == set(space.names)
        assert schema["properties"]["params"]["additionalProperties"] is False
