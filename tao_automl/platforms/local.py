"""Run jobs as processes on this machine, with state on disk so any later process can manage them.

The runner may be SIGKILLed and resumed from another process, so nothing about a job lives only
in memory. Each job runs under ``local_supervisor.py`` (its own session and process group) which
records the pid and, at the end, the exit code in the job's state dir
``<log dir>/.job-<name>/``. An index under ``state_root`` maps job ids to state dirs, so a fresh
``LocalPlatform`` can report, read and cancel jobs an earlier one started.
"""

from __future__ import annotations

import codecs
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

from tao_automl.errors import PlatformError
from tao_automl.platforms.base import JobRequest, JobState, JobStatus, Platform, find_interpreter, job_argv
from tao_automl.platforms.local_supervisor import write_atomic
from tao_automl.redaction import redact

SUPERVISOR = Path(__file__).with_name("local_supervisor.py")
DEFAULT_STATE_ROOT = Path("~/.cache/tao-automl/local-jobs")
POLL_SECONDS = 0.02

# Jobs inherit only these non-secret variables; credentials reach a job only when named in
# ``env_passthrough`` (or with ``inherit_env=True``).
BASE_ENV_NAMES = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LANGUAGE", "TZ",
        "TMPDIR", "TEMP", "TMP", "PYTHONPATH", "VIRTUAL_ENV", "CONDA_PREFIX", "LD_LIBRARY_PATH",
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "TORCH_HOME", "HF_HOME", "NO_PROXY", "no_proxy",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
    }
)  # fmt: skip
BASE_ENV_PREFIXES = ("LC_", "CUDA_", "NVIDIA_", "NCCL_", "XDG_")


class _ProcStat(NamedTuple):
    state: str
    pgrp: int
    start: str


