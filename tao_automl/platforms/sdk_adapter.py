"""Adapter for a duck-typed platform SDK (the published TAO SDK shape) behind the four verbs.

The SDK object needs ``create_job(image, command, **kw) -> job id``, ``get_job_status(job_id)``,
``get_job_logs(job_id)`` and ``cancel_job(job_id)``; ``get_failure_analysis(job_id)`` and
``find_job(name)`` are used when present. SDKs disagree on spellings ("Done", "SUCCEEDED",
``{"status": "Running"}``), so everything they return is normalised here, once.
"""

from __future__ import annotations

import inspect
import re
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tao_automl.errors import PlatformError
from tao_automl.platforms.base import JobRequest, JobState, JobStatus, Platform
from tao_automl.platforms.failures import (
    RETRYABLE,
    FailureAnalysis,
    FailureCategory,
    classify_failure,
    redact,
)
from tao_automl.platforms.local_supervisor import write_atomic

REQUIRED_METHODS = ("create_job", "get_job_status", "get_job_logs", "cancel_job")

_STATE_SPELLINGS: dict[JobState, tuple[str, ...]] = {
    JobState.PENDING: (
        "pending", "queued", "queueing", "created", "submitted", "scheduled", "waiting", "starting",
        "initializing", "initialising", "accepted", "new", "not_started", "provisioning", "pulling",
    ),
    JobState.RUNNING: (
        "running", "in_progress", "inprogress", "active", "started", "executing", "processing",
        "resuming", "canceling", "cancelling", "stopping",
    ),
    JobState.COMPLETE: (
        "done", "complete", "completed", "success", "succeeded", "successful", "finished", "ok",
    ),
    JobState.ERROR: (
        "error", "errored", "failed", "failure", "fail", "crashed", "timeout", "timed_out",
        "oomkilled", "oom_killed", "node_fail", "lost", "killed",
    ),
    JobState.CANCELED: ("canceled", "cancelled", "aborted", "stopped", "revoked", "preempted", "preemption"),
}  # fmt: skip
#: Spellings that say the infrastructure, not the job, failed (retryable) or the job was preempted.
_INFRA_WORDS = {"node_fail", "lost", "boot_fail", "evicted"}
_PREEMPT_WORDS = {"preempted", "preemption"}
STATE_ALIASES: dict[str, JobState] = {
    spelling: state for state, spellings in _STATE_SPELLINGS.items() for spelling in spellings
}
_STATUS_KEYS = ("status", "state", "phase", "job_status")
_EXIT_KEYS = ("exit_code", "exitCode", "returncode", "return_code")
_MESSAGE_KEYS = ("message", "reason", "detail", "error")


def parse_state(value: object) -> JobState:
    """Map any common spelling of a job state to JobState; anything unrecognised is UNKNOWN."""
    if isinstance(value, JobState):
        return value
    key = re.sub(r"[\s\-]+", "_", str(getattr(value, "value", value)).strip().lower())
    if key.startswith("jobstate.") or key.startswith("status."):
        key = key.partition(".")[2]
    return STATE_ALIASES.get(key, JobState.UNKNOWN)


