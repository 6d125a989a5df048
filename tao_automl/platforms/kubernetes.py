"""Run jobs as Kubernetes batch/v1 Jobs through the official ``kubernetes`` client.

One ``JobRequest`` becomes one Job with one pod (``restartPolicy: Never``). The job id is the Job's
DNS-1123 name; every Job and its pods carry the label ``tao-automl/job=<id>``, so ``find_job`` can
re-attach after a crash. State is read from the Job's conditions and its pods' container states,
and mapped onto the six-state vocabulary: a stuck image pull or a pod that stays unschedulable is
ended by this platform (the Job is suspended with its verdict in an annotation) so it cannot start
later beside the retry the runner launches.

The runner reads metrics from ``results_dir`` on its own machine: the workspace must be on a volume
that the controller and the pods both see, mounted at the same path (option ``volumes``).

Credentials never enter a Job body: ``env_passthrough`` names become ``secretKeyRef`` entries of
the Secret named by ``secret_name``, whose keys are the variable names.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tao_automl.errors import PlatformError
from tao_automl.platforms.base import JobRequest, JobState, JobStatus, Platform
from tao_automl.platforms.local_supervisor import write_atomic

JOB_LABEL = "tao-automl/job"
ACTION_LABEL = "tao-automl/action"
NAME_ANNOTATION = "tao-automl/name"
LOG_PATH_ANNOTATION = "tao-automl/log-path"
CANCELED_ANNOTATION = "tao-automl/canceled"
VERDICT_ANNOTATION = "tao-automl/verdict"
CONTAINER = "main"
MAX_NAME = 63

logger = logging.getLogger(__name__)

IMAGE_PULL_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})
CONTAINER_CONFIG_REASONS = frozenset({"CreateContainerConfigError", "CreateContainerError", "RunContainerError"})
# A registry refusing for load, not for a wrong name: running the job again may well work.
_THROTTLED = re.compile(r"toomanyrequests|too many requests|rate limit|\b429\b", re.IGNORECASE)
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_TOLERATION_KEYS = {"key", "operator", "value", "effect", "tolerationSeconds", "toleration_seconds"}
_VOLUME_KEYS = {"name", "mount_path", "pvc", "host_path", "read_only", "sub_path"}


def job_name(name: str) -> str:
    """A DNS-1123 label (lowercase alphanumerics and ``-``, at most 63 chars) for ``name``.

    A name that had to change gets a short hash of the original, so two names that sanitise alike
    (``a_b`` and ``a-b``) or share a long prefix still get different Jobs.
    """
    base = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]+", "-", name.lower())).strip("-")
    if base == name and len(base) <= MAX_NAME:
        return base
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    base = base[: MAX_NAME - len(digest) - 1].rstrip("-")
    return f"{base}-{digest}" if base else f"job-{digest}"


# ---- status from recorded API objects ---------------------------------------------------------


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _condition(obj: Mapping[str, Any], *types: str) -> dict[str, Any] | None:
    """The first condition of one of ``types`` whose status is True."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") in types and str(cond.get("status")) == "True":
            return cond
    return None


