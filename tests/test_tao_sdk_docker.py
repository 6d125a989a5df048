"""The real TAO SDK's ``DockerSDK`` as the runner's platform: a python_script skill in a container.

``DockerSDK`` has no ``create_python_job``: the adapter runs the script with the image's
``python3`` through ``create_job``, with the job's folder and the skill mounted at their host
paths. The contract suite (tests/test_platform_conformance.py, case ``tao_docker``) covers status,
logs, cancel, failure analysis and re-attach through the same SDK.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import PROJECT_ROOT
from services.docker_engine import PY_IMAGE

from tao_automl.runner import AutoMLRunner

QUADRATIC = PROJECT_ROOT / "tests" / "fixtures" / "skills" / "quadratic"


def test_quadratic_skill_runs_in_containers_through_docker_sdk(tao_docker_sdk: Any, tmp_path: Path) -> None:
    runner = AutoMLRunner(
        sdk=tao_docker_sdk, skill_dir=QUADRATIC, poll_interval=0.1, platform_options={"python": "python3"}
    )
    result = runner.run(
        automl_algorithm="random",
        automl_settings={"automl_max_recommendations": 3, "automl_max_concurrent": 2, "automl_seed": 5},
        automl_hyperparameters=["train.x", "train.y"],
        workspace_path=str(tmp_path / "ws"),
        image=PY_IMAGE,
        gpu_count=0,
    )
    assert [h["status"] for h in result["history"]] == ["success"] * 3
    assert result["baseline"]["status"] == "measured"
    assert result["final_evaluation"]["status"] == "measured"  # the evaluate action, in a container too
    for entry in result["history"]:
        row = tao_docker_sdk.get_job(entry["job_id"])
        assert row["backend_type"] == "docker" and row["status"] == "Complete" and row["image"] == PY_IMAGE
    best = Path(result["best"]["checkpoint"])
    assert best.is_file() and json.loads(best.read_text())["epoch"] == 3  # written inside the container