def _field(raw: object, keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = raw.get(key) if isinstance(raw, Mapping) else getattr(raw, key, None)
        if value is not None:
            return value
    return None


def _state_key(value: object) -> str:
    return re.sub(r"[\s\-]+", "_", str(getattr(value, "value", value)).strip().lower())


def parse_status(raw: object) -> JobStatus:
    """Normalise what ``get_job_status`` returned: a string, an enum, a dict or an object.

    Preemption becomes CANCELED with the message "preempted" (the runner retries it and never
    counts it as a failed recommendation); node failures and evictions set ``infra_failure``.
    """
    if isinstance(raw, JobStatus):
        return raw
    if isinstance(raw, str | JobState) or raw is None:
        key = _state_key(raw)
        return JobStatus(
            state=parse_state(raw),
            message="preempted" if key in _PREEMPT_WORDS else "",
            infra_failure=key in _INFRA_WORDS,
        )
    value = _field(raw, _STATUS_KEYS)
    if value is not None and not isinstance(value, str | JobState):
        value = parse_status(value).state  # nested: {"status": {"state": "Running"}} or an enum
    exit_code = _field(raw, _EXIT_KEYS)
    message = _field(raw, _MESSAGE_KEYS)
    try:
        exit_code = None if exit_code is None else int(exit_code)
    except (TypeError, ValueError):
        exit_code = None
    key = _state_key(value) if isinstance(value, str) else ""
    text = redact(str(message)) if message else ""
    if key in _PREEMPT_WORDS and "preempt" not in text.lower():
        text = f"preempted{': ' + text if text else ''}"
    return JobStatus(
        state=parse_state(value) if value is not None else parse_state(raw),
        exit_code=exit_code,
        message=text,
        infra_failure=bool(_field(raw, ("infra_failure",))) or key in _INFRA_WORDS,
    )


def _accepted_kwargs(func: Callable[..., object]) -> set[str] | None:
    """Keyword names ``func`` accepts; None when it takes ``**kwargs`` (or cannot be inspected)."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _job_id(result: object) -> str:
    value = _field(result, ("job_id", "id")) if not isinstance(result, str | int) else result
    if value is None or str(value) == "":
        raise PlatformError(f"SDK create_job returned no job id (got {result!r})", field="platform_sdk")
    return str(value)


def _text(raw: object) -> str:
    if raw is None:
        return ""
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace")
    if isinstance(raw, list | tuple):
        return "".join(f"{line}\n" for line in raw)
    if isinstance(raw, Mapping):
        return _text(_field(raw, ("logs", "log", "text")))
    return str(raw)


class SdkPlatform(Platform):
    """Run jobs through a duck-typed SDK object.

    Args:
        sdk: The SDK object (see the module docstring for the methods it needs).
        python: Interpreter named in the command line of ``python_script`` jobs.
    """

    name = "sdk"

    def __init__(self, sdk: object | None = None, python: str = "python") -> None:
        super().__init__()
        if sdk is None:
            raise PlatformError(
                "the sdk platform needs an SDK object",
                field="platform_sdk",
                hint="pass platform_sdk=<object with " + ", ".join(REQUIRED_METHODS) + ">",
            )
        missing = [m for m in REQUIRED_METHODS if not callable(getattr(sdk, m, None))]
        if missing:
            raise PlatformError(
                f"SDK object {type(sdk).__name__} lacks method(s): {', '.join(missing)}",
                field="platform_sdk",
                hint="it needs create_job(image, command, **kw), get_job_status(job_id), "
                "get_job_logs(job_id) and cancel_job(job_id)",
            )
        self.sdk = sdk
        self.python = python
        self._accepts = _accepted_kwargs(sdk.create_job)  # type: ignore[attr-defined]
        self._log_paths: dict[str, Path] = {}
        self._last_logs: dict[str, str] = {}

    def _command(self, job: JobRequest) -> str:
        if job.command is not None:
            return shlex.join(job.command)
        if job.python_script is None:
            raise PlatformError(f"job {job.name!r} has neither command nor python_script", field="command")
        line = shlex.join([self.python, job.python_script.script, *job.python_script.args])
        cwd = job.python_script.cwd
        return f"cd {shlex.quote(cwd)} && {line}" if cwd else line

    def _create_kwargs(self, job: JobRequest) -> dict[str, object]:
        kwargs: dict[str, object] = {
            "name": job.name,
            "spec_path": None if job.spec_path is None else str(job.spec_path),
            "results_dir": str(job.results_dir),
            "env": dict(job.env),
            "gpus": job.gpus,
            "num_nodes": job.num_nodes,
        }
        if self._accepts is None:
            return kwargs
        # Passthrough names are only given to an SDK that asks for them by name.
        if "env_passthrough" in self._accepts:
            kwargs["env_passthrough"] = list(job.env_passthrough)
        return {k: v for k, v in kwargs.items() if k in self._accepts}

    def _submit(self, job: JobRequest) -> str:
        try:
            result = self.sdk.create_job(job.image, self._command(job), **self._create_kwargs(job))  # type: ignore[attr-defined]
        except PlatformError:
            raise
        except Exception as exc:
            raise PlatformError(f"SDK create_job failed for {job.name!r}: {exc}", field="platform") from exc
        job_id = _job_id(result)
        self._log_paths[job_id] = job.log_path
        return job_id

    def _status(self, job_id: str) -> JobStatus:
        try:
            raw = self.sdk.get_job_status(job_id)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - a foreign SDK may raise anything; reported as UNKNOWN/PlatformError
            # A transient API error or an id the SDK does not know: never guess a terminal state.
            return JobStatus(state=JobState.UNKNOWN, message=redact(f"get_job_status failed: {exc}"))
        return parse_status(raw)

    def _read_logs(self, job_id: str) -> str:
        try:
            text = _text(self.sdk.get_job_logs(job_id))  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - a foreign SDK may raise anything; reported as UNKNOWN/PlatformError
            return self._last_logs.get(job_id, "")
        if text != self._last_logs.get(job_id) and job_id in self._log_paths:
            # Mirror into the workspace so the job's log outlives the remote service.
            write_atomic(self._log_paths[job_id], text)
        self._last_logs[job_id] = text
        return text

    def _cancel(self, job_id: str) -> None:
        try:
            self.sdk.cancel_job(job_id)  # type: ignore[attr-defined]
        except Exception as exc:
            if self.status(job_id).state.terminal:
                return
            raise PlatformError(f"SDK cancel_job failed for {job_id!r}: {exc}", field="platform") from exc

    def find_job(self, name: str) -> str | None:
        finder = getattr(self.sdk, "find_job", None)
        if not callable(finder):
            return None
        try:
            found = finder(name)
        except Exception:  # noqa: BLE001 - a foreign SDK may raise anything; reported as UNKNOWN/PlatformError
            return None
        return None if found is None else _job_id(found)

    def failure_analysis(self, job_id: str) -> FailureAnalysis:
        """The SDK's own analysis when it offers one with a known category, else the log table."""
        status = self.status(job_id)
        getter = getattr(self.sdk, "get_failure_analysis", None)
        if callable(getter) and status.state in (JobState.ERROR, JobState.CANCELED):
            try:
                analysis = _to_analysis(getter(job_id), status)
            except Exception:  # noqa: BLE001 - a foreign SDK may raise anything; reported as UNKNOWN/PlatformError
                analysis = None
            if analysis is not None and analysis.category is not FailureCategory.UNKNOWN:
                return analysis
        return classify_failure(status, self.logs(job_id, tail=200))


def _to_analysis(raw: object, status: JobStatus) -> FailureAnalysis | None:
    """Map an SDK's failure analysis (model, dict, object or plain string) into ours."""
    if raw is None:
        return None
    if isinstance(raw, FailureAnalysis):
        return raw.model_copy(update={"evidence": [redact(e) for e in raw.evidence]})
    if isinstance(raw, str):
        return FailureAnalysis(category=FailureCategory.parse(raw), reason=redact(raw), exit_code=status.exit_code)
    category = FailureCategory.parse(_field(raw, ("category", "failure_category", "type", "kind")) or "")
    evidence = _field(raw, ("evidence", "log_lines", "lines")) or []
    if isinstance(evidence, str):
        evidence = evidence.splitlines()
    exit_code = _field(raw, _EXIT_KEYS)
    retryable = _field(raw, ("retryable", "retry"))
    return FailureAnalysis(
        category=category,
        reason=redact(str(_field(raw, ("reason", *_MESSAGE_KEYS)) or category.value)),
        evidence=[redact(str(line)) for line in evidence],
        exit_code=status.exit_code if exit_code is None else int(exit_code),
        retryable=category in RETRYABLE if retryable is None else bool(retryable),
    )
