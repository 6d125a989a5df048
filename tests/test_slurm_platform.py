"""SlurmPlatform beyond the shared contract.

Three layers: Slurm's answers (recorded ``squeue``/``scontrol``/``sacct`` output) mapped to job
states, including through stand-in Slurm executables on PATH for the squeue -> scontrol -> sacct
fallback; the batch script and the ssh command lines built for a job; and the real single-node
cluster started by ``tests/services/slurm_cluster.py`` (jobs, cancel, remote mode through an
``ssh`` stand-in that runs the command here, and the demo network's AutoML pass from the CLI).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import DIGITS_SKILL_DIR, PROJECT_ROOT, wait_for
from services.slurm_cluster import SlurmCluster, slurm_platform

from tao_automl.errors import PlatformError
from tao_automl.platforms import FailureCategory, JobRequest, JobState, JobStatus, PythonScript, get_platform
from tao_automl.platforms.slurm import (
    FALLBACK_RESOURCE_DEFAULTS,
    SKILL_INFO,
    SlurmPlatform,
    load_resource_defaults,
    map_state,
    parse_exit_code,
    parse_sacct,
    parse_scontrol,
    parse_squeue_state,
)

SECRET_NAME = "TAO_TEST_SECRET"
SECRET_VALUE = "sk-planted-0123456789abcdef"

# ---- recorded Slurm output (slurm-wlm 22.05.8) --------------------------------------------------

SCONTROL_RUNNING = """\
JobId=21 JobName=rec-run
   UserId=root(0) GroupId=root(0) MCS_label=N/A
   Priority=4294901739 Nice=0 Account=(null) QOS=(null)
   JobState=RUNNING Reason=None Dependency=(null)
   Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0
   RunTime=00:00:01 TimeLimit=UNLIMITED TimeMin=N/A
   SubmitTime=2026-11-26T17:39:41 EligibleTime=2026-11-26T17:39:41
   AccrueTime=2026-11-26T17:39:41
   StartTime=2026-11-26T17:39:41 EndTime=Unknown Deadline=N/A
   SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-26T17:39:41 Scheduler=Main
   Partition=debug AllocNode:Sid=localhost:17544
   ReqNodeList=(null) ExcNodeList=(null)
   NodeList=localhost
   BatchHost=localhost
   NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:*
   TRES=cpu=1,node=1,billing=1
   Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=*
   MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0
   Features=(null) DelayBoot=00:00:00
   OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null)
   Command=(null)
   WorkDir=/tmp/sl
   StdErr=/tmp/sl/r.log
   StdIn=/dev/null
   StdOut=/tmp/sl/r.log
   Power=
