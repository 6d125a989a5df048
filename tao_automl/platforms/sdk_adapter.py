"""Adapter for a platform SDK object behind the four verbs: the TAO SDK, or any SDK of that shape.

The real TAO execution SDK (``nvidia-tao-sdk``, ``tao_sdk.platforms``) is the shape to match:
``VirtualEnvSDK`` runs ``python_script`` actions through ``create_python_job(script, specs,
config_format, script_args, inputs, outputs, upload_excludes, cwd, ...)`` and writes the spec
itself; ``DockerSDK``, ``SlurmSDK``, ``KubernetesSDK`` and ``BrevSDK`` run a command string through
``create_job(image, command, gpu_count=..., env_vars=..., mounts=..., ...)``. Both return a ``Job``
object; ``get_job_status`` returns a ``JobStatus`` whose ``status`` is a plain string. Results dirs,
checkpoints, failure analysis and artifact deletion are used when the SDK offers them. SDKs
disagree on spellings ("Done", "SUCCEEDED", ``{"status": "Running"}``), so everything they return
is normalised here, once.
"""

from __future__ import annotations

import inspect
import json
import re
import shlex
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from tao_automl.errors import PlatformError
from tao_automl.platforms.base import JobRequest, JobState, JobStatus, Platform
from tao_automl.platforms.docker import host_path_mounts
from tao_automl.platforms.failures import (
    RETRYABLE,
    FailureAnalysis,
    FailureCategory,
    classify_failure,
    redact,
)
from tao_automl.platforms.local_supervisor import write_atomic

REQUIRED_METHODS = ("get_job_status", "get_job_logs", "cancel_job")
#: An SDK needs one of these: a command runner, or the TAO SDK's python-script runner.
CREATE_METHODS = ("create_job", "create_python_job")

