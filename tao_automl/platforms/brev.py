"""Run jobs on a Brev GPU instance through the ``brev`` CLI.

The CLI has no job object: ``brev exec <instance> "<command>"`` runs one shell command over SSH
and waits for it. So a job is a detached process group on the instance, started by a short
``brev exec`` that returns at once, with its state in ``<remote_root>/<job>/`` on the instance
(``request.json``, ``pid``, ``exit_code``, ``canceled``, ``log``). Status, logs and cancel are
further short ``brev exec`` calls that print one ``@@tao-automl {json}`` line (the CLI echoes the
instance name after a piped command, so the marker tells our output from its own). ``brev ls
--json`` is asked only when an exec fails, to tell a transient hiccup (UNKNOWN) from an instance
that is gone or stopped (an infrastructure ERROR, which the runner retries).

Files: the job's spec is shipped with ``brev copy`` before launch, and the results directory is
copied back once when the job ends, so the runner reads metrics where it always does. Logs are
fetched incrementally and mirrored into ``job.log_path``. Credentials never travel: the job sees
the variables named in ``env_passthrough`` only if they are set on the instance, and the
platform only checks that ``BREV_API_TOKEN`` is present locally.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import shlex
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tao_automl.errors import PlatformError
from tao_automl.platforms.base import JobRequest, JobState, JobStatus, Platform
from tao_automl.redaction import redact

TOKEN_VAR = "BREV_API_TOKEN"
MARKER = "@@tao-automl "
# ``brev ls --json`` statuses after which no job of ours survives on the instance.
INSTANCE_GONE = frozenset({"STOPPED", "STOPPING", "DELETING", "FAILURE", "DELETED"})
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INSTANCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# Runs detached on the instance as ``sh -c <this> tao-automl-job <state dir> <argv...>``: records
# its pid (= process group) and boot id, honours a cancel that came first, runs the job, and
# writes the exit code atomically. A cancel kills the group, so no exit code means canceled or lost.
_JOB_WRAPPER = (
    'd=$1; shift; echo "$$ $(cat /proc/sys/kernel/random/boot_id 2>/dev/null)" > "$d/pid.tmp" && mv "$d/pid.tmp" '
    '"$d/pid"; [ -e "$d/canceled" ] && exit 0; "$@" >> "$d/log" 2>&1 < /dev/null; echo $? > "$d/exit.tmp" && '
    'mv "$d/exit.tmp" "$d/exit_code"'
)

# Prints the job's state; reads "alive" before "exit_code" so a job ending in between is seen ended.
_PROBE = r"""
if [ ! -e "$d/request.json" ]; then echo "@@tao-automl {\"exists\": false}"; exit 0; fi
pid=; boot=; code=; alive=false; canceled=false
[ -e "$d/pid" ] && read -r pid boot < "$d/pid"
if [ -n "$pid" ] && [ -r "/proc/$pid/stat" ]; then
  read -r line < "/proc/$pid/stat"; st=${line##*\) }; st=${st%% *}
  case "$st" in Z|X) ;; *) alive=true ;; esac
fi
now=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)
[ -n "$boot" ] && [ "$boot" != "$now" ] && alive=false
[ -e "$d/exit_code" ] && read -r code < "$d/exit_code"
[ -e "$d/canceled" ] && canceled=true
age=$(( $(date +%s) - $(stat -c %Y "$d/request.json") ))
printf '@@tao-automl {"exists": true, "pid": %s, "alive": %s, "exit_code": %s, "canceled": %s, "age": %s}\n' \
  "${pid:-null}" "$alive" "${code:-null}" "$canceled" "$age"
