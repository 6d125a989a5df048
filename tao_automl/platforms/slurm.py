"""Run jobs as Slurm batch jobs: ``sbatch`` a script, read ``squeue``/``scontrol``/``sacct``, ``scancel``.

The controller is either a login node of the cluster (Slurm commands run here) or any machine
that reaches a login node over ssh (``host`` / ``SLURM_HOSTNAME``); in both cases the workspace
must be on a filesystem the compute nodes share, because the job writes its log and results
there. Nothing about a job lives only in memory: Slurm knows the state, and a small index under
``state_root`` maps a job id to its log file so a resumed runner can read it.

Secrets never reach the batch script: it names the variables a job inherits (``#SBATCH
--export=NAMES``) and ``sbatch`` takes their values from its own environment.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from tao_automl.errors import PlatformError
from tao_automl.platforms.base import JobRequest, JobState, JobStatus, Platform, find_interpreter
from tao_automl.platforms.failures import redact
from tao_automl.platforms.local import BASE_ENV_NAMES, BASE_ENV_PREFIXES
from tao_automl.platforms.local_supervisor import write_atomic
from tao_automl.versions import BUNDLED_BANK

SKILL_INFO = BUNDLED_BANK / "skills" / "platform" / "slurm" / "references" / "skill_info.yaml"
#: Used when the platform skill file is missing or unreadable; a test keeps both equal.
FALLBACK_RESOURCE_DEFAULTS: dict[str, Any] = {
    "gpus": 0,
    "num_nodes": 1,
    "cpus": 1,
    "memory_gb": 4,
    "time_limit": "04:00:00",
}
DEFAULT_STATE_ROOT = Path("~/.cache/tao-automl/slurm-jobs")
CONTAINER_RUNTIMES = ("none", "pyxis", "apptainer")
POLL_SECONDS = 0.2

_JOB_ID = re.compile(r"^\d+(?:_\d+)?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TIME_LIMIT = re.compile(
    r"^(?:\d+|\d+:\d{2}|\d+:\d{2}:\d{2}|\d+-\d+|\d+-\d+:\d{2}|\d+-\d+:\d{2}:\d{2}|UNLIMITED|INFINITE)$"
)
_SCONTROL_SPLIT = re.compile(r"\s+(?=[A-Za-z][\w:/]*=)")

_PENDING = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD"})
# COMPLETING: the program ended but Slurm is still cleaning up (its processes may live on).
_RUNNING = frozenset({"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "RESIZING", "SIGNALING", "STAGE_OUT"})
#: Status messages chosen so that failures.classify_failure files them under the right category.
_ERROR_MESSAGES = {
    "TIMEOUT": "TIMEOUT: time limit reached (Slurm cancelled the job DUE TO TIME LIMIT)",
    "DEADLINE": "DEADLINE: time limit reached (the job's --deadline passed)",
    "OUT_OF_MEMORY": "OUT_OF_MEMORY: the job ran out of memory (OOMKilled by Slurm)",
    "NODE_FAIL": "NODE_FAIL: node failure while the job ran",
    "BOOT_FAIL": "BOOT_FAIL: node failure, the allocated node did not boot",
    "SPECIAL_EXIT": "SPECIAL_EXIT: the job ended in Slurm's special exit state",
}
_INFRA = frozenset({"NODE_FAIL", "BOOT_FAIL"})
_INVALID_ID = "invalid job id"  # how squeue, scontrol and scancel say Slurm has no such job


def load_resource_defaults() -> dict[str, Any]:
    """``resource_defaults`` of the slurm platform skill (the fallback copy when it is not installed)."""
    try:
        info = yaml.safe_load(SKILL_INFO.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return dict(FALLBACK_RESOURCE_DEFAULTS)
    return {**FALLBACK_RESOURCE_DEFAULTS, **(info.get("resource_defaults") or {})}


# ---- parsing Slurm's answers (pure functions, tested on recorded outputs) -------------------------


def parse_exit_code(text: str | None) -> int | None:
    """Slurm's ``ExitCode`` ``"<status>:<signal>"`` as a shell-style code (128 + signal when killed)."""
    if not text:
        return None
    status, _, signal = text.strip().partition(":")
    try:
        code, sig = int(status), int(signal or 0)
    except ValueError:
        return None
    return 128 + sig if sig and not code else code