"""

SCONTROL_ONE_LINE = (
    "JobId=3 JobName=tst UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901757 Nice=0 Account=(null) "
    "QOS=(null) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 "
    "ExitCode=3:0 RunTime=00:00:02 TimeLimit=00:10:00 TimeMin=N/A Partition=debug AllocNode:Sid=localhost:17544 "
    "NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,node=1,billing=1 "
    "Command=/tmp/sl/a.sh WorkDir=/tmp/sl StdErr=/tmp/sl/out dir/a.log StdIn=/dev/null StdOut=/tmp/sl/out dir/a.log "
    "Power= "
)


def scontrol_record(state: str, reason: str, exit_code: str) -> str:
    """The recorded RUNNING record with another state, as scontrol prints it for that state."""
    return (
        SCONTROL_RUNNING.replace("JobState=RUNNING", f"JobState={state}")
        .replace("Reason=None", f"Reason={reason}")
        .replace("ExitCode=0:0", f"ExitCode={exit_code}")
    )


# (Slurm state, Reason, ExitCode) -> (our state, exit code, infra, failure category or None)
STATE_TABLE = [
    ("PENDING", "JobHeldUser", "0:0", JobState.PENDING, None, False, None),
    ("PENDING", "Resources", "0:0", JobState.PENDING, None, False, None),
    ("CONFIGURING", "None", "0:0", JobState.PENDING, None, False, None),
    ("REQUEUED", "BeginTime", "0:0", JobState.PENDING, None, False, None),
    ("RUNNING", "None", "0:0", JobState.RUNNING, None, False, None),
    ("COMPLETING", "None", "0:0", JobState.RUNNING, None, False, None),
    ("SUSPENDED", "None", "0:0", JobState.RUNNING, None, False, None),
    ("COMPLETED", "None", "0:0", JobState.COMPLETE, 0, False, None),
    ("FAILED", "NonZeroExitCode", "7:0", JobState.ERROR, 7, False, FailureCategory.UNKNOWN),
    ("FAILED", "RaisedSignal:9(Killed)", "0:9", JobState.ERROR, 137, False, FailureCategory.OUT_OF_MEMORY),
    ("TIMEOUT", "TimeLimit", "0:15", JobState.ERROR, 143, False, FailureCategory.TIMEOUT),
    ("DEADLINE", "DeadLine", "0:0", JobState.ERROR, 0, False, FailureCategory.TIMEOUT),
    ("OUT_OF_MEMORY", "OutOfMemory", "0:125", JobState.ERROR, 253, False, FailureCategory.OUT_OF_MEMORY),
    ("NODE_FAIL", "NodeDown", "0:0", JobState.ERROR, 0, True, FailureCategory.INFRASTRUCTURE),
    ("BOOT_FAIL", "NodeDown", "0:0", JobState.ERROR, 0, True, FailureCategory.INFRASTRUCTURE),
    ("PREEMPTED", "None", "0:15", JobState.CANCELED, 143, False, FailureCategory.CANCELED),
    ("CANCELLED", "None", "0:15", JobState.CANCELED, 143, False, FailureCategory.CANCELED),
    ("SPECIAL_EXIT", "None", "1:0", JobState.ERROR, 1, False, FailureCategory.UNKNOWN),
    ("FROBNICATED", "None", "0:0", JobState.UNKNOWN, None, False, None),
]


@pytest.mark.parametrize(("slurm", "reason", "code", "state", "exit_code", "infra", "category"), STATE_TABLE)
def test_scontrol_states_map_to_the_platform_vocabulary(
    slurm: str,
    reason: str,
    code: str,
    state: JobState,
    exit_code: int | None,
    infra: bool,
    category: FailureCategory | None,
) -> None:
    fields = parse_scontrol(scontrol_record(slurm, reason, code))
    status = map_state(fields["JobState"], fields["ExitCode"], fields["Reason"])
    assert status.state is state
    assert status.infra_failure is infra
    if state.terminal:
        assert status.exit_code == exit_code
    if category is not None:
        from tao_automl.platforms.failures import classify_failure

        analysis = classify_failure(status, "")
        assert analysis.category is category
        assert analysis.retryable is (category is FailureCategory.INFRASTRUCTURE)
    preempted = "preempt" in status.message.lower()
    assert preempted is (slurm == "PREEMPTED"), status.message  # the runner tells preemption from a user cancel


@pytest.mark.parametrize(
    ("text", "state"),
    [("RUNNING\n", "RUNNING"), ("COMPLETING\n", "COMPLETING"), ("PENDING\n", "PENDING"), ("", None), ("\n", None)],
)
def test_squeue_output(text: str, state: str | None) -> None:
    assert parse_squeue_state(text) == state


@pytest.mark.parametrize(
    ("text", "state", "exit_code"),
    [
        ("COMPLETED|0:0\n", JobState.COMPLETE, 0),
        ("FAILED|2:0\n", JobState.ERROR, 2),
        ("CANCELLED by 0|0:15\n", JobState.CANCELED, 143),
        ("PREEMPTED|0:15\n", JobState.CANCELED, 143),
        ("TIMEOUT|0:0\n", JobState.ERROR, 0),
        ("OUT_OF_MEMORY|0:125\n", JobState.ERROR, 253),
        ("NODE_FAIL|0:0\n", JobState.ERROR, 0),
        ("RUNNING|0:0\n", JobState.RUNNING, None),
    ],
)
def test_sacct_output(text: str, state: JobState, exit_code: int | None) -> None:
    parsed = parse_sacct(text)
    assert parsed is not None
    status = map_state(*parsed)
    assert status.state is state
    if state.terminal:
        assert status.exit_code == exit_code
    assert parse_sacct("") is None


def test_scontrol_fields_keep_values_with_spaces() -> None:
    fields = parse_scontrol(SCONTROL_ONE_LINE)
    assert fields["StdOut"] == "/tmp/sl/out dir/a.log"
    assert (fields["JobState"], fields["ExitCode"], fields["JobName"]) == ("FAILED", "3:0", "tst")
    assert fields["AllocNode:Sid"] == "localhost:17544"
    assert parse_scontrol(SCONTROL_RUNNING)["StdOut"] == "/tmp/sl/r.log"
    assert [parse_exit_code(c) for c in ("0:0", "3:0", "0:9", "", "x:y")] == [0, 3, 137, None, None]


# ---- the squeue -> scontrol -> sacct fallback, against stand-in executables ----------------------

STAND_IN = """#!/bin/sh
# A stand-in for a Slurm command: replays recorded output and logs its argv.
name=$(basename "$0")
echo "$name $*" >> "$FAKE_SLURM/calls"
[ -f "$FAKE_SLURM/$name.out" ] && cat "$FAKE_SLURM/$name.out"
[ -f "$FAKE_SLURM/$name.err" ] && cat "$FAKE_SLURM/$name.err" >&2
exit "$(cat "$FAKE_SLURM/$name.rc" 2>/dev/null || echo 0)"
"""


class FakeSlurm:
    """Stand-in ``squeue``/``scontrol``/``sacct``/``scancel`` on PATH that replay recorded answers."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        bin_dir = root / "bin"
        bin_dir.mkdir(parents=True)
        for name in ("squeue", "scontrol", "sacct", "scancel", "sbatch"):
            (bin_dir / name).write_text(STAND_IN)
            (bin_dir / name).chmod(0o755)
        monkeypatch.setenv("FAKE_SLURM", str(root))
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def answer(self, command: str, out: str = "", err: str = "", rc: int = 0) -> None:
        (self.root / f"{command}.out").write_text(out)
        (self.root / f"{command}.err").write_text(err)
        (self.root / f"{command}.rc").write_text(str(rc))

    def calls(self) -> list[str]:
        path = self.root / "calls"
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def fake_slurm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSlurm:
    return FakeSlurm(tmp_path / "fake-slurm", monkeypatch)


