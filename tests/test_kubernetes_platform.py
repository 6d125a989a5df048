"""The kubernetes platform: Job bodies, status mapping from recorded API objects, and real jobs on the emulator.

The shared contract (tests/test_platform_conformance.py) already runs against the emulator; this file covers
what only Kubernetes has: Job body fields, the Job/Pod condition mapping, and cluster-side failures (image
pull, unschedulable, OOMKilled, eviction, deadline, missing Secret) produced by the emulator's kubelet.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kmock
import pytest
import yaml
from conftest import wait_for
from kubernetes import client
from services.kube_emulator import EMULATOR_IMAGE, KubeCluster

from tao_automl.errors import PlatformError
from tao_automl.platforms import FailureCategory, JobRequest, JobState, JobStatus, PythonScript, get_platform
from tao_automl.platforms.failures import classify_failure
from tao_automl.platforms.kubernetes import KubernetesPlatform, job_name, status_from_objects

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
FAKE_SECRET = "tao-planted-f4k3-s3cr3t-value-0123456789"


def request(tmp_path: Path, name: str = "train-1", argv: list[str] | None = None, **fields: Any) -> JobRequest:
    values: dict[str, Any] = {
        "name": name,
        "action": "train",
        "command": argv if argv is not None else [sys.executable, "-c", "print('hi')"],
        "workdir": tmp_path / "work",
        "results_dir": tmp_path / "results" / name,
        "log_path": tmp_path / "logs" / f"{name}.log",
        **fields,
    }
    if values.get("python_script") is not None:
        values["command"] = None
    return JobRequest(**values)


def offline(**options: Any) -> KubernetesPlatform:
    """A platform pointed at a port nothing listens on: body building needs no cluster."""
    return KubernetesPlatform(host="http://127.0.0.1:9", image="nvcr.io/nvidia/tao/tao-toolkit:6.0", **options)


# ---- Job body -------------------------------------------------------------------------------


def test_job_body_carries_every_option(tmp_path: Path) -> None:
    plat = offline(
        namespace="tao",
        node_selector={"nvidia.com/gpu.product": "A100-SXM4-80GB"},
        tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule", "toleration_seconds": 5}],
        image_pull_secrets=["ngc-pull"],
        service_account="tao-runner",
        cpu=8,
        memory="32Gi",
        volumes=[
            {"mount_path": "/workspace", "pvc": "tao-ws"},
            {"name": "data", "mount_path": "/data", "host_path": "/mnt/data", "read_only": True},
        ],
        ttl_seconds_after_finished=3600,
        active_deadline_seconds=7200,
    )
    job = request(tmp_path, argv=["train", "-e", "/ws/spec file.yaml"], gpus=2, env={"EPOCHS": "3"})
    body = plat.build_job(job)

    assert body["apiVersion"] == "batch/v1" and body["kind"] == "Job"
    assert body["metadata"]["name"] == "train-1" and body["metadata"]["namespace"] == "tao"
    assert body["metadata"]["labels"] == {"tao-automl/job": "train-1", "tao-automl/action": "train"}
    assert body["metadata"]["annotations"]["tao-automl/log-path"] == str(job.log_path.absolute())
    spec = body["spec"]
    assert (spec["backoffLimit"], spec["ttlSecondsAfterFinished"], spec["activeDeadlineSeconds"]) == (0, 3600, 7200)
    assert spec["template"]["metadata"]["labels"]["tao-automl/job"] == "train-1"
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "A100-SXM4-80GB"}
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}
    ]
    assert pod["imagePullSecrets"] == [{"name": "ngc-pull"}]
    assert pod["serviceAccountName"] == "tao-runner"
    assert pod["volumes"] == [
        {"name": "vol-0", "persistentVolumeClaim": {"claimName": "tao-ws"}},
        {"name": "data", "hostPath": {"path": "/mnt/data"}},
    ]
    (container,) = pod["containers"]
    assert container["image"] == "nvcr.io/nvidia/tao/tao-toolkit:6.0"
    assert container["command"] == ["train", "-e", "/ws/spec file.yaml"]  # argv kept, never re-split
    assert container["workingDir"] == str((tmp_path / "work").absolute())
    assert container["resources"] == {
        "requests": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "2"},
        "limits": {"memory": "32Gi", "nvidia.com/gpu": "2"},
    }
    assert container["volumeMounts"] == [
        {"name": "vol-0", "mountPath": "/workspace"},
        {"name": "data", "mountPath": "/data", "readOnly": True},
    ]
    assert {"name": "EPOCHS", "value": "3"} in container["env"]
    assert {"name": "PYTHONUNBUFFERED", "value": "1"} in container["env"]


def test_minimal_body_has_no_optional_fields(tmp_path: Path) -> None:
    body = offline().build_job(request(tmp_path))
    pod = body["spec"]["template"]["spec"]
    assert set(pod) == {"restartPolicy", "containers"}
    assert "resources" not in pod["containers"][0]
    assert set(body["spec"]) == {"backoffLimit", "template"}
    assert body["metadata"]["namespace"] == "default"


def test_custom_gpu_resource(tmp_path: Path) -> None:
    body = offline(gpu_resource="amd.com/gpu").build_job(request(tmp_path, gpus=1))
    assert body["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {"amd.com/gpu": "1"}


def test_passthrough_names_become_secret_refs_never_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NGC_API_KEY", FAKE_SECRET)
    body = offline(secret_name="tao-credentials").build_job(request(tmp_path, env_passthrough=["NGC_API_KEY"]))
    env = body["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {
        "name": "NGC_API_KEY",
        "valueFrom": {"secretKeyRef": {"name": "tao-credentials", "key": "NGC_API_KEY"}},
    } in env
    assert FAKE_SECRET not in json.dumps(body)


def test_passthrough_without_secret_is_refused_naming_the_option(tmp_path: Path) -> None:
    with pytest.raises(PlatformError, match="NGC_API_KEY") as info:
        offline().build_job(request(tmp_path, env_passthrough=["NGC_API_KEY"]))
    assert info.value.field == "secret_name"


def test_python_script_uses_the_python_option(tmp_path: Path) -> None:
    script = PythonScript(script="scripts/train.py", args=["-e", "spec.yaml"], cwd="/skills/quadratic")
    body = offline(python="/opt/venv/bin/python").build_job(request(tmp_path, python_script=script))
    container = body["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["/opt/venv/bin/python", "/skills/quadratic/scripts/train.py", "-e", "spec.yaml"]
    assert container["workingDir"] == "/skills/quadratic"


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"image": None}, "image"), ({"num_nodes": 2}, "num_nodes"), ({"command": []}, "command")],
)
def test_jobs_that_cannot_run_are_refused(tmp_path: Path, fields: dict[str, Any], field: str) -> None:
    plat = KubernetesPlatform(host="http://127.0.0.1:9")  # no default image
    job = request(tmp_path, **{"image": "nvcr.io/nvidia/tao/tao-toolkit:6.0", **fields})
    with pytest.raises(PlatformError) as info:
        plat.build_job(job)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"namespace": "Bad_NS"}, "namespace"),
        ({"image_pull_secrets": [{"name": "x", "password": "y"}]}, "image_pull_secrets"),
        ({"image_pull_secrets": "ngc"}, "image_pull_secrets"),
        ({"tolerations": [{"key": "a", "efect": "NoSchedule"}]}, "tolerations"),
        ({"tolerations": [{"key": "a", "operator": "Maybe"}]}, "tolerations"),
        ({"node_selector": {"pool": 1}}, "node_selector"),
        ({"volumes": [{"mount_path": "/w"}]}, "volumes"),
        ({"volumes": [{"mount_path": "w", "pvc": "c"}]}, "volumes"),
        ({"volumes": [{"mount_path": "/w", "pvc": "c", "size": "1Gi"}]}, "volumes"),
        ({"backoff_limit": -1}, "backoff_limit"),
        ({"ttl_seconds_after_finished": "1h"}, "ttl_seconds_after_finished"),
        ({"memory": 32}, "memory"),
        ({"cpu": True}, "cpu"),
        ({"unschedulable_timeout": -5}, "unschedulable_timeout"),
        ({"secret_name": "Not A Name"}, "secret_name"),
    ],
)
def test_bad_options_are_named(options: dict[str, Any], field: str) -> None:
    with pytest.raises(PlatformError) as info:
        KubernetesPlatform(host="http://127.0.0.1:9", **options)
    assert info.value.field == field


def test_registered_and_unknown_options_refused() -> None:
    plat = get_platform("kubernetes", host="http://127.0.0.1:9", namespace="tao")
    assert isinstance(plat, KubernetesPlatform) and plat.namespace == "tao"
    with pytest.raises(PlatformError, match="nodeselector") as info:
        get_platform("kubernetes", host="http://127.0.0.1:9", nodeselector={"a": "b"})
    assert info.value.field == "platform_options"


@pytest.mark.parametrize(
    "name",
    [
        "quick",
        "run_20250101T000000Z-0001-train-a1",
        "Train Job #1",
        "___",
        "a" * 80,
        "x-" * 40,
        "UPPER.case/with:colons",
    ],
)
def test_job_names_are_dns_labels(name: str) -> None:
    sanitized = job_name(name)
    assert len(sanitized) <= 63
    assert re.match(DNS_LABEL, sanitized), sanitized
    assert job_name(name) == sanitized  # stable, so find_job finds it again


def test_job_names_stay_distinct() -> None:
    assert job_name("quick") == "quick"
    assert job_name("a_b") != job_name("a-b")
    long_a, long_b = "r" * 70 + "-train-a1", "r" * 70 + "-train-a2"
    assert job_name(long_a) != job_name(long_b)
    assert job_name(long_a).startswith("r" * 40)


# ---- status from recorded API objects --------------------------------------------------------

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def stamp(seconds_ago: float = 0) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def job_obj(conditions: list[dict[str, Any]] | None = None, annotations: dict[str, str] | None = None,
            **status: Any) -> dict[str, Any]:  # fmt: skip
    """A batch/v1 Job as ``kubectl get job -o json`` prints it (fields the mapping does not read trimmed)."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "run-0001-train-a1",
            "namespace": "tao",
            "uid": "0f4c4ad4-53a3-4f6e-9d0b-1f7f2c9a0b11",
            "creationTimestamp": stamp(120),
            "labels": {"tao-automl/job": "run-0001-train-a1"},
            "annotations": annotations or {},
        },
        "spec": {"backoffLimit": 0, "completions": 1, "parallelism": 1},
        "status": {"startTime": stamp(120), **status, "conditions": conditions or []},
    }


