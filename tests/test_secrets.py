"""Planted fake secrets never reach any file the project writes: workspace, job state, logs, reports."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import wait_for

from tao_automl.platforms import JobRequest
from tao_automl.platforms.local import LocalPlatform
from tao_automl.report import write_report
from tao_automl.runner import AutoMLRunner

PLANTED = {
    "NGC_API_KEY": "nvapi-PLANTEDplanted0123456789abcdefXYZ",
    "WANDB_API_KEY": "planted0123456789abcdef0123456789abcdef01",
    "HF_TOKEN": "hf_PLANTEDplanted0123456789abcdefghij",
    "AWS_SECRET_ACCESS_KEY": "PLANTED/secret+0123456789abcdefghijklmnop",
}
LLM_KEY = "sk-PLANTEDplanted0123456789abcdefghijklmn"


def _grep(root: Path, needles: list[str]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}: {n[:12]}..." for n in needles if n.encode() in data]
    return hits


def test_a_full_run_writes_no_planted_secret(
    quadratic_skill: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)
    runner = AutoMLRunner(
        skill_dir=quadratic_skill,
        platform_sdk="local",
        workspace_dir=tmp_path / "ws",
        poll_interval=0.05,
        platform_options={"state_root": tmp_path / "jobs", "env": {"TAO_LOG_LEVEL": "INFO"}},
    )
    result = runner.run(
        "random",
        {"automl_max_recommendations": 2, "llm_api_key": LLM_KEY},
        spec_overrides={"dataset.num_samples": 64},
    )
    write_report(result["workspace"])
    assert result["progress"]["completed"] == 2
    assert _grep(tmp_path, [*PLANTED.values(), LLM_KEY]) == []


def test_job_output_is_redacted_before_it_reaches_the_log(tmp_path: Path) -> None:
    code = (
        f"print('connecting with api_key={PLANTED['NGC_API_KEY']}')\n"
        f"print('token: {PLANTED['HF_TOKEN']}')\n"
        "print('url https://bucket.s3.amazonaws.com/x?X-Amz-Signature=abcdef0123456789abcdef&X-Amz-Credential=AKIA1')\n"
        "print('epoch 1 val_accuracy=0.91')\n"
    )
    platform = LocalPlatform(state_root=tmp_path / "state")
    job = JobRequest(name="talkative", action="train", command=[sys.executable, "-c", code], workdir=tmp_path,
                     results_dir=tmp_path / "results", log_path=tmp_path / "talkative.log")  # fmt: skip
    job_id = platform.submit(job)
    wait_for(lambda: platform.status(job_id).state.terminal)
    log = (tmp_path / "talkative.log").read_text()
    assert "epoch 1 val_accuracy=0.91" in log  # metrics pass untouched
    assert _grep(tmp_path, [PLANTED["NGC_API_KEY"], PLANTED["HF_TOKEN"], "abcdef0123456789abcdef"]) == []
