"""A Kubernetes API on localhost (kmock) with a small kubelet, so the kubernetes platform runs real jobs.

No real API server can run here. kmock's ``KubernetesEmulator`` serves the Kubernetes REST API from
memory over real HTTP, so the official ``kubernetes`` client is exercised unchanged; but no
controllers run. ``FakeKubelet`` plays them, talking to the emulator through the same client:

- Job controller: for each new Job it creates a Pod from the template, counts pod failures against
  ``backoffLimit``, enforces ``activeDeadlineSeconds``, writes the Job's ``status`` (``active``,
  ``succeeded``/``failed``, conditions ``Complete``/``Failed`` with ``BackoffLimitExceeded`` or
  ``DeadlineExceeded``), terminates the pods of a suspended Job, and deletes the pods (killing
  their processes) when the Job is deleted.
- scheduler: one node with ``NODE_LABELS`` and no GPUs; a pod whose ``nodeSelector`` or extended
  resource requests do not fit stays Pending with ``PodScheduled=False/Unschedulable``.
- kubelet: pulls "fail" for images from ``*.invalid`` registries (``ErrImagePull`` then
  ``ImagePullBackOff``); resolves ``secretKeyRef`` env from Secrets in the emulator
  (``CreateContainerConfigError`` when missing); runs the container's command as a local process
  in its own session with the container's env and ``workingDir``; kills a pod whose process group
  exceeds its memory limit (``OOMKilled``); serves ``/api/v1/namespaces/{ns}/pods/{pod}/log``
  (programmed into kmock as a reaction, since kmock has no pod logs); ``evict()`` lets a test
  simulate node-pressure eviction.

Images are not run: the command runs on this machine, so a job's ``python`` is this interpreter.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import attrs
import kmock
import pytest
from conftest import PlatformCase
from kubernetes import client, watch

from tao_automl.platforms.kubernetes import KubernetesPlatform

PLATFORM_CASES = ("kubernetes",)

NODE_NAME = "kmock-node"
NODE_LABELS = {"kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux", "pool": "cpu"}
NODE_ALLOCATABLE = {"cpu": 2.0, "memory": 8 * 2**30}  # GPUs and other extended resources: none
TICK_SECONDS = 0.02
WATCH_TIMEOUT = 2.0
GRACE_SECONDS = 1.0
EMULATOR_IMAGE = "docker.io/library/python:3.11-slim"

_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_SUFFIXES = {
    "": 1, "m": 1e-3, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}  # fmt: skip


class Served(NamedTuple):
    """One request the emulator answered (for assertions on what the client sent)."""

    method: str
    namespace: str | None
    name: str | None
    subresource: str | None
    params: dict[str, str]
    data: Any


def quantity(text: object) -> float:
    """A Kubernetes quantity (``500m``, ``64Mi``, ``2``) as a number."""
    match = _QUANTITY.match(str(text))
    if not match or match.group(2) not in _SUFFIXES:
        raise ValueError(f"not a quantity: {text!r}")
    return float(match.group(1)) * _SUFFIXES[match.group(2)]


def now_stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@attrs.define(kw_only=True)
class FastEmulator(kmock.KubernetesEmulator):
    """kmock's emulator whose request matching does not slow down as requests accumulate.

    kmock decides whether a reaction applies to a request by iterating over every request it has
    served (``request in view``), so each request costs O(requests so far): a kubelet and a runner
    polling for a whole session make that quadratic (seconds per call after a few thousand).
    Here the views see only the requests being handled, and ``journal`` keeps a compact history
    for assertions.
    """

    journal: collections.deque[Served] = attrs.field(factory=lambda: collections.deque(maxlen=20000), init=False)
    _inflight: list[kmock.Request] = attrs.field(factory=list, init=False)

    def __iter__(self) -> Iterator[kmock.Request]:
        yield from list(self._inflight)

    async def _handle(self, request: kmock.Request) -> Any:
        self._inflight.append(request)
        self.journal.append(
            Served(
                request.method.value,
                request.namespace,
                request.name,
                request.subresource,
                dict(request.params),
                request.data,
            )
        )
        try:
            return await super()._handle(request)
        finally:
            self._inflight.remove(request)
            self._requests.clear()


class KubeEmulator:
    """kmock's Kubernetes emulator served on 127.0.0.1 from an event loop in a background thread."""

    def __init__(self) -> None:
        self.url = ""
        self.handler: FastEmulator | None = None
        self.log_source: Callable[[str, str, dict[str, str]], bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="kmock", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            raise RuntimeError(f"kmock emulator did not start: {self._error}")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def api_client(self) -> client.ApiClient:
        configuration = client.Configuration()
        configuration.host = self.url
        return client.ApiClient(configuration)

    def in_loop(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the server's loop (reactions must not change under a request being matched)."""
        assert self._loop is not None

        async def call() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=10)

    def served(self) -> list[Served]:
        """Every request answered so far (copied on the server's loop, so never mid-append)."""
        assert self.handler is not None
        handler = self.handler
        return self.in_loop(lambda: list(handler.journal))

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # noqa: BLE001 - reported by start(); the thread must not die silently
            self._error = exc
            self._ready.set()

    def _serve_log(self, request: kmock.Request) -> bytes:
        if self.log_source is None:
            raise kmock.KubernetesError(status=404, reason="NotFound", message="no kubelet is running")
        return self.log_source(request.namespace or "", request.name or "", dict(request.params))

    async def _main(self) -> None:
        handler = FastEmulator()
        handler.resources["batch/v1/jobs"] = {}
        handler.resources["v1/pods"] = {}
        handler.resources["v1/secrets"] = {}
        # kmock stores objects but has no pod logs: serve them from the kubelet's files, as text.
        (
            handler[kmock.resource("v1/pods"), kmock.subresource("log")]
            << kmock.headers({"Content-Type": "text/plain; charset=utf-8"})
            << self._serve_log
        )
        async with handler, kmock.Server(handler) as server:
            self.handler = handler
            self.url = str(server.url).rstrip("/")
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await self._stop.wait()


@dataclass
class _Pod:
    namespace: str
    name: str
    log: Path
    image: str
    state: str = "pending"  # pending | unschedulable | image | config | running | done
    proc: subprocess.Popen[bytes] | None = None
    ticks_waiting: int = 0
    oom: bool = False
    evict: bool = False
    memory_limit: float | None = None
    started_at: str = ""


@dataclass
class _Job:
    namespace: str
    name: str
    failures: int = 0
    pods: list[_Pod] = field(default_factory=list)
    done: bool = False
    started: float = 0.0

    @property
    def current(self) -> _Pod | None:
        return self.pods[-1] if self.pods else None


class FakeKubelet:
    """Job controller + scheduler + kubelet for the emulator (see the module docstring)."""

    def __init__(self, emulator: KubeEmulator, root: Path) -> None:
        self.emulator = emulator
        self.root = root
        self.api = emulator.api_client()
        self.batch = client.BatchV1Api(self.api)
        self.core = client.CoreV1Api(self.api)
        self.errors: list[str] = []
        self._jobs: dict[tuple[str, str], _Job] = {}
        self._pods: dict[tuple[str, str], _Pod] = {}
        self._seen: dict[tuple[str, str], dict[str, Any]] = {}
        self._synced = False
        self._halt = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-kubelet", daemon=True)
        self._watcher = threading.Thread(target=self._watch_jobs, name="fake-kubelet-watch", daemon=True)

    def start(self) -> None:
        self.emulator.log_source = self.pod_log
        self._watcher.start()
        self._thread.start()

    def stop(self) -> None:
        """Stop both threads and kill every process still running."""
        self._halt.set()
        self._wake.set()
        self._thread.join(timeout=10)
        for job in list(self._jobs.values()):
            for pod in job.pods:
                self._kill(pod, grace=0)
        self._watcher.join(timeout=WATCH_TIMEOUT + 5)

    def evict(self, namespace: str, job: str) -> None:
        """Evict the running pod of ``job`` as node pressure would (the next tick carries it out)."""
        state = self._jobs[(namespace, job)]
        assert state.current is not None and state.current.state == "running", "no running pod to evict"
        state.current.evict = True

    def pids(self, namespace: str, job: str) -> list[int]:
        return [p.proc.pid for p in self._jobs[(namespace, job)].pods if p.proc is not None]

    # ---- log subresource ----------------------------------------------------------------------

    def pod_log(self, namespace: str, name: str, params: dict[str, str]) -> bytes:
        pod = self._pods.get((namespace, name))
        if pod is None:
            raise kmock.KubernetesError(status=404, reason="NotFound", message=f'pods "{name}" not found')
        if pod.proc is None:
            raise kmock.KubernetesError(
                status=400,
                reason="BadRequest",
                message=f'container "main" in pod "{name}" is waiting to start: ContainerCreating',
            )
        data = pod.log.read_bytes() if pod.log.exists() else b""
        if "tailLines" in params:
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-int(params["tailLines"]) :]) if int(params["tailLines"]) else b""
        return data

    # ---- the loop -----------------------------------------------------------------------------

    def _watch_jobs(self) -> None:
        """Keep ``_seen`` equal to the Jobs in the cluster: a list, then a watch, again after each timeout."""
        while not self._halt.is_set():
            try:
                resp = self.batch.list_job_for_all_namespaces(_preload_content=False)
                items = json.loads(resp.data).get("items") or []
                self._seen = {(j["metadata"]["namespace"], j["metadata"]["name"]): j for j in items}
                self._synced = True
                self._wake.set()
                stream = watch.Watch().stream(
                    self.batch.list_job_for_all_namespaces, _request_timeout=(5, WATCH_TIMEOUT)
                )
                for event in stream:
                    job = event["raw_object"]
                    key = (job["metadata"]["namespace"], job["metadata"]["name"])
                    seen = dict(self._seen)
                    if event["type"] == "DELETED":
                        seen.pop(key, None)
                    else:
                        seen[key] = job
                    self._seen = seen
                    self._wake.set()
                    if self._halt.is_set():
                        return
            except Exception as exc:  # noqa: BLE001 - a read timeout ends an idle watch: list and watch again
                if "timed out" not in str(exc).lower():
                    self.errors.append(f"watch: {type(exc).__name__}: {exc}")
                    self._halt.wait(TICK_SECONDS)

    def _run(self) -> None:
        while not self._halt.is_set():
            self._wake.wait(TICK_SECONDS)
            self._wake.clear()
            try:
                self._tick()
            except Exception as exc:  # noqa: BLE001 - keep playing the controllers; tests can read .errors
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def _tick(self) -> None:
        if not self._synced:
            return
        jobs = self._seen
        seen = set(jobs)
        for key, job in jobs.items():
            meta = job["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            state = self._jobs.setdefault(key, _Job(*key, started=time.monotonic()))
            if state.done:
                continue
            if (job.get("spec") or {}).get("suspend"):
                self._suspend(state)
                continue
            pod = state.current
            if pod is None or pod.state == "done":
                pod = self._create_pod(state, job)
            self._advance(state, pod, job)
        for key in [k for k in self._jobs if k not in seen]:
            self._collect(self._jobs.pop(key))

    def _create_pod(self, state: _Job, job: dict[str, Any]) -> _Pod:
        template = job["spec"]["template"]
        name = f"{state.name}-{uuid.uuid4().hex[:5]}"
        labels = {
            **(template.get("metadata") or {}).get("labels", {}),
            "job-name": state.name,
            "batch.kubernetes.io/job-name": state.name,
        }
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": state.namespace,
                "labels": labels,
                "creationTimestamp": now_stamp(),
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": state.name,
                        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{state.namespace}/{state.name}")),
                        "controller": True,
                    }
                ],
            },
            "spec": {**template["spec"], "nodeName": NODE_NAME},
            "status": {"phase": "Pending"},
        }
        self.core.create_namespaced_pod(state.namespace, body)
        image = template["spec"]["containers"][0]["image"]
        pod = _Pod(state.namespace, name, self.root / state.namespace / f"{name}.log", image)
        limit = ((template["spec"]["containers"][0].get("resources") or {}).get("limits") or {}).get("memory")
        pod.memory_limit = quantity(limit) if limit else None
        state.pods.append(pod)
        self._pods[(state.namespace, name)] = pod
        self._job_status(state, {"active": 1, "startTime": now_stamp()})
        return pod

    def _advance(self, state: _Job, pod: _Pod, job: dict[str, Any]) -> None:
        spec = job["spec"]
        container = spec["template"]["spec"]["containers"][0]
        deadline = spec.get("activeDeadlineSeconds")
        if deadline and time.monotonic() - state.started > deadline:
            self._kill(pod, grace=0)
            if pod.proc is not None:
                self._pod_finished(pod, 137, "Error")
            self._fail(state, "DeadlineExceeded", "Job was active longer than specified deadline")
            return
        if pod.state == "pending":
            self._schedule(state, pod, job, container)
        elif pod.state == "image":
            pod.ticks_waiting += 1
            if pod.ticks_waiting == 3:
                self._waiting(pod, "ImagePullBackOff", f'Back-off pulling image "{container["image"]}"')
        elif pod.state == "running":
            self._supervise(state, pod, spec)

    def _schedule(self, state: _Job, pod: _Pod, job: dict[str, Any], container: dict[str, Any]) -> None:
        pod_spec = job["spec"]["template"]["spec"]
        reason = self._unschedulable(pod_spec, container)
        if reason:
            pod.state = "unschedulable"
            condition = {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": reason,
                "lastTransitionTime": now_stamp(),
            }
            self._pod_status(pod, {"phase": "Pending", "conditions": [condition]})
            return
        registry = container["image"].split("/")[0] if "/" in container["image"] else ""
        if registry.endswith(".invalid"):
            pod.state = "image"
            self._waiting(
                pod,
                "ErrImagePull",
                f'failed to pull and unpack image "{container["image"]}": dial tcp: lookup {registry}: no such host',
            )
            return
        env = self._env(state.namespace, container)
        if isinstance(env, str):
            pod.state = "config"
            self._waiting(pod, "CreateContainerConfigError", env)
            return
        workdir = Path(container.get("workingDir") or "/")
        workdir.mkdir(parents=True, exist_ok=True)
        pod.log.parent.mkdir(parents=True, exist_ok=True)
        with open(pod.log, "wb") as out:
            try:
                pod.proc = subprocess.Popen(
                    container["command"] + container.get("args", []),
                    cwd=workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                pod.state = "config"
                self._waiting(pod, "RunContainerError", f"exec: {exc}")
                return
        pod.state = "running"
        pod.started_at = now_stamp()
        self._pod_status(
            pod,
            {
                "phase": "Running",
                "hostIP": "127.0.0.1",
                "startTime": pod.started_at,
                "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}],
                "containerStatuses": [_container_status(pod, {"running": {"startedAt": pod.started_at}}, ready=True)],
            },
        )
        self._job_status(state, {"active": 1, "ready": 1})

    @staticmethod
    def _unschedulable(pod_spec: dict[str, Any], container: dict[str, Any]) -> str:
        selector = pod_spec.get("nodeSelector") or {}
        if any(NODE_LABELS.get(k) != v for k, v in selector.items()):
            return "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
        for resource, amount in ((container.get("resources") or {}).get("requests") or {}).items():
            if quantity(amount) > NODE_ALLOCATABLE.get(resource, 0):
                return f"0/1 nodes are available: 1 Insufficient {resource}."
        return ""

    def _env(self, namespace: str, container: dict[str, Any]) -> dict[str, str] | str:
        """The process env (the image's PATH plus the container's env), or why it cannot be built."""
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": os.environ.get("HOME", "/root")}
        for item in container.get("env") or []:
            ref = (item.get("valueFrom") or {}).get("secretKeyRef")
            if ref is None:
                env[item["name"]] = item.get("value", "")
                continue
            try:
                resp = self.core.read_namespaced_secret(ref["name"], namespace, _preload_content=False)
            except client.ApiException as exc:
                if exc.status == 404:
                    return f'secret "{ref["name"]}" not found'
                raise
            data = json.loads(resp.data).get("data") or {}
            if ref["key"] not in data:
                return f"couldn't find key {ref['key']} in Secret {namespace}/{ref['name']}"
            env[item["name"]] = base64.b64decode(data[ref["key"]]).decode()
        return env

    def _supervise(self, state: _Job, pod: _Pod, spec: dict[str, Any]) -> None:
        assert pod.proc is not None
        if pod.evict:
            self._kill(pod, grace=0)
            pod.state = "done"
            self._pod_status(
                pod,
                {
                    "phase": "Failed",
                    "reason": "Evicted",
                    "message": "The node was low on resource: memory. Threshold quantity: 100Mi, available: 64Mi.",
                    "containerStatuses": [_container_status(pod, {"terminated": {"exitCode": 137, "reason": "Error"}})],
                },
            )
            self._count_failure(state, spec)
            return
        if pod.memory_limit is not None and _group_rss(pod.proc.pid) > pod.memory_limit:
            pod.oom = True
            self._kill(pod, grace=0)
        code = pod.proc.poll()
        if code is None:
            return
        code = 128 - code if code < 0 else code
        reason = "OOMKilled" if pod.oom else ("Completed" if code == 0 else "Error")
        self._pod_finished(pod, code, reason)
        if code == 0:
            state.done = True
            self._job_status(
                state,
                {
                    "active": 0,
                    "ready": 0,
                    "succeeded": 1,
                    "completionTime": now_stamp(),
                    "conditions": [
                        _condition(
                            "SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"
                        ),
                        _condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
                    ],
                },
            )
        else:
            self._count_failure(state, spec)

    def _count_failure(self, state: _Job, spec: dict[str, Any]) -> None:
        state.failures += 1
        if state.failures > spec.get("backoffLimit", 6):
            self._fail(state, "BackoffLimitExceeded", "Job has reached the specified backoff limit")
        else:
            self._job_status(state, {"active": 0, "ready": 0, "failed": state.failures})

    def _fail(self, state: _Job, reason: str, message: str) -> None:
        state.done = True
        self._job_status(
            state,
            {
                "active": 0,
                "ready": 0,
                "failed": max(state.failures, 1),
                "conditions": [_condition("FailureTarget", reason, message), _condition("Failed", reason, message)],
            },
        )

    def _pod_finished(self, pod: _Pod, code: int, reason: str) -> None:
        pod.state = "done"
        terminated = {"exitCode": code, "reason": reason, "startedAt": pod.started_at, "finishedAt": now_stamp()}
        self._pod_status(
            pod,
            {
                "phase": "Succeeded" if code == 0 else "Failed",
                "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}],
                "containerStatuses": [_container_status(pod, {"terminated": terminated})],
            },
        )

    def _waiting(self, pod: _Pod, reason: str, message: str) -> None:
        self._pod_status(
            pod,
            {
                "phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "True"}],
                "containerStatuses": [_container_status(pod, {"waiting": {"reason": reason, "message": message}})],
            },
        )

    def _suspend(self, state: _Job) -> None:
        """A suspended Job's pods are deleted (their processes killed) and the Job says so."""
        for pod in state.pods:
            self._kill(pod, grace=GRACE_SECONDS)
            self._delete_pod(pod)
        state.pods.clear()
        state.done = True
        self._job_status(state, {"active": 0, "ready": 0, "conditions": [_condition("Suspended", "JobSuspended", "")]})

    def _collect(self, state: _Job) -> None:
        """Garbage collection of a deleted Job: kill and delete its pods."""
        for pod in state.pods:
            self._kill(pod, grace=GRACE_SECONDS)
            self._delete_pod(pod)

    def _kill(self, pod: _Pod, grace: float) -> None:
        proc = pod.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM if grace else signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace or 5)
        # The leader may be gone while its children (same session) live on: end the whole group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def _delete_pod(self, pod: _Pod) -> None:
        self._pods.pop((pod.namespace, pod.name), None)
        try:
            self.core.delete_namespaced_pod(pod.name, pod.namespace)
        except client.ApiException as exc:
            if exc.status != 404:
                raise

    def _pod_status(self, pod: _Pod, status: dict[str, Any]) -> None:
        self.core.patch_namespaced_pod_status(pod.name, pod.namespace, {"status": status})

    def _job_status(self, state: _Job, status: dict[str, Any]) -> None:
        try:
            self.batch.patch_namespaced_job_status(state.name, state.namespace, {"status": status})
        except client.ApiException as exc:
            if exc.status != 404:  # deleted meanwhile: the next tick collects it
                raise