def test_running_job_is_answered_by_squeue_alone(fake_slurm: FakeSlurm, tmp_path: Path) -> None:
    fake_slurm.answer("squeue", "RUNNING\n")
    assert SlurmPlatform(state_root=tmp_path).status("21").state is JobState.RUNNING
    assert fake_slurm.calls() == ["squeue -j 21 -h -o %T"]


def test_finished_job_falls_back_to_scontrol(fake_slurm: FakeSlurm, tmp_path: Path) -> None:
    fake_slurm.answer("squeue", "")
    fake_slurm.answer("scontrol", scontrol_record("FAILED", "NonZeroExitCode", "7:0"))
    status = SlurmPlatform(state_root=tmp_path).status("21")
    assert (status.state, status.exit_code) == (JobState.ERROR, 7)
    assert fake_slurm.calls() == ["squeue -j 21 -h -o %T", "scontrol show job 21"]


def test_aged_out_job_falls_back_to_sacct(fake_slurm: FakeSlurm, tmp_path: Path) -> None:
    invalid = "slurm_load_jobs error: Invalid job id specified\n"
    fake_slurm.answer("squeue", err=invalid, rc=1)
    fake_slurm.answer("scontrol", err=invalid, rc=1)
    fake_slurm.answer("sacct", "PREEMPTED|0:15\n")
    status = SlurmPlatform(state_root=tmp_path).status("21")
    assert status.state is JobState.CANCELED and "preempted" in status.message
    assert fake_slurm.calls()[-1] == "sacct -j 21 -n -X -P -o State,ExitCode"


def test_unreachable_controller_is_unknown_and_sacct_is_asked_once(fake_slurm: FakeSlurm, tmp_path: Path) -> None:
    down = "slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n"
    fake_slurm.answer("squeue", err=down, rc=1)
    fake_slurm.answer("scontrol", err=down, rc=1)
    fake_slurm.answer("sacct", err="sacct: error: Slurm accounting storage is disabled\n", rc=1)
    plat = SlurmPlatform(state_root=tmp_path)
    for _ in range(2):
        status = plat.status("21")
        assert status.state is JobState.UNKNOWN and "Unable to contact" in status.message
    assert sum(call.startswith("sacct") for call in fake_slurm.calls()) == 1
    assert plat.logs("21") == ""