_STATE_SPELLINGS: dict[JobState, tuple[str, ...]] = {
    JobState.PENDING: (
        "pending", "queued", "queueing", "created", "submitted", "scheduled", "waiting", "starting",
        "initializing", "initialising", "accepted", "new", "not_started", "provisioning", "pulling",
    ),
    JobState.RUNNING: (
        "running", "in_progress", "inprogress", "active", "started", "executing", "processing",
        "resuming", "canceling", "cancelling", "stopping", "paused", "suspended",
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
    state = parse_state(value) if value is not None else parse_state(raw)
    if exit_code is None:
        exit_code = _exit_code_in(text, state)
    if key in _PREEMPT_WORDS and "preempt" not in text.lower():
        text = f"preempted{': ' + text if text else ''}"
    return JobStatus(
        state=state,
        exit_code=exit_code,
        message=text,
        infra_failure=bool(_field(raw, ("infra_failure",))) or key in _INFRA_WORDS,
    )


_EXIT_RE = re.compile(r"exit(?:ed)?(?: with)?(?: exit)? code[:= ]+(-?\d+)", re.IGNORECASE)
_SIGNAL_RE = re.compile(r"(?:terminated|killed) by signal (\d+)", re.IGNORECASE)


def _exit_code_in(message: str, state: JobState) -> int | None:
    """The exit code an SDK states only in words ("Docker container exited with code 3",
    "Process terminated by signal 9": 128 + 9, as a shell reports it); 0 for a completed job."""
    if m := _EXIT_RE.search(message):
        return int(m.group(1))
    if m := _SIGNAL_RE.search(message):
        return 128 + int(m.group(1))
    return 0 if state is JobState.COMPLETE else None


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
    """Run jobs through an SDK object.

    Args:
        sdk: The SDK object (see the module docstring for the methods it needs).
        python: Interpreter named in the command line of ``python_script`` jobs run through
            ``create_job`` (inside the image for container SDKs).
        job_kwargs: Keyword arguments given to every ``create_job``/``create_python_job`` call, as
            the published runner forwards ``run(**platform_kwargs)`` (``mounts``, ``partition``,
            ``gpu_ids``, ``shm_size``, ...). Names the SDK does not accept are refused here.
        image: Image for ``python_script`` actions run through ``create_job`` (container SDKs),
            when the skill names none.
    """

    name = "sdk"

    def __init__(
        self,
        sdk: object | None = None,
        python: str = "python",
        job_kwargs: dict[str, Any] | None = None,
        image: str | None = None,
    ) -> None:
        super().__init__()
        if sdk is None:
            raise PlatformError(
                "the sdk platform needs an SDK object",
                field="platform_sdk",
                hint="pass platform_sdk=<object with " + ", ".join((*CREATE_METHODS, *REQUIRED_METHODS)) + ">",
            )
        missing = [m for m in REQUIRED_METHODS if not callable(getattr(sdk, m, None))]
        if not any(callable(getattr(sdk, m, None)) for m in CREATE_METHODS):
            missing.insert(0, " or ".join(CREATE_METHODS))
        if missing:
            raise PlatformError(
                f"SDK object {type(sdk).__name__} lacks method(s): {', '.join(missing)}",
                field="platform_sdk",
                hint="it needs create_job(image, command, **kw) or create_python_job(script, ...), "
                "get_job_status(job_id), get_job_logs(job_id) and cancel_job(job_id)",
            )
        self.sdk = sdk
        self.python = python
        self.image = image
        self.job_kwargs = dict(job_kwargs or {})
        self._creators = {m: getattr(sdk, m) for m in CREATE_METHODS if callable(getattr(sdk, m, None))}
        self._accepts = {m: _accepted_kwargs(f) for m, f in self._creators.items()}
        self._check_job_kwargs()
        self._log_paths: dict[str, Path] = {}
        self._last_logs: dict[str, str] = {}
        self._exit_codes: dict[str, int] = {}

    @property
    def sdk_name(self) -> str:
        return type(self.sdk).__name__

    def _check_job_kwargs(self) -> None:
        """Refuse a platform keyword no create method of this SDK takes, before any job is launched."""
        accepted: set[str] = set()
        for names in self._accepts.values():
            if names is None:
                return
            accepted |= names
        unknown = sorted(set(self.job_kwargs) - accepted)
        if unknown:
            raise PlatformError(
                f"{self.sdk_name} does not accept {', '.join(unknown)}",
                field=f"platform_kwargs.{unknown[0]}",
                hint=f"{self.sdk_name} accepts: {', '.join(sorted(accepted - _OURS)) or 'nothing else'}",
            )

    def _method_for(self, job: JobRequest) -> str:
        if job.python_script is not None and "create_python_job" in self._creators:
            return "create_python_job"
        if "create_job" in self._creators:
            return "create_job"
        raise PlatformError(
            f"{self.sdk_name} runs only python_script actions; action {job.action!r} is a container command",
            field="platform_sdk",
            hint="use a container SDK (DockerSDK, SlurmSDK, KubernetesSDK, BrevSDK) for this model skill",
        )

    def _command(self, job: JobRequest) -> str:
        if job.command is not None:
            line = shlex.join(job.command)
        elif job.python_script is not None:
            line = shlex.join([self.python, job.python_script.script, *job.python_script.args])
            if job.python_script.cwd:
                line = f"cd {shlex.quote(job.python_script.cwd)} && {line}"
        else:
            raise PlatformError(f"job {job.name!r} has neither command nor python_script", field="command")
        if type(self.sdk).__module__.startswith("tao_sdk."):
            # The TAO SDK's containers run ``/bin/bash -c <command>`` as PID 1 with no init, and PID 1 ignores
            # SIGTERM: a cancel would wait out docker's 10 s stop timeout. The shell forwards it instead and
            # keeps the job's own exit code.
            line = f"trap 'kill -TERM $c 2>/dev/null; wait $c; exit 143' TERM; {line} & c=$!; wait $c; rc=$?; exit $rc"
        return line

    def _given(self, method: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Only what ``method`` takes by name (all of it when it takes ``**kwargs``); the user's keywords win."""
        accepts = self._accepts[method]
        out = {k: v for k, v in kwargs.items() if accepts is None or k in accepts}
        return {**out, **self.job_kwargs}

    def _tao_kwargs(self, method: str, job: JobRequest) -> dict[str, Any]:
        """The TAO SDK's keywords, each given only to an SDK that names it."""
        accepts = self._accepts[method] or set()
        kwargs: dict[str, Any] = {}
        if "gpu_count" in accepts:
            kwargs["gpu_count"] = job.gpus
        if "env_vars" in accepts and job.env:
            kwargs["env_vars"] = dict(job.env)
        if "num_nodes" in accepts and job.num_nodes != 1:
            kwargs["num_nodes"] = job.num_nodes
        if "mounts" in accepts and method == "create_job":
            # Container SDKs see the job's folder (spec, results), the script and the paths the spec names
            # at the same paths as here: the same plan as our own docker platform.
            own = [
                {"source": str(m.source), "target": str(m.target), "mode": "ro" if m.read_only else "rw"}
                for m in host_path_mounts(job)
            ]
            kwargs["mounts"] = own + list(self.job_kwargs.get("mounts") or [])
        return kwargs

    def _create(self, job: JobRequest) -> object:
        method = self._method_for(job)
        if method == "create_python_job":
            assert job.python_script is not None
            script = job.python_script
            specs = _read_spec(job.spec_path)
            kwargs = {
                "script": script.script,
                "specs": specs,
                "config_format": script.config_format,
                "script_args": script.arg_template if script.arg_template is not None else script.args,
                "inputs": job.inputs or None,
                "outputs": job.outputs or None,
                "upload_excludes": list(job.upload_excludes),
                "cwd": script.cwd,
                "network_arch": job.network_arch,
                "action": job.action,
                **self._tao_kwargs(method, job),
            }
            return self._creators[method](**self._given(method, kwargs))
        image = job.image or self.image
        generic = {
            "name": job.name,
            "spec_path": None if job.spec_path is None else str(job.spec_path),
            "results_dir": str(job.results_dir),
            "env": dict(job.env),
            "gpus": job.gpus,
            "num_nodes": job.num_nodes,
        }
        accepts = self._accepts[method]
        if accepts is not None:
            # Passthrough names are only given to an SDK that asks for them by name.
            if "env_passthrough" in accepts:
                generic["env_passthrough"] = list(job.env_passthrough)
            generic = {k: v for k, v in generic.items() if k in accepts}
            generic |= self._tao_kwargs(method, job)
        kwargs = {**generic, **self.job_kwargs}
        if "mounts" in generic:
            kwargs["mounts"] = generic["mounts"]  # ours plus the user's, already merged
        return self._creators[method](image, self._command(job), **kwargs)

    def _submit(self, job: JobRequest) -> str:
        try:
            result = self._create(job)
        except PlatformError:
            raise
        except Exception as exc:
            raise PlatformError(f"SDK {self.sdk_name} could not start {job.name!r}: {exc}", field="platform") from exc
        job_id = _job_id(result)
        self._log_paths[job_id] = job.log_path
        self._link_results(job, job_id, result)
        return job_id

    def _link_results(self, job: JobRequest, job_id: str, result: object) -> None:
        """Make the SDK's results readable at the job's results dir, where the runner reads them.

        Only when the SDK routed the results key into its own folder (it is a declared output) and
        that folder is on this machine; otherwise the job wrote into ``results_dir`` itself.
        """
        if job.results_key not in job.outputs:
            return
        where = _field(result, ("local_results_dir", "results_dir")) or self._results_dir(job_id)
        if not where or "://" in str(where) or not Path(str(where)).is_dir():
            return
        target = Path(str(where)).resolve()
        link = job.results_dir
        if link.is_symlink():
            link.unlink()
        elif link.is_dir() and not any(link.iterdir()):
            link.rmdir()
        else:
            return
        link.symlink_to(target, target_is_directory=True)

    def _results_dir(self, job_id: str) -> str | None:
        getter = getattr(self.sdk, "get_job_results_dir", None)
        if not callable(getter):
            return None
        try:
            return str(getter(job_id) or "") or None
        except Exception:  # noqa: BLE001 - a foreign SDK may raise anything; no results dir then
            return None

    def _status(self, job_id: str) -> JobStatus:
        try:
            raw = self.sdk.get_job_status(job_id)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - a foreign SDK may raise anything; reported as UNKNOWN/PlatformError
            # A transient API error or an id the SDK does not know: never guess a terminal state.
            return JobStatus(state=JobState.UNKNOWN, message=redact(f"get_job_status failed: {exc}"))
        status = parse_status(raw)
        # SDKs state the exit code once, when they first see the end ("exited with code 3"), and later
        # answer from their store ("Terminal status Error was confirmed"): keep the first.
        if status.state.terminal and status.exit_code is not None:
            self._exit_codes.setdefault(job_id, status.exit_code)
        elif status.state.terminal and job_id in self._exit_codes:
            status = status.model_copy(update={"exit_code": self._exit_codes[job_id]})
        return status

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

    def checkpoints(self, job_id: str) -> list[str]:
        """``get_checkpoints`` of the SDK, made absolute against its results dir when they are relative."""
        getter = getattr(self.sdk, "get_checkpoints", None)
        if not callable(getter):
            return []
        try:
            found = [str(c) for c in getter(job_id) or []]
        except Exception:  # noqa: BLE001 - a foreign SDK may raise anything; no checkpoints then
            return []
        root = self._results_dir(job_id)
        return [c if "://" in c or Path(c).is_absolute() or not root else f"{root.rstrip('/')}/{c}" for c in found]

    def delete_artifacts(self, job_id: str) -> bool:
        deleter = getattr(self.sdk, "delete_job_artifacts", None)
        if not callable(deleter):
            return False
        try:
            return bool(deleter(job_id))
        except Exception:  # noqa: BLE001 - a foreign SDK may raise anything; the artifacts stay
            return False

    @property
    def can_find_jobs(self) -> bool:
        return callable(getattr(self.sdk, "find_job", None))

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


def _read_spec(path: Path | None) -> dict[str, Any]:
    """The spec the runner wrote (JSON or YAML; TOML is read as its nested dict), for an SDK that writes its own."""
    if path is None:
        return {}
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    if path.suffix == ".toml":
        return tomllib.loads(text)
    return yaml.safe_load(text) or {}


#: Keywords this adapter fills itself; not offered to users as platform keywords.
_OURS = frozenset(
    {"script", "specs", "config_format", "script_args", "cwd", "network_arch", "action", "image", "command"}
)


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