def _container_status(pod: _Pod, state: dict[str, Any], ready: bool = False) -> dict[str, Any]:
    return {
        "name": "main",
        "image": pod.image,
        "imageID": "",
        "restartCount": 0,
        "ready": ready,
        "started": "running" in state,
        "state": state,
    }


def _condition(kind: str, reason: str, message: str) -> dict[str, str]:
    stamp = now_stamp()
    return {
        "type": kind,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastProbeTime": stamp,
        "lastTransitionTime": stamp,
    }


def _group_rss(pgid: int) -> float:
    """Resident memory in bytes of every process in group ``pgid`` (what a cgroup would count)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) != pgid:
                continue
            total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    return float(total)


class KubeCluster:
    """The emulator plus its kubelet: what the tests call "the cluster"."""

    def __init__(self, root: Path) -> None:
        self.emulator = KubeEmulator()
        self.root = root
        self.kubelet: FakeKubelet | None = None

    @property
    def url(self) -> str:
        return self.emulator.url

    def start(self) -> None:
        self.emulator.start()
        self.kubelet = FakeKubelet(self.emulator, self.root)
        self.kubelet.start()

    def stop(self) -> None:
        if self.kubelet is not None:
            self.kubelet.stop()
        self.emulator.stop()

    def api_client(self) -> client.ApiClient:
        return self.emulator.api_client()


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    """A Kubernetes API on 127.0.0.1 with a kubelet running Jobs as local processes; stopped at session end."""
    cluster = KubeCluster(tmp_path_factory.mktemp("kubelet"))
    cluster.start()
    yield cluster
    cluster.stop()
    assert cluster.kubelet is not None
    assert not cluster.kubelet.errors, f"the emulator's kubelet failed: {cluster.kubelet.errors[:5]}"


@pytest.fixture
def kube_namespace() -> str:
    """A fresh namespace per test, so job names ("quick", "failing", ...) never collide across tests."""
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def platform_case_kubernetes(kube_cluster: KubeCluster, kube_namespace: str) -> PlatformCase:
    platform = KubernetesPlatform(
        host=kube_cluster.url,
        namespace=kube_namespace,
        image=EMULATOR_IMAGE,
        python=sys.executable,
        request_timeout=10,
    )
    return PlatformCase(platform, [sys.executable])
