"""A real Docker engine for the tests, started by the project's own script, and the docker contract case.

``scripts/ci/docker-local.sh`` installs docker.io when missing, starts dockerd on a private socket
with no bridge network and builds ``local/busybox:1`` and ``local/debian-py:12`` without any
registry (kept in the state dir, so only the first session pays for debootstrap). The engine is
stopped at session end only when this session started it. ``TAO_AUTOML_SKIP_DOCKER=1`` skips
every test that needs the engine instead of starting one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from conftest import PROJECT_ROOT, PlatformCase

from tao_automl.platforms.docker import DockerPlatform

PLATFORM_CASES = ("docker",)
SCRIPT = PROJECT_ROOT / "scripts" / "ci" / "docker-local.sh"
PY_IMAGE = "local/debian-py:12"
BUSYBOX_IMAGE = "local/busybox:1"
START_TIMEOUT = 600


def _engine_answers(host: str) -> bool:
    if shutil.which("docker") is None:
        return False
    proc = subprocess.run(["docker", "-H", host, "info"], capture_output=True, timeout=60, check=False)
    return proc.returncode == 0


def _script(action: str) -> str:
    proc = subprocess.run(
        ["bash", str(SCRIPT), action], capture_output=True, text=True, timeout=START_TIMEOUT, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"{SCRIPT.name} {action} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[str]:
    """``DOCKER_HOST`` of a running engine with the local images; stopped at the end if we started it."""
    if os.environ.get("TAO_AUTOML_SKIP_DOCKER") == "1":
        pytest.skip("TAO_AUTOML_SKIP_DOCKER=1")
    state = os.environ.get("TAO_AUTOML_DOCKER_STATE_DIR", "/tmp/tao-automl-docker")
    host = f"unix://{state}/docker.sock"
    started_here = not _engine_answers(host)
    out = _script("start")
    exports = [line.split("=", 1)[1] for line in out.splitlines() if line.startswith("export DOCKER_HOST=")]
    host = exports[-1] if exports else host
    try:
        _script("images")
        yield host
    finally:
        if started_here:
            # Finished test containers would pile up in the state dir across sessions.
            subprocess.run(
                ["docker", "-H", host, "container", "prune", "-f", "--filter", "label=tao-automl.job"],
                capture_output=True,
                timeout=120,
                check=False,
            )
            _script("stop")


@pytest.fixture
def platform_case_docker(docker_engine: str) -> PlatformCase:
    return PlatformCase(
        DockerPlatform(docker_host=docker_engine, default_image=PY_IMAGE, cancel_grace_seconds=2.0),
        ["python3"],
        host_pids=False,
    )
