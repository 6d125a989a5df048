"""The gated flow from the command line (``tao-automl preflight ... summarize``), and the same refusals as MCP.

The whole flow runs for real on the demo network through the ``tao-automl`` console script, one
process per step, as a person at a terminal would: preflight, image, a knowingly waived baseline, the
review, a refused launch without ``--confirm``, the confirmed launch, following it to the end, and
the summary. Then each gate is tried without its step, through the command line and through the
MCP server (the official Python client) on one state directory: both refuse with the same gate and
the same words.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from services.mcp_clients import connect

CLI = Path(sys.executable).parent / "tao-automl"
BUDGET = {"train.num_epochs": 1, "dataset.train_fraction": 0.3}
SETTINGS = {"automl_max_recommendations": 2, "automl_max_concurrent": 2, "automl_seed": 3}


def cli(state: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *argv, "--state-dir", str(state)], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def ok(state: Path, *argv: str, cwd: Path) -> dict[str, Any]:
    proc = cli(state, *argv, "--json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout)


def refused(state: Path, *argv: str, cwd: Path) -> tuple[str, str]:
    """(gate, the sentence on stderr) of a step the command line must refuse."""
    proc = cli(state, *argv, "--json", cwd=cwd)
    assert proc.returncode == 3, (proc.returncode, proc.stdout, proc.stderr)
    return json.loads(proc.stdout)["error"]["gate"], proc.stderr.strip()


def test_the_gated_flow_runs_end_to_end_from_the_command_line(tmp_path: Path) -> None:
    state, runs = tmp_path / "state", tmp_path / "runs"
    overrides = json.dumps(BUDGET)
    pf = ok(state, "preflight", "--skill", "digits-cnn", "--results-root", str(runs), "--spec-overrides", overrides,
            cwd=tmp_path)  # fmt: skip
    assert pf["passed"], pf["failed"]
    pid = pf["preflight_id"]
    image = ok(state, "image", "--preflight", pid, cwd=tmp_path)
    assert image["recorded_for"] == pid and image["confirmation_required"]
    # Knowingly waived here (the MCP flow tests measure it): the gate needs the flag and a reason.
    gate, _ = refused(state, "baseline", "--preflight", pid, "--declare-unavailable", cwd=tmp_path)
    assert gate == "input"
    base = ok(state, "baseline", "--preflight", pid, "--declare-unavailable", "--reason", "cli flow test: waived",
              cwd=tmp_path)  # fmt: skip
    assert base["status"] == "declared_unavailable" and base["gate_satisfied"]
    text = cli(state, "estimate", "--preflight", pid, "--algorithm", "random", "--settings", json.dumps(SETTINGS),
               "--per-epoch-seconds", "0.5", "--startup-seconds", "3", "--no-probe", cwd=tmp_path)  # fmt: skip
    assert text.returncode == 0 and "## First batch" in text.stdout, text.stderr
    lines = text.stdout.splitlines()
    fields = dict(line.split(": ", 1) for line in lines if line.startswith(("review_id: ", "launchable: ")))
    assert fields["launchable"] == "True"
    review = {"review_id": fields["review_id"]}
    gate, sentence = refused(state, "launch", "--review", review["review_id"], cwd=tmp_path)
    assert gate == "confirmation" and sentence.startswith("refused by gate 'confirmation': ")
    assert not list(runs.glob("run-*")), "nothing may start without --confirm"
    launch = ok(state, "launch", "--review", review["review_id"], "--confirm", cwd=tmp_path)
    deadline = time.monotonic() + 240
    while True:
        status = ok(state, "follow", "--run-id", launch["run_id"], cwd=tmp_path)
        if status["state"] not in ("starting", "running"):
            break
        assert time.monotonic() < deadline, status
        time.sleep(2.0)
    assert status["state"] == "complete" and status["progress"]["completed"] == 2, status
    summary = ok(state, "summarize", "--run-id", launch["run_id"], cwd=tmp_path)
    assert summary["baseline"]["status"] != "measured" and Path(summary["best_checkpoint"]).is_file()
    assert summary["final_evaluation"]["status"] == "measured"


@pytest.mark.asyncio
async def test_the_command_line_and_mcp_refuse_the_same_things_with_the_same_words(tmp_path: Path) -> None:
    state, runs = tmp_path / "state", tmp_path / "runs"
    pf = ok(state, "preflight", "--skill", "digits-cnn", "--results-root", str(runs), "--spec-overrides",
            json.dumps(BUDGET), cwd=tmp_path)  # fmt: skip
    pid = pf["preflight_id"]
    review = ok(state, "estimate", "--preflight", pid, "--algorithm", "random", "--settings", json.dumps(SETTINGS),
                "--per-epoch-seconds", "0.2", "--startup-seconds", "1", "--no-probe", cwd=tmp_path)  # fmt: skip
    cases: list[tuple[list[str], str, dict[str, Any], str]] = [
        (["launch", "--review", review["review_id"]], "launch_automl", {"review_id": review["review_id"]},
         "confirmation"),
        (["launch", "--review", review["review_id"], "--confirm"], "launch_automl",
         {"review_id": review["review_id"], "confirmed": True}, "image"),
        (["launch", "--review", "rv-0123456789abcdef", "--confirm"], "launch_automl",
         {"review_id": "rv-0123456789abcdef", "confirmed": True}, "review"),
        (["baseline", "--preflight", "pf-000000000000"], "run_baseline_eval", {"preflight_id": "pf-000000000000"},
         "preflight"),
        (["follow", "--run-id", "run-20260101T000000-abcdef"], "job_status",
         {"run_id": "run-20260101T000000-abcdef"}, "run"),
        (["preflight", "--skill", "digits-cnn", "--gpu-count", "-1"], "preflight_check",
         {"model_skill": "digits-cnn", "gpu_count": -1}, "input"),
        (["baseline", "--preflight", pid, "--accept-proxy"], "run_baseline_eval",
         {"preflight_id": pid, "accept_proxy": True}, "input"),
    ]  # fmt: skip
    async with connect("py-memory", state, tmp_path) as client:
        for argv, tool, arguments, gate in cases:
            cli_gate, sentence = refused(state, *argv, cwd=tmp_path)
            error = (await client.call(tool, arguments)).refusal()
            assert cli_gate == error["gate"] == gate, (argv, cli_gate, error)
            mcp_sentence = (await client.call(tool, arguments)).texts[0]
            assert sentence == mcp_sentence, (argv, sentence, mcp_sentence)