def test_sbatch_refusal_is_a_platform_error(fake_slurm: FakeSlurm, tmp_path: Path) -> None:
    fake_slurm.answer("sbatch", err="sbatch: error: invalid partition specified: gpu\n", rc=1)
    plat = SlurmPlatform(state_root=tmp_path / "index", partition="gpu")
    with pytest.raises(PlatformError, match="invalid partition specified") as info:
        plat.submit(make_job(tmp_path, "refused", ["true"]))
    assert info.value.field == "platform"


def test_cancel_of_unknown_or_finished_job_sends_no_scancel(fake_slurm: FakeSlurm, tmp_path: Path) -> None:
    plat = SlurmPlatform(state_root=tmp_path)
    fake_slurm.answer("squeue", err="slurm_load_jobs error: Invalid job id specified\n", rc=1)
    fake_slurm.answer("scontrol", err="slurm_load_jobs error: Invalid job id specified\n", rc=1)
    plat.cancel("424242")
    fake_slurm.answer("squeue", "")
    fake_slurm.answer("scontrol", scontrol_record("COMPLETED", "None", "0:0"))
    plat.cancel("21")
    plat.cancel("not-a-slurm-id")
    assert not any(call.startswith("scancel") for call in fake_slurm.calls())


# ---- batch script and command construction -------------------------------------------------------


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


def directives(script: str) -> dict[str, str]:
    lines = [line[len("#SBATCH --") :] for line in script.splitlines() if line.startswith("#SBATCH")]
    return dict(line.split("=", 1) for line in lines if "=" in line)


def exec_line(script: str) -> list[str]:
    line = next(line for line in script.splitlines() if line.startswith("exec "))
    return shlex.split(line)[1:]


def test_batch_script_carries_the_resource_shape(tmp_path: Path) -> None:
    plat = SlurmPlatform(
        partition="gpu", account="proj-a", qos="high", cpus_per_task=8, memory_gb=32, time_limit="1-00:00:00"
    )
    job = make_job(tmp_path, "rec-1", [sys.executable, "-c", "print('it''s')"], gpus=2, env={"MODE": "a b"})
    script = plat.batch_script(job)
    assert script.startswith("#!/bin/bash\n")
    found = directives(script)
    assert found == {
        "job-name": "rec-1",
        "output": str(tmp_path / "logs" / "rec-1.log"),
        "error": str(tmp_path / "logs" / "rec-1.log"),
        "open-mode": "truncate",
        "partition": "gpu",
        "account": "proj-a",
        "qos": "high",
        "nodes": "1",
        "gpus-per-node": "2",
        "cpus-per-task": "8",
        "mem": "32768M",
        "time": "1-00:00:00",
        "chdir": str(tmp_path / "work"),
        "export": found["export"],
    }
    assert "#SBATCH --no-requeue" in script.splitlines()  # retries belong to the runner
    assert "export MODE='a b'" in script.splitlines()
    assert exec_line(script) == [sys.executable, "-c", "print('it''s')"]
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)


def test_batch_script_defaults_come_from_the_platform_skill(tmp_path: Path) -> None:
    info = yaml.safe_load(SKILL_INFO.read_text())
    assert load_resource_defaults() == FALLBACK_RESOURCE_DEFAULTS == info["resource_defaults"]
    found = directives(SlurmPlatform().batch_script(make_job(tmp_path, "plain", ["true"])))
    assert found["cpus-per-task"] == str(info["resource_defaults"]["cpus"])
    assert found["mem"] == f"{info['resource_defaults']['memory_gb'] * 1024}M"
    assert found["time"] == info["resource_defaults"]["time_limit"]
    assert not {"partition", "account", "qos", "gpus-per-node"} & set(found)