def _container(pod: Mapping[str, Any]) -> dict[str, Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    for status in statuses:
        if status.get("name") == CONTAINER:
            return status
    return statuses[0] if statuses else {}


def _terminated(pod: Mapping[str, Any]) -> dict[str, Any] | None:
    return ((_container(pod).get("state") or {}).get("terminated")) or None


def _pod_time(pod: Mapping[str, Any]) -> datetime:
    return _parse_time((pod.get("metadata") or {}).get("creationTimestamp")) or datetime.min.replace(tzinfo=UTC)


def _newest(pods: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The pod that speaks for the Job now: an unfinished one if any, else the most recent."""
    if not pods:
        return None
    active = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    return max(active or pods, key=_pod_time)


def _pod_failure(pod: Mapping[str, Any] | None) -> JobStatus:
    """ERROR status describing how ``pod`` ended (exit code, OOMKilled, eviction)."""
    if pod is None:
        # The Job failed but its pod is gone (preempted, deleted by someone): the platform lost it.
        return JobStatus(
            state=JobState.ERROR, infra_failure=True, message="the failed pod is gone (deleted or preempted)"
        )
    name = (pod.get("metadata") or {}).get("name", "?")
    pod_status = pod.get("status") or {}
    if pod_status.get("reason") == "Evicted":
        return JobStatus(
            state=JobState.ERROR,
            infra_failure=True,
            message=f"Evicted: pod {name}: {pod_status.get('message', '')}".strip(),
        )
    term = _terminated(pod)
    if term is None:
        reason = pod_status.get("reason") or pod_status.get("phase") or "unknown"
        return JobStatus(state=JobState.ERROR, message=f"pod {name} ended without an exit code ({reason})")
    code = term.get("exitCode")
    reason = term.get("reason") or "Error"
    detail = f"{reason}: pod {name} exited with code {code}"
    if term.get("message"):
        detail += f": {term['message']}"
    return JobStatus(state=JobState.ERROR, exit_code=code if isinstance(code, int) else None, message=detail)


def _waiting_failure(pod: Mapping[str, Any]) -> JobStatus | None:
    """ERROR when the container can never start as configured (bad image, missing secret)."""
    waiting = (_container(pod).get("state") or {}).get("waiting") or {}
    reason = waiting.get("reason") or ""
    message = waiting.get("message") or ""
    if reason in IMAGE_PULL_REASONS:
        throttled = bool(_THROTTLED.search(message))
        return JobStatus(state=JobState.ERROR, infra_failure=throttled, message=f"{reason}: {message}".strip())
    if reason in CONTAINER_CONFIG_REASONS:
        if "secret" in message.lower():
            message += " (credentials missing: create the Secret named by option secret_name with one key per name)"
        return JobStatus(state=JobState.ERROR, message=f"{reason}: {message}".strip())
    return None


def _unschedulable(pod: Mapping[str, Any], now: datetime, timeout: float) -> JobStatus | None:
    cond = next(
        (
            c
            for c in (pod.get("status") or {}).get("conditions") or []
            if c.get("type") == "PodScheduled"
            and str(c.get("status")) == "False"
            and c.get("reason") == "Unschedulable"
        ),
        None,
    )
    if cond is None:
        return None
    since = _parse_time(cond.get("lastTransitionTime")) or _pod_time(pod)
    waited = (now - since).total_seconds()
    text = f"Unschedulable: {cond.get('message', '')}".strip()
    if waited >= timeout:
        return JobStatus(
            state=JobState.ERROR,
            infra_failure=True,
            message=f"{text} (still unschedulable after {waited:.0f}s, unschedulable_timeout={timeout:g}s)",
        )
    return JobStatus(state=JobState.PENDING, message=text)


def status_from_objects(
    job: Mapping[str, Any],
    pods: list[dict[str, Any]],
    *,
    now: datetime | None = None,
    unschedulable_timeout: float = 600.0,
) -> JobStatus:
    """Map one Job and its pods (API JSON, as ``kubectl get -o json`` prints them) to a JobStatus.

    Pure: no API calls, so recorded objects can be replayed in tests.

    Args:
        job: The batch/v1 Job.
        pods: Pods labelled with the Job's ``tao-automl/job`` label (any order).
        now: Current time (UTC), for how long a pod has been unschedulable.
        unschedulable_timeout: Seconds a pod may stay unschedulable before the job is an
            infrastructure ERROR.
    """
    now = now or datetime.now(UTC)
    meta = job.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    if annotations.get(CANCELED_ANNOTATION) == "true":
        return JobStatus(state=JobState.CANCELED, message="canceled")
    if annotations.get(VERDICT_ANNOTATION):
        try:
            return JobStatus.model_validate_json(annotations[VERDICT_ANNOTATION])
        except ValueError:
            return JobStatus(state=JobState.ERROR, message="unreadable verdict annotation")
    if meta.get("deletionTimestamp"):
        return JobStatus(state=JobState.CANCELED, message="the Job is being deleted")
    status = job.get("status") or {}
    if _condition(job, "Complete", "SuccessCriteriaMet"):
        return JobStatus(state=JobState.COMPLETE, exit_code=0)
    failed = _condition(job, "Failed", "FailureTarget")
    if failed is not None:
        reason = failed.get("reason") or "Failed"
        if reason == "DeadlineExceeded":
            return JobStatus(state=JobState.ERROR, message=f"DeadlineExceeded: {failed.get('message', '')}".strip())
        finished = [p for p in pods if (p.get("status") or {}).get("phase") == "Failed"]
        cause = _pod_failure(max(finished, key=_pod_time) if finished else _newest(pods))
        return cause.model_copy(update={"message": f"{reason}: {cause.message}"})
    if _condition(job, "Suspended"):
        return JobStatus(state=JobState.PENDING, message="the Job is suspended")
    completions = (job.get("spec") or {}).get("completions") or 1
    if (status.get("succeeded") or 0) >= completions:
        return JobStatus(state=JobState.COMPLETE, exit_code=0)
    pod = _newest(pods)
    if pod is None:
        return JobStatus(state=JobState.PENDING, message="waiting for the Job controller to create a pod")
    verdict = _waiting_failure(pod) or _unschedulable(pod, now, unschedulable_timeout)
    if verdict is not None:
        return verdict
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    if phase == "Running" or (_container(pod).get("state") or {}).get("running"):
        return JobStatus(state=JobState.RUNNING)
    if phase in ("Succeeded", "Failed"):
        # The pod ended but the Job controller has not recorded it yet: still in flight.
        return JobStatus(state=JobState.RUNNING, message=f"pod {phase.lower()}, waiting for the Job status")
    waiting = (_container(pod).get("state") or {}).get("waiting") or {}
    return JobStatus(state=JobState.PENDING, message=waiting.get("reason") or phase)


def _finished(job: Mapping[str, Any]) -> bool:
    """True when Kubernetes itself considers the Job over (its pods are gone or going)."""
    return bool(_condition(job, "Complete", "SuccessCriteriaMet", "Failed", "FailureTarget"))


# ---- the platform -----------------------------------------------------------------------------


def _is_str_map(value: object) -> bool:
    return isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


class KubernetesPlatform(Platform):
    """Jobs are batch/v1 Jobs in one namespace; state lives in the cluster (and a small file beside the log).

    Args:
        namespace: Namespace of every Job.
        image: Image for jobs whose request names none (model skills normally do).
        node_selector: Node labels the pod must match, e.g. ``{"nvidia.com/gpu.product": "A100"}``.
        tolerations: Pod tolerations as Kubernetes writes them (``key``, ``operator``, ``value``,
            ``effect``, ``tolerationSeconds``).
        image_pull_secrets: Names of existing docker-registry Secrets (names only, never contents).
        service_account: Service account the pod runs as.
        gpu_resource: Extended resource that ``JobRequest.gpus`` requests (requests = limits).
        cpu: CPU request, e.g. ``"8"`` or ``"500m"`` (no limit: CPU limits only throttle).
        memory: Memory request and limit, e.g. ``"32Gi"``; exceeding it ends the pod as OOMKilled.
        volumes: Mounts that make data and the workspace visible in the pod: each a dict with
            ``mount_path`` and exactly one of ``pvc`` (claim name) or ``host_path``, plus optional
            ``name``, ``read_only``, ``sub_path``. Mount the workspace at the same path as here.
        backoff_limit: Pod retries by the Job controller before the Job fails (default 0: the
            runner does its own retries of infrastructure failures).
        ttl_seconds_after_finished: Let Kubernetes delete finished Jobs after this many seconds
            (logs stay readable from the mirrored ``log_path``).
        active_deadline_seconds: Wall-time limit of a Job; exceeding it is a timeout failure.
        python: Interpreter inside the image for ``python_script`` jobs.
        secret_name: Secret holding the ``env_passthrough`` variables (one key per variable name);
            without it, a job that passes variables through is refused.
        unschedulable_timeout: Seconds a pod may stay unschedulable before the job is ended as an
            infrastructure failure (the cluster cannot place it).
        request_timeout: Seconds for one API call; a slower answer makes ``status`` UNKNOWN.
        host: API server URL (no kubeconfig; for emulators and tests).
        api_client: A ready ``kubernetes.client.ApiClient`` (wins over ``host`` and kubeconfig).
        context: kubeconfig context to use (default: the current one).
    """

    name = "kubernetes"

    def __init__(
        self,
        namespace: str = "default",
        image: str | None = None,
        node_selector: dict[str, str] | None = None,
        tolerations: list[dict[str, Any]] | None = None,
        image_pull_secrets: list[str] | None = None,
        service_account: str | None = None,
        gpu_resource: str = "nvidia.com/gpu",
        cpu: str | int | float | None = None,
        memory: str | None = None,
        volumes: list[dict[str, Any]] | None = None,
        backoff_limit: int = 0,
        ttl_seconds_after_finished: int | None = None,
        active_deadline_seconds: int | None = None,
        python: str = "python3",
        secret_name: str | None = None,
        unschedulable_timeout: float = 600.0,
        request_timeout: float = 30.0,
        host: str | None = None,
        api_client: Any = None,
        context: str | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(namespace, str) or not _DNS_LABEL.match(namespace):
            raise PlatformError(f"namespace {namespace!r} is not a DNS-1123 label", field="namespace")
        self.namespace = namespace
        self.image = image
        if node_selector is not None and not _is_str_map(node_selector):
            raise PlatformError("node_selector must map label names to string values", field="node_selector")
        self.node_selector = dict(node_selector or {})
        self.tolerations = [self._toleration(t) for t in tolerations or []]
        self.image_pull_secrets = self._names(image_pull_secrets, "image_pull_secrets")
        self.service_account = service_account
        if not isinstance(gpu_resource, str) or not gpu_resource:
            raise PlatformError("gpu_resource must be a resource name such as nvidia.com/gpu", field="gpu_resource")
        self.gpu_resource = gpu_resource
        if cpu is not None and (isinstance(cpu, bool) or not isinstance(cpu, (str, int, float))):
            raise PlatformError(f"cpu must be a quantity such as '8' or '500m', not {cpu!r}", field="cpu")
        self.cpu = None if cpu is None else str(cpu)
        if memory is not None and not isinstance(memory, str):
            raise PlatformError(f"memory must be a quantity string such as '32Gi', not {memory!r}", field="memory")
        self.memory = memory
        self.volumes = [self._volume(i, v) for i, v in enumerate(volumes or [])]
        self.backoff_limit = self._count(backoff_limit, "backoff_limit")
        self.ttl_seconds_after_finished = self._count(ttl_seconds_after_finished, "ttl_seconds_after_finished")
        self.active_deadline_seconds = self._count(active_deadline_seconds, "active_deadline_seconds", minimum=1)
        if not isinstance(python, str) or not python:
            raise PlatformError("python must name the interpreter inside the image", field="python")
        self.python = python
        self.secret_name = secret_name
        if secret_name is not None and not (isinstance(secret_name, str) and _DNS_LABEL.match(secret_name)):
            raise PlatformError(f"secret_name {secret_name!r} is not a valid Secret name", field="secret_name")
        self.unschedulable_timeout = self._seconds(unschedulable_timeout, "unschedulable_timeout")
        self.request_timeout = self._seconds(request_timeout, "request_timeout")
        self._api = self._client(api_client, host, context)
        from kubernetes import client

        self._batch = client.BatchV1Api(self._api)
        self._core = client.CoreV1Api(self._api)
        self._log_paths: dict[str, Path] = {}

    # ---- option validation --------------------------------------------------------------------

    @staticmethod
    def _count(value: object, field: str, minimum: int = 0) -> Any:
        if value is None and field != "backoff_limit":
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise PlatformError(f"{field} must be an integer >= {minimum}, not {value!r}", field=field)
        return value

    @staticmethod
    def _seconds(value: object, field: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise PlatformError(f"{field} must be a number of seconds >= 0, not {value!r}", field=field)
        return float(value)

    @staticmethod
    def _names(values: object, field: str) -> list[str]:
        if values is None:
            return []
        if isinstance(values, str) or not isinstance(values, list):
            raise PlatformError(f"{field} must be a list of Secret names", field=field)
        for value in values:
            if not isinstance(value, str) or not _DNS_LABEL.match(value):
                raise PlatformError(f"{field} holds {value!r}; give the names of existing Secrets only", field=field)
        return list(values)

    @staticmethod
    def _toleration(value: object) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise PlatformError(f"each toleration must be a mapping, not {value!r}", field="tolerations")
        unknown = sorted(set(value) - _TOLERATION_KEYS)
        if unknown:
            raise PlatformError(
                f"unknown toleration key(s) {', '.join(unknown)}",
                field="tolerations",
                hint="use key, operator, value, effect, tolerationSeconds",
            )
        result = {k: v for k, v in value.items() if k != "toleration_seconds"}
        if "toleration_seconds" in value:
            result["tolerationSeconds"] = value["toleration_seconds"]
        if result.get("operator", "Equal") not in ("Equal", "Exists"):
            raise PlatformError(
                f"toleration operator {result['operator']!r} is not Equal or Exists", field="tolerations"
            )
        return result

    @staticmethod
    def _volume(index: int, value: object) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise PlatformError(f"volumes[{index}] must be a mapping", field="volumes")
        unknown = sorted(set(value) - _VOLUME_KEYS)
        if unknown:
            raise PlatformError(
                f"volumes[{index}] has unknown key(s) {', '.join(unknown)}",
                field="volumes",
                hint=f"accepted keys: {', '.join(sorted(_VOLUME_KEYS))}",
            )
        mount = value.get("mount_path")
        if not isinstance(mount, str) or not mount.startswith("/"):
            raise PlatformError(f"volumes[{index}].mount_path must be an absolute path", field="volumes")
        if ("pvc" in value) == ("host_path" in value):
            raise PlatformError(f"volumes[{index}] needs exactly one of pvc and host_path", field="volumes")
        name = value.get("name", f"vol-{index}")
        if not isinstance(name, str) or not _DNS_LABEL.match(name):
            raise PlatformError(f"volumes[{index}].name {name!r} is not a DNS-1123 label", field="volumes")
        return dict(value, name=name)

    def _client(self, api_client: Any, host: str | None, context: str | None) -> Any:
        """An ApiClient from the explicit client, a host URL, kubeconfig, or the in-cluster account."""
        try:
            from kubernetes import client, config
        except ImportError as exc:
            raise PlatformError(
                "the kubernetes platform needs the 'kubernetes' package",
                field="platform",
                hint="pip install 'tao-automl[kubernetes]'",
            ) from exc
        if api_client is not None:
            return api_client
        configuration = client.Configuration()
        if host is not None:
            configuration.host = host.rstrip("/")
            return client.ApiClient(configuration)
        try:
            config.load_kube_config(context=context, client_configuration=configuration)
        except Exception as kube_exc:  # fall back to the in-cluster account, then report both
            if context is not None:
                raise PlatformError(
                    f"kubeconfig context {context!r} not usable: {kube_exc}", field="context"
                ) from kube_exc
            try:
                config.load_incluster_config(client_configuration=configuration)
            except Exception as cluster_exc:  # both ways failed: one clear error
                raise PlatformError(
                    f"no Kubernetes configuration: kubeconfig ({kube_exc}); in-cluster ({cluster_exc})",
                    field="platform_options",
                    hint="set KUBECONFIG (or ~/.kube/config), run inside a pod, or pass host=/api_client=",
                ) from cluster_exc
        return client.ApiClient(configuration)

    # ---- the Job body -------------------------------------------------------------------------

    def build_job(self, job: JobRequest) -> dict[str, Any]:
        """The batch/v1 Job body for ``job`` (what ``submit`` creates); raises PlatformError if it cannot run."""
        name = job_name(job.name)
        image = job.image or self.image
        if not image:
            raise PlatformError(
                f"job {job.name!r} names no image", field="image", hint="set the model skill's image or option image"
            )
        if job.num_nodes != 1:
            raise PlatformError(
                f"job {job.name!r} asks for {job.num_nodes} nodes; a Kubernetes Job here runs one pod",
                field="num_nodes",
            )
        argv, workdir = self._argv(job)
        labels = {JOB_LABEL: name, ACTION_LABEL: job_name(job.action or "job")}
        container: dict[str, Any] = {
            "name": CONTAINER,
            "image": image,
            "command": argv,
            "workingDir": str(workdir),
            "env": self._env(job),
        }
        resources = self._resources(job)
        if resources:
            container["resources"] = resources
        if self.volumes:
            container["volumeMounts"] = [self._mount(v) for v in self.volumes]
        pod_spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
        if self.node_selector:
            pod_spec["nodeSelector"] = dict(self.node_selector)
        if self.tolerations:
            pod_spec["tolerations"] = [dict(t) for t in self.tolerations]
        if self.image_pull_secrets:
            pod_spec["imagePullSecrets"] = [{"name": n} for n in self.image_pull_secrets]
        if self.service_account:
            pod_spec["serviceAccountName"] = self.service_account
        if self.volumes:
            pod_spec["volumes"] = [self._pod_volume(v) for v in self.volumes]
        spec: dict[str, Any] = {
            "backoffLimit": self.backoff_limit,
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
        }
        if self.ttl_seconds_after_finished is not None:
            spec["ttlSecondsAfterFinished"] = self.ttl_seconds_after_finished
        if self.active_deadline_seconds is not None:
            spec["activeDeadlineSeconds"] = self.active_deadline_seconds
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": labels,
                "annotations": {NAME_ANNOTATION: job.name, LOG_PATH_ANNOTATION: str(job.log_path.absolute())},
            },
            "spec": spec,
        }

    def _argv(self, job: JobRequest) -> tuple[list[str], Path]:
        if (job.command is None) == (job.python_script is None):
            raise PlatformError(f"job {job.name!r} must set exactly one of command and python_script", field="command")
        if job.command is not None:
            if not job.command:
                raise PlatformError(f"job {job.name!r} has an empty command", field="command")
            return list(job.command), job.workdir.absolute()
        assert job.python_script is not None
        cwd = job.workdir / job.python_script.cwd if job.python_script.cwd else job.workdir
        return [self.python, str(cwd / job.python_script.script), *job.python_script.args], cwd.absolute()

    def _env(self, job: JobRequest) -> list[dict[str, Any]]:
        clash = sorted(set(job.env) & set(job.env_passthrough))
        if clash:
            raise PlatformError(f"{', '.join(clash)} given both as a value and as a passthrough name", field="env")
        env = [{"name": k, "value": v} for k, v in job.env.items()]
        if "PYTHONUNBUFFERED" not in job.env and "PYTHONUNBUFFERED" not in job.env_passthrough:
            env.append({"name": "PYTHONUNBUFFERED", "value": "1"})
        if job.env_passthrough and not self.secret_name:
            raise PlatformError(
                f"job {job.name!r} passes {', '.join(job.env_passthrough)} through, but no Secret holds them",
                field="secret_name",
                hint="create a Secret with one key per variable name and pass its name as option secret_name",
            )
        for name in job.env_passthrough:
            if not _ENV_NAME.match(name):
                raise PlatformError(f"{name!r} is not a valid environment variable name", field="env_passthrough")
            env.append({"name": name, "valueFrom": {"secretKeyRef": {"name": self.secret_name, "key": name}}})
        return env

    def _resources(self, job: JobRequest) -> dict[str, dict[str, str]]:
        requests: dict[str, str] = {}
        limits: dict[str, str] = {}
        if self.cpu:
            requests["cpu"] = self.cpu
        if self.memory:
            requests["memory"] = limits["memory"] = self.memory
        if job.gpus:
            requests[self.gpu_resource] = limits[self.gpu_resource] = str(job.gpus)
        return {k: v for k, v in (("requests", requests), ("limits", limits)) if v}

    @staticmethod
    def _mount(volume: dict[str, Any]) -> dict[str, Any]:
        mount: dict[str, Any] = {"name": volume["name"], "mountPath": volume["mount_path"]}
        if volume.get("read_only"):
            mount["readOnly"] = True
        if volume.get("sub_path"):
            mount["subPath"] = volume["sub_path"]
        return mount

    @staticmethod
    def _pod_volume(volume: dict[str, Any]) -> dict[str, Any]:
        if "pvc" in volume:
            return {"name": volume["name"], "persistentVolumeClaim": {"claimName": volume["pvc"]}}
        return {"name": volume["name"], "hostPath": {"path": volume["host_path"]}}

    # ---- API helpers --------------------------------------------------------------------------

    def _read_job(self, job_id: str) -> dict[str, Any] | None:
        """The Job as JSON, or None when it does not exist. Other API errors propagate."""
        from kubernetes.client import ApiException

        try:
            resp = self._batch.read_namespaced_job(
                job_id, self.namespace, _preload_content=False, _request_timeout=self.request_timeout
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return json.loads(resp.data)

    def _pods(self, job_id: str) -> list[dict[str, Any]]:
        resp = self._core.list_namespaced_pod(
            self.namespace,
            label_selector=f"{JOB_LABEL}={job_id}",
            _preload_content=False,
            _request_timeout=self.request_timeout,
        )
        items = json.loads(resp.data).get("items") or []
        # Filter again: a selector the server did not apply must not mix other Jobs' pods in.
        return [p for p in items if ((p.get("metadata") or {}).get("labels") or {}).get(JOB_LABEL) == job_id]

    @staticmethod
    def _api_error(exc: Exception) -> str:
        status = getattr(exc, "status", None)
        if status is not None:
            reason = getattr(exc, "reason", "") or ""
            body = getattr(exc, "body", None)
            message = ""
            if body:
                try:
                    message = json.loads(body).get("message", "")
                except (ValueError, AttributeError):
                    message = str(body)[:300]
            return f"API error {status} {reason}: {message}".strip().rstrip(":")
        return f"API server unreachable: {type(exc).__name__}: {exc}"[:500]

    # ---- local state beside the log -----------------------------------------------------------

    def _log_path(self, job_id: str, job: Mapping[str, Any] | None = None) -> Path | None:
        """The job's ``log_path``: from memory, else from the Job's annotation (a fresh platform)."""
        if job_id not in self._log_paths and job is not None:
            annotated = ((job.get("metadata") or {}).get("annotations") or {}).get(LOG_PATH_ANNOTATION)
            if annotated:
                self._log_paths[job_id] = Path(annotated)
        return self._log_paths.get(job_id)

    def _local(self, job_id: str) -> dict[str, Any]:
        """``<log dir>/.k8s-<id>.json``: cancel marker and final status, which outlive a deleted Job."""
        log_path = self._log_path(job_id)
        if log_path is None:
            return {}
        try:
            return json.loads((log_path.parent / f".k8s-{job_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _save_local(self, job_id: str, **fields: Any) -> None:
        log_path = self._log_path(job_id)
        if log_path is None:
            return
        state = {**self._local(job_id), **fields}
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(log_path.parent / f".k8s-{job_id}.json", json.dumps(state, indent=2))
        except OSError as exc:
            logger.warning("cannot record the state of Job %s beside its log: %s", job_id, exc)

    # ---- the hooks ----------------------------------------------------------------------------

    def _submit(self, job: JobRequest) -> str:
        from kubernetes.client import ApiException

        body = self.build_job(job)
        job_id = body["metadata"]["name"]
        self._log_paths[job_id] = job.log_path.absolute()
        try:
            self._batch.create_namespaced_job(self.namespace, body, _request_timeout=self.request_timeout)
        except ApiException as exc:
            if exc.status == 409:
                raise PlatformError(
                    f"a Job named {job_id!r} already exists in namespace {self.namespace!r}",
                    field="name",
                    hint="job names must be unique; use find_job() to re-attach to it",
                ) from exc
            raise PlatformError(f"creating Job {job_id!r} failed: {self._api_error(exc)}", field="platform") from exc
        except Exception as exc:  # connection errors of urllib3 and the like
            raise PlatformError(f"creating Job {job_id!r} failed: {self._api_error(exc)}", field="platform") from exc
        self._save_local(job_id, namespace=self.namespace, job=job_id, canceled=False, final=None)
        return job_id

    def _status(self, job_id: str) -> JobStatus:
        local = self._local(job_id)
        if local.get("canceled"):
            return JobStatus(state=JobState.CANCELED, message="canceled")
        if local.get("final"):
            return JobStatus.model_validate(local["final"])
        try:
            job = self._read_job(job_id)
            if job is None:
                return JobStatus(state=JobState.UNKNOWN, message=f"no Job {job_id!r} in namespace {self.namespace!r}")
            self._log_path(job_id, job)
            local = self._local(job_id)
            if local.get("canceled"):
                return JobStatus(state=JobState.CANCELED, message="canceled")
            status = status_from_objects(job, self._pods(job_id), unschedulable_timeout=self.unschedulable_timeout)
        except Exception as exc:  # noqa: BLE001 - status never raises: the runner polls again later
            return JobStatus(state=JobState.UNKNOWN, message=self._api_error(exc))
        if status.state is JobState.ERROR and not _finished(job):
            annotations = (job.get("metadata") or {}).get("annotations") or {}
            if not annotations.get(VERDICT_ANNOTATION):
                self._stop(job_id, status)
        if status.state in (JobState.COMPLETE, JobState.ERROR):
            self._save_local(job_id, final=status.model_dump(mode="json"))
        return status

    def _stop(self, job_id: str, status: JobStatus) -> None:
        """End a Job that Kubernetes would keep retrying (image pull, unschedulable): suspend it with our verdict."""
        try:
            self._batch.patch_namespaced_job(
                job_id,
                self.namespace,
                {
                    "metadata": {"annotations": {VERDICT_ANNOTATION: status.model_dump_json()}},
                    "spec": {"suspend": True},
                },
                _request_timeout=self.request_timeout,
            )
        except Exception as exc:  # noqa: BLE001 - best effort; the verdict is also kept locally
            logger.warning("could not suspend Job %s after %s: %s", job_id, status.message, self._api_error(exc))

    def _read_logs(self, job_id: str) -> str:
        text: str | None = None
        mirror = self._log_path(job_id)
        try:
            if mirror is None:
                mirror = self._log_path(job_id, self._read_job(job_id))
            pod = _newest(self._pods(job_id))
            if pod is not None:
                resp = self._core.read_namespaced_pod_log(
                    pod["metadata"]["name"],
                    self.namespace,
                    container=CONTAINER,
                    _preload_content=False,
                    _request_timeout=self.request_timeout,
                )
                # final=False holds back a half-written multi-byte character for the next read.
                text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(resp.data, final=False)
        except Exception:  # noqa: BLE001 - no pod, container not started, API down: use the mirror
            text = None
        if text is None:
            return self._read_mirror(mirror)
        if mirror is not None:
            self._write_mirror(mirror, text)
        return text

    @staticmethod
    def _read_mirror(path: Path | None) -> str:
        if path is None:
            return ""
        try:
            data = path.read_bytes()
        except OSError:
            return ""
        return codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data, final=False)

    @staticmethod
    def _write_mirror(path: Path, text: str) -> None:
        """Keep the pod log in the workspace, so it outlives the pod (TTL, deletion)."""
        try:
            old = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
            if text == old or (len(text) < len(old) and old.startswith(text)):
                return
            if text.startswith(old):
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(text[len(old) :])
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
        except OSError:
            return

    def _cancel(self, job_id: str) -> None:
        from kubernetes.client import ApiException

        status = self._status(job_id)
        if status.state.terminal:
            return
        try:
            job = self._read_job(job_id)
        except Exception as exc:  # cancel must say it could not reach the cluster
            raise PlatformError(f"cannot cancel Job {job_id!r}: {self._api_error(exc)}", field="platform") from exc
        if job is None:
            return
        self._log_path(job_id, job)
        self._save_local(job_id, canceled=True)
        try:
            # The annotation tells any other reader (another runner, kubectl) why the Job went away.
            self._batch.patch_namespaced_job(
                job_id,
                self.namespace,
                {"metadata": {"annotations": {CANCELED_ANNOTATION: "true"}}},
                _request_timeout=self.request_timeout,
            )
            self._batch.delete_namespaced_job(
                job_id, self.namespace, propagation_policy="Foreground", _request_timeout=self.request_timeout
            )
        except ApiException as exc:
            if exc.status != 404:
                self._save_local(job_id, canceled=False)
                raise PlatformError(f"cannot cancel Job {job_id!r}: {self._api_error(exc)}", field="platform") from exc
        except Exception as exc:  # connection errors
            self._save_local(job_id, canceled=False)
            raise PlatformError(f"cannot cancel Job {job_id!r}: {self._api_error(exc)}", field="platform") from exc

    def find_job(self, name: str) -> str | None:
        """The Job id submitted under ``name`` (looked up by its ``tao-automl/job`` label), else None."""
        job_id = job_name(name)
        try:
            resp = self._batch.list_namespaced_job(
                self.namespace,
                label_selector=f"{JOB_LABEL}={job_id}",
                _preload_content=False,
                _request_timeout=self.request_timeout,
            )
        except Exception:  # noqa: BLE001 - cannot look it up now: the runner treats it as not found
            return None
        for item in json.loads(resp.data).get("items") or []:
            meta = item.get("metadata") or {}
            if (meta.get("labels") or {}).get(JOB_LABEL) == job_id:
                self._log_path(job_id, item)
                return meta.get("name")
        return None