def _proc_stat(pid: int) -> _ProcStat | None:
    """State, process group and start time of ``pid`` from ``/proc``; None if it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return _ProcStat(fields[0], int(fields[2]), fields[19])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int, start: str) -> bool:
    """True when ``pid`` runs, is not a zombie, and is the process that recorded ``start``."""
    stat = _proc_stat(pid)
    if stat is None:
        return False
    return stat.state not in ("Z", "X") and (not start or stat.start == start)


def _group_alive(pgid: int) -> bool:
    """True while any non-zombie process is in process group ``pgid``."""
    try:
        entries = [e.name for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:
        return False
    for name in entries:
        stat = _proc_stat(int(name))
        if stat is not None and stat.pgrp == pgid and stat.state not in ("Z", "X"):
            return True
    return False


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _safe_name(name: str) -> str:
    """A file name for a job id: ids may contain ``/`` or spaces."""
    return quote(name, safe="")


class LocalPlatform(Platform):
    """Jobs are real processes on this machine; state survives the runner's death.

    Args:
        python: Interpreter for ``python_script`` jobs (e.g. a virtualenv's ``bin/python``);
            default the current interpreter.
        env: Extra variables for every job (non-secret).
        state_root: Where the job index lives; default ``~/.cache/tao-automl/local-jobs``.
        inherit_env: Give jobs this process's whole environment instead of a non-secret allowlist.
        cancel_grace_seconds: How long ``cancel`` waits after SIGTERM before SIGKILL.
        start_timeout_seconds: A job whose supervisor never recorded its pid within this time is
            reported as an infrastructure failure.
    """

    name = "local"

    @classmethod
    def job_interpreter(cls, options: Mapping[str, Any]) -> str | None:
        return find_interpreter(options.get("python"))

    def __init__(
        self,
        python: str | None = None,
        env: dict[str, str] | None = None,
        state_root: Path | str | None = None,
        inherit_env: bool = False,
        cancel_grace_seconds: float = 5.0,
        start_timeout_seconds: float = 120.0,
    ) -> None:
        super().__init__()
        self.python = find_interpreter(python)
        self.env = dict(env or {})
        self.state_root = Path(state_root or DEFAULT_STATE_ROOT).expanduser().absolute()
        self.inherit_env = inherit_env
        self.cancel_grace_seconds = cancel_grace_seconds
        self.start_timeout_seconds = start_timeout_seconds
        self._dirs: dict[str, Path] = {}
        self._requests: dict[str, JobRequest] = {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    # ---- submit ---------------------------------------------------------------------------

    def _submit(self, job: JobRequest) -> str:
        job = job.model_copy(
            update={
                "workdir": job.workdir.absolute(),
                "results_dir": job.results_dir.absolute(),
                "log_path": job.log_path.absolute(),
            }
        )
        job.workdir.mkdir(parents=True, exist_ok=True)
        argv, cwd = job_argv(job, self.python)
        state_dir = job.log_path.parent / f".job-{_safe_name(job.name)}"
        self._claim(job, state_dir)
        # Records only: the process gets the real argv; a key someone put on a command line is not kept.
        write_atomic(state_dir / "launch.json", redact(json.dumps({"argv": argv, "cwd": str(cwd)}, indent=2)))
        with open(state_dir / "supervisor.log", "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-I", str(SUPERVISOR), str(state_dir), str(job.log_path), str(cwd), "--", *argv],
                env=self._job_env(job),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._procs[job.name] = proc
        self._wait_started(job.name, state_dir, proc)
        return job.name

    def _claim(self, job: JobRequest, state_dir: Path) -> None:
        """Record the job (request, index entry) before it starts, refusing a duplicate name."""
        if (state_dir / "request.json").exists():
            raise PlatformError(
                f"a job named {job.name!r} was already submitted (state in {state_dir})",
                field="name",
                hint="job names must be unique; use find_job() to re-attach to it",
            )
        previous = self._indexed_dir(job.name)
        if previous is not None and previous != state_dir and not self.status(job.name).state.terminal:
            raise PlatformError(
                f"another job named {job.name!r} is still active (state in {previous})",
                field="name",
                hint="job names must be unique across runs sharing a state_root",
            )
        state_dir.mkdir(parents=True, exist_ok=True)
        # JobRequest holds passthrough *names* only, so this file never contains a secret.
        write_atomic(state_dir / "request.json", redact(job.model_dump_json(indent=2)))
        index = self._index_path(job.name)
        index.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(index, json.dumps({"state_dir": str(state_dir)}))
        self._dirs[job.name] = state_dir
        self._requests[job.name] = job

    def _job_env(self, job: JobRequest) -> dict[str, str]:
        if self.inherit_env:
            env = dict(os.environ)
        else:
            env = {k: v for k, v in os.environ.items() if k in BASE_ENV_NAMES or k.startswith(BASE_ENV_PREFIXES)}
        env.update(self.env)
        env.update(job.env)
        env.update({name: os.environ[name] for name in job.env_passthrough if name in os.environ})
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _wait_started(self, job_id: str, state_dir: Path, proc: subprocess.Popen[bytes]) -> None:
        """Surface a supervisor that cannot even start as an error of ``submit``."""
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and not (state_dir / "pid").exists():
            if proc.poll() is not None:
                if (state_dir / "pid").exists():
                    return
                detail = (_read_text(state_dir / "supervisor.log") or "").strip()[-2000:]
                raise PlatformError(
                    f"job {job_id!r} could not start (supervisor exited with {proc.returncode}): {detail}",
                    field="platform",
                )
            time.sleep(POLL_SECONDS)

    # ---- lookup ---------------------------------------------------------------------------

    def _index_path(self, job_id: str) -> Path:
        return self.state_root / "jobs" / f"{_safe_name(job_id)}.json"

    def _indexed_dir(self, job_id: str) -> Path | None:
        text = _read_text(self._index_path(job_id))
        if text is None:
            return None
        try:
            return Path(json.loads(text)["state_dir"])
        except (ValueError, KeyError, TypeError):
            return None

    def _state_dir(self, job_id: str) -> Path | None:
        state_dir = self._dirs.get(job_id) or self._indexed_dir(job_id)
        if state_dir is None or not (state_dir / "request.json").exists():
            return None
        self._dirs[job_id] = state_dir
        return state_dir

    def _request(self, job_id: str) -> JobRequest | None:
        if job_id in self._requests:
            return self._requests[job_id]
        state_dir = self._state_dir(job_id)
        text = None if state_dir is None else _read_text(state_dir / "request.json")
        if text is None:
            return None
        self._requests[job_id] = JobRequest.model_validate_json(text)
        return self._requests[job_id]

    def find_job(self, name: str) -> str | None:
        """The job id for ``name`` (ids are names) when its state dir exists."""
        return name if self._state_dir(name) is not None else None

    def reattach(self, job_id: str) -> bool:
        """True when the job's state dir is known; its state then comes from disk, not memory."""
        return self._state_dir(job_id) is not None

    # ---- status ---------------------------------------------------------------------------

    @staticmethod
    def _exit_code(state_dir: Path) -> int | None:
        text = _read_text(state_dir / "exit_code")
        try:
            return None if text is None else int(text.strip())
        except ValueError:
            return None

    @staticmethod
    def _pid(state_dir: Path) -> tuple[int, str] | None:
        text = _read_text(state_dir / "pid")
        if not text:
            return None
        pid, _, start = text.strip().partition(" ")
        try:
            return int(pid), start
        except ValueError:
            return None

    def _reap(self, job_id: str) -> bool:
        """Collect our own exited supervisor (so it is not a zombie); True while it still runs."""
        proc = self._procs.get(job_id)
        if proc is None:
            return False
        if proc.poll() is None:
            return True
        self._procs.pop(job_id, None)
        return False

    def _status(self, job_id: str) -> JobStatus:
        state_dir = self._state_dir(job_id)
        if state_dir is None:
            return JobStatus(state=JobState.UNKNOWN, message=f"no local job {job_id!r}")
        ours_running = self._reap(job_id)
        canceled = (state_dir / "canceled").exists()
        pid = self._pid(state_dir)
        if self._exit_code(state_dir) is None:
            if pid is None:
                age = time.time() - (state_dir / "request.json").stat().st_mtime
                if ours_running or age < self.start_timeout_seconds:
                    return JobStatus(state=JobState.PENDING, message="supervisor starting")
                return JobStatus(state=JobState.ERROR, infra_failure=True, message="supervisor never started")
            if _alive(*pid):
                return JobStatus(state=JobState.RUNNING)
        # Read again: the supervisor may have written the exit code after our first look.
        code = self._exit_code(state_dir)
        if canceled:
            return JobStatus(state=JobState.CANCELED, exit_code=code, message="canceled")
        if code is None:
            return JobStatus(state=JobState.ERROR, infra_failure=True, message="supervisor vanished")
        if code == 0:
            return JobStatus(state=JobState.COMPLETE, exit_code=0)
        return JobStatus(state=JobState.ERROR, exit_code=code, message=f"exit code {code}")

    # ---- logs -----------------------------------------------------------------------------

    def _read_logs(self, job_id: str) -> str:
        request = self._request(job_id)
        if request is None:
            return ""
        try:
            data = request.log_path.read_bytes()
        except OSError:
            return ""
        # final=False leaves a half-written multi-byte character for the next read, keeping
        # new_logs offsets stable.
        return codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data, final=False)

    # ---- cancel ---------------------------------------------------------------------------

    def _cancel(self, job_id: str) -> None:
        state_dir = self._state_dir(job_id)
        if state_dir is None or self._exit_code(state_dir) is not None:
            return
        self._reap(job_id)
        pid = self._pid(state_dir)
        if pid is not None and not _alive(*pid):
            stat = _proc_stat(pid[0])
            if stat is None or stat.start == pid[1]:
                self._stop_group(job_id, pid[0])  # orphans of a vanished supervisor
            return
        write_atomic(state_dir / "canceled", f"{time.time()}\n")
        if pid is None:
            return  # the supervisor checks the marker before starting the job
        self._stop_group(job_id, pid[0])

    def _stop_group(self, job_id: str, pgid: int) -> None:
        """SIGTERM the job's process group, then SIGKILL what is left after the grace period."""
        for sig, wait in ((signal.SIGTERM, self.cancel_grace_seconds), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            except PermissionError as exc:
                raise PlatformError(f"cannot signal job {job_id!r}: {exc}", field="platform") from exc
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                self._reap(job_id)
                if not _group_alive(pgid):
                    return
                time.sleep(POLL_SECONDS * 2.5)
        raise PlatformError(f"job {job_id!r} (process group {pgid}) did not stop after SIGKILL", field="platform")