def test_platform_skill_lists_every_constructor_option() -> None:
    info = yaml.safe_load(SKILL_INFO.read_text())
    params = inspect.signature(SlurmPlatform.__init__).parameters
    assert set(info["options"]) == set(params) - {"self"}
    for name, value in info["options"].items():
        default = params[name].default
        assert value == default or (value == [] and default is None), name
    assert info["name"] == SlurmPlatform.name
    assert info["reachability"]["command"] == ["sinfo", "-h"]
    assert info["tools"]["sbatch"] == {"debian": "slurm-client"}


def test_python_script_job_runs_the_chosen_interpreter_in_its_cwd(tmp_path: Path) -> None:
    skill = tmp_path / "skill"
    (skill / "scripts").mkdir(parents=True)
    (skill / "scripts" / "train.py").write_text("print('x')\n")
    job = make_job(
        tmp_path,
        "py",
        python_script=PythonScript(script="scripts/train.py", args=["-e", "spec 1.yaml"], cwd=str(skill)),
    )
    script = SlurmPlatform().batch_script(job)
    assert exec_line(script) == [sys.executable, str(skill / "scripts" / "train.py"), "-e", "spec 1.yaml"]
    assert directives(script)["chdir"] == str(skill)
    assert exec_line(SlurmPlatform(python="python3").batch_script(job))[0].endswith("python3")


def test_pyxis_runtime_wraps_the_job_in_srun_with_the_image(tmp_path: Path) -> None:
    job = make_job(
        tmp_path, "img", ["train", "-e", "/spec.yaml"], image="nvcr.io/nvidia/tao/tao-toolkit:5.5.0-pyt", gpus=1
    )
    plat = SlurmPlatform(container_runtime="pyxis", container_mounts=["/datasets:/data"])
    argv = exec_line(plat.batch_script(job))
    assert argv[0] == "srun"
    assert "--container-image=nvcr.io#nvidia/tao/tao-toolkit:5.5.0-pyt" in argv
    mounts = next(a for a in argv if a.startswith("--container-mounts=")).split("=", 1)[1].split(",")
    assert f"{tmp_path / 'work'}:{tmp_path / 'work'}" in mounts and "/datasets:/data" in mounts
    assert f"{tmp_path / 'logs'}:{tmp_path / 'logs'}" in mounts
    assert f"--container-workdir={tmp_path / 'work'}" in argv
    assert argv[-3:] == ["train", "-e", "/spec.yaml"]
    assert "--container-image=ubuntu:22.04" in exec_line(
        plat.batch_script(job.model_copy(update={"image": "ubuntu:22.04"}))
    )


def test_apptainer_runtime_execs_the_docker_image(tmp_path: Path) -> None:
    job = make_job(tmp_path, "img", ["train"], image="nvcr.io/nvidia/tao/tao-toolkit:5.5.0-pyt", gpus=1)
    argv = exec_line(SlurmPlatform(container_runtime="apptainer").batch_script(job))
    assert argv[:3] == ["apptainer", "exec", "--nv"]
    assert argv[argv.index("--pwd") + 1] == str(tmp_path / "work")
    assert f"{tmp_path / 'results' / 'img'}:{tmp_path / 'results' / 'img'}" in argv[argv.index("--bind") + 1].split(",")
    assert argv[-2:] == ["docker://nvcr.io/nvidia/tao/tao-toolkit:5.5.0-pyt", "train"]
    cpu_job = job.model_copy(update={"gpus": 0, "image": "/images/tao.sif", "num_nodes": 2})
    argv = exec_line(SlurmPlatform(container_runtime="apptainer").batch_script(cpu_job))
    assert argv[:4] == ["srun", "--ntasks-per-node=1", "apptainer", "exec"] and "--nv" not in argv
    assert "/images/tao.sif" in argv


def test_image_is_ignored_without_a_container_runtime_and_python_inside_is_python3(tmp_path: Path) -> None:
    skill = tmp_path / "skill"
    skill.mkdir()
    (skill / "t.py").write_text("print('x')\n")
    job = make_job(tmp_path, "py", python_script=PythonScript(script="t.py", cwd=str(skill)), image="tao:1")
    assert exec_line(SlurmPlatform().batch_script(job))[0] == sys.executable
    assert exec_line(SlurmPlatform(container_runtime="pyxis").batch_script(job))[-2:] == [
        "python3",
        str(skill / "t.py"),
    ]


