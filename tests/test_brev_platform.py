"""The brev platform beyond the shared contract: CLI command lines, instance loss, resume, secrets.

Everything runs through ``tests/fixtures/bin/brev`` (the CLI stand-in, see tests/services/brev_cli.py),
which runs jobs as real processes; the contract tests (tests/test_platform_conformance.py) cover
submit/status/logs/cancel the same way as for every other platform.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FAST_RUNNER_SETTINGS, wait_for
from services.brev_cli import FAKE_BREV_TOKEN, INSTANCE, STANDIN_BIN, BrevStandIn

from tao_automl.errors import PlatformError
from tao_automl.platforms import FailureCategory, JobRequest, JobState, JobStatus, PythonScript, get_platform
from tao_automl.platforms.brev import BrevPlatform


def make_job(tmp_path: Path, name: str, argv: list[str] | None = None, **fields: object) -> JobRequest:
    values: dict[str, object] = {
        "name": name,
        "action": "train",
        "command": argv if argv is not None else [sys.executable, "-c", "print('ok')"],
        "workdir": tmp_path / "jobs" / name,
        "results_dir": tmp_path / "jobs" / name / "results",
        "log_path": tmp_path / "jobs" / name / "train.log",
    }
    values.update(fields)
    return JobRequest(**values)  # type: ignore[arg-type]


def wait_terminal(plat: BrevPlatform, job_id: str) -> JobStatus:
    return wait_for(lambda: (s := plat.status(job_id)).state.terminal and s)  # type: ignore[return-value]


@pytest.fixture
def brev(brev_standin: BrevStandIn) -> BrevPlatform:
    return BrevPlatform(instance=INSTANCE, cancel_grace_seconds=1.0)


# ---- options and credentials ----------------------------------------------------------------------


def test_options_are_validated_by_name(brev_standin: BrevStandIn) -> None:
    with pytest.raises(PlatformError) as info:
        get_platform("brev")
    assert info.value.field == "instance"
    with pytest.raises(PlatformError) as info:
        get_platform("brev", instance=INSTANCE, brev_bin="no-such-brev-cli")
    assert info.value.field == "brev_bin"
    with pytest.raises(PlatformError, match="does not accept option"):
        get_platform("brev", instance=INSTANCE, zone="us-east")
    with pytest.raises(PlatformError) as info:
        get_platform("brev", instance=INSTANCE, cancel_grace_seconds=0)
    assert info.value.field == "cancel_grace_seconds"
    plat = get_platform("brev", instance=INSTANCE, python="python3.11")
    assert isinstance(plat, BrevPlatform) and plat.brev_bin == str(STANDIN_BIN / "brev")


def test_submit_needs_the_token_by_presence_only(
    brev_standin: BrevStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BREV_API_TOKEN")
    with pytest.raises(PlatformError) as info:
        BrevPlatform(instance=INSTANCE).submit(make_job(tmp_path, "no-token"))
    assert info.value.field == "BREV_API_TOKEN"
    assert brev_standin.calls() == []  # refused before any CLI call
    plat = BrevPlatform(instance=INSTANCE, require_token=False)  # a `brev login` session instead
    assert wait_terminal(plat, plat.submit(make_job(tmp_path, "login-session"))).state is JobState.COMPLETE


def test_unknown_instance_names_the_option_and_lists_instances(brev_standin: BrevStandIn, tmp_path: Path) -> None:
    brev_standin.add_instance("tao-gpu-2", status="STOPPED")
    with pytest.raises(PlatformError) as info:
        BrevPlatform(instance="tao-gpu-9").submit(make_job(tmp_path, "x"))
    assert info.value.field == "instance"
    assert "tao-gpu-1" in (info.value.hint or "") and "tao-gpu-2" in (info.value.hint or "")


def test_empty_org_lists_no_instances(brev_standin: BrevStandIn, brev: BrevPlatform) -> None:
    brev_standin.write_instances([])
    assert subprocess.run(["brev", "ls", "--json"], capture_output=True, text=True).stdout.strip() == "null"
    assert brev.instances() == []


# ---- command construction ----------------------------------------------------------------------------


def test_submit_ships_the_spec_and_launches_through_exec(
    brev_standin: BrevStandIn, brev: BrevPlatform, tmp_path: Path
) -> None:
    job = make_job(tmp_path, "with-spec", [sys.executable, "-c", "import sys; print(open(sys.argv[1]).read())"])
    job.workdir.mkdir(parents=True)
    spec = job.workdir / "spec.yaml"
    spec.write_text("train:\n  num_epochs: 3\n")
    job = job.model_copy(update={"spec_path": spec, "command": [*job.command, str(spec)]})
    job_id = brev.submit(job)
    assert job_id == "with-spec"
    assert wait_terminal(brev, job_id).state is JobState.COMPLETE
    assert "num_epochs: 3" in brev.logs(job_id)
    calls = brev_standin.calls()
    verbs = [c[0] for c in calls]
    assert verbs[:4] == ["ls", "exec", "copy", "exec"]
    assert calls[0] == ["ls", "--json"]
    assert calls[1][1] == INSTANCE and len(calls[1]) == 3  # brev exec <instance> "<command>"
    assert calls[2] == ["copy", str(spec), f"{INSTANCE}:{spec}"]
    assert f"copy {INSTANCE}:{job.results_dir} {job.results_dir.parent}" in [" ".join(c) for c in calls]
    assert job.log_path.read_text() == brev.logs(job_id)  # mirrored into the workspace


def test_image_jobs_run_as_docker_run_on_the_instance(
    brev_standin: BrevStandIn, brev: BrevPlatform, tmp_path: Path
) -> None:
    fake_bin = tmp_path / "instance-bin"
    fake_bin.mkdir()
    docker = fake_bin / "docker"
    docker.write_text(
        '#!/bin/sh\nprintf \'%s\\n\' "$@" > "$HOME/docker-argv"\n'
        "echo \"docker: Unable to find image 'nvcr.io/nvidia/tao/tao-toolkit:7.1.0-pyt' locally\" >&2\nexit 125\n"
    )
    docker.chmod(0o755)
    brev_standin.add_instance(INSTANCE, env={"PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}"})
    job = make_job(
        tmp_path,
        "tao/train 1",
        ["classification_pyt", "train", "-e", "/ws/spec.yaml"],
        image="nvcr.io/nvidia/tao/tao-toolkit:7.1.0-pyt",
        gpus=2,
        env={"TAO_VERBOSE": "1"},
        env_passthrough=["NGC_API_KEY"],
    )
    job_id = brev.submit(job)
    status = wait_terminal(brev, job_id)
    assert (status.state, status.exit_code) == (JobState.ERROR, 125)
    argv = (brev_standin.instance_home() / "docker-argv").read_text().splitlines()
    workdir, results = str(job.workdir.absolute()), str(job.results_dir.absolute())
    assert argv[:5] == ["run", "--rm", "--init", "--name", "tao-automl-tao-train-1"]
    assert argv[5:7] == ["--gpus", "2"]
    assert f"{workdir}:{workdir}" in argv and f"{results}:{results}" in argv
    assert "--env=TAO_VERBOSE=1" in argv and "--env=NGC_API_KEY" in argv
    assert argv[-5:] == [
        "nvcr.io/nvidia/tao/tao-toolkit:7.1.0-pyt",
        "classification_pyt",
        "train",
        "-e",
        "/ws/spec.yaml",
    ]
    log = brev.logs(job_id)
    assert "NGC_API_KEY is not set on instance" in log
    assert brev.failure_analysis(job_id).category is FailureCategory.IMAGE


def test_credentials_stay_on_their_machine(brev_standin: BrevStandIn, brev: BrevPlatform, tmp_path: Path) -> None:
    brev_standin.add_instance(INSTANCE, env={"WANDB_API_KEY": "wandb-fake-key-on-the-instance-0001"})
    code = "import os; print('wandb', bool(os.environ.get('WANDB_API_KEY')), 'brev', 'BREV_API_TOKEN' in os.environ)"
    names = ["WANDB_API_KEY", "BREV_API_TOKEN"]
    job_id = brev.submit(make_job(tmp_path, "env", [sys.executable, "-c", code], env_passthrough=names))
    assert wait_terminal(brev, job_id).state is JobState.COMPLETE
    assert "wandb True brev False" in brev.logs(job_id)
    assert "BREV_API_TOKEN" not in brev.logs(job_id)  # the CLI's token is never a job's business
    for path in [*tmp_path.rglob("*")]:
        if path.is_file():
            assert FAKE_BREV_TOKEN not in path.read_text(errors="replace"), path


def test_python_script_job_with_a_missing_directory_is_data_visibility(
    brev_standin: BrevStandIn, brev: BrevPlatform, tmp_path: Path
) -> None:
    script = PythonScript(script="train.py", args=["-e", "spec.yaml"], cwd=str(tmp_path / "not-on-the-instance"))
    job_id = brev.submit(make_job(tmp_path, "missing-dir", None, command=None, python_script=script))
    status = wait_terminal(brev, job_id)
    assert (status.state, status.exit_code) == (JobState.ERROR, 2)
    analysis = brev.failure_analysis(job_id)
    assert analysis.category is FailureCategory.DATA_VISIBILITY
    assert "not-on-the-instance" in analysis.reason


def test_duplicate_names_and_multi_node_jobs_are_refused(brev: BrevPlatform, tmp_path: Path) -> None:
    job_id = brev.submit(make_job(tmp_path, "once"))
    wait_terminal(brev, job_id)
    with pytest.raises(PlatformError, match="already submitted"):
        brev.submit(make_job(tmp_path, "once"))
    with pytest.raises(PlatformError) as info:
        brev.submit(make_job(tmp_path, "two-nodes", num_nodes=2))
    assert info.value.field == "num_nodes"


# ---- instance loss and resume ----------------------------------------------------------------------------

SLEEPER = [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(60)"]


def test_stopping_the_instance_loses_the_job_as_infrastructure(
    brev_standin: BrevStandIn, brev: BrevPlatform, tmp_path: Path
) -> None:
    job_id = brev.submit(make_job(tmp_path, "lost", SLEEPER))
    wait_for(lambda: "started" in brev.logs(job_id))
    subprocess.run(["brev", "stop", INSTANCE], check=True, capture_output=True)
    status = wait_terminal(brev, job_id)  # exec restarts the instance; the job is gone
    assert status.state is JobState.ERROR and status.infra_failure
    analysis = brev.failure_analysis(job_id)
    assert analysis.category is FailureCategory.INFRASTRUCTURE and analysis.retryable


@pytest.mark.parametrize(
    ("change", "state"),
    [("deleted", JobState.ERROR), ("FAILURE", JobState.ERROR), ("STARTING", JobState.UNKNOWN)],
)
def test_instance_status_decides_when_exec_fails(
    brev_standin: BrevStandIn, brev: BrevPlatform, tmp_path: Path, change: str, state: JobState
) -> None:
    job_id = brev.submit(make_job(tmp_path, f"inst-{change}", SLEEPER))
    wait_for(lambda: "started" in brev.logs(job_id))
    if change == "deleted":
        brev_standin.remove_instance(INSTANCE)
    else:
        brev_standin.set_status(INSTANCE, change)
    status = brev.status(job_id)
    assert status.state is state
    assert status.infra_failure is (state is JobState.ERROR)
    brev_standin.add_instance(INSTANCE)  # back up, so the fixture's cleanup can cancel the sleeper
    brev.cancel(job_id)


def test_a_fresh_platform_reattaches_reads_and_cancels(
    brev_standin: BrevStandIn, brev: BrevPlatform, tmp_path: Path
) -> None:
    job = make_job(tmp_path, "resumed", SLEEPER)
    job_id = brev.submit(job)
    wait_for(lambda: "started" in brev.logs(job_id))
    job.log_path.unlink()
    fresh = BrevPlatform(instance=INSTANCE, cancel_grace_seconds=1.0)
    assert fresh.reattach(job_id) and fresh.find_job("resumed") == job_id
    assert fresh.find_job("never-submitted") is None
    assert fresh.status(job_id).state is JobState.RUNNING
    assert "started" in fresh.logs(job_id)
    assert "started" in job.log_path.read_text()  # the mirror is rebuilt from the instance
    fresh.cancel(job_id)
    assert brev.status(job_id).state is JobState.CANCELED


# ---- the runner on brev --------------------------------------------------------------------------------------


def test_runner_runs_recommendations_on_brev(brev_standin: BrevStandIn, quadratic_skill: Path, tmp_path: Path) -> None:
    from tao_automl.runner import AutoMLRunner

    runner = AutoMLRunner(
        skill_dir=quadratic_skill,
        platform_sdk="brev",
        workspace_dir=tmp_path / "ws",
        poll_interval=0.05,
        platform_options={"instance": INSTANCE, "python": sys.executable, "cancel_grace_seconds": 1.0},
    )
    result = runner.run(
        automl_algorithm="random", automl_settings={**FAST_RUNNER_SETTINGS, "automl_max_recommendations": 2}
    )
    assert result["progress"]["completed"] == 2
    assert all(h["status"] == "success" for h in result["history"]), result["history"]
    assert result["best"]["metric_value"] is not None
    execs = [c for c in brev_standin.calls() if c[0] == "exec"]
    assert execs and all(c[1] == INSTANCE for c in execs)
    logs = list((tmp_path / "ws").rglob("train.log"))
    assert logs and all(p.read_text() for p in logs)
    assert json.dumps(result).count(FAKE_BREV_TOKEN) == 0
