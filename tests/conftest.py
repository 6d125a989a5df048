"""Shared fixtures: where the model skills live, and a writer for small TAO-dialect skills.

The three upstream model skills are read in place from ``<project>/../shared/fixtures/upstream-skills``
(CI clones the repository to ``<x>/main`` and copies ``shared/`` beside it); they are never copied.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pkgutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tao_automl.platforms import Platform

#: Every module in tests/services/ is a pytest plugin: it starts a real service (Docker engine,
#: Slurm, Kubernetes emulator, ...) as session fixtures and declares the platform cases that the
#: contract suite runs. Adding a platform's test support is adding one file there.
pytest_plugins = sorted(f"services.{m.name}" for m in pkgutil.iter_modules([str(Path(__file__).parent / "services")]))


@dataclass
class PlatformCase:
    """A ready platform for the contract suite.

    Args:
        platform: the platform under test.
        python: argv prefix that runs Python *inside* a job on this platform.
        host_pids: job pids are this machine's pids, so group-kill checks can read /proc.
    """

    platform: Platform
    python: list[str]
    host_pids: bool = True


PROJECT_ROOT = Path(__file__).resolve().parents[1]
UPSTREAM_SKILLS_DIR = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "upstream-skills"
UPSTREAM_SKILL_NAMES = ("tao-train-image-classification", "tao-train-rtdetr", "tao-train-segformer")
DIGITS_SKILL_DIR = PROJECT_ROOT / "skills" / "models" / "digits-cnn"

SkillWriter = Callable[..., Path]


@pytest.fixture(scope="session")
def upstream_skills_dir() -> Path:
    """Root of the read-only upstream skills; fails (not skips) when ``shared/`` is missing."""
    assert UPSTREAM_SKILLS_DIR.is_dir(), f"upstream skill fixtures not found at {UPSTREAM_SKILLS_DIR}"
    return UPSTREAM_SKILLS_DIR


@pytest.fixture(params=UPSTREAM_SKILL_NAMES)
def upstream_skill_dir(request: pytest.FixtureRequest, upstream_skills_dir: Path) -> Path:
    """Each upstream skill directory in turn (tests using it run once per skill)."""
    return upstream_skills_dir / request.param


@pytest.fixture(scope="session")
def digits_skill_dir() -> Path:
    assert DIGITS_SKILL_DIR.is_dir(), f"demo skill not found at {DIGITS_SKILL_DIR}"
    return DIGITS_SKILL_DIR


def tiny_tao_schema() -> dict[str, Any]:
    """A small train schema in TAO's dialect (collections, ``math_cond``, open ``Infinity`` bounds)."""
    default = {
        "results_dir": "",
        "train": {"num_epochs": 5, "optim": {"lr": 0.001, "optimizer": "adam"}},
        "dataset": {"batch_size": 16, "workers": 4},
        "model": {"depth": 4, "use_bn": True},
    }
    return {
        "type": "object",
        "automl_default_parameters": [
            "train.optim.lr",
            "train.optim.optimizer",
            "dataset.batch_size",
            "dataset.workers",
            "model.depth",
            "model.use_bn",
            "train.num_epochs",
        ],
        "automl_disabled_parameters": ["train.num_epochs", "results_dir"],
        "default": default,
        "properties": {
            "results_dir": {"type": "string", "default": ""},
            "train": {
                "type": "collection",
                "default": default["train"],
                "properties": {
                    "num_epochs": {"type": "int", "default": 5, "minimum": 1, "maximum": math.inf},
                    "optim": {
                        "type": "collection",
                        "default": default["train"]["optim"],
                        "properties": {
                            "lr": {
                                "type": "float",
                                "default": 0.001,
                                "minimum": 0.0,
                                "maximum": math.inf,
                                "math_cond": "> 0.0",
                                "automl_enabled": True,
                            },
                            "optimizer": {
                                "type": "categorical",
                                "default": "adam",
                                "enum": ["adam", "sgd"],
                                "option_weights": [0.8, 0.2],
                            },
                        },
                    },
                },
            },
            "dataset": {
                "type": "collection",
                "default": default["dataset"],
                "properties": {
                    "batch_size": {"type": "int", "default": 16, "minimum": 1, "maximum": math.inf},
                    "workers": {"type": "int", "default": 4, "minimum": 0, "maximum": math.inf},
                },
            },
            "model": {
                "type": "collection",
                "default": default["model"],
                "properties": {
                    "depth": {"type": "int", "default": 4, "minimum": 1, "maximum": 12},
                    "use_bn": {"type": "bool", "default": True},
                },
            },
        },
    }


@pytest.fixture
def tiny_schema() -> dict[str, Any]:
    """A fresh copy of :func:`tiny_tao_schema` (tests may modify it)."""
    return tiny_tao_schema()


