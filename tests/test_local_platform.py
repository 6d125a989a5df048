"""LocalPlatform beyond the shared contract: state on disk, survival across processes, env hygiene.

Also the platform registry (discovery, names, ``as_platform``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import wait_for

import tao_automl.platforms as platforms
from tao_automl.errors import PlatformError
from tao_automl.platforms import (
    FailureCategory,
    JobRequest,
    JobState,
    PythonScript,
    as_platform,
    available_platforms,
    get_platform,
)
from tao_automl.platforms.local import LocalPlatform
from tao_automl.platforms.sdk_adapter import SdkPlatform

REPO_ROOT = Path(platforms.__file__).resolve().parents[2]
DEADLINE = 15.0


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def make_job(tmp_path: Path, name: str, argv: list[str] | None = None, **fields: object) -> JobRequest:
    return JobRequest(
        name=name,
        action="train",
        command=argv,
        workdir=tmp_path / "work",
        results_dir=tmp_path / "results" / name,
        log_path=tmp_path / "logs" / f"{name}.log",
        **fields,
    )


def state_dir(tmp_path: Path, name: str) -> Path:
    return tmp_path / "logs" / f".job-{name}"


@pytest.fixture
def local(tmp_path: Path) -> LocalPlatform:
    return LocalPlatform(state_root=tmp_path / "state", cancel_grace_seconds=2.0)


def test_second_instance_sees_and_cancels_a_job(local: LocalPlatform, tmp_path: Path) -> None:
    job_id = local.submit(make_job(tmp_path, "long", ["sleep", "30"]))
    other = LocalPlatform(state_root=tmp_path / "state", cancel_grace_seconds=2.0)
    assert other.find_job("long") == job_id
    assert other.reattach(job_id)
    assert other.status(job_id).state is JobState.RUNNING
    pid = int((state_dir(tmp_path, "long") / "pid").read_text().split()[0])
    other.cancel(job_id)
    assert other.status(job_id).state is JobState.CANCELED
    assert local.status(job_id).state is JobState.CANCELED
    assert not alive(pid)


SUBMIT_THEN_DIE = """
import os, signal, sys
from pathlib import Path
from tao_automl.platforms import JobRequest
from tao_automl.platforms.local import LocalPlatform

