"""Data visibility checked from where the jobs run: a stat for local, a real probe job on docker and slurm.

The docker and slurm engines are the session services of tests/services/ (started once, shared with
the platform tests). A probe job mounts and reads exactly what a trial would, so a path that exists
on this machine but is not given to the container is reported as missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import PROJECT_ROOT
from services.docker_engine import PY_IMAGE
from services.slurm_cluster import SlurmCluster, slurm_platform

from tao_automl.data import ProbeOptions, check_visibility
from tao_automl.platforms.docker import DockerPlatform
from tao_automl.preflight import CheckStatus, run_preflight

SCRIPT = PROJECT_ROOT / "scripts" / "check_tao_launch_preflight.py"


def dataset(tmp_path: Path) -> dict[str, str]:
    images = tmp_path / "data" / "images"
    images.mkdir(parents=True)
    (images / "0.png").write_bytes(b"\x89PNG")
    ann = tmp_path / "data" / "train.json"
    ann.write_text("[]")
    return {"images": str(images), "annotation": str(ann), "val": str(tmp_path / "data" / "no-such-dir")}


def verdicts(results: list) -> dict[str, bool | None]:
    return {v.label: v.visible for v in results}


def test_local_is_a_stat_on_this_machine(tmp_path: Path) -> None:
    paths = dataset(tmp_path)
    found = check_visibility("local", paths, ProbeOptions(workdir=tmp_path / "probes"))
    assert verdicts(found) == {"images": True, "annotation": True, "val": False}
    assert found[2].category == "data_visibility"
    assert not (tmp_path / "probes").exists(), "local needs no probe job"


def test_docker_probe_job_sees_what_a_trial_container_sees(docker_engine: str, tmp_path: Path) -> None:
    paths = dataset(tmp_path)
    plat = DockerPlatform(docker_host=docker_engine, default_image=PY_IMAGE, cancel_grace_seconds=2.0)
    found = check_visibility("docker", paths, ProbeOptions(workdir=tmp_path / "probes", timeout_seconds=120), plat)
    assert verdicts(found) == {"images": True, "annotation": True, "val": False}
    assert all("docker job" in v.checked_from for v in found)
    assert found[2].category == "data_visibility"


def test_slurm_probe_job_runs_on_the_cluster(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    paths = dataset(tmp_path)
    plat = slurm_platform(tmp_path)
    found = check_visibility("slurm", paths, ProbeOptions(workdir=tmp_path / "probes", timeout_seconds=120), plat)
    assert verdicts(found) == {"images": True, "annotation": True, "val": False}
    assert all("slurm job" in v.checked_from for v in found)
    assert not any((tmp_path / "probes").iterdir()), "a probe leaves nothing behind"


def test_preflight_probes_a_non_local_platform_with_its_options(docker_engine: str, tmp_path: Path) -> None:
    """``visible:<label>`` comes from a probe job on the launch platform, only after the path checks pass."""
    paths = dataset(tmp_path)
    options = {"docker_host": docker_engine, "default_image": PY_IMAGE}
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "DOCKER_HOST": docker_engine}
    result = run_preflight(
        platform="docker",
        paths={"images": paths["images"]},
        platform_options=options,
        probe_dir=tmp_path,
        env=env,
        conditions={"registry_image": False},
    )
    checks = {c.name: c for c in result.checks}
    assert checks["visible:images"].status is CheckStatus.PASS, checks
    assert "docker job" in checks["visible:images"].evidence


def test_preflight_script_passes_platform_options_to_the_probe(docker_engine: str, tmp_path: Path) -> None:
    paths = dataset(tmp_path)
    argv = [
        sys.executable,
        str(SCRIPT),
        "--platform",
        "docker",
        "--platform-option",
        f"docker_host={docker_engine}",
        "--platform-option",
        f"default_image={PY_IMAGE}",
        "--path",
        f"images={paths['images']}",
        "--disk-path",
        str(tmp_path),
        "--json",
    ]
    env = {**os.environ, "DOCKER_HOST": docker_engine}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
    checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    assert checks["visible:images"]["status"] == "pass", checks
    missing = subprocess.run(
        [sys.executable, str(SCRIPT), "--path", f"val={paths['val']}"], capture_output=True, text=True, timeout=120
    )
    assert missing.returncode == 2 and "failure class: data_visibility" in missing.stdout
    bad = subprocess.run(
        [sys.executable, str(SCRIPT), "--platform", "docker", "--platform-option", "oops"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "--platform-option" in bad.stderr
