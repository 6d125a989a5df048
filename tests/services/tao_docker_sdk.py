"""The real TAO SDK's ``DockerSDK`` (nvidia-tao-sdk) behind our adapter, on the project's own Docker engine.

The engine (``scripts/ci/docker-local.sh``) has no bridge network, so the SDK is told to use
``DOCKER_NETWORK=none`` (it would otherwise create a ``tao_default`` bridge) and never to pull.
The SDK keeps a job list at a fixed ``~/.tao_sdk_docker_jobs.json``, bound when its module is first
imported: that import happens with ``HOME`` pointing into pytest's temporary space.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import PlatformCase

from services.docker_engine import PY_IMAGE
from tao_automl.platforms.sdk_adapter import SdkPlatform

PLATFORM_CASES = ("tao_docker",)
#: Credentials the SDK would inject into every container from this process's environment.
SDK_CREDENTIALS = (
    "ACCESS_KEY",
    "SECRET_KEY",
    "S3_ENDPOINT_URL",
    "S3_BUCKET_NAME",
    "CLOUD_REGION",
    "HF_TOKEN",
    "NGC_KEY",
)


@pytest.fixture(scope="session")
def docker_sdk_class(tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("tao-sdk-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        return importlib.import_module("tao_sdk.platforms.docker").DockerSDK


@pytest.fixture
def tao_docker_sdk(
    docker_engine: str, docker_sdk_class: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A ``DockerSDK`` on the test engine, its job store in this test's ``tmp_path``."""
    monkeypatch.setenv("DOCKER_HOST", docker_engine)
    monkeypatch.setenv("DOCKER_NETWORK", "none")
    monkeypatch.setenv("DOCKER_PULL_POLICY", "never")
    for name in SDK_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    sdk = docker_sdk_class(state_file=tmp_path / "docker-sdk-state.json")
    yield sdk
    for row in sdk.list_jobs():  # finished containers stay until their artifacts are deleted
        sdk.delete_job_artifacts(row["job_id"])


@pytest.fixture
def platform_case_tao_docker(tao_docker_sdk: Any) -> PlatformCase:
    return PlatformCase(SdkPlatform(tao_docker_sdk, python="python3", image=PY_IMAGE), ["python3"], host_pids=False)