def cond(kind: str, reason: str = "", message: str = "", status: str = "True") -> dict[str, str]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastProbeTime": stamp(1),
        "lastTransitionTime": stamp(1),
    }


def pod_obj(
    phase: str,
    state: dict[str, Any] | None = None,
    *,
    name: str = "run-0001-train-a1-x7k2p",
    age: float = 100,
    conditions: list[dict[str, Any]] | None = None,
    **status: Any,
) -> dict[str, Any]:
    pod_status: dict[str, Any] = {"phase": phase, "conditions": conditions or [], **status}
    if state is not None:
        pod_status["containerStatuses"] = [
            {"name": "main", "image": "nvcr.io/nvidia/tao/tao-toolkit:6.0", "imageID": "", "restartCount": 0,
             "ready": "running" in state, "state": state}
        ]  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "tao",
            "creationTimestamp": stamp(age),
            "labels": {"tao-automl/job": "run-0001-train-a1", "job-name": "run-0001-train-a1"},
        },
        "spec": {"containers": [{"name": "main", "image": "nvcr.io/nvidia/tao/tao-toolkit:6.0"}]},
        "status": pod_status,
    }


def terminated(code: int, reason: str) -> dict[str, Any]:
    return {"terminated": {"exitCode": code, "reason": reason, "startedAt": stamp(90), "finishedAt": stamp(2)}}


