"""Infrastructure failures are retried (bounded, linked by retry_of), preemptions never count as failed
recommendations, and a shared cause stops the run instead of spending the budget.

The platform is a duck-typed SDK running real subprocesses; its scheduler "fails" chosen attempts the way
a cluster does (a NODE_FAIL log line and a failed state, or a PREEMPTED state).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import SubprocessSdk

from tao_automl.errors import NoSuccessfulRecommendationError
from tao_automl.results import query_status
from tao_automl.runner import AutoMLRunner

NO_EXTRAS = {"automl_baseline": False, "automl_final_eval": False}


def _failing(line: str) -> str:
    return shlex.join([sys.executable, "-c", f"import sys; print({line!r}); sys.exit(1)"])


NODE_FAIL = _failing("srun: error: node3: task 0: NODE_FAIL")
DATA_MISSING = _failing("FileNotFoundError: [Errno 2] No such file or directory: '/data/train'")


class ClusterSdk(SubprocessSdk):
    """Fails train attempts chosen by ``fail(name)``: ``"node_fail"``, ``"preempt"``, ``"data"`` or None."""

    def __init__(self, root: Path, fail: Any) -> None:
        super().__init__(root)
        self.fail = fail
        self.preempted: set[str] = set()

    def create_job(self, image: str | None, command: str, name: str | None = None, **kwargs: Any) -> dict[str, str]:
        mode = self.fail(name or "") if "-train-" in (name or "") else None
        if mode == "node_fail":
            command = NODE_FAIL
        elif mode == "data":
            command = DATA_MISSING
        created = super().create_job(image, command, name=name, **kwargs)
        if mode == "preempt":
            self.preempted.add(created["id"])
        return created

    def get_job_status(self, job_id: str) -> Any:
        status = super().get_job_status(job_id)
        if job_id in self.preempted and status != "Running":
            return {"status": "PREEMPTED", "message": "preempted by a higher-priority job"}
        return status


def run(sdk: ClusterSdk, skill: Path, tmp_path: Path, **settings: Any) -> dict[str, Any]:
    runner = AutoMLRunner(sdk, skill, workspace_dir=tmp_path / "ws", poll_interval=0.05)
    merged = {"automl_max_recommendations": 3, "automl_max_concurrent": 2, "automl_seed": 3, **NO_EXTRAS, **settings}
    return runner.run("random", merged, spec_overrides={"dataset.num_samples": 64})


def test_node_failures_are_retried_once_and_linked(quadratic_skill: Path, tmp_path: Path) -> None:
    sdk = ClusterSdk(tmp_path, lambda name: "node_fail" if name.endswith("-a1") else None)
    result = run(sdk, quadratic_skill, tmp_path)
    assert result["progress"]["completed"] == 3
    for h in result["history"]:
        assert h["status"] == "success"
        assert h["retries"] == 1
        first, second = h["jobs"]
        assert first["retry_of"] is None and second["retry_of"] == first["job_id"]
        assert h["job_id"] == second["job_id"]


def test_retries_are_bounded_and_a_shared_cause_stops_the_run(quadratic_skill: Path, tmp_path: Path) -> None:
    sdk = ClusterSdk(tmp_path, lambda name: "node_fail")
    with pytest.raises(NoSuccessfulRecommendationError):
        run(sdk, quadratic_skill, tmp_path, automl_max_recommendations=10, automl_max_retries=1)
    status = query_status(tmp_path / "ws")
    failures = status["failures"]
    assert 3 <= len(failures) <= 4  # stopped after three with one cause (a fourth may already be running)
    assert {f["failure_class"] for f in failures} == {"infrastructure"}
    assert "same cause (infrastructure" in status["progress"]["stop_reason"]
    attempts = sum(len(h["jobs"]) for h in _history(tmp_path))
    assert attempts == 2 * len(failures)  # each recommendation: one job plus exactly one retry


def test_data_failures_are_not_retried_and_stop_after_three(quadratic_skill: Path, tmp_path: Path) -> None:
    sdk = ClusterSdk(tmp_path, lambda name: "data")
    with pytest.raises(NoSuccessfulRecommendationError):
        run(sdk, quadratic_skill, tmp_path, automl_max_recommendations=10, automl_max_concurrent=1)
    status = query_status(tmp_path / "ws")
    assert [f["failure_class"] for f in status["failures"]] == ["data_visibility"] * 3
    assert all(len(h["jobs"]) == 1 for h in _history(tmp_path))
    assert "no hyperparameter change fixes that" in status["progress"]["stop_reason"]


def test_preemption_is_retried_and_never_a_failed_recommendation(quadratic_skill: Path, tmp_path: Path) -> None:
    sdk = ClusterSdk(tmp_path, lambda name: "preempt" if name.endswith("-a1") else None)
    result = run(sdk, quadratic_skill, tmp_path)
    assert [h["status"] for h in result["history"]] == ["success"] * 3
    assert all(h["retries"] == 1 for h in result["history"])


def test_preemption_beyond_the_retry_budget_is_canceled_not_failed(quadratic_skill: Path, tmp_path: Path) -> None:
    sdk = ClusterSdk(tmp_path, lambda name: "preempt" if "-0001-" in name else None)
    result = run(sdk, quadratic_skill, tmp_path, automl_max_retries=1)
    first = result["history"][0]
    assert (first["status"], first["failure_class"], first["retries"]) == ("canceled", "preempted", 1)
    assert [h["status"] for h in result["history"][1:]] == ["success", "success"]
    assert result["progress"]["stop_reason"] is None


def _history(tmp_path: Path) -> list[dict[str, Any]]:
    from tao_automl.report import load_result

    return load_result(tmp_path / "ws")[1]["history"]