def parse_squeue_state(text: str) -> str | None:
    """The job state from ``squeue -j <id> -h -o %T`` output; None when the job is not listed."""
    for line in text.splitlines():
        if line.strip():
            return line.strip().split()[0].upper()
    return None


def parse_scontrol(text: str) -> dict[str, str]:
    """``Key=Value`` fields of ``scontrol show job`` (one-line or multi-line form; values may hold spaces)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        for token in _SCONTROL_SPLIT.split(line.strip()):
            key, sep, value = token.partition("=")
            if sep and key not in fields:
                fields[key] = value.strip()
    return fields


def parse_sacct(text: str) -> tuple[str, str | None] | None:
    """``(state, exit code)`` from ``sacct -n -X -P -o State,ExitCode``; the last line is the newest."""
    rows = [line.split("|") for line in text.splitlines() if line.strip()]
    if not rows:
        return None
    row = rows[-1]
    return row[0].split()[0].upper(), row[1] if len(row) > 1 else None


def map_state(state: str | None, exit_code: str | None = None, reason: str | None = None) -> JobStatus:
    """Translate a Slurm job state into the platform vocabulary.

    Args:
        state: Slurm's state name (``CANCELLED by 0`` and ``COMPLETING+`` spellings are accepted).
        exit_code: Slurm's ``ExitCode`` field, ``"<status>:<signal>"``.
        reason: Slurm's ``Reason`` field, quoted in error messages.
    """
    if not state:
        return JobStatus(state=JobState.UNKNOWN, message="Slurm does not know the job")
    name = state.split()[0].rstrip("+").upper()
    code = parse_exit_code(exit_code)
    detail = f" ({reason})" if reason and reason not in ("None", "(null)") else ""
    if name in _PENDING:
        return JobStatus(state=JobState.PENDING, message=f"{name}{detail}")
    if name in _RUNNING:
        return JobStatus(state=JobState.RUNNING, message=name if name != "RUNNING" else "")
    if name == "COMPLETED":
        return JobStatus(state=JobState.COMPLETE, exit_code=0 if code is None else code)
    if name == "PREEMPTED":
        # "preempted" lets the runner tell the cluster's doing from a user's cancel.
        return JobStatus(state=JobState.CANCELED, exit_code=code, message="preempted by Slurm (PREEMPTED)")
    if name in ("CANCELLED", "REVOKED"):
        return JobStatus(state=JobState.CANCELED, exit_code=code, message=name)
    if name == "FAILED":
        return JobStatus(state=JobState.ERROR, exit_code=code, message=f"FAILED{detail}, exit code {code}")
    if name in _ERROR_MESSAGES:
        return JobStatus(
            state=JobState.ERROR, exit_code=code, message=_ERROR_MESSAGES[name], infra_failure=name in _INFRA
        )
    return JobStatus(state=JobState.UNKNOWN, message=f"unrecognised Slurm state {state!r}")


# ---- the platform -------------------------------------------------------------------------------


def _directive_value(value: str, option: str) -> str:
    """A value safe on an ``#SBATCH`` line: quoted when it has spaces, refused when it cannot be quoted."""
    if any(ch in value for ch in '"\\\n\r'):
        raise PlatformError(f"{value!r} cannot be written on an #SBATCH line", field=option)
    return f'"{value}"' if any(ch.isspace() for ch in value) else value


def _pyxis_image(image: str) -> str:
    """enroot's image syntax: ``nvcr.io/nvidia/x:tag`` becomes ``nvcr.io#nvidia/x:tag``."""
    if "#" in image or image.startswith(("/", ".")) or image.endswith((".sqsh", ".squashfs")):
        return image
    first, sep, rest = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return f"{first}#{rest}"
    return image


def _apptainer_image(image: str) -> str:
    """A docker reference for apptainer unless it already names a scheme or an image file."""
    if "://" in image or image.startswith(("/", ".")) or image.endswith(".sif"):
        return image
    return f"docker://{image}"