def test_paths_are_escaped_for_sbatch(tmp_path: Path) -> None:
    job = make_job(tmp_path / "with space", "odd", ["true"]).model_copy(
        update={"log_path": tmp_path / "with space" / "100%j.log"}
    )
    script = SlurmPlatform().batch_script(job)
    assert f'#SBATCH --output="{tmp_path}/with space/100%%j.log"' in script.splitlines()
    with pytest.raises(PlatformError, match="#SBATCH"):
        SlurmPlatform().batch_script(job.model_copy(update={"name": 'a"b'}))


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"container_runtime": "docker"}, "container_runtime"),
        ({"time_limit": "4 hours"}, "time_limit"),
        ({"cpus_per_task": 0}, "cpus_per_task"),
        ({"memory_gb": -1}, "memory_gb"),
        ({"partition": "gpu a"}, "partition"),
        ({"user": "alice"}, "user"),
        ({"host": "-oProxyCommand=x"}, "host"),
        ({"container_mounts": ["/data"]}, "container_mounts"),
        ({"python": "/no/such/python"}, "python"),
        ({"ssh_options": "-p 22"}, "ssh_options"),
    ],
)
def test_bad_options_are_named(options: dict[str, object], field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLURM_HOSTNAME", raising=False)
    with pytest.raises(PlatformError) as info:
        SlurmPlatform(**options)  # type: ignore[arg-type]
    assert info.value.field == field


def test_registry_builds_slurm_and_names_unknown_options() -> None:
    assert isinstance(get_platform("slurm", partition="debug"), SlurmPlatform)
    with pytest.raises(PlatformError, match="nodes"):
        get_platform("slurm", nodes=2)


# ---- remote clusters over ssh -------------------------------------------------------------------


def test_remote_commands_run_over_ssh_in_batch_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SLURM_HOSTNAME", "login.example.org")
    monkeypatch.setenv("SLURM_USER", "alice")
    plat = SlurmPlatform(ssh_options=["-p", "2222"])
    assert plat.remote_argv(["squeue", "-j", "12", "-h", "-o", "%T"]) == [
        "ssh", "-o", "BatchMode=yes", "-p", "2222", "--", "alice@login.example.org", "squeue -j 12 -h -o %T",
    ]  # fmt: skip
    assert plat.python == "python3"
    explicit = SlurmPlatform(host="hpc", user="bob", python="/shared/venv/bin/python")
    assert explicit.remote_argv(["scancel", "7"])[-2:] == ["bob@hpc", "scancel 7"]
    assert explicit.python == "/shared/venv/bin/python"
    monkeypatch.delenv("SLURM_HOSTNAME")
    assert SlurmPlatform().remote_argv(["sinfo", "-h"]) == ["sinfo", "-h"]

    script = tmp_path / "logs" / "j 1.sbatch"
    upload = plat.upload_command(script, [tmp_path / "work"])
    assert upload[:2] == ["sh", "-c"]
    assert upload[2] == f"mkdir -p {tmp_path / 'work'} {tmp_path / 'logs'} && cat > '{script}'"


def test_remote_secrets_travel_on_stdin_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(SECRET_NAME, SECRET_VALUE)
    monkeypatch.delenv("TAO_TEST_ABSENT", raising=False)
    plat = SlurmPlatform(host="login.example.org")
    job = make_job(tmp_path, "remote", ["true"], env_passthrough=[SECRET_NAME, "TAO_TEST_ABSENT"])
    argv, stdin = plat.sbatch_command(job, tmp_path / "remote.sbatch")
    assert stdin == f"{SECRET_VALUE}\n"
    assert SECRET_VALUE not in " ".join(plat.remote_argv(argv))
    assert argv[:2] == ["sh", "-c"] and argv[2].endswith(f"exec sbatch --parsable {tmp_path / 'remote.sbatch'}")
    assert "--export=" in plat.batch_script(job) and SECRET_VALUE not in plat.batch_script(job)
    local_argv, local_stdin = SlurmPlatform().sbatch_command(job, tmp_path / "x.sbatch")
    assert (local_argv, local_stdin) == (["sbatch", "--parsable", str(tmp_path / "x.sbatch")], None)


# ---- the real cluster ----------------------------------------------------------------------------


def squeue_rows() -> list[tuple[str, str, str]]:
    out = subprocess.run(["squeue", "-h", "-o", "%i|%j|%T"], capture_output=True, text=True, check=True).stdout
    return [tuple(line.split("|")) for line in out.splitlines() if line.strip()]  # type: ignore[misc]


def scontrol_fields(job_id: str) -> dict[str, str]:
    out = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True, check=True).stdout
    return parse_scontrol(out)


