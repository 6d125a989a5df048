"""The brev platform's test support: the CLI stand-in ``tests/fixtures/bin/brev`` put first on PATH.

No Brev account can exist here, so the platform is driven through a stand-in executable that
speaks the real CLI's commands and JSON (``ls --json``, ``exec``, ``copy``, ``stop``) and really
runs the commands on this machine. Nothing is started or stopped: each test gets its own stand-in
state directory, PATH entry and logged-in session (monkeypatched, restored afterwards).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import PlatformCase

from tao_automl.platforms.brev import BrevPlatform

PLATFORM_CASES = ("brev",)

STANDIN_BIN = Path(__file__).resolve().parents[1] / "fixtures" / "bin"
INSTANCE = "tao-gpu-1"
#: A planted fake token: tests check it never reaches a file, a log or an argv.
FAKE_BREV_TOKEN = "brevtok-FAKE-9f8e7d6c5b4a39281706"


class BrevStandIn:
    """Handle on the stand-in's state: its instances, and every argv it was called with."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def instances(self) -> list[dict[str, Any]]:
        return json.loads((self.home / "instances.json").read_text())

    def write_instances(self, instances: list[dict[str, Any]]) -> None:
        (self.home / "instances.json").write_text(json.dumps(instances, indent=2))

    def add_instance(self, name: str, status: str = "RUNNING", env: dict[str, str] | None = None) -> None:
        record = {
            "name": name,
            "id": f"id{abs(hash(name)) % 10**8:08d}",
            "status": status,
            "build_status": "COMPLETED",
            "shell_status": "READY",
            "health_status": "HEALTHY",
            "instance_type": "g5.xlarge",
            "instance_kind": "gpu",
            "env": env or {},
        }
        self.write_instances([i for i in self.instances() if i["name"] != name] + [record])

    def set_status(self, name: str, status: str) -> None:
        instances = self.instances()
        for record in instances:
            if record["name"] == name:
                record["status"] = status
        self.write_instances(instances)

    def remove_instance(self, name: str) -> None:
        self.write_instances([i for i in self.instances() if i["name"] != name])

    def calls(self) -> list[list[str]]:
        path = self.home / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def instance_home(self, name: str = INSTANCE) -> Path:
        return self.home / "instances" / name / "home"


@pytest.fixture
def brev_standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BrevStandIn:
    """A logged-in stand-in CLI with one RUNNING instance ``tao-gpu-1``, first on PATH."""
    home = tmp_path / "brev-standin"
    home.mkdir()
    (home / "credentials.json").write_text(json.dumps({"logged_in": True}))
    standin = BrevStandIn(home)
    standin.write_instances([])
    standin.add_instance(INSTANCE)
    monkeypatch.setenv("PATH", f"{STANDIN_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("BREV_STANDIN_HOME", str(home))
    monkeypatch.setenv("BREV_API_TOKEN", FAKE_BREV_TOKEN)
    return standin


@pytest.fixture
def platform_case_brev(brev_standin: BrevStandIn) -> PlatformCase:
    return PlatformCase(BrevPlatform(instance=INSTANCE, cancel_grace_seconds=2.0), [sys.executable])
