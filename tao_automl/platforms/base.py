"""The platform contract: four verbs (submit/status/logs/cancel) plus failure analysis.

A platform owns only jobs. It never decides what to run or when; the runner does. The public
verbs do the bookkeeping once (log offsets, failure classification); a concrete platform
implements a few private hooks (``_submit``, ``_status``, ``_read_logs``, ``_cancel``).
"""

from __future__ import annotations

import shutil
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from tao_automl.errors import PlatformError
from tao_automl.platforms.failures import FailureAnalysis, classify_failure
from tao_automl.platforms.job_status import JobState, JobStatus


class PythonScript(BaseModel):
    """An action run as ``<interpreter> script args...``; the platform chooses the interpreter.

    ``args`` have every placeholder filled with this workspace's paths; ``arg_template`` keeps the
    SDK placeholders (``{config_path}``, ``{results_dir}``, ``{job_id}``) for an SDK that writes the
    spec itself (the TAO SDK's ``create_python_job``).
    """

    script: str
    args: list[str] = Field(default_factory=list)
    arg_template: list[str] | None = None
    cwd: str | None = None
    config_format: str = "yaml"


class JobRequest(BaseModel):
    """Everything a platform needs to run one action. Built by the runner, never by a platform.

    Exactly one of ``command`` (an argv list, placeholders already filled) and ``python_script``
    is set. ``env`` holds non-secret values; ``env_passthrough`` holds only the *names* of
    variables the job may inherit (credentials), never their values.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    action: str
    command: list[str] | None = None
    python_script: PythonScript | None = None
    image: str | None = None
    workdir: Path
    results_dir: Path
    spec_path: Path | None = None
    log_path: Path
    env: dict[str, str] = Field(default_factory=dict)
    env_passthrough: list[str] = Field(default_factory=list)
    gpus: int = 0
    num_nodes: int = 1
    #: What the skill declares for the action, for SDKs that stage data and route outputs themselves.
    network_arch: str = ""
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] | list[str] = Field(default_factory=dict)
    upload_excludes: list[str] = Field(default_factory=list)
    #: The spec key that holds ``results_dir`` (the runner points it at ``results_dir``).
    results_key: str = "results_dir"


def job_argv(job: JobRequest, python: str) -> tuple[list[str], Path]:
    """The job's argv and working directory: its command, or ``python script args`` in the script's cwd.

    Shared by every platform that runs the argv itself (local processes, containers), so a
    ``python_script`` action means the same thing everywhere.
    """
    if (job.command is None) == (job.python_script is None):
        raise PlatformError(f"job {job.name!r} must set exactly one of command and python_script", field="command")
    if job.command is not None:
        if not job.command:
            raise PlatformError(f"job {job.name!r} has an empty command", field="command")
        return list(job.command), job.workdir
    assert job.python_script is not None
    cwd = job.workdir / job.python_script.cwd if job.python_script.cwd else job.workdir
    if not cwd.is_dir():
        raise PlatformError(f"working directory {cwd} does not exist", field="python_script.cwd")
    script = cwd / job.python_script.script
    if not script.is_file():
        raise PlatformError(f"script {script} does not exist", field="python_script.script")
    return [python, str(script), *job.python_script.args], cwd


def find_interpreter(python: str | None, hint: str = "give the path of a virtualenv's bin/python") -> str:
    """An interpreter path for ``python_script`` jobs: the given one (checked), else this process's."""
    if python is None:
        return sys.executable
    found = shutil.which(python)
    if found is None:
        raise PlatformError(f"interpreter {python!r} not found or not executable", field="python", hint=hint)
    return str(Path(found).absolute())


class Platform(ABC):
    """Base class of every execution platform. Subclasses set ``name`` and implement the hooks."""

    name: ClassVar[str]

    @classmethod
    def job_interpreter(cls, options: Mapping[str, Any]) -> str | None:
        """This host's interpreter that ``python_script`` jobs run with under ``options``.

        None when jobs run on another interpreter (an image, a remote node), which preflight
        cannot open from here. Raises PlatformError when the configured interpreter is missing.
        """
        return None

    def __init__(self) -> None:
        self._log_offsets: dict[str, int] = {}
        self._lock = threading.Lock()

    def submit(self, job: JobRequest) -> str:
        """Start ``job``; return the platform's job id. Raises PlatformError if it cannot start."""
        job.log_path.parent.mkdir(parents=True, exist_ok=True)
        if job.results_dir.is_symlink() and not job.results_dir.exists():
            job.results_dir.unlink()  # an earlier attempt's link to results an SDK has since deleted
        job.results_dir.mkdir(parents=True, exist_ok=True)
        return self._submit(job)

    def status(self, job_id: str) -> JobStatus:
        """Current state of ``job_id``; UNKNOWN (not an exception) when it cannot be told now."""
        return self._status(job_id)

    def logs(self, job_id: str, tail: int | None = None) -> str:
        """Whole log of the job so far, or its last ``tail`` lines."""
        text = self._read_logs(job_id)
        if tail is not None:
            text = "\n".join(text.splitlines()[-tail:])
        return text

    def new_logs(self, job_id: str) -> str:
        """Only the log text written since the previous call, so each line is seen exactly once.

        While the job runs, a trailing partial line is held back until its newline arrives (a metric
        split across two reads would otherwise be parsed wrong). A read shorter than the previous
        one (a transient SDK error) never rewinds the offset.
        """
        text = self._read_logs(job_id)
        end = len(text)
        if text and not text.endswith("\n"):
            if self.status(job_id).state.terminal:
                text = self._read_logs(job_id)  # it may have finished its last line since the first read
                end = len(text)
            else:
                end = text.rfind("\n") + 1
        with self._lock:
            start = self._log_offsets.get(job_id, 0)
            if end <= start:
                return ""
            self._log_offsets[job_id] = end
        return text[start:end]

    def cancel(self, job_id: str) -> None:
        """Stop the job and everything it started. Cancelling a finished job is a no-op."""
        self._cancel(job_id)

    def failure_analysis(self, job_id: str) -> FailureAnalysis:
        """Classify why a job failed from its status and log tail."""
        return classify_failure(self.status(job_id), self.logs(job_id, tail=200))

    def checkpoints(self, job_id: str) -> list[str]:
        """Checkpoints the platform itself can list for a job whose results are not on this machine."""
        return []

    def delete_artifacts(self, job_id: str) -> bool:
        """Delete a finished job's artifacts where the platform keeps them; False when it cannot."""
        return False

    def reattach(self, job_id: str) -> bool:
        """Called on resume: True when the platform still knows ``job_id`` (it may have finished)."""
        return self.status(job_id).state is not JobState.UNKNOWN

    @property
    def can_find_jobs(self) -> bool:
        """Whether :meth:`find_job` can look a job up (else a job with no recorded id is lost, never relaunched)."""
        return type(self).find_job is not Platform.find_job

    def find_job(self, name: str) -> str | None:
        """Return the job id submitted under ``name`` if the platform can look it up, else None.

        Used on resume when a crash happened between submit and recording the job id.
        """
        return None

    @abstractmethod
    def _submit(self, job: JobRequest) -> str: ...

    @abstractmethod
    def _status(self, job_id: str) -> JobStatus: ...

    @abstractmethod
    def _read_logs(self, job_id: str) -> str: ...

    @abstractmethod
    def _cancel(self, job_id: str) -> None: ...