class SlurmPlatform(Platform):
    """Jobs are Slurm batch jobs; the controller runs Slurm commands locally or over ssh.

    Args:
        partition: ``--partition``; default the cluster's default partition.
        account: ``--account`` to charge.
        qos: ``--qos``.
        cpus_per_task: ``--cpus-per-task``; default the platform skill's ``resource_defaults.cpus``.
        memory_gb: ``--mem`` in GB; default ``resource_defaults.memory_gb``.
        time_limit: ``--time`` (``HH:MM:SS``, ``D-HH:MM:SS``, minutes, ``UNLIMITED``); default
            ``resource_defaults.time_limit``.
        python: Interpreter for ``python_script`` jobs. Default: this controller's interpreter
            (a login node on a shared filesystem); ``python3`` for a remote cluster or in a container.
        container_runtime: ``none``, ``pyxis`` (``srun --container-image``) or ``apptainer``;
            used only for jobs that name an image.
        container_mounts: Extra ``src:dst`` mounts; the job's own directories are always mounted.
        host: Login node to run Slurm commands on over ssh; default ``$SLURM_HOSTNAME``, unset
            means this machine.
        user: ssh user; default ``$SLURM_USER``, else ssh's own default.
        ssh_options: Extra ssh arguments (port, identity file, ...); ``BatchMode=yes`` is always set.
        state_root: Where the job-id index lives; default ``~/.cache/tao-automl/slurm-jobs``.
        cancel_timeout_seconds: How long ``cancel`` waits for Slurm to end the job.
        command_timeout_seconds: Timeout of one Slurm command.
    """

    name = "slurm"

    def __init__(
        self,
        partition: str | None = None,
        account: str | None = None,
        qos: str | None = None,
        cpus_per_task: int | None = None,
        memory_gb: float | None = None,
        time_limit: str | None = None,
        python: str | None = None,
        container_runtime: str = "none",
        container_mounts: list[str] | None = None,
        host: str | None = None,
        user: str | None = None,
        ssh_options: list[str] | None = None,
        state_root: Path | str | None = None,
        cancel_timeout_seconds: float = 120.0,
        command_timeout_seconds: float = 60.0,
    ) -> None:
        super().__init__()
        defaults = load_resource_defaults()
        self.partition = self._word(partition, "partition")
        self.account = self._word(account, "account")
        self.qos = self._word(qos, "qos")
        self.cpus_per_task = self._positive_int(
            defaults["cpus"] if cpus_per_task is None else cpus_per_task, "cpus_per_task"
        )
        self.memory_gb = self._positive_float(defaults["memory_gb"] if memory_gb is None else memory_gb, "memory_gb")
        self.time_limit = str(defaults["time_limit"] if time_limit is None else time_limit).strip()
        if not _TIME_LIMIT.match(self.time_limit):
            raise PlatformError(
                f"time limit {self.time_limit!r} is not a Slurm time",
                field="time_limit",
                hint="use HH:MM:SS, D-HH:MM:SS, minutes or UNLIMITED",
            )
        if container_runtime not in CONTAINER_RUNTIMES:
            raise PlatformError(
                f"unknown container runtime {container_runtime!r}",
                field="container_runtime",
                hint=f"use one of: {', '.join(CONTAINER_RUNTIMES)}",
            )
        self.container_runtime = container_runtime
        self.container_mounts = [self._mount(m) for m in container_mounts or []]
        self.host = self._word(host if host is not None else os.environ.get("SLURM_HOSTNAME") or None, "host")
        if self.host is not None and self.host.startswith("-"):
            raise PlatformError(f"host {self.host!r} is not a host name", field="host")
        if user is not None and self.host is None:
            raise PlatformError("user is set but no host", field="user", hint="set host (or SLURM_HOSTNAME) too")
        self.user = self._word(user if user is not None else os.environ.get("SLURM_USER") or None, "user")
        if ssh_options is not None and not (
            isinstance(ssh_options, list) and all(isinstance(o, str) for o in ssh_options)
        ):
            raise PlatformError("ssh_options must be a list of strings", field="ssh_options")
        self.ssh_options = list(ssh_options or [])
        self._python_given = python is not None
        self.python = self._find_python(python)
        self.state_root = Path(state_root or DEFAULT_STATE_ROOT).expanduser().absolute()
        self.cancel_timeout_seconds = float(cancel_timeout_seconds)
        self.command_timeout_seconds = float(command_timeout_seconds)
        self._jobs: dict[str, dict[str, str]] = {}
        self._sacct_available: bool | None = None

    # ---- option validation ---------------------------------------------------------------------

    @staticmethod
    def _word(value: str | None, option: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip() or any(ch.isspace() or ch in "\"'\\" for ch in value):
            raise PlatformError(f"{value!r} is not a valid {option}", field=option, hint="a single word, no quotes")
        return value

    @staticmethod
    def _positive_int(value: Any, option: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PlatformError(f"{option} must be a positive integer, got {value!r}", field=option)
        return value

    @staticmethod
    def _positive_float(value: Any, option: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise PlatformError(f"{option} must be a positive number, got {value!r}", field=option)
        return float(value)

    @staticmethod
    def _mount(value: Any) -> str:
        if not isinstance(value, str) or ":" not in value or "," in value or any(ch.isspace() for ch in value):
            raise PlatformError(f"container mount {value!r} is not src:dst", field="container_mounts")
        return value

    def _find_python(self, python: str | None) -> str:
        if self.host is not None:
            return python or "python3"  # a path on the cluster: it cannot be checked from here
        return find_interpreter(python, hint="give the path of a virtualenv's bin/python on the shared filesystem")

    # ---- running Slurm commands (here, or on the login node over ssh) --------------------------

    def remote_argv(self, argv: list[str]) -> list[str]:
        """The argv that runs ``argv`` where Slurm lives: unchanged locally, wrapped in ssh remotely.

        ssh hands the remote side one command line, so the argv is joined with POSIX quoting.
        """
        if self.host is None:
            return list(argv)
        target = f"{self.user}@{self.host}" if self.user else self.host
        return ["ssh", "-o", "BatchMode=yes", *self.ssh_options, "--", target, shlex.join(argv)]

    def _run(self, argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a Slurm command; a missing executable or a timeout becomes a failed result, not an exception."""
        try:
            return subprocess.run(
                self.remote_argv(argv),
                input=stdin,
                capture_output=True,
                text=True,
                timeout=self.command_timeout_seconds,
                check=False,
            )
        except FileNotFoundError as exc:
            return subprocess.CompletedProcess(argv, 127, "", f"{exc.filename}: command not found")
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(argv, 124, "", f"timed out after {self.command_timeout_seconds}s")

    # ---- submit --------------------------------------------------------------------------------

    def _submit(self, job: JobRequest) -> str:
        job = job.model_copy(
            update={
                "workdir": job.workdir.absolute(),
                "results_dir": job.results_dir.absolute(),
                "log_path": job.log_path.absolute(),
            }
        )
        job.workdir.mkdir(parents=True, exist_ok=True)
        script = self.batch_script(job)
        script_path = job.log_path.parent / f"{job.name}.sbatch"
        self._upload(script_path, script, [job.workdir, job.results_dir])
        argv, stdin = self.sbatch_command(job, script_path)
        done = self._run(argv, stdin=stdin)
        if done.returncode != 0:
            raise PlatformError(
                f"sbatch refused job {job.name!r}: {redact(done.stderr.strip() or done.stdout.strip())}",
                field="platform",
                hint="check the partition, account, qos, time limit and resources against `sinfo`",
            )
        job_id = done.stdout.strip().splitlines()[-1].split(";")[0].strip() if done.stdout.strip() else ""
        if not _JOB_ID.match(job_id):
            raise PlatformError(f"sbatch printed no job id for {job.name!r}: {done.stdout!r}", field="platform")
        self._remember(job_id, {"name": job.name, "log_path": str(job.log_path), "script": str(script_path)})
        return job_id

    def upload_command(self, path: Path, dirs: list[Path]) -> list[str]:
        """The command that creates ``dirs`` and writes stdin to ``path`` on the login node."""
        mkdir = shlex.join(["mkdir", "-p", *dict.fromkeys(str(d) for d in [*dirs, path.parent])])
        return ["sh", "-c", f"{mkdir} && cat > {shlex.quote(str(path))}"]

    def _upload(self, path: Path, text: str, dirs: list[Path]) -> None:
        """Write the batch script where the cluster reads it (here, or on the login node over ssh)."""
        if self.host is None:
            write_atomic(path, text)
            return
        command = self.upload_command(path, dirs)
        done = self._run(command, stdin=text)
        if done.returncode != 0:
            raise PlatformError(f"cannot write {path} on {self.host}: {redact(done.stderr.strip())}", field="host")

    def export_names(self, job: JobRequest) -> list[str]:
        """Variables the job inherits from sbatch's environment: the non-secret basics plus passthrough names."""
        names = [n for n in sorted(os.environ) if n in BASE_ENV_NAMES or n.startswith(BASE_ENV_PREFIXES)]
        for name in job.env_passthrough:
            if not _ENV_NAME.match(name):
                raise PlatformError(f"{name!r} is not an environment variable name", field="env_passthrough")
            if name not in names:
                names.append(name)
        return names

    def job_argv(self, job: JobRequest) -> tuple[list[str], Path]:
        """What the batch script runs and in which directory (container runtime included)."""
        if (job.command is None) == (job.python_script is None):
            raise PlatformError(f"job {job.name!r} must set exactly one of command and python_script", field="command")
        container = job.image is not None and self.container_runtime != "none"
        if job.command is not None:
            if not job.command:
                raise PlatformError(f"job {job.name!r} has an empty command", field="command")
            argv, cwd = list(job.command), job.workdir
        else:
            assert job.python_script is not None
            cwd = job.workdir / job.python_script.cwd if job.python_script.cwd else job.workdir
            script = cwd / job.python_script.script
            if self.host is None and not container and not script.is_file():
                raise PlatformError(f"script {script} does not exist", field="python_script.script")
            python = self.python if self._python_given or not container else "python3"
            argv = [python, str(script), *job.python_script.args]
        ntasks = ["--ntasks-per-node=1"] if job.num_nodes > 1 else []
        if not container:
            # One task per node when the job spans nodes; a single-node job runs in the batch step itself.
            return ([*(["srun", *ntasks] if ntasks else []), *argv]), cwd
        assert job.image is not None
        mounts = list(dict.fromkeys([*(f"{d}:{d}" for d in self._job_dirs(job, cwd)), *self.container_mounts]))
        if self.container_runtime == "pyxis":
            pyxis = [
                f"--container-image={_pyxis_image(job.image)}",
                f"--container-mounts={','.join(mounts)}",
                f"--container-workdir={cwd}",
            ]
            return ["srun", *ntasks, *pyxis, *argv], cwd
        nv = ["--nv"] if job.gpus > 0 else []
        apptainer = [
            "apptainer",
            "exec",
            *nv,
            "--bind",
            ",".join(mounts),
            "--pwd",
            str(cwd),
            _apptainer_image(job.image),
        ]
        return [*(["srun", *ntasks] if ntasks else []), *apptainer, *argv], cwd

    @staticmethod
    def _job_dirs(job: JobRequest, cwd: Path) -> list[Path]:
        dirs = [job.workdir, job.results_dir, job.log_path.parent, cwd]
        if job.spec_path is not None:
            dirs.append(job.spec_path.parent)
        return list(dict.fromkeys(dirs))

    def batch_script(self, job: JobRequest) -> str:
        """The sbatch script for ``job``. It holds variable *names* for credentials, never values."""
        argv, cwd = self.job_argv(job)
        log = str(job.log_path).replace("%", "%%")  # sbatch expands %j and friends in file names
        directives: list[tuple[str, str | None]] = [
            ("job-name", job.name),
            ("output", log),
            ("error", log),
            # A fresh log per job even where JobFileAppend=1 is the site default.
            ("open-mode", "truncate"),
            ("partition", self.partition),
            ("account", self.account),
            ("qos", self.qos),
            ("nodes", str(job.num_nodes)),
            ("ntasks-per-node", "1" if job.num_nodes > 1 else None),
            ("gpus-per-node", str(job.gpus) if job.gpus > 0 else None),
            ("cpus-per-task", str(self.cpus_per_task)),
            ("mem", f"{max(1, round(self.memory_gb * 1024))}M"),
            ("time", self.time_limit),
            ("chdir", str(cwd)),
            ("export", ",".join(self.export_names(job))),
        ]
        lines = ["#!/bin/bash"]
        lines += [f"#SBATCH --{key}={_directive_value(value, key)}" for key, value in directives if value]
        # The runner owns retries (bounded, linked by retry_of, visible in the history): Slurm must
        # not silently rerun a job after a node failure or preemption.
        lines.append("#SBATCH --no-requeue")
        lines.append("# Written by tao_automl's slurm platform; credentials arrive by name through --export.")
        lines.append("export PYTHONUNBUFFERED=1")
        for key, value in sorted(job.env.items()):
            if not _ENV_NAME.match(key):
                raise PlatformError(f"{key!r} is not an environment variable name", field="env")
            lines.append(f"export {key}={shlex.quote(value)}")
        lines.append(f"exec {shlex.join(argv)}")
        return "\n".join(lines) + "\n"

    def sbatch_command(self, job: JobRequest, script_path: Path) -> tuple[list[str], str | None]:
        """The sbatch argv and its stdin.

        Locally sbatch inherits this process's environment, so ``--export`` finds the passthrough
        values there. Over ssh the remote shell has none of them: their values travel on ssh's
        stdin (encrypted, never on a command line or in a file) into a ``sh`` that exports them
        for sbatch alone.
        """
        argv = ["sbatch", "--parsable", str(script_path)]
        present = [n for n in job.env_passthrough if n in os.environ]
        if self.host is None or not present:
            return argv, None
        values = [os.environ[n] for n in present]
        if any("\n" in v or "\r" in v for v in values):
            raise PlatformError("a passthrough variable holds a newline and cannot be sent", field="env_passthrough")
        reads = " && ".join(f"IFS= read -r {n} && export {n}" for n in present)
        return ["sh", "-c", f"{reads} && exec {shlex.join(argv)}"], "".join(f"{v}\n" for v in values)

    # ---- the job index (job id -> log file) ----------------------------------------------------

    def _index_path(self, job_id: str) -> Path:
        cluster = "local" if self.host is None else f"{self.user or ''}@{self.host}"
        return self.state_root / re.sub(r"[^\w.@-]", "_", cluster) / f"{job_id}.json"

    def _remember(self, job_id: str, record: dict[str, str]) -> None:
        self._jobs[job_id] = record
        path = self._index_path(job_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(record))

    def _record(self, job_id: str) -> dict[str, str] | None:
        """Where the job's log is: this process's memory, else Slurm's own record, else the index."""
        if job_id in self._jobs:
            return self._jobs[job_id]
        if not _JOB_ID.match(job_id):
            return None
        fields = self._scontrol(job_id)
        if fields and fields.get("StdOut"):
            record = {"name": fields.get("JobName", ""), "log_path": fields["StdOut"]}
            self._jobs[job_id] = record
            return record
        try:
            record = json.loads(self._index_path(job_id).read_text())
        except (OSError, ValueError):
            return None
        if isinstance(record, dict) and isinstance(record.get("log_path"), str):
            self._jobs[job_id] = record
            return record
        return None

    # ---- status --------------------------------------------------------------------------------

    def _scontrol(self, job_id: str) -> dict[str, str] | None:
        done = self._run(["scontrol", "show", "job", job_id])
        if done.returncode != 0 or "JobState=" not in done.stdout:
            return None
        return parse_scontrol(done.stdout)

    def _sacct(self, job_id: str) -> tuple[str, str | None] | None:
        if self._sacct_available is False:
            return None
        done = self._run(["sacct", "-j", job_id, "-n", "-X", "-P", "-o", "State,ExitCode"])
        if done.returncode != 0:
            if "accounting storage is disabled" in done.stderr.lower() or done.returncode == 127:
                self._sacct_available = False
            return None
        self._sacct_available = True
        return parse_sacct(done.stdout)

    def _status(self, job_id: str) -> JobStatus:
        if not _JOB_ID.match(job_id):
            return JobStatus(state=JobState.UNKNOWN, message=f"{job_id!r} is not a Slurm job id")
        done = self._run(["squeue", "-j", job_id, "-h", "-o", "%T"])
        listed = parse_squeue_state(done.stdout) if done.returncode == 0 else None
        if listed is not None:
            status = map_state(listed)
            if status.state in (JobState.PENDING, JobState.RUNNING):
                return status
        fields = self._scontrol(job_id)
        if fields is not None:
            return map_state(fields.get("JobState"), fields.get("ExitCode"), fields.get("Reason"))
        accounted = self._sacct(job_id)
        if accounted is not None:
            return map_state(*accounted)
        if listed is not None:
            return map_state(listed)
        detail = redact(done.stderr.strip()) if done.returncode != 0 else "not in squeue, scontrol or sacct"
        return JobStatus(state=JobState.UNKNOWN, message=f"Slurm job {job_id}: {detail}")

    # ---- logs ----------------------------------------------------------------------------------

    def _read_logs(self, job_id: str) -> str:
        record = self._record(job_id)
        if record is None:
            return ""
        if self.host is None:
            try:
                data = Path(record["log_path"]).read_bytes()
            except OSError:
                return ""
        else:
            try:
                done = subprocess.run(
                    self.remote_argv(["cat", record["log_path"]]),
                    capture_output=True,
                    timeout=self.command_timeout_seconds,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired):
                return ""
            data = done.stdout if done.returncode == 0 else b""
        # final=False keeps a half-written multi-byte character for the next read (stable offsets).
        return codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data, final=False)

    # ---- cancel --------------------------------------------------------------------------------

    @staticmethod
    def _over(status: JobStatus) -> bool:
        """Nothing is left to stop: the job ended, or Slurm says it has no such job."""
        return status.state.terminal or (status.state is JobState.UNKNOWN and _INVALID_ID in status.message.lower())

    def _cancel(self, job_id: str) -> None:
        if not _JOB_ID.match(job_id) or self._over(self.status(job_id)):
            return
        done = self._run(["scancel", job_id])
        if done.returncode != 0 and not any(s in done.stderr.lower() for s in (_INVALID_ID, "already completing")):
            raise PlatformError(f"scancel {job_id} failed: {redact(done.stderr.strip())}", field="platform")
        # scancel only asks; the job is over when Slurm has ended its processes (it leaves COMPLETING).
        deadline = time.monotonic() + self.cancel_timeout_seconds
        while time.monotonic() < deadline:
            if self._over(self.status(job_id)):
                return
            time.sleep(POLL_SECONDS)
        raise PlatformError(
            f"Slurm job {job_id} still runs {self.cancel_timeout_seconds:.0f}s after scancel",
            field="platform",
            hint="check the node with `scontrol show node` (a job stuck in COMPLETING needs an admin)",
        )

    # ---- lookup --------------------------------------------------------------------------------

    def find_job(self, name: str) -> str | None:
        """The newest Slurm job named ``name`` (``squeue``, then ``sacct``), or None."""
        if not name or "," in name or any(ch.isspace() for ch in name):
            return None
        done = self._run(["squeue", "-h", "-t", "all", "-n", name, "-o", "%i"])
        ids = [line.strip() for line in done.stdout.splitlines() if _JOB_ID.match(line.strip())]
        if done.returncode == 0 and ids:
            return max(ids, key=lambda i: [int(p) for p in i.split("_")])
        if self._sacct_available is False:
            return None
        done = self._run(["sacct", "-n", "-X", "-P", "-S", "now-7days", "--name", name, "-o", "JobID"])
        ids = [line.strip() for line in done.stdout.splitlines() if _JOB_ID.match(line.strip())]
        if done.returncode != 0 or not ids:
            return None
        return max(ids, key=lambda i: [int(p) for p in i.split("_")])
