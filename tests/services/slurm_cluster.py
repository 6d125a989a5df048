"""A real single-node Slurm cluster on localhost for the slurm platform, and its contract-suite case.

The session fixture runs the project's own ``scripts/ci/slurm-local.sh`` (which installs the
Debian packages the first time), points Slurm clients at its configuration through
``SLURM_CONF`` for the whole session (so CLI subprocesses find it too), and stops the cluster at
the end unless it was already running before the session.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import PlatformCase

from tao_automl.platforms.slurm import SlurmPlatform

PLATFORM_CASES = ("slurm",)
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ci" / "slurm-local.sh"
STATE_DIR = Path(os.environ.get("TAO_SLURM_STATE_DIR", "/tmp/tao-automl-slurm"))
START_TIMEOUT = 1200.0  # the first start installs slurm and munge with apt-get
IDLE_TIMEOUT = 60.0


@dataclass
class SlurmCluster:
    """The running cluster: its client configuration and state directory."""

    conf: Path
    state_dir: Path


def _script(command: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TAO_SLURM_STATE_DIR": str(STATE_DIR)}
    return subprocess.run(
        ["bash", str(SCRIPT), command], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _node_states() -> str:
    done = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=30, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """Start the local cluster (idempotent), wait until its node is idle, stop it after the session."""
    if os.geteuid() != 0:
        pytest.skip("starting the local Slurm cluster (munged, slurmctld, slurmd) needs root")
    was_running = _script("status", 30).returncode == 0
    started = _script("start", START_TIMEOUT)
    if started.returncode != 0:
        pytest.fail(f"slurm-local.sh start failed ({started.returncode}):\n{started.stderr[-3000:]}")
    patch = pytest.MonkeyPatch()
    patch.setenv("SLURM_CONF", str(STATE_DIR / "slurm.conf"))
    try:
        deadline = time.monotonic() + IDLE_TIMEOUT
        while "idle" not in _node_states().splitlines():
            if time.monotonic() > deadline:
                pytest.fail(f"the Slurm node never became idle: {_node_states()!r}")
            time.sleep(0.2)
        yield SlurmCluster(conf=STATE_DIR / "slurm.conf", state_dir=STATE_DIR)
    finally:
        patch.undo()
        if not was_running:
            _script("stop", 120)


def slurm_platform(tmp_path: Path, **options: object) -> SlurmPlatform:
    """A SlurmPlatform sized for the test node (1 CPU, 1 GB) with its job index in ``tmp_path``."""
    defaults: dict[str, object] = {
        "state_root": tmp_path / "slurm-index",
        "cpus_per_task": 1,
        "memory_gb": 1,
        "time_limit": "00:10:00",
        "cancel_timeout_seconds": 30.0,
    }
    return SlurmPlatform(**{**defaults, **options})  # type: ignore[arg-type]


@pytest.fixture
def platform_case_slurm(slurm_cluster: SlurmCluster, tmp_path: Path) -> PlatformCase:
    return PlatformCase(slurm_platform(tmp_path), [sys.executable], host_pids=True)
