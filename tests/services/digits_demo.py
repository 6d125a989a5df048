"""One real ``tao-automl demo`` pass on the digits CNN, shared by the report and tracking tests.

Small on purpose (hyperband over 1-2 epochs: five recommendations, one of them a promotion) but
complete: baseline, recommendations, final evaluation, report and offline W&B tracking, run as the
user runs it, by the CLI in its own process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

DEMO_ARGS = [
    "--algorithm", "hyperband", "--max-epochs", "2", "--setting", "automl_reduction_factor=2",
    "--set", "train.num_epochs=2", "--set", "dataset.train_fraction=0.3", "--max-concurrent", "2",
    "--track", "wandb", "--json",
]  # fmt: skip


@dataclass
class DemoRun:
    run_dir: Path
    result: dict[str, Any]
    progress: list[dict[str, Any]]
    stderr: str


@pytest.fixture(scope="session")
def digits_demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The finished demo run: its run directory, result dict and ``--json`` progress lines."""
    root = tmp_path_factory.mktemp("digits-demo")
    env = {k: v for k, v in os.environ.items() if k != "WANDB_API_KEY"}  # no key: W&B must stay offline
    cli = Path(sys.executable).parent / "tao-automl"
    proc = subprocess.run(
        [str(cli), "demo", "--workspace", str(root / "ws"), *DEMO_ARGS],
        capture_output=True, text=True, timeout=600, env=env, cwd=root,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    progress = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    return DemoRun(Path(result["workspace"]), result, progress, proc.stderr)