"""

# Prints a header with the log size, then exactly the bytes after ``$off``.
_LOGS = r"""
if [ ! -e "$d/request.json" ]; then echo "@@tao-automl {\"exists\": false}"; exit 0; fi
size=$(wc -c < "$d/log" 2>/dev/null || echo 0); size=$((size + 0))
[ "$off" -gt "$size" ] && off=0
printf '@@tao-automl {"exists": true, "size": %s, "from": %s}\n' "$size" "$off"
tail -c +$((off + 1)) "$d/log" 2>/dev/null | head -c $((size - off))
"""

_REQUEST = r"""
if [ ! -e "$d/request.json" ]; then echo "@@tao-automl {\"exists\": false}"; exit 0; fi
printf '@@tao-automl {"exists": true, "request": '; cat "$d/request.json"; echo '}'
"""

# Marks the job canceled, then TERM, wait (ignoring zombies), KILL its process group.
_CANCEL = r"""
if [ ! -e "$d/request.json" ] || [ -e "$d/exit_code" ]; then echo "@@tao-automl {\"canceled\": false}"; exit 0; fi
date +%s > "$d/canceled"
pid=; [ -e "$d/pid" ] && read -r pid boot < "$d/pid"
[ -n "$container" ] && docker rm -f "$container" > /dev/null 2>&1
group_alive() {
  for s in /proc/[0-9]*/stat; do
    read -r l < "$s" 2>/dev/null || continue; r=${l##*\) }; set -- $r
    [ "$3" = "$pid" ] && [ "$1" != Z ] && [ "$1" != X ] && return 0
  done; return 1
}
if [ -n "$pid" ]; then
  kill -TERM -"$pid" 2>/dev/null; i=0
  while group_alive && [ "$i" -lt "$ticks" ]; do sleep 0.1; i=$((i + 1)); done
  kill -KILL -"$pid" 2>/dev/null
fi
echo "@@tao-automl {\"canceled\": true}"
"""


def _safe_name(name: str) -> str:
    """A directory name for a job id: ids may contain ``/`` or spaces."""
    return quote(name, safe="")


def _remote_path(path: str) -> str:
    """Shell text for a path on the instance; ``~/`` becomes ``"$HOME"/`` so it expands there."""
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


def _container_name(job_name: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9_.-]", "-", job_name).lstrip("-_.")
    return f"tao-automl-{name or 'job'}"[:128]


class BrevPlatform(Platform):
    """Jobs on one Brev instance, through the ``brev`` CLI (``exec``, ``copy``, ``ls --json``).

    Args:
        instance: Name (or id) of the Brev instance, as ``brev ls`` shows it. Required.
        brev_bin: The brev CLI executable (name on PATH or a path).
        remote_root: Directory on the instance for job state; ``~/`` expands on the instance.
        python: Interpreter on the instance for ``python_script`` actions.
        use_docker: Run jobs that name an image with ``docker run`` on the instance.
        sync_results: Copy the results directory back with ``brev copy`` when a job ends.
        require_token: Refuse to submit unless ``BREV_API_TOKEN`` is set (presence only); turn off
            when the CLI is logged in with ``brev login`` instead.
        cancel_grace_seconds: How long ``cancel`` waits after SIGTERM before SIGKILL.
        start_timeout_seconds: A job with no recorded pid after this long is an infrastructure error.
        command_timeout_seconds: Limit for each ``brev`` call; a status call past it reports UNKNOWN.
    """

    name = "brev"

    def __init__(
        self,
        instance: str | None = None,
        brev_bin: str = "brev",
        remote_root: str = "~/.tao-automl/jobs",
        python: str = "python3",
        use_docker: bool = True,
        sync_results: bool = True,
        require_token: bool = True,
        cancel_grace_seconds: float = 5.0,
        start_timeout_seconds: float = 120.0,
        command_timeout_seconds: float = 300.0,
    ) -> None:
        super().__init__()
        if not instance or not str(instance).strip():
            raise PlatformError(
                "the brev platform needs the instance to run on",
                field="instance",
                hint="pass instance=<name from `brev ls`>",
            )
        if not _INSTANCE_NAME.match(str(instance).strip()):
            raise PlatformError(
                f"invalid instance name {instance!r}", field="instance", hint="names are letters, digits, '.', '_', '-'"
            )
        found = shutil.which(brev_bin)
        if found is None:
            raise PlatformError(
                f"brev CLI {brev_bin!r} not found",
                field="brev_bin",
                hint="install the brev CLI (see skills/platform/brev/SKILL.md) or pass brev_bin=<path>",
            )
        for option, value in (
            ("cancel_grace_seconds", cancel_grace_seconds),
            ("start_timeout_seconds", start_timeout_seconds),
            ("command_timeout_seconds", command_timeout_seconds),
        ):
            if value <= 0:
                raise PlatformError(f"{option} must be > 0, got {value}", field=option)
        self.instance = str(instance).strip()
        self.brev_bin = found
        self.remote_root = remote_root.rstrip("/") or "/"
        self.python = python
        self.use_docker = use_docker
        self.sync_results = sync_results
        self.require_token = require_token
        self.cancel_grace_seconds = cancel_grace_seconds
        self.start_timeout_seconds = start_timeout_seconds
        self.command_timeout_seconds = command_timeout_seconds
        self._requests: dict[str, JobRequest] = {}
        self._logs: dict[str, bytearray] = {}
        self._synced: set[str] = set()
        self._instance_checked = False
        self._log_lock = threading.Lock()

    # ---- the CLI ----------------------------------------------------------------------------

    def _brev(self, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run ``brev <args>``; raises PlatformError when the CLI cannot be run or times out."""
        argv = [self.brev_bin, *args]
        limit = timeout or self.command_timeout_seconds
        try:
            return subprocess.run(
                argv,
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=limit,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise PlatformError(
                f"`brev {args[0]}` on {self.instance!r} did not finish within {limit:g}s",
                field="platform",
            ) from None
        except OSError as exc:
            raise PlatformError(f"cannot run {self.brev_bin}: {exc}", field="brev_bin") from None

    @staticmethod
    def _error_text(proc: subprocess.CompletedProcess[bytes]) -> str:
        text = (proc.stderr or proc.stdout or b"").decode("utf-8", errors="replace").strip()
        return redact(" | ".join(text.splitlines()[-5:]))[:1000]

    def _exec(self, script: str, timeout: float | None = None) -> tuple[dict[str, Any], bytes]:
        """Run ``script`` on the instance; returns its ``@@tao-automl`` header and the bytes after it.

        Raises:
            PlatformError: the CLI failed, or printed no header (the instance could not run it).
        """
        proc = self._brev("exec", self.instance, script, timeout=timeout)
        out = proc.stdout or b""
        start = out.find(MARKER.encode())
        if proc.returncode != 0 or start < 0:
            raise PlatformError(
                f"`brev exec {self.instance}` failed (exit {proc.returncode}): {self._error_text(proc)}",
                field="platform",
            )
        end = out.find(b"\n", start)
        end = len(out) if end < 0 else end
        try:
            header = json.loads(out[start + len(MARKER) : end])
        except ValueError as exc:
            raise PlatformError(f"unreadable answer from the instance: {exc}", field="platform") from None
        return header, out[end + 1 :]

    def instances(self) -> list[dict[str, Any]]:
        """``brev ls --json``: the instances of the active org (name, id, status, ...)."""
        proc = self._brev("ls", "--json")
        if proc.returncode != 0:
            raise PlatformError(f"`brev ls --json` failed: {self._error_text(proc)}", field="platform")
        try:
            data = json.loads(proc.stdout or b"null")
        except ValueError as exc:
            raise PlatformError(f"`brev ls --json` printed no JSON: {exc}", field="platform") from None
        return [item for item in data or [] if isinstance(item, dict)]

    def _instance_record(self) -> dict[str, Any] | None:
        for item in self.instances():
            if self.instance in (item.get("name"), item.get("id")):
                return item
        return None

    def _check_instance(self) -> None:
        if self._instance_checked:
            return
        listed = self.instances()
        if not any(self.instance in (i.get("name"), i.get("id")) for i in listed):
            names = ", ".join(str(i.get("name")) for i in listed) or "none"
            raise PlatformError(
                f"no brev instance {self.instance!r} in the active org",
                field="instance",
                hint=f"instances: {names} (create one with `brev create`)",
            )
        self._instance_checked = True

    def _job_dir(self, job_id: str) -> str:
        return f"{_remote_path(self.remote_root)}/{shlex.quote(_safe_name(job_id))}"

    # ---- submit -----------------------------------------------------------------------------

    def _submit(self, job: JobRequest) -> str:
        if self.require_token and not os.environ.get(TOKEN_VAR):
            raise PlatformError(
                f"{TOKEN_VAR} is not set",
                field=TOKEN_VAR,
                hint=f"export {TOKEN_VAR} (never pasted into the chat), or pass require_token=False when the CLI "
                "is logged in with `brev login`",
            )
        if job.num_nodes != 1:
            raise PlatformError(
                f"a brev instance is one machine; num_nodes={job.num_nodes} needs slurm or kubernetes",
                field="num_nodes",
            )
        bad = [n for n in job.env_passthrough if not _ENV_NAME.match(n)]
        if bad:
            raise PlatformError(f"invalid variable names in env_passthrough: {', '.join(bad)}", field="env_passthrough")
        job = job.model_copy(
            update={
                # The token is the CLI's, on this machine; a job never needs it.
                "env_passthrough": [n for n in job.env_passthrough if n != TOKEN_VAR],
                "workdir": job.workdir.absolute(),
                "results_dir": job.results_dir.absolute(),
                "log_path": job.log_path.absolute(),
                "spec_path": job.spec_path.absolute() if job.spec_path else None,
            }
        )
        for path in (job.workdir, job.results_dir, job.spec_path):
            if path is not None and ":" in str(path):
                raise PlatformError(f"path {path} contains ':', which `brev copy` cannot address", field="workdir")
        self._check_instance()
        argv, cwd = self._argv(job)
        state = self._job_dir(job.name)
        dirs = " ".join(shlex.quote(str(p)) for p in (job.workdir, job.results_dir))
        claim = (
            f'd={state}; if [ -e "$d/request.json" ]; then echo "tao-automl: a job named '
            f'{_safe_name(job.name)} was already submitted on this instance" >&2; exit 17; fi; mkdir -p "$d" {dirs}; '
            'echo "@@tao-automl {\\"ready\\": true}"'
        )
        self._exec(claim)
        if job.spec_path is not None and job.spec_path.is_file():
            self._copy(str(job.spec_path), f"{self.instance}:{job.spec_path}")
        job.log_path.parent.mkdir(parents=True, exist_ok=True)
        job.log_path.write_bytes(b"")
        self._exec(self._launch_script(job, state, argv, cwd))
        self._requests[job.name] = job
        with self._log_lock:
            self._logs[job.name] = bytearray()
        return job.name

    def _argv(self, job: JobRequest) -> tuple[list[str], str]:
        if (job.command is None) == (job.python_script is None):
            raise PlatformError(f"job {job.name!r} must set exactly one of command and python_script", field="command")
        if job.command is not None:
            if not job.command:
                raise PlatformError(f"job {job.name!r} has an empty command", field="command")
            argv, cwd = list(job.command), str(job.workdir)
        else:
            assert job.python_script is not None
            cwd = str(job.workdir / job.python_script.cwd) if job.python_script.cwd else str(job.workdir)
            script = str(Path(cwd) / job.python_script.script)
            argv = [self.python, script, *job.python_script.args]
        env = {**job.env, "PYTHONUNBUFFERED": "1"}
        if job.image and self.use_docker:
            mounts = {str(job.workdir), str(job.results_dir), cwd}
            if job.spec_path is not None:
                mounts.add(str(job.spec_path.parent))
            docker = ["docker", "run", "--rm", "--init", "--name", _container_name(job.name)]
            if job.gpus > 0:
                docker += ["--gpus", str(job.gpus)]
            for mount in sorted(mounts):
                docker += ["-v", f"{mount}:{mount}"]
            docker += ["-w", cwd]
            docker += [f"--env={k}={v}" for k, v in env.items()]
            docker += [f"--env={name}" for name in job.env_passthrough]
            return [*docker, job.image, *argv], cwd
        return ["env", *(f"{k}={v}" for k, v in env.items()), *argv], cwd

    def _launch_script(self, job: JobRequest, state: str, argv: list[str], cwd: str) -> str:
        """Shell text that records the request and starts the job detached; prints the marker at once."""
        lines = [
            f"d={state}",
            f"printf '%s' {shlex.quote(job.model_dump_json())} > \"$d/request.json\"",
            ': > "$d/log"',
        ]
        if job.image and self.use_docker:
            lines.append(f"printf '%s' {shlex.quote(_container_name(job.name))} > \"$d/container\"")
        for name in job.env_passthrough:
            lines.append(
                f'[ -n "${{{name}:-}}" ] || echo "tao-automl: warning: {name} is not set on instance '
                f'{self.instance}; the job runs without it" >> "$d/log"'
            )
        missing = f"tao-automl: cannot enter the working directory on {self.instance}: No such file or directory: {cwd}"
        lines += [
            f"cd {shlex.quote(cwd)} 2>/dev/null || {{ printf '%s\\n' {shlex.quote(missing)} >> \"$d/log\"; "
            'echo 2 > "$d/exit_code"; }',
            # ``if`` (not ``||``): with ``a || b &`` the shell backgrounds a subshell that keeps the CLI's
            # stdout open until the job ends, and ``brev exec`` would wait for it.
            f'if [ ! -e "$d/exit_code" ]; then nohup setsid sh -c {shlex.quote(_JOB_WRAPPER)} tao-automl-job "$d" '
            f"{shlex.join(argv)} > /dev/null 2>&1 < /dev/null & fi",
            'echo "@@tao-automl {\\"launched\\": true}"',
        ]
        return "\n".join(lines)

    def _copy(self, source: str, dest: str) -> None:
        proc = self._brev("copy", source, dest)
        if proc.returncode != 0:
            raise PlatformError(f"`brev copy {source} {dest}` failed: {self._error_text(proc)}", field="platform")

    # ---- status -----------------------------------------------------------------------------

    def _status(self, job_id: str) -> JobStatus:
        try:
            header, _ = self._exec(f"d={self._job_dir(job_id)}\n{_PROBE}")
        except PlatformError as exc:
            return self._status_without_exec(exc)
        status = self._parse_probe(header)
        if status.state.terminal:
            self._sync_results(job_id)
        return status

    def _status_without_exec(self, exc: PlatformError) -> JobStatus:
        """The instance did not answer: ask ``brev ls`` whether it is gone or just slow."""
        try:
            record = self._instance_record()
        except PlatformError as ls_exc:
            return JobStatus(state=JobState.UNKNOWN, message=f"{exc.message}; {ls_exc.message}")
        if record is None:
            return JobStatus(
                state=JobState.ERROR, infra_failure=True, message=f"brev instance {self.instance!r} no longer exists"
            )
        instance_status = str(record.get("status", "")).upper()
        if instance_status in INSTANCE_GONE:
            return JobStatus(
                state=JobState.ERROR,
                infra_failure=True,
                message=f"brev instance {self.instance!r} is {instance_status}; the job was lost",
            )
        return JobStatus(state=JobState.UNKNOWN, message=f"instance {instance_status or '?'}: {exc.message}")

    def _parse_probe(self, header: dict[str, Any]) -> JobStatus:
        if not header.get("exists"):
            return JobStatus(state=JobState.UNKNOWN, message="no such job on the instance")
        code = header.get("exit_code")
        if header.get("canceled"):
            return JobStatus(state=JobState.CANCELED, exit_code=code, message="canceled")
        if code is not None:
            if code == 0:
                return JobStatus(state=JobState.COMPLETE, exit_code=0)
            return JobStatus(state=JobState.ERROR, exit_code=code, message=f"exit code {code}")
        if header.get("alive"):
            return JobStatus(state=JobState.RUNNING)
        if header.get("pid") is None:
            if float(header.get("age") or 0) < self.start_timeout_seconds:
                return JobStatus(state=JobState.PENDING, message="starting on the instance")
            return JobStatus(state=JobState.ERROR, infra_failure=True, message="job never started on the instance")
        return JobStatus(
            state=JobState.ERROR,
            infra_failure=True,
            message=f"job vanished on instance {self.instance} (stopped or rebooted?)",
        )

    def _request(self, job_id: str) -> JobRequest | None:
        """The job's request: remembered from submit, else read back from the instance (after a resume)."""
        if job_id in self._requests:
            return self._requests[job_id]
        try:
            header, _ = self._exec(f"d={self._job_dir(job_id)}\n{_REQUEST}")
            request = JobRequest.model_validate(header["request"]) if header.get("exists") else None
        except (PlatformError, KeyError, ValueError):
            return None
        if request is not None:
            self._requests[job_id] = request
        return request

    def _sync_results(self, job_id: str) -> None:
        """Copy the results directory back once per job (metrics and checkpoints live there)."""
        if not self.sync_results or job_id in self._synced:
            return
        request = self._request(job_id)
        if request is None:
            return
        self._synced.add(job_id)
        request.results_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._copy(f"{self.instance}:{request.results_dir}", str(request.results_dir.parent))
        except PlatformError as exc:
            with open(request.log_path, "ab") as log:
                log.write(f"\ntao-automl: results not copied back: {exc.message}\n".encode())

    def find_job(self, name: str) -> str | None:
        """The job id for ``name`` (ids are names) when its state exists on the instance."""
        return name if self.reattach(name) else None

    def reattach(self, job_id: str) -> bool:
        """True when the instance still has the job's state directory."""
        try:
            header, _ = self._exec(f"d={self._job_dir(job_id)}\n{_PROBE}")
        except PlatformError:
            return False
        return bool(header.get("exists"))

    # ---- logs -------------------------------------------------------------------------------

    def _read_logs(self, job_id: str) -> str:
        with self._log_lock:
            cached = self._logs.setdefault(job_id, bytearray())
            offset = len(cached)
        try:
            header, data = self._exec(f"d={self._job_dir(job_id)}\noff={offset}\n{_LOGS}")
        except PlatformError:
            header, data = {"exists": bool(cached)}, b""
        if not header.get("exists"):
            return ""
        size, start = int(header.get("size", offset)), int(header.get("from", offset))
        chunk = data[: max(size - start, 0)]
        with self._log_lock:
            cached = self._logs[job_id]
            if start < len(cached):  # the log was truncated on the instance: start over
                del cached[start:]
            cached += chunk
            text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(bytes(cached), final=False)
            self._mirror(job_id, cached, start, chunk)
        return text

    def _mirror(self, job_id: str, cached: bytearray, start: int, chunk: bytes) -> None:
        """Keep ``job.log_path`` equal to what was fetched, so the workspace holds every log."""
        request = self._request(job_id)
        if request is None or not (chunk or start == 0):
            return
        try:
            if start == 0:
                request.log_path.write_bytes(bytes(cached))
            else:
                with open(request.log_path, "ab") as log:
                    log.write(chunk)
        except OSError:
            return

    # ---- cancel -----------------------------------------------------------------------------

    def _cancel(self, job_id: str) -> None:
        request = self._request(job_id)
        container = _container_name(job_id) if request is not None and request.image and self.use_docker else ""
        ticks = max(1, int(self.cancel_grace_seconds * 10))
        script = f"d={self._job_dir(job_id)}\ncontainer={shlex.quote(container)}\nticks={ticks}\n{_CANCEL}"
        try:
            self._exec(script, timeout=self.command_timeout_seconds + self.cancel_grace_seconds)
        except PlatformError as exc:
            if self._status_without_exec(exc).state is JobState.ERROR:
                return  # the instance is gone, and the job with it
            raise