def write_tao_skill(
    root: Path,
    *,
    name: str = "tiny-net",
    automl_enabled: bool | None = True,
    schema: dict[str, Any] | str | None = None,
    write_schema: bool = True,
    write_info: bool = True,
    template: dict[str, Any] | None = None,
) -> Path:
    """Write a model skill in the published layout under ``root/name`` and return its directory.

    ``schema`` may be a dict (dumped as JSON, so ``math.inf`` becomes the bare ``Infinity`` token TAO
    uses) or raw text (to write a broken file); ``write_schema``/``write_info`` drop those files.
    """
    skill = root / name
    (skill / "references").mkdir(parents=True, exist_ok=True)
    (skill / "schemas").mkdir(parents=True, exist_ok=True)
    schema_obj = tiny_tao_schema() if schema is None else schema
    if write_info:
        info: dict[str, Any] = {
            "name": name,
            "network_arch": name.replace("-", "_"),
            "container_image": "example.invalid/tao:latest",
            "actions": {
                "train": {"command": f"{name} train -e {{config_path}}", "outputs": {"results_dir": {"type": "folder"}}}
            },
            "data_sources": {},
        }
        if automl_enabled is not None:
            info["automl_enabled"] = automl_enabled
        (skill / "references" / "skill_info.yaml").write_text(yaml.safe_dump(info, sort_keys=False))
    if write_schema:
        text = schema_obj if isinstance(schema_obj, str) else json.dumps(schema_obj, indent=2)
        (skill / "schemas" / "train.schema.json").write_text(text)
    spec = template if template is not None else (schema_obj.get("default") if isinstance(schema_obj, dict) else {})
    (skill / "references" / "spec_template_train.yaml").write_text(yaml.safe_dump(spec or {}, sort_keys=False))
    return skill


@pytest.fixture
def tao_skill_writer(tmp_path: Path) -> SkillWriter:
    """``tao_skill_writer(**kw) -> Path``: :func:`write_tao_skill` rooted in this test's ``tmp_path``."""

    def write(**kwargs: Any) -> Path:
        return write_tao_skill(tmp_path, **kwargs)

    return write


# ---- the quadratic test network and the real runner on the local platform ------------------------

QUADRATIC_SKILL_DIR = Path(__file__).resolve().parent / "fixtures" / "skills" / "quadratic"
#: Small, fast defaults for runner tests; a test's own settings win.
FAST_RUNNER_SETTINGS: dict[str, Any] = {
    "automl_max_recommendations": 3,
    "automl_max_concurrent": 2,
    "automl_seed": 7,
}


@pytest.fixture(scope="session")
def quadratic_skill() -> Path:
    """The synthetic quadratic model skill (published TAO layout, stdlib-only scripts, ~0.1 s a job)."""
    assert (QUADRATIC_SKILL_DIR / "references" / "skill_info.yaml").is_file()
    return QUADRATIC_SKILL_DIR


def make_runner(skill_dir: Path, tmp_path: Path, **kwargs: Any) -> Any:
    """An AutoMLRunner on the local platform with its workspace in ``tmp_path/ws`` and a 0.05 s poll."""
    from tao_automl.runner import AutoMLRunner

    return AutoMLRunner(
        skill_dir=skill_dir,
        platform_sdk="local",
        workspace_dir=tmp_path / "ws",
        poll_interval=0.05,
        platform_options={"state_root": tmp_path / "jobs", "cancel_grace_seconds": 2.0},
        **kwargs,
    )


RunRunner = Callable[..., dict[str, Any]]


@pytest.fixture
def run_runner(quadratic_skill: Path, tmp_path: Path) -> RunRunner:
    """``run_runner(settings=None, *, algorithm="random", skill_dir=None, listeners=None, **run_kwargs)``.

    Builds :func:`make_runner` (default skill: quadratic), runs it with ``FAST_RUNNER_SETTINGS``
    updated by ``settings`` and returns the result dict; ``result["workspace"]`` is the run dir.
    """

    def run(
        settings: dict[str, Any] | None = None,
        *,
        algorithm: str = "random",
        skill_dir: Path | None = None,
        listeners: list[Callable[[str, dict[str, Any]], None]] | None = None,
        **run_kwargs: Any,
    ) -> dict[str, Any]:
        runner = make_runner(skill_dir or quadratic_skill, tmp_path, listeners=listeners)
        return runner.run(
            automl_algorithm=algorithm, automl_settings={**FAST_RUNNER_SETTINGS, **(settings or {})}, **run_kwargs
        )

    return run


class SubprocessSdk:
    """A platform SDK in the published TAO shape: each job is a real shell command in its own session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.jobs: dict[str, dict[str, Any]] = {}
        self.calls: list[dict[str, Any]] = []

    def create_job(self, image: str | None, command: str, name: str | None = None, results_dir: str | None = None,
                   env: dict[str, str] | None = None, **kwargs: Any) -> dict[str, str]:  # fmt: skip
        self.calls.append({"image": image, "command": command, "name": name, **kwargs})
        job_id = f"sdk-{len(self.jobs) + 1}"
        log = self.root / f"{job_id}.log"
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # `python` is this venv's
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", command],
                cwd=results_dir,
                env={**os.environ, **(env or {}), "PATH": path},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.jobs[job_id] = {"proc": proc, "log": log, "canceled": False}
        return {"id": job_id}

    def get_job_status(self, job_id: str) -> Any:
        job = self.jobs[job_id]
        code = job["proc"].poll()
        if job["canceled"]:
            return {"status": "Canceled", "exit_code": code}
        if code is None:
            return "Running"
        return {"status": "Done" if code == 0 else "FAILED", "exit_code": code}

    def get_job_logs(self, job_id: str) -> str:
        return self.jobs[job_id]["log"].read_text()

    def cancel_job(self, job_id: str) -> None:
        job = self.jobs[job_id]
        if job["proc"].poll() is not None:
            return
        job["canceled"] = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job["proc"].pid, signal.SIGKILL)
        job["proc"].wait(timeout=10)


def wait_for(check: Callable[[], object], timeout: float = 15.0) -> object:
    """Poll ``check`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout}s")