def wait_terminal(plat: SlurmPlatform, job_id: str, timeout: float = 30.0) -> JobStatus:
    return wait_for(lambda: (s := plat.status(job_id)).state.terminal and s, timeout=timeout)  # type: ignore[return-value]


def test_running_job_shows_in_squeue_and_cancel_reaches_scancel(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    plat = slurm_platform(tmp_path)
    job_id = plat.submit(make_job(tmp_path, "sleeper", ["sleep", "120"]))
    wait_for(lambda: plat.status(job_id).state is JobState.RUNNING, timeout=30)
    assert (job_id, "sleeper", "RUNNING") in squeue_rows()
    assert plat.find_job("sleeper") == job_id
    started = time.monotonic()
    plat.cancel(job_id)
    assert time.monotonic() - started < 15
    assert plat.status(job_id).state is JobState.CANCELED
    assert scontrol_fields(job_id)["JobState"] == "CANCELLED"
    assert job_id not in {row[0] for row in squeue_rows()}
    assert plat.failure_analysis(job_id).category is FailureCategory.CANCELED
    plat.cancel(job_id)  # a second cancel is a no-op


def test_failing_job_is_error_with_its_exit_code(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    plat = slurm_platform(tmp_path)
    code = "import sys\nprint('loading data')\nsys.exit(7)"
    job_id = plat.submit(make_job(tmp_path, "exits7", [sys.executable, "-c", code]))
    status = wait_terminal(plat, job_id)
    assert (status.state, status.exit_code) == (JobState.ERROR, 7)
    assert "FAILED" in status.message
    assert plat.logs(job_id) == "loading data\n"
    assert scontrol_fields(job_id)["ExitCode"] == "7:0"


def test_another_process_finds_reads_and_classifies_a_job(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    skill = tmp_path / "skill"
    skill.mkdir()
    (skill / "train.py").write_text("import os\nprint('cwd', os.getcwd())\nraise ValueError('bad lr')\n")
    plat = slurm_platform(tmp_path)
    job = make_job(tmp_path, "pyjob", python_script=PythonScript(script="train.py", cwd=str(skill)))
    job_id = plat.submit(job)
    wait_terminal(plat, job_id)
    for other in (slurm_platform(tmp_path), slurm_platform(tmp_path / "elsewhere")):  # index, then scontrol
        assert other.reattach(job_id)
        assert other.find_job("pyjob") == job_id
        assert f"cwd {skill}" in other.logs(job_id)
        analysis = other.failure_analysis(job_id)
        assert analysis.category is FailureCategory.MODEL_CODE and analysis.exit_code == 1
    assert not plat.reattach("999999")
    assert plat.find_job("no-job-has-this-name") is None


SECRET_JOB = (
    "import hashlib, os\nvalue = os.environ.get('TAO_TEST_SECRET', '')\n"
    "print('secret sha256', hashlib.sha256(value.encode()).hexdigest())\nprint('mode', os.environ.get('MODE'))"
)

SSH_STAND_IN = """#!/bin/sh
# A stand-in for ssh: logs its argv, then runs the remote command here in a fresh login-like environment.
printf '%s\\n' "$@" > "$SSH_CALLS/$(date +%s%N).argv"
while [ "$1" != "--" ]; do shift; done
shift 2
exec env -i PATH="$REMOTE_PATH" HOME="$HOME" SLURM_CONF="$SLURM_CONF" sh -c "$1"
"""


def planted_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and SECRET_VALUE.encode() in p.read_bytes()]


@pytest.mark.parametrize("remote", [False, True], ids=["local", "remote-over-ssh"])
def test_passthrough_secret_reaches_the_job_but_no_file(
    slurm_cluster: SlurmCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, remote: bool
) -> None:
    monkeypatch.setenv(SECRET_NAME, SECRET_VALUE)
    options: dict[str, object] = {}
    if remote:
        bin_dir, calls = tmp_path / "bin", tmp_path / "ssh-calls"
        bin_dir.mkdir()
        calls.mkdir()
        (bin_dir / "ssh").write_text(SSH_STAND_IN)
        (bin_dir / "ssh").chmod(0o755)
        monkeypatch.setenv("REMOTE_PATH", os.environ["PATH"])
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("SSH_CALLS", str(calls))
        options = {"host": "login.example.org", "user": "alice", "python": sys.executable}
    plat = slurm_platform(tmp_path, **options)
    job = make_job(
        tmp_path, "secretive", [sys.executable, "-c", SECRET_JOB], env={"MODE": "demo"}, env_passthrough=[SECRET_NAME]
    )
    job_id = plat.submit(job)
    assert wait_terminal(plat, job_id).state is JobState.COMPLETE
    log = plat.logs(job_id)
    assert f"secret sha256 {hashlib.sha256(SECRET_VALUE.encode()).hexdigest()}" in log
    assert "mode demo" in log
    assert (tmp_path / "logs" / "secretive.sbatch").is_file()
    assert "--export=" in (tmp_path / "logs" / "secretive.sbatch").read_text()
    assert planted_files(tmp_path) == []
    if remote:
        argvs = [p.read_text().splitlines() for p in sorted(calls.iterdir())]
        assert len(argvs) >= 4  # upload, sbatch, squeue..., cat
        for argv in argvs:
            assert argv[:3] == ["-o", "BatchMode=yes", "--"] and argv[3] == "alice@login.example.org"
        commands = [argv[4] for argv in argvs]
        assert commands[0].startswith("sh -c 'mkdir -p ")
        assert "sbatch --parsable" in commands[1] and "IFS= read -r TAO_TEST_SECRET" in commands[1]
        assert any(c == f"squeue -j {job_id} -h -o %T" for c in commands)
        assert any(c.startswith("cat ") for c in commands)


def test_demo_network_automl_pass_runs_unchanged_on_slurm(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    """The issue's acceptance: the CLI's AutoML pass of the demo network on ``--platform slurm``."""
    workspace = tmp_path / "ws"
    argv = [
        sys.executable, "-m", "tao_automl.cli", "run", "--skill", str(DIGITS_SKILL_DIR), "--platform", "slurm",
        "--max-recommendations", "2", "--max-concurrent", "2", "--set", "train.num_epochs=2",
        "--set", "dataset.train_fraction=0.3", "--workspace", str(workspace), "--poll-interval", "0.5", "--json",
    ]  # fmt: skip
    seen: set[tuple[str, str]] = set()
    most_at_once = 0
    out, err = tmp_path / "cli.out", tmp_path / "cli.err"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        proc = subprocess.Popen(argv, cwd=PROJECT_ROOT, stdout=stdout, stderr=stderr, text=True)
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            running = {(i, name) for i, name, state in squeue_rows() if state == "RUNNING" and name.startswith("run-")}
            seen |= running
            most_at_once = max(most_at_once, len(running))
            time.sleep(0.2)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == 0, err.read_text()[-3000:]
    result = json.loads(out.read_text())

    assert result["progress"]["completed"] == result["progress"]["total"] == 2
    metrics = [h["metric"] for h in result["history"] if h["status"] == "success"]
    assert len(metrics) == 2 and all(math.isfinite(m) and 0.0 <= m <= 1.0 for m in metrics)
    assert result["best"]["metric_value"] == max(metrics)
    assert result["baseline"]["status"] == "measured"
    assert result["final_evaluation"]["status"] in ("measured", "reused_best")

    seen_ids = {job_id for job_id, _ in seen}
    for entry in result["history"]:
        job_id = str(entry["job_id"])
        assert re.fullmatch(r"\d+", job_id), entry
        assert job_id in seen_ids, f"job {job_id} never showed RUNNING in squeue"
        fields = scontrol_fields(job_id)
        assert fields["JobState"] == "COMPLETED"
        assert fields["StdOut"].startswith(str(workspace))
    assert most_at_once >= 2, "the two recommendations never ran at the same time"
