"""Run jobs as Docker containers through the ``docker`` CLI, with state a later process can find.

A job is ``docker run -d --init`` of the job's image; the job id is the container's name (a
docker-safe form of the job name). The job sees its workdir, results dir, spec, script directory
and any existing absolute path named in its spec or command at the *same* absolute paths as on
the host, so specs written by the runner need no path rewriting. Environment values never reach
an argv or a file: the container gets ``-e NAME`` only and the docker CLI reads each value from
its own environment.

Each job has a small state file ``<log dir>/.docker-<container>.json`` (named by the container
label ``tao-automl.state``) that records what the container cannot: a ``docker run`` that failed
before any container existed (a missing image), that the job was canceled, and (with
``remove_finished``) the final status once the container is gone. Logs are copied to
``job.log_path`` whenever they are read, so the workspace keeps them after the container is removed.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import json
import logging
import math
import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from tao_automl.errors import PlatformError
from tao_automl.platforms.base import JobRequest, JobState, JobStatus, Platform, job_argv
from tao_automl.platforms.local_supervisor import write_atomic
from tao_automl.redaction import redact

logger = logging.getLogger(__name__)

LABEL_JOB = "tao-automl.job"
LABEL_STATE = "tao-automl.state"
LABEL_GPUS = "tao-automl.gpus"
STATE_PREFIX = ".docker-"
CLI_TIMEOUT_SECONDS = 60.0
PULL_POLICIES = ("missing", "never", "always")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MISSING = re.compile(r"No such (?:container|object)", re.IGNORECASE)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
# Host directories that are never bind-mounted automatically: they would hide the image's own.
_SYSTEM_DIRS = tuple(
    Path(p)
    for p in (
        "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr", "/etc", "/proc", "/sys", "/dev",
        "/run", "/boot", "/var/lib", "/var/run", "/var/cache", "/var/log",
    )
)  # fmt: skip


class _Record(BaseModel):
    """What the state file beside the job's log holds; names and paths only, never env values."""

    job: str
    container: str
    log_path: str
    image: str
    submitted_at: float
    run_error: str | None = None
    canceled_at: float | None = None
    final: JobStatus | None = None


class BindMount(BaseModel):
    """A host path shown inside the container (at the same path unless ``target`` differs)."""

    source: Path
    target: Path
    read_only: bool = True


def container_name(job_name: str) -> str:
    """A docker-safe container name for ``job_name``, distinct for distinct names.

    Names that are already valid are kept; anything else is cleaned and suffixed with a short hash
    of the original so that ``a b`` and ``a/b`` do not collide.
    """
    safe = _UNSAFE.sub("-", job_name).strip("-.")
    if safe == job_name and safe[:1].isalnum() and len(safe) <= 128:
        return safe
    digest = hashlib.sha1(job_name.encode("utf-8")).hexdigest()[:8]
    safe = (safe if safe[:1].isalnum() else f"job-{safe}".rstrip("-"))[:110]
    return f"{safe}-{digest}"