FAILED = cond("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
UNSCHEDULABLE = cond(
    "PodScheduled", "Unschedulable", "0/4 nodes are available: 4 Insufficient nvidia.com/gpu.", status="False"
)

STATUS_CASES: dict[str, tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], FailureCategory | None]] = {
    "no pod yet": (job_obj(), [], {"state": JobState.PENDING}, None),
    "container creating": (
        job_obj(active=1),
        [pod_obj("Pending", {"waiting": {"reason": "ContainerCreating"}})],
        {"state": JobState.PENDING, "message": "ContainerCreating"},
        None,
    ),
    "running": (
        job_obj(active=1, ready=1),
        [pod_obj("Running", {"running": {"startedAt": stamp(90)}})],
        {"state": JobState.RUNNING},
        None,
    ),
    "complete": (
        job_obj([cond("SuccessCriteriaMet"), cond("Complete")], succeeded=1),
        [pod_obj("Succeeded", terminated(0, "Completed"))],
        {"state": JobState.COMPLETE, "exit_code": 0},
        None,
    ),
    "succeeded count without condition": (
        job_obj(succeeded=1),
        [pod_obj("Succeeded", terminated(0, "Completed"))],
        {"state": JobState.COMPLETE},
        None,
    ),
    "backoff limit exceeded": (
        job_obj([cond("FailureTarget", "BackoffLimitExceeded"), FAILED], failed=1),
        [pod_obj("Failed", terminated(1, "Error"))],
        {"state": JobState.ERROR, "exit_code": 1, "infra_failure": False},
        FailureCategory.MODEL_CODE,
    ),
    "oom killed": (
        job_obj([FAILED], failed=1),
        [pod_obj("Failed", terminated(137, "OOMKilled"))],
        {"state": JobState.ERROR, "exit_code": 137},
        FailureCategory.OUT_OF_MEMORY,
    ),
    "deadline exceeded": (
        job_obj([cond("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")], failed=1),
        [pod_obj("Failed", terminated(137, "Error"))],
        {"state": JobState.ERROR, "exit_code": None},
        FailureCategory.TIMEOUT,
    ),
    "evicted": (
        job_obj([FAILED], failed=1),
        [pod_obj("Failed", reason="Evicted", message="The node was low on resource: ephemeral-storage.")],
        {"state": JobState.ERROR, "infra_failure": True},
        FailureCategory.INFRASTRUCTURE,
    ),
    "failed, pod gone": (
        job_obj([FAILED], failed=1),
        [],
        {"state": JobState.ERROR, "infra_failure": True},
        FailureCategory.INFRASTRUCTURE,
    ),
    "image pull backoff": (
        job_obj(active=1),
        [
            pod_obj(
                "Pending", {"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "nvcr.io/x"'}}
            )
        ],
        {"state": JobState.ERROR, "infra_failure": False},
        FailureCategory.IMAGE,
    ),
    "err image pull": (
        job_obj(active=1),
        [pod_obj("Pending", {"waiting": {"reason": "ErrImagePull", "message": "manifest unknown"}})],
        {"state": JobState.ERROR},
        FailureCategory.IMAGE,
    ),
    "image pull throttled": (
        job_obj(active=1),
        [
            pod_obj(
                "Pending",
                {"waiting": {"reason": "ErrImagePull", "message": "429 Too Many Requests - toomanyrequests"}},
            )
        ],
        {"state": JobState.ERROR, "infra_failure": True},
        FailureCategory.INFRASTRUCTURE,
    ),
    "missing secret": (
        job_obj(active=1),
        [
            pod_obj(
                "Pending", {"waiting": {"reason": "CreateContainerConfigError", "message": 'secret "tao" not found'}}
            )
        ],
        {"state": JobState.ERROR},
        FailureCategory.CREDENTIAL,
    ),
    "unschedulable, within the timeout": (
        job_obj(active=1),
        [pod_obj("Pending", conditions=[{**UNSCHEDULABLE, "lastTransitionTime": stamp(60)}])],
        {
            "state": JobState.PENDING,
            "message": "Unschedulable: 0/4 nodes are available: 4 Insufficient nvidia.com/gpu.",
        },
        None,
    ),
    "unschedulable, past the timeout": (
        job_obj(active=1),
        [pod_obj("Pending", conditions=[{**UNSCHEDULABLE, "lastTransitionTime": stamp(900)}])],
        {"state": JobState.ERROR, "infra_failure": True},
        FailureCategory.INFRASTRUCTURE,
    ),
    "retry running after a failed pod": (
        job_obj(active=1, failed=1),
        [
            pod_obj("Failed", terminated(1, "Error"), name="old", age=100),
            pod_obj("Running", {"running": {}}, name="new", age=10),
        ],
        {"state": JobState.RUNNING},
        None,
    ),
    "canceled annotation": (
        job_obj(annotations={"tao-automl/canceled": "true"}, active=1),
        [pod_obj("Running", {"running": {}})],
        {"state": JobState.CANCELED},
        FailureCategory.CANCELED,
    ),
    "verdict annotation": (
        job_obj(
            [cond("Suspended", "JobSuspended")],
            annotations={
                "tao-automl/verdict": JobStatus(state=JobState.ERROR, message="ErrImagePull: x").model_dump_json()
            },
        ),
        [],
        {"state": JobState.ERROR, "message": "ErrImagePull: x"},
        FailureCategory.IMAGE,
    ),
    "suspended by someone else": (job_obj([cond("Suspended", "JobSuspended")]), [], {"state": JobState.PENDING}, None),
}


@pytest.mark.parametrize("case", list(STATUS_CASES))
def test_status_from_recorded_objects(case: str) -> None:
    job, pods, expected, category = STATUS_CASES[case]
    status = status_from_objects(job, pods, now=NOW, unschedulable_timeout=600)
    for key, value in expected.items():
        assert getattr(status, key) == value, (case, status)
    if category is not None:
        log = (
            "Traceback (most recent call last):\nRuntimeError: bad\n" if category is FailureCategory.MODEL_CODE else ""
        )
        assert classify_failure(status, log).category is category, (case, status)


def test_a_job_being_deleted_is_canceled() -> None:
    job = job_obj(active=1)
    job["metadata"]["deletionTimestamp"] = stamp(1)
    assert status_from_objects(job, [], now=NOW).state is JobState.CANCELED


# ---- against the emulator ---------------------------------------------------------------------


@pytest.fixture
def cluster(kube_cluster: KubeCluster) -> KubeCluster:
    return kube_cluster


@pytest.fixture
def plat(kube_cluster: KubeCluster, kube_namespace: str) -> KubernetesPlatform:
    return make(kube_cluster, kube_namespace)


def make(cluster: KubeCluster, namespace: str, **options: Any) -> KubernetesPlatform:
    return KubernetesPlatform(
        host=cluster.url, namespace=namespace, image=EMULATOR_IMAGE, python=sys.executable, **options
    )


def api(cluster: KubeCluster) -> tuple[client.BatchV1Api, client.CoreV1Api]:
    api_client = cluster.api_client()
    return client.BatchV1Api(api_client), client.CoreV1Api(api_client)


def raw_job(cluster: KubeCluster, namespace: str, name: str) -> dict[str, Any] | None:
    batch, _ = api(cluster)
    try:
        return json.loads(batch.read_namespaced_job(name, namespace, _preload_content=False).data)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def pods_of(cluster: KubeCluster, namespace: str, job_id: str) -> list[dict[str, Any]]:
    _, core = api(cluster)
    items = json.loads(core.list_namespaced_pod(namespace, _preload_content=False).data)["items"]
    return [p for p in items if p["metadata"]["labels"].get("tao-automl/job") == job_id]


def terminal(plat: KubernetesPlatform, job_id: str, timeout: float = 15) -> JobStatus:
    return wait_for(lambda: (s := plat.status(job_id)).state.terminal and s, timeout=timeout)  # type: ignore[return-value]


def test_submitted_job_is_in_the_cluster_and_found_again(
    cluster: KubeCluster, plat: KubernetesPlatform, kube_namespace: str, tmp_path: Path
) -> None:
    job = request(tmp_path, name="Run_7 Train", argv=[sys.executable, "-c", "print('epoch 1 loss: 0.5')"])
    job_id = plat.submit(job)
    assert job_id == job_name("Run_7 Train")
    stored = raw_job(cluster, kube_namespace, job_id)
    assert stored is not None and stored["spec"]["template"]["spec"]["containers"][0]["command"] == job.command
    assert terminal(plat, job_id).state is JobState.COMPLETE
    (pod,) = pods_of(cluster, kube_namespace, job_id)
    assert pod["metadata"]["labels"]["job-name"] == job_id

    with pytest.raises(PlatformError) as info:
        plat.submit(job)
    assert info.value.field == "name"

    fresh = make(cluster, kube_namespace)
    assert fresh.find_job("Run_7 Train") == job_id
    assert fresh.find_job("never-submitted") is None
    assert fresh.reattach(job_id)
    assert fresh.status(job_id).state is JobState.COMPLETE
    assert "epoch 1 loss: 0.5" in fresh.logs(job_id)
    assert job.log_path.read_text() == plat.logs(job_id)  # mirrored into the workspace


def test_finished_job_deleted_by_ttl_keeps_status_and_logs(
    cluster: KubeCluster, plat: KubernetesPlatform, kube_namespace: str, tmp_path: Path
) -> None:
    job_id = plat.submit(request(tmp_path, argv=[sys.executable, "-c", "print('val_loss: 0.125')"]))
    assert terminal(plat, job_id).state is JobState.COMPLETE
    assert "val_loss" in plat.logs(job_id)
    batch, _ = api(cluster)
    batch.delete_namespaced_job(job_id, kube_namespace)  # what ttlSecondsAfterFinished does
    wait_for(lambda: not pods_of(cluster, kube_namespace, job_id))
    assert plat.status(job_id).state is JobState.COMPLETE
    assert "val_loss: 0.125" in plat.logs(job_id)


def test_cancel_patches_then_deletes_with_foreground_propagation(
    cluster: KubeCluster, plat: KubernetesPlatform, kube_namespace: str, tmp_path: Path
) -> None:
    job_id = plat.submit(
        request(tmp_path, argv=[sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"])
    )
    wait_for(lambda: "up" in plat.logs(job_id))
    assert cluster.kubelet is not None
    (pid,) = cluster.kubelet.pids(kube_namespace, job_id)
    plat.cancel(job_id)
    assert plat.status(job_id).state is JobState.CANCELED
    assert plat.failure_analysis(job_id).category is FailureCategory.CANCELED
    assert raw_job(cluster, kube_namespace, job_id) is None
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z")
    wait_for(lambda: not pods_of(cluster, kube_namespace, job_id))

    writes = [
        r
        for r in cluster.emulator.served()
        if (r.namespace, r.name, r.subresource) == (kube_namespace, job_id, None) and r.method in ("PATCH", "DELETE")
    ]
    assert [r.method for r in writes] == ["PATCH", "DELETE"]
    patch, delete = writes
    assert patch.data == {"metadata": {"annotations": {"tao-automl/canceled": "true"}}}
    assert "Foreground" in (delete.params.get("propagationPolicy"), (delete.data or {}).get("propagationPolicy"))


def test_env_values_and_secret_refs_reach_the_job(
    cluster: KubeCluster, kube_namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, core = api(cluster)
    core.create_namespaced_secret(
        kube_namespace,
        {
            "metadata": {"name": "tao-credentials", "namespace": kube_namespace},
            "data": {"NGC_API_KEY": base64.b64encode(FAKE_SECRET.encode()).decode()},
        },
    )
    monkeypatch.setenv("NGC_API_KEY", FAKE_SECRET)
    plat = make(cluster, kube_namespace, secret_name="tao-credentials")
    check = (
        "import hashlib, os; key = os.environ['NGC_API_KEY']; "
        f"print('key ok' if hashlib.sha256(key.encode()).hexdigest() == {hashlib_of(FAKE_SECRET)!r} else 'key wrong'); "
        "print('mode', os.environ['RUN_MODE'])"
    )
    job_id = plat.submit(
        request(tmp_path, argv=[sys.executable, "-c", check], env={"RUN_MODE": "hpo"}, env_passthrough=["NGC_API_KEY"])
    )
    assert terminal(plat, job_id).state is JobState.COMPLETE
    assert plat.logs(job_id).splitlines() == ["key ok", "mode hpo"]
    assert FAKE_SECRET not in json.dumps(raw_job(cluster, kube_namespace, job_id))
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert FAKE_SECRET not in path.read_text(errors="replace"), path


def hashlib_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def stopped_with_verdict(cluster: KubeCluster, namespace: str, job_id: str) -> None:
    """The platform suspended the Job (so it cannot start later) and recorded why on it."""
    stored = raw_job(cluster, namespace, job_id)
    assert stored is not None and stored["spec"]["suspend"] is True
    assert (
        JobStatus.model_validate_json(stored["metadata"]["annotations"]["tao-automl/verdict"]).state is JobState.ERROR
    )
    wait_for(lambda: not pods_of(cluster, namespace, job_id))


def test_missing_secret_is_a_credential_failure(cluster: KubeCluster, kube_namespace: str, tmp_path: Path) -> None:
    plat = make(cluster, kube_namespace, secret_name="absent-secret")
    job_id = plat.submit(request(tmp_path, env_passthrough=["WANDB_API_KEY"]))
    status = terminal(plat, job_id)
    assert status.state is JobState.ERROR and "CreateContainerConfigError" in status.message
    assert plat.failure_analysis(job_id).category is FailureCategory.CREDENTIAL
    stopped_with_verdict(cluster, kube_namespace, job_id)


def test_unpullable_image_is_an_image_failure(
    cluster: KubeCluster, plat: KubernetesPlatform, kube_namespace: str, tmp_path: Path
) -> None:
    job_id = plat.submit(request(tmp_path, image="registry.example.invalid/tao/missing:1"))
    status = terminal(plat, job_id)
    assert status.state is JobState.ERROR and "ErrImagePull" in status.message
    analysis = plat.failure_analysis(job_id)
    assert analysis.category is FailureCategory.IMAGE and not analysis.retryable
    stopped_with_verdict(cluster, kube_namespace, job_id)
    assert plat.status(job_id).state is JobState.ERROR  # a finished job never changes
    assert make(cluster, kube_namespace).status(job_id).state is JobState.ERROR  # nor for a fresh platform


def test_unschedulable_gpu_job_is_pending_then_an_infrastructure_failure(
    cluster: KubeCluster, kube_namespace: str, tmp_path: Path
) -> None:
    plat = make(cluster, kube_namespace, unschedulable_timeout=1.5)
    job_id = plat.submit(request(tmp_path, gpus=1))
    pending = wait_for(lambda: (s := plat.status(job_id)).message.startswith("Unschedulable") and s)
    assert pending.state is JobState.PENDING  # type: ignore[attr-defined]
    assert "Insufficient nvidia.com/gpu" in pending.message  # type: ignore[attr-defined]
    status = terminal(plat, job_id)
    assert status.infra_failure and "unschedulable_timeout" in status.message
    analysis = plat.failure_analysis(job_id)
    assert analysis.category is FailureCategory.INFRASTRUCTURE and analysis.retryable
    stopped_with_verdict(cluster, kube_namespace, job_id)


def test_node_selector_that_matches_no_node_stays_pending(
    cluster: KubeCluster, kube_namespace: str, tmp_path: Path
) -> None:
    plat = make(cluster, kube_namespace, node_selector={"pool": "gpu-a100"})
    job_id = plat.submit(request(tmp_path))
    status = wait_for(lambda: (s := plat.status(job_id)).message.startswith("Unschedulable") and s)
    assert status.state is JobState.PENDING and "node affinity/selector" in status.message  # type: ignore[attr-defined]
    plat.cancel(job_id)
    assert plat.status(job_id).state is JobState.CANCELED

    matching = make(cluster, kube_namespace, node_selector={"pool": "cpu"})
    assert terminal(matching, matching.submit(request(tmp_path, name="on-cpu-pool"))).state is JobState.COMPLETE


HOG = "import time\nblocks = [bytearray(8 * 2**20) for _ in range(40)]\nprint('allocated', flush=True)\ntime.sleep(30)"


def test_memory_limit_exceeded_is_oomkilled(cluster: KubeCluster, kube_namespace: str, tmp_path: Path) -> None:
    plat = make(cluster, kube_namespace, memory="96Mi")
    job_id = plat.submit(request(tmp_path, argv=[sys.executable, "-c", HOG]))
    status = terminal(plat, job_id)
    assert (status.state, status.exit_code) == (JobState.ERROR, 137)
    assert "OOMKilled" in status.message
    assert plat.failure_analysis(job_id).category is FailureCategory.OUT_OF_MEMORY


def test_eviction_is_an_infrastructure_failure(
    cluster: KubeCluster, plat: KubernetesPlatform, kube_namespace: str, tmp_path: Path
) -> None:
    job_id = plat.submit(request(tmp_path, argv=[sys.executable, "-c", "import time; time.sleep(30)"]))
    wait_for(lambda: plat.status(job_id).state is JobState.RUNNING)
    assert cluster.kubelet is not None
    cluster.kubelet.evict(kube_namespace, job_id)
    status = terminal(plat, job_id)
    assert status.infra_failure and "Evicted" in status.message
    analysis = plat.failure_analysis(job_id)
    assert analysis.category is FailureCategory.INFRASTRUCTURE and analysis.retryable


def test_active_deadline_is_a_timeout(cluster: KubeCluster, kube_namespace: str, tmp_path: Path) -> None:
    plat = make(cluster, kube_namespace, active_deadline_seconds=1)
    job_id = plat.submit(request(tmp_path, argv=[sys.executable, "-c", "import time; time.sleep(30)"]))
    status = terminal(plat, job_id)
    assert status.state is JobState.ERROR and status.message.startswith("DeadlineExceeded")
    assert plat.failure_analysis(job_id).category is FailureCategory.TIMEOUT


FLAKY = """
import sys
from pathlib import Path
marker = Path(sys.argv[1])
if not marker.exists():
    marker.write_text("failed once")
    print("first attempt fails", flush=True)
    sys.exit(2)
print("second attempt works")
"""


def test_backoff_limit_lets_the_job_controller_retry(cluster: KubeCluster, kube_namespace: str, tmp_path: Path) -> None:
    plat = make(cluster, kube_namespace, backoff_limit=1)
    job_id = plat.submit(request(tmp_path, argv=[sys.executable, "-c", FLAKY, str(tmp_path / "marker")]))
    assert terminal(plat, job_id).state is JobState.COMPLETE
    assert len(pods_of(cluster, kube_namespace, job_id)) == 2
    assert "second attempt works" in plat.logs(job_id)  # the newest pod speaks for the Job


def test_api_errors_are_unknown_never_exceptions(cluster: KubeCluster, kube_namespace: str, tmp_path: Path) -> None:
    down = KubernetesPlatform(host="http://127.0.0.1:9", image=EMULATOR_IMAGE, request_timeout=2)
    status = down.status("some-job")
    assert status.state is JobState.UNKNOWN and "unreachable" in status.message
    assert down.logs("some-job") == ""
    assert not down.reattach("some-job")
    assert down.find_job("some-job") is None
    with pytest.raises(PlatformError, match="creating Job"):
        down.submit(request(tmp_path))
    with pytest.raises(PlatformError, match="cannot cancel"):
        down.cancel("some-job")

    handler = cluster.emulator.handler
    assert handler is not None
    forbidden = kmock.KubernetesError(status=403, reason="Forbidden", message='jobs.batch is forbidden: User "ci"')
    cluster.emulator.in_loop(lambda: handler[kmock.namespace(kube_namespace)] << forbidden)
    status = make(cluster, kube_namespace).status("any-job")
    assert status.state is JobState.UNKNOWN and "403" in status.message and "forbidden" in status.message


def test_runner_runs_recommendations_as_jobs(
    cluster: KubeCluster, kube_namespace: str, quadratic_skill: Path, tmp_path: Path
) -> None:
    from tao_automl.runner import AutoMLRunner

    runner = AutoMLRunner(
        skill_dir=quadratic_skill,
        platform_sdk="kubernetes",
        workspace_dir=tmp_path / "ws",
        poll_interval=0.05,
        platform_options={"host": cluster.url, "namespace": kube_namespace, "image": EMULATOR_IMAGE,
                          "python": sys.executable},
    )  # fmt: skip
    result = runner.run(
        automl_algorithm="random",
        automl_settings={"automl_max_recommendations": 3, "automl_max_concurrent": 2, "automl_seed": 3},
    )
    history = result["history"]
    # A recommendation the quadratic net cannot train ends invalid_configuration, classified from the pod log.
    assert {h["status"] for h in history} <= {"success", "invalid_configuration"}, history
    assert result["best"]["metric_value"] is not None
    batch, _ = api(cluster)
    jobs = json.loads(batch.list_namespaced_job(kube_namespace, _preload_content=False).data)["items"]
    names = {j["metadata"]["name"] for j in jobs}
    assert {h["job_id"] for h in history} <= names  # every recommendation ran as a Job (the baseline too)
    assert {j["metadata"]["labels"]["tao-automl/action"] for j in jobs} <= {"train", "evaluate"}


# ---- the platform skill ----------------------------------------------------------------------

SKILL_DIR = Path(__file__).resolve().parents[1] / "skills" / "platform" / "kubernetes"


def test_platform_skill_matches_the_class() -> None:
    from tao_automl.preflight import PlatformSkillInfo

    info = yaml.safe_load((SKILL_DIR / "references" / "skill_info.yaml").read_text())
    PlatformSkillInfo.model_validate(info)
    assert info["name"] == KubernetesPlatform.name
    params = inspect.signature(KubernetesPlatform.__init__).parameters
    defaults = {n: p.default for n, p in params.items() if n != "self"}
    assert set(info["options"]) == set(defaults)
    for name, default in defaults.items():
        assert info["options"][name] == default or (default is None and info["options"][name] in ([], {})), name
    assert info["credential_groups"] == [
        {"name": "kubeconfig", "require_one_of": ["KUBECONFIG", "KUBERNETES_SERVICE_HOST"]}
    ]
    versions = yaml.safe_load((SKILL_DIR.parents[2] / "versions.yaml").read_text())
    assert info["wheel_key"] in versions["wheels"]

    text = (SKILL_DIR / "SKILL.md").read_text()
    for section in ("Preflight", "Credentials", "Resource shape", "Monitoring", "Cancellation", "Known failures"):
        assert f"\n## {section}\n" in text, section
    for script in set(re.findall(r"scripts/[\w/.-]+\.(?:py|sh)", text)):
        assert (SKILL_DIR.parents[2] / script).exists(), script
    for option in re.findall(r"option `(\w+)`", text):
        assert option in defaults, option


# ---- a real cluster, when one is configured --------------------------------------------------


@pytest.mark.skipif(not os.environ.get("KUBECONFIG"), reason="KUBECONFIG not set: no real cluster to run a Job on")
@pytest.mark.timeout(600)
def test_one_real_job_on_a_real_cluster(tmp_path: Path) -> None:
    """Runs on whatever cluster KUBECONFIG names; TAO_K8S_TEST_NAMESPACE / TAO_K8S_TEST_IMAGE pick where and what."""
    plat = KubernetesPlatform(
        namespace=os.environ.get("TAO_K8S_TEST_NAMESPACE", "default"),
        image=os.environ.get("TAO_K8S_TEST_IMAGE", "python:3.12-slim"),
        ttl_seconds_after_finished=600,
    )
    job = request(
        tmp_path,
        name=f"tao-automl-smoke-{os.getpid()}",
        argv=["python3", "-c", "print('hello from kubernetes')"],
        workdir=Path("/tmp"),
    )
    job_id = plat.submit(job)
    try:
        status = terminal(plat, job_id, timeout=540)
        assert status.state is JobState.COMPLETE, status
        assert "hello from kubernetes" in plat.logs(job_id)
    finally:
        plat.cancel(job_id)