tmp = Path(sys.argv[1])
plat = LocalPlatform(state_root=tmp / "state")
for name, code in (("survivor", 0), ("survivor-fails", 4)):
    argv = [sys.executable, "-c", f"import time; time.sleep(0.4); print('survived'); raise SystemExit({code})"]
    job = JobRequest(name=name, action="train", command=argv, workdir=tmp / "work",
                     results_dir=tmp / "results", log_path=tmp / "logs" / f"{name}.log")
    print(plat.submit(job), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_job_survives_the_submitter_being_killed(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", SUBMIT_THEN_DIE, str(tmp_path)], env=env, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert proc.stdout.split() == ["survivor", "survivor-fails"]

    fresh = LocalPlatform(state_root=tmp_path / "state")
    assert fresh.status("survivor").state in (JobState.PENDING, JobState.RUNNING, JobState.COMPLETE)
    done = wait_for(lambda: (s := fresh.status("survivor")).state.terminal and s)
    assert (done.state, done.exit_code) == (JobState.COMPLETE, 0)
    assert "survived" in fresh.logs("survivor")
    failed = wait_for(lambda: (s := fresh.status("survivor-fails")).state.terminal and s)
    assert (failed.state, failed.exit_code) == (JobState.ERROR, 4)


TOOL = """
import json, os, sys
print(json.dumps({"python": sys.executable, "cwd": os.getcwd(), "args": sys.argv[1:]}))
"""


def test_python_script_uses_chosen_interpreter_and_cwd(tmp_path: Path) -> None:
    interpreter = tmp_path / "venv" / "bin" / "python"
    interpreter.parent.mkdir(parents=True)
    interpreter.symlink_to(sys.executable)
    project = tmp_path / "project"
    project.mkdir()
    (project / "tool.py").write_text(TOOL)
    plat = LocalPlatform(python=str(interpreter), state_root=tmp_path / "state")
    script = PythonScript(script="tool.py", args=["--flag", "a b"], cwd=str(project))
    job_id = plat.submit(make_job(tmp_path, "script", python_script=script))
    assert wait_for(lambda: plat.status(job_id).state.terminal)
    assert plat.status(job_id).state is JobState.COMPLETE, plat.logs(job_id)
    seen = json.loads(plat.logs(job_id).splitlines()[-1])
    assert seen == {"python": str(interpreter), "cwd": str(project.resolve()), "args": ["--flag", "a b"]}


def test_missing_interpreter_and_script_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PlatformError) as info:
        LocalPlatform(python=str(tmp_path / "no-python"))
    assert info.value.field == "python"
    plat = LocalPlatform(state_root=tmp_path / "state")
    with pytest.raises(PlatformError) as info:
        plat.submit(make_job(tmp_path, "noscript", python_script=PythonScript(script="missing.py")))
    assert info.value.field == "python_script.script"


ENV_PROBE = """
import json, os
names = ["PLAIN", "TAO_TEST_TOKEN", "TAO_ABSENT", "TAO_NOT_PASSED", "PYTHONUNBUFFERED"]
print(json.dumps({n: os.environ.get(n) for n in names}))
"""


def test_env_passthrough_by_name_never_stores_values(
    local: LocalPlatform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cr3t-value-123"
    monkeypatch.setenv("TAO_TEST_TOKEN", secret)
    monkeypatch.setenv("TAO_NOT_PASSED", "other")
    job = make_job(
        tmp_path,
        "env",
        [sys.executable, "-c", ENV_PROBE],
        env={"PLAIN": "visible"},
        env_passthrough=["TAO_TEST_TOKEN", "TAO_ABSENT"],
    )
    job_id = local.submit(job)
    assert wait_for(lambda: local.status(job_id).state.terminal)
    seen = json.loads(local.logs(job_id).splitlines()[-1])
    assert seen == {
        "PLAIN": "visible",
        "TAO_TEST_TOKEN": "***",  # the job got the value; the log keeps it redacted
        "TAO_ABSENT": None,
        "TAO_NOT_PASSED": None,
        "PYTHONUNBUFFERED": "1",
    }
    request = (state_dir(tmp_path, "env") / "request.json").read_text()
    assert "TAO_TEST_TOKEN" in request
    stored = [p for root in (state_dir(tmp_path, "env"), tmp_path / "state") for p in root.rglob("*") if p.is_file()]
    assert stored and not any(secret in p.read_text() for p in stored)


def test_vanished_supervisor_is_an_infrastructure_error(local: LocalPlatform, tmp_path: Path) -> None:
    job_id = local.submit(make_job(tmp_path, "doomed", ["sleep", "30"]))
    pid = int((state_dir(tmp_path, "doomed") / "pid").read_text().split()[0])
    os.killpg(pid, signal.SIGKILL)
    status = wait_for(lambda: (s := local.status(job_id)).state.terminal and s)
    assert (status.state, status.infra_failure, status.message) == (JobState.ERROR, True, "supervisor vanished")
    analysis = local.failure_analysis(job_id)
    assert analysis.category is FailureCategory.INFRASTRUCTURE
    assert analysis.retryable


def test_missing_command_is_an_image_error(local: LocalPlatform, tmp_path: Path) -> None:
    job_id = local.submit(make_job(tmp_path, "nocmd", [str(tmp_path / "no-such-tool")]))
    status = wait_for(lambda: (s := local.status(job_id)).state.terminal and s)
    assert (status.state, status.exit_code) == (JobState.ERROR, 127)
    assert local.failure_analysis(job_id).category is FailureCategory.IMAGE


def test_duplicate_name_is_refused_and_find_job(local: LocalPlatform, tmp_path: Path) -> None:
    job_id = local.submit(make_job(tmp_path, "once", ["true"]))
    assert local.find_job("once") == job_id
    assert local.find_job("never") is None
    with pytest.raises(PlatformError) as info:
        local.submit(make_job(tmp_path, "once", ["true"]))
    assert info.value.field == "name"


# ---- registry ---------------------------------------------------------------------------------


class StubSdk:
    """The smallest object in the published SDK shape: every job is already done."""

    def create_job(self, image: str | None, command: str, **kwargs: object) -> str:
        return "j1"

    def get_job_status(self, job_id: str) -> str:
        return "Done"

    def get_job_logs(self, job_id: str) -> str:
        return ""

    def cancel_job(self, job_id: str) -> None:
        return None


def test_registry_finds_platforms_by_name(tmp_path: Path) -> None:
    assert {"local", "sdk"} <= set(available_platforms())
    plat = get_platform("local", state_root=tmp_path)
    assert isinstance(plat, LocalPlatform)
    assert plat.state_root == tmp_path


def test_unknown_platform_name_suggests_the_closest() -> None:
    with pytest.raises(PlatformError) as info:
        get_platform("locl")
    assert info.value.field == "platform"
    assert "did you mean 'local'" in str(info.value)
    assert "sdk" in str(info.value)


def test_unknown_platform_option_is_named() -> None:
    with pytest.raises(PlatformError, match="gpu_count") as info:
        get_platform("local", gpu_count=2)
    assert info.value.field == "platform_options"


def test_as_platform_accepts_instances_names_and_duck_sdks(tmp_path: Path) -> None:
    local = LocalPlatform(state_root=tmp_path)
    assert as_platform(local) is local
    assert isinstance(as_platform("local", state_root=tmp_path), LocalPlatform)
    wrapped = as_platform(StubSdk())
    assert isinstance(wrapped, SdkPlatform)
    assert wrapped.status("j1").state is JobState.COMPLETE
    with pytest.raises(PlatformError, match="Platform instance") as info:
        as_platform(42)
    assert info.value.field == "platform"


def test_sdk_platform_by_name_needs_an_sdk() -> None:
    with pytest.raises(PlatformError) as info:
        get_platform("sdk")
    assert info.value.field == "platform_sdk"
    assert isinstance(get_platform("sdk", sdk=StubSdk()), SdkPlatform)


def test_supervisor_runs_without_the_project_importable(tmp_path: Path) -> None:
    """The supervisor is started with ``-I`` from any cwd, so it must be stdlib only."""
    supervisor = REPO_ROOT / "tao_automl" / "platforms" / "local_supervisor.py"
    (tmp_path / "s").mkdir()
    log = tmp_path / "out.log"
    argv = [sys.executable, "-I", str(supervisor), str(tmp_path / "s"), str(log), str(tmp_path), "--", "echo", "hi"]
    subprocess.run(argv, cwd=tmp_path, check=True, timeout=30, start_new_session=True)
    assert log.read_text() == "hi\n"
    assert (tmp_path / "s" / "exit_code").read_text().strip() == "0"
    assert (tmp_path / "s" / "pid").read_text().split()[0].isdigit()