def _csv_field(fields: Sequence[str]) -> str:
    """Join ``fields`` as one CSV line, the syntax docker parses ``--mount`` and ``--gpus`` with."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(fields)
    return buf.getvalue()


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _system(path: Path) -> bool:
    return any(_under(path, d) for d in _SYSTEM_DIRS)


def _auto_mountable(path: Path) -> bool:
    """True for a path that may be mounted automatically: not ``/``, a top-level dir or a system dir."""
    return len(path.parts) >= 3 and not _system(path)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def host_path_mounts(job: JobRequest) -> list[BindMount]:
    """Bind mounts that show the job its files at their host paths.

    Read-write: the common parent of workdir, results dir and log dir when it is specific
    enough (at least two levels below ``/`` and not a system dir), else each of the three.
    Read-only: the spec and the script's directory (unless ``/`` or a system dir), and existing
    absolute paths at least two levels deep named in the spec or the command (checkpoints of
    other jobs, datasets), minus anything already covered.
    """
    rw = [job.workdir, job.results_dir, job.log_path.parent]
    common = Path(os.path.commonpath([str(p) for p in rw]))
    if _auto_mountable(common) and common != Path.home() and common not in Path.home().parents:
        rw = [common]
    rw = [p for p in set(rw) if not any(p != q and _under(p, q) for q in rw)]
    needed: list[Path] = []  # the job cannot run without these: mounted unless `/` or a system dir
    found: list[Path] = []  # named somewhere: mounted when specific enough
    if job.spec_path is not None:
        needed.append(job.spec_path)
        found += _spec_paths(job.spec_path)
    if job.python_script is not None:
        cwd = job.workdir / job.python_script.cwd if job.python_script.cwd else job.workdir
        needed += [cwd, (cwd / job.python_script.script).parent]
    for token in (job.command or []) + (job.python_script.args if job.python_script else []):
        if token.startswith("/"):
            found.append(Path(token))
    mounts = [BindMount(source=p, target=p, read_only=False) for p in sorted(rw)]
    covered = list(rw)
    candidates = [(Path(os.path.normpath(p)), True) for p in needed]
    candidates += [(Path(os.path.normpath(p)), False) for p in found]
    for path, required in sorted(candidates, key=lambda c: (len(c[0].parts), not c[1])):
        allowed = _auto_mountable(path) or (required and len(path.parts) > 1 and not _system(path))
        if not allowed or not path.exists() or any(_under(path, c) for c in covered):
            continue
        mounts.append(BindMount(source=path, target=path, read_only=True))
        covered.append(path)
    return mounts


def _spec_paths(spec_path: Path) -> list[Path]:
    try:
        spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    return [Path(s) for s in _strings(spec) if s.startswith("/") and "\n" not in s]


class DockerPlatform(Platform):
    """Jobs are containers on a Docker engine, driven through the ``docker`` CLI.

    Args:
        docker_host: Engine address (``unix:///path/docker.sock``, ``tcp://host:2376``); default the
            ``DOCKER_HOST`` environment variable or the CLI's own default.
        default_image: Image for jobs whose model skill names none.
        network: ``docker run --network`` value; ``none`` keeps jobs off every network.
        python: Interpreter inside the image for ``python_script`` jobs.
        user: ``--user`` value; default this process's ``uid:gid`` so files written into bind
            mounts belong to the caller; ``""`` keeps the image's own user.
        mounts: Extra bind mounts: ``"SRC"``, ``"SRC:DST"``, ``"SRC:DST:ro|rw"`` or
            ``{"source", "target", "read_only"}``; SRC must exist.
        env: Extra non-secret variables for every job.
        pull: ``--pull`` policy: ``missing`` (docker's default), ``never`` or ``always``.
        shm_size: ``--shm-size`` (PyTorch data loaders need more than docker's 64 MB); None keeps docker's.
        gpu_devices: GPU ids to hand out to jobs (``--gpus "device=..."``), least busy first, so
            concurrent jobs do not share GPU 0; None gives ``--gpus <n>`` (docker picks the first n).
        run_args: Extra ``docker run`` flags (e.g. ``["--ipc=host", "--memory=32g"]``), placed
            before the image.
        remove_finished: ``docker rm`` a container once its final status has been seen (its logs are
            kept in ``job.log_path`` and its status in the state file). Off by default so
            ``docker logs``/``docker inspect`` keep working for finished jobs.
        cancel_grace_seconds: ``docker stop -t`` grace period before SIGKILL.
    """

    name = "docker"

    def __init__(
        self,
        docker_host: str | None = None,
        default_image: str | None = None,
        network: str = "none",
        python: str = "python3",
        user: str | None = None,
        mounts: Sequence[str | Mapping[str, Any]] | None = None,
        env: Mapping[str, str] | None = None,
        pull: str = "missing",
        shm_size: str | None = "8g",
        gpu_devices: Sequence[int | str] | None = None,
        run_args: Sequence[str] | None = None,
        remove_finished: bool = False,
        cancel_grace_seconds: float = 10.0,
    ) -> None:
        super().__init__()
        self.docker_host = self._optional_text(docker_host, "docker_host")
        self.default_image = self._optional_text(default_image, "default_image")
        self.network = self._text(network, "network")
        self.python = self._text(python, "python")
        self.user = f"{os.getuid()}:{os.getgid()}" if user is None else self._text(user, "user", allow_empty=True)
        self.mounts = [self._parse_mount(m) for m in (mounts or [])]
        self.env = self._parse_env(env or {}, "env")
        if pull not in PULL_POLICIES:
            raise PlatformError(
                f"unknown pull policy {pull!r}", field="pull", hint=f"one of {', '.join(PULL_POLICIES)}"
            )
        self.pull = pull
        self.shm_size = self._optional_text(shm_size, "shm_size")
        self.gpu_devices = self._parse_gpu_devices(gpu_devices)
        if run_args is not None and (isinstance(run_args, str) or not all(isinstance(a, str) for a in run_args)):
            raise PlatformError("must be a list of strings", field="run_args", hint='e.g. ["--ipc=host"]')
        self.run_args = list(run_args or [])
        if not isinstance(remove_finished, bool):
            raise PlatformError("must be true or false", field="remove_finished")
        self.remove_finished = remove_finished
        if isinstance(cancel_grace_seconds, bool) or not isinstance(cancel_grace_seconds, int | float):
            raise PlatformError("must be a number of seconds", field="cancel_grace_seconds")
        if cancel_grace_seconds < 0:
            raise PlatformError("must not be negative", field="cancel_grace_seconds")
        self.cancel_grace_seconds = float(cancel_grace_seconds)
        self._cli_path: str | None = None
        self._state_paths: dict[str, Path] = {}
        self._copied: dict[str, int] = {}

    # ---- option validation ----------------------------------------------------------------

    @staticmethod
    def _text(value: object, field: str, allow_empty: bool = False) -> str:
        if not isinstance(value, str) or (not value.strip() and not allow_empty):
            raise PlatformError(f"must be a non-empty string, got {value!r}", field=field)
        return value.strip()

    @classmethod
    def _optional_text(cls, value: object, field: str) -> str | None:
        return None if value is None else cls._text(value, field)

    @staticmethod
    def _parse_env(env: Mapping[str, str], field: str) -> dict[str, str]:
        if not isinstance(env, Mapping):
            raise PlatformError("must be a mapping of NAME to value", field=field)
        for key, value in env.items():
            if not isinstance(key, str) or not _ENV_NAME.match(key):
                raise PlatformError(f"invalid variable name {key!r}", field=field)
            if not isinstance(value, str):
                raise PlatformError(f"value of {key} must be a string", field=field)
        return dict(env)

    @staticmethod
    def _parse_mount(spec: str | Mapping[str, Any]) -> BindMount:
        hint = 'use "SRC", "SRC:DST", "SRC:DST:ro|rw" or {"source": ..., "target": ..., "read_only": ...}'
        if isinstance(spec, str):
            parts = spec.split(":")
            mode = "rw"
            if len(parts) == 3:
                mode = parts.pop()
            if len(parts) not in (1, 2) or mode not in ("ro", "rw"):
                raise PlatformError(f"cannot parse mount {spec!r}", field="mounts", hint=hint)
            fields: dict[str, Any] = {"source": parts[0], "target": parts[-1], "read_only": mode == "ro"}
        elif isinstance(spec, Mapping):
            unknown = set(spec) - {"source", "target", "read_only"}
            if unknown or "source" not in spec:
                raise PlatformError(f"cannot parse mount {dict(spec)!r}", field="mounts", hint=hint)
            fields = {"target": spec["source"], "read_only": False, **spec}
        else:
            raise PlatformError(f"cannot parse mount {spec!r}", field="mounts", hint=hint)
        try:
            mount = BindMount.model_validate(fields)
        except ValidationError as exc:
            raise PlatformError(f"cannot parse mount {spec!r}: {exc.errors()[0]['msg']}", field="mounts") from exc
        if not mount.source.is_absolute() or not mount.target.is_absolute():
            raise PlatformError(f"mount paths must be absolute: {spec!r}", field="mounts", hint=hint)
        if not mount.source.exists():
            raise PlatformError(f"mount source {mount.source} does not exist", field="mounts")
        return mount

    @staticmethod
    def _parse_gpu_devices(devices: Sequence[int | str] | None) -> list[str] | None:
        if devices is None:
            return None
        if isinstance(devices, str) or not devices:
            raise PlatformError("must be a non-empty list of GPU ids", field="gpu_devices", hint="e.g. [0, 1, 2, 3]")
        out = [str(d).strip() for d in devices]
        if any(not d or "," in d for d in out) or len(set(out)) != len(out):
            raise PlatformError(f"invalid GPU ids {list(devices)!r}", field="gpu_devices", hint="e.g. [0, 1, 2, 3]")
        return out

    # ---- the docker CLI -------------------------------------------------------------------

    def _docker(self) -> str:
        if self._cli_path is None:
            found = shutil.which("docker")
            if found is None:
                raise PlatformError(
                    "the docker CLI is not installed",
                    field="docker",
                    hint="install the Debian package docker.io (or Docker's docker-ce-cli)",
                )
            self._cli_path = found
        return self._cli_path

    def _cli_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        if self.docker_host:
            env["DOCKER_HOST"] = self.docker_host
        env.update(extra or {})
        return env

    def _cli(
        self,
        args: list[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float | None = CLI_TIMEOUT_SECONDS,
        merge: bool = False,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``docker <args>``; raises PlatformError when the CLI is missing or does not answer."""
        try:
            return subprocess.run(
                [self._docker(), *args],
                env=self._cli_env(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if merge else subprocess.PIPE,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise PlatformError(f"docker {args[0]} did not answer within {timeout:.0f} s", field="docker") from exc
        except OSError as exc:
            raise PlatformError(f"cannot run docker: {exc}", field="docker") from exc

    @staticmethod
    def _err(proc: subprocess.CompletedProcess[bytes]) -> str:
        return redact((proc.stderr or b"").decode("utf-8", errors="replace").strip())

    def _inspect(self, container: str) -> tuple[dict[str, Any] | None, str | None]:
        """``(info, None)`` for our container, ``(None, None)`` when there is none, ``(None, why)`` when unsure."""
        try:
            proc = self._cli(["inspect", "--type", "container", container])
        except PlatformError as exc:
            return None, exc.message
        if proc.returncode != 0:
            err = self._err(proc)
            return (None, None) if _MISSING.search(err) else (None, err or f"docker inspect exited {proc.returncode}")
        try:
            data = json.loads(proc.stdout)
        except ValueError:
            return None, "docker inspect printed no JSON"
        info = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else None
        # A name that matches nothing may still match a container id prefix: insist on the name.
        if info is None or str(info.get("Name", "")).lstrip("/") != container:
            return None, None
        labels = (info.get("Config") or {}).get("Labels") or {}
        return (info, None) if LABEL_JOB in labels else (None, None)

    # ---- state files ----------------------------------------------------------------------

    @staticmethod
    def _state_path_of(info: dict[str, Any]) -> Path | None:
        label = ((info.get("Config") or {}).get("Labels") or {}).get(LABEL_STATE)
        return Path(label) if label else None

    def _state_path(self, job_id: str, info: dict[str, Any] | None) -> Path | None:
        if job_id not in self._state_paths and info is not None and (path := self._state_path_of(info)):
            self._state_paths[job_id] = path
        return self._state_paths.get(job_id)

    @staticmethod
    def _read_record(path: Path | None) -> _Record | None:
        if path is None:
            return None
        try:
            return _Record.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    @staticmethod
    def _write_record(path: Path, record: _Record) -> None:
        write_atomic(path, record.model_dump_json(indent=2))

    # ---- submit ---------------------------------------------------------------------------

    def _submit(self, job: JobRequest) -> str:
        job = self._absolute(job)
        job.workdir.mkdir(parents=True, exist_ok=True)
        image = self._image(job)
        container = container_name(job.name)
        state_path = self._state_file(job, container)
        self._claim(job, container, state_path)
        record = _Record(
            job=job.name, container=container, log_path=str(job.log_path), image=image, submitted_at=time.time()
        )
        self._write_record(state_path, record)
        self._state_paths[container] = state_path
        try:
            argv, env = self._run_command(job, container, image, state_path)
            proc = self._cli(argv, env=env, timeout=None)
        except PlatformError:
            state_path.unlink(missing_ok=True)
            self._state_paths.pop(container, None)
            raise
        if proc.returncode == 0:
            return container
        error = self._err(proc) or f"docker run exited {proc.returncode}"
        info, _ = self._inspect(container)
        ours = info is not None and self._state_path_of(info) == state_path
        if not ours and (info is not None or self._image_present(image) is not False):
            # No container of ours and the image is there: the engine refused the job (unreachable,
            # a name held by another container, a bad flag). That is the platform's failure.
            state_path.unlink(missing_ok=True)
            self._state_paths.pop(container, None)
            raise PlatformError(f"docker run of job {job.name!r} failed: {error}", field="platform")
        if info is None:
            how = "pull=never" if self.pull == "never" else "it could not be pulled"
            error += f"\nUnable to find image {image!r} on the Docker engine ({how})"
        # The job exists from the runner's point of view and fails like a job: status ERROR, the
        # docker error in its log, classified by failure_analysis (an image problem, a bad command).
        self._write_record(state_path, record.model_copy(update={"run_error": error}))
        with contextlib.suppress(OSError):
            job.log_path.write_text(error + "\n", encoding="utf-8")
        return container

    def _image(self, job: JobRequest) -> str:
        image = job.image or self.default_image
        if not image:
            raise PlatformError(
                f"job {job.name!r} names no image and no default_image is set",
                field="image",
                hint="set container_image in the model skill or the docker platform option default_image",
            )
        return image

    @staticmethod
    def _state_file(job: JobRequest, container: str) -> Path:
        return job.log_path.parent / f"{STATE_PREFIX}{container}.json"

    def run_argv(self, job: JobRequest) -> list[str]:
        """The ``docker`` arguments ``submit`` would use for ``job`` (for review and tests).

        Environment variables appear as ``-e NAME`` only; their values travel in the CLI's
        environment, never in this list.
        """
        job = self._absolute(job)
        container = container_name(job.name)
        return self._run_command(job, container, self._image(job), self._state_file(job, container))[0]

    @staticmethod
    def _absolute(job: JobRequest) -> JobRequest:
        update: dict[str, Any] = {
            "workdir": job.workdir.absolute(),
            "results_dir": job.results_dir.absolute(),
            "log_path": job.log_path.absolute(),
        }
        if job.spec_path is not None:
            update["spec_path"] = job.spec_path.absolute()
        return job.model_copy(update=update)

    def _claim(self, job: JobRequest, container: str, state_path: Path) -> None:
        """Refuse a duplicate job; clear a finished container of another run that holds the name."""
        if state_path.exists():
            raise PlatformError(
                f"a job named {job.name!r} was already submitted (state in {state_path})",
                field="name",
                hint="job names must be unique; use find_job() to re-attach to it",
            )
        info, err = self._inspect(container)
        if err is not None:
            raise PlatformError(f"cannot reach the Docker engine: {err}", field="platform", hint="check `docker info`")
        if info is None:
            return
        status = self._status(container)
        if not status.state.terminal:
            raise PlatformError(f"another job named {job.name!r} is still active", field="name")
        self.logs(container)  # keeps that run's log in its own workspace before the container goes
        self._remove(container)
        self._state_paths.pop(container, None)

    def _image_present(self, image: str) -> bool | None:
        try:
            proc = self._cli(["image", "inspect", "--format", "{{.Id}}", image])
        except PlatformError:
            return None
        if proc.returncode == 0:
            return True
        return False if re.search(r"No such image", self._err(proc), re.IGNORECASE) else None

    def _run_command(
        self, job: JobRequest, container: str, image: str, state_path: Path
    ) -> tuple[list[str], dict[str, str]]:
        """``docker run`` argv and the CLI environment holding the env values (never in the argv)."""
        inner, cwd = self._inner_command(job)
        values = {**self.env, **job.env, "PYTHONUNBUFFERED": "1"}
        values.update({n: os.environ[n] for n in job.env_passthrough if n in os.environ})
        for name in values:
            if not _ENV_NAME.match(name):
                raise PlatformError(f"invalid environment variable name {name!r}", field="env")
        argv = ["run", "-d", "--init", "--name", container]
        argv += ["--label", f"{LABEL_JOB}={job.name}", "--label", f"{LABEL_STATE}={state_path}"]
        argv += ["--network", self.network]
        if self.pull != "missing":
            argv += ["--pull", self.pull]
        if self.user:
            argv += ["--user", self.user]
        if self.shm_size:
            argv += ["--shm-size", self.shm_size]
        gpus = self._gpus(job)
        if gpus:
            argv += ["--gpus", gpus]
            if self.gpu_devices is not None:
                devices = gpus.strip('"').removeprefix("device=")
                argv += ["--label", f"{LABEL_GPUS}={devices}"]
        for mount in self.job_mounts(job):
            fields = ["type=bind", f"source={mount.source}", f"target={mount.target}"]
            argv += ["--mount", _csv_field([*fields, "readonly"] if mount.read_only else fields)]
        for name in sorted(values):
            argv += ["-e", name]
        argv += ["-w", str(cwd), *self.run_args, image, *inner]
        return argv, values

    def _inner_command(self, job: JobRequest) -> tuple[list[str], Path]:
        return job_argv(job, self.python)

    def _gpus(self, job: JobRequest) -> str | None:
        """The ``--gpus`` value: none for 0, ``all`` for a negative count, else a count or devices."""
        if job.gpus == 0:
            return None
        if job.gpus < 0:
            return "all"
        if self.gpu_devices is None:
            return str(job.gpus)
        if job.gpus > len(self.gpu_devices):
            raise PlatformError(
                f"job {job.name!r} asks for {job.gpus} GPUs but gpu_devices lists {len(self.gpu_devices)}",
                field="gpus",
            )
        busy = self._busy_gpus()
        ranked = sorted(self.gpu_devices, key=lambda d: (busy.get(d, 0), self.gpu_devices.index(d)))  # type: ignore[union-attr]
        return _csv_field(["device=" + ",".join(ranked[: job.gpus])])

    def _busy_gpus(self) -> dict[str, int]:
        """How many running tao-automl containers hold each GPU id (from their labels)."""
        fmt = '{{.Label "' + LABEL_GPUS + '"}}'
        proc = self._cli(["ps", "--filter", f"label={LABEL_GPUS}", "--format", fmt])
        busy: dict[str, int] = {}
        for line in proc.stdout.decode("utf-8", errors="replace").split() if proc.returncode == 0 else []:
            for device in line.split(","):
                busy[device] = busy.get(device, 0) + 1
        return busy

    def job_mounts(self, job: JobRequest) -> list[BindMount]:
        """:func:`host_path_mounts` of the job, then the platform's ``mounts`` option as given."""
        return host_path_mounts(job) + self.mounts

    # ---- lookup ---------------------------------------------------------------------------

    def find_job(self, name: str) -> str | None:
        """The container started for job ``name`` (by its ``tao-automl.job`` label), if any."""
        try:
            proc = self._cli(["ps", "-a", "--filter", f"label={LABEL_JOB}={name}", "--format", "{{.Names}}"])
        except PlatformError:
            return None
        names = proc.stdout.decode("utf-8", errors="replace").split() if proc.returncode == 0 else []
        if names:
            return names[0]
        container = container_name(name)
        return container if self._read_record(self._state_paths.get(container)) is not None else None

    # ---- status ---------------------------------------------------------------------------

    def _status(self, job_id: str) -> JobStatus:
        info, err = self._inspect(job_id)
        record = self._read_record(self._state_path(job_id, info))
        if record is not None and record.final is not None:
            return record.final
        if err is not None:
            return JobStatus(state=JobState.UNKNOWN, message=f"docker: {err}")
        if info is None:
            if record is None:
                return JobStatus(state=JobState.UNKNOWN, message=f"no container {job_id!r}")
            if record.run_error is not None:
                return JobStatus(state=JobState.ERROR, exit_code=125, message=record.run_error.splitlines()[-1])
            return JobStatus(
                state=JobState.ERROR, infra_failure=True, message=f"container {job_id!r} was removed while it ran"
            )
        status = self._map_state(info.get("State") or {}, record)
        if status.state.terminal and self.remove_finished and record is not None:
            self._finish(job_id, record, status)
        return status

    @staticmethod
    def _map_state(state: dict[str, Any], record: _Record | None) -> JobStatus:
        name = str(state.get("Status", "")).lower()
        code = state.get("ExitCode") if isinstance(state.get("ExitCode"), int) else None
        error = redact(str(state.get("Error") or ""))
        if name in ("running", "restarting", "paused"):
            return JobStatus(state=JobState.RUNNING)
        if record is not None and record.canceled_at is not None and name in ("exited", "created", "dead"):
            return JobStatus(state=JobState.CANCELED, exit_code=code if name == "exited" else None, message="canceled")
        if name == "created":
            if error:
                return JobStatus(
                    state=JobState.ERROR, exit_code=code or 128, message=f"container did not start: {error}"
                )
            return JobStatus(state=JobState.PENDING, message="container created")
        if name == "exited":
            if state.get("OOMKilled"):
                return JobStatus(
                    state=JobState.ERROR,
                    exit_code=code,
                    message="OOMKilled: the container hit its memory limit (out_of_memory)",
                )
            if code == 0:
                return JobStatus(state=JobState.COMPLETE, exit_code=0)
            return JobStatus(
                state=JobState.ERROR, exit_code=code, message=f"exit code {code}" + (f": {error}" if error else "")
            )
        if name == "dead":
            return JobStatus(state=JobState.ERROR, exit_code=code, infra_failure=True, message="container is dead")
        return JobStatus(state=JobState.UNKNOWN, message=f"container state {name or '?'}")

    def _finish(self, job_id: str, record: _Record, status: JobStatus) -> None:
        """With ``remove_finished``: keep the whole log and the final status, then remove the container."""
        self._read_logs(job_id)
        path = self._state_paths.get(job_id)
        if path is None:
            return
        self._write_record(path, record.model_copy(update={"final": status}))
        self._remove(job_id)

    def _remove(self, container: str) -> None:
        with contextlib.suppress(PlatformError):
            proc = self._cli(["rm", "-f", container])
            if proc.returncode != 0 and not _MISSING.search(self._err(proc)):
                logger.warning("docker rm %s failed: %s", container, self._err(proc))

    # ---- logs -----------------------------------------------------------------------------

    def _read_logs(self, job_id: str) -> str:
        path = self._state_paths.get(job_id)
        if path is None:
            info, _ = self._inspect(job_id)
            path = self._state_path(job_id, info)
        record = self._read_record(path)
        if record is None:
            return ""
        log_path = Path(record.log_path)
        data: bytes | None = None
        if record.final is None:
            try:
                proc = self._cli(["logs", record.container], merge=True)
            except PlatformError:
                proc = None
            if proc is not None and proc.returncode == 0:
                data = proc.stdout
                if record.run_error:
                    data = record.run_error.encode("utf-8") + b"\n" + data
                self._copy_log(job_id, log_path, data)
        if data is None:
            try:
                data = log_path.read_bytes()
            except OSError:
                data = (record.run_error or "").encode("utf-8")
        # final=False leaves a half-written multi-byte character for the next read, keeping
        # new_logs offsets stable.
        return codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data, final=False)

    def _copy_log(self, job_id: str, log_path: Path, data: bytes) -> None:
        """Mirror the container's log into the workspace, only when it grew."""
        if job_id not in self._copied:
            try:
                self._copied[job_id] = log_path.stat().st_size
            except OSError:
                self._copied[job_id] = -1
        if len(data) <= self._copied[job_id]:
            return
        try:
            _write_bytes_atomic(log_path, data)
            self._copied[job_id] = len(data)
        except OSError as exc:
            logger.warning("cannot copy the log of %s to %s: %s", job_id, log_path, exc)

    # ---- cancel ---------------------------------------------------------------------------

    def _cancel(self, job_id: str) -> None:
        info, err = self._inspect(job_id)
        path = self._state_path(job_id, info)
        record = self._read_record(path)
        if err is not None:
            raise PlatformError(f"cannot cancel {job_id!r}: {err}", field="platform")
        if info is None or record is None or path is None or record.final is not None:
            return
        if self._map_state(info.get("State") or {}, record).state.terminal:
            return
        self._write_record(path, record.model_copy(update={"canceled_at": time.time()}))
        grace = math.ceil(self.cancel_grace_seconds)
        stopped = self._cli(["stop", "-t", str(grace), job_id], timeout=grace + CLI_TIMEOUT_SECONDS)
        if stopped.returncode != 0:
            killed = self._cli(["kill", job_id])
            if killed.returncode != 0:
                info, _ = self._inspect(job_id)
                if info is not None and (info.get("State") or {}).get("Running"):
                    raise PlatformError(f"cannot stop container {job_id!r}: {self._err(killed)}", field="platform")
