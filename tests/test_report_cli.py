"""The CLI as scripts and people use it: progress modes, and ``tao-automl report`` on a finished run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from services.digits_demo import DemoRun

CLI = Path(sys.executable).parent / "tao-automl"


def _run(quadratic_skill: Path, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "run", "--skill", str(quadratic_skill), "--workspace", str(tmp_path / "ws"),
         "--algorithm", "random", "--max-recommendations", "3", "--max-concurrent", "2", "--poll-interval", "0.05",
         "--setting", "automl_seed=3", "--set", "dataset.num_samples=64", *flags],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip


@pytest.fixture(scope="module")
def json_run(quadratic_skill: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[dict]]:
    proc = _run(quadratic_skill, tmp_path_factory.mktemp("json"), "--json")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    return json.loads(proc.stdout), lines


def test_json_mode_streams_progress_lines_and_prints_the_result(json_run: tuple[dict, list[dict]]) -> None:
    result, lines = json_run
    events = [line["event"] for line in lines]
    assert events[0] == "started" and events[-1] == "finished"
    results = [line for line in lines if line["event"] == "result"]
    assert [line["done"] for line in results] == [1, 2, 3]
    assert all(line["total"] == 3 for line in lines[1:])
    assert {line["rec_id"] for line in results} == {1, 2, 3}
    # best so far is the running minimum of the loss in finishing order, and ends at the result's best
    losses = [line["metric"] for line in results]
    assert [line["best"]["metric"] for line in results] == [min(losses[: i + 1]) for i in range(3)]
    assert lines[-1]["best"] == {"metric": result["best"]["metric_value"], "rec_id": result["best"]["rec_id"]}
    assert results[-1]["eta_s"] is None and results[0]["eta_s"] > 0  # known once one has finished
    assert max(line["running"] for line in lines) <= 2
    assert any(line["event"] == "final_evaluation" for line in lines)


def test_json_mode_also_writes_the_report(json_run: tuple[dict, list[dict]]) -> None:
    report = Path(json_run[0]["workspace"]) / "report"
    assert (report / "summary.md").is_file() and (report / "report.html").is_file()


def test_quiet_mode_prints_no_progress(quadratic_skill: Path, tmp_path: Path) -> None:
    proc = _run(quadratic_skill, tmp_path, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == ""
    assert "final eval" in proc.stdout and "report.html" in proc.stdout


def test_plain_progress_shows_done_total_running_best_and_eta(quadratic_skill: Path, tmp_path: Path) -> None:
    proc = _run(quadratic_skill, tmp_path)
    assert proc.returncode == 0, proc.stderr
    done_lines = [line for line in proc.stderr.splitlines() if "] rec " in line]
    assert [line.split("]")[0] for line in done_lines] == ["[1/3", "[2/3", "[3/3"]
    assert all("best " in line and "running " in line and "ETA " in line for line in done_lines)


def test_report_command_rewrites_every_report_file(digits_demo_run: DemoRun) -> None:
    report = digits_demo_run.run_dir / "report"
    (report / "report.html").unlink()
    (report / "summary.md").unlink()
    proc = subprocess.run([str(CLI), "report", str(digits_demo_run.run_dir)], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (report / "report.html").is_file() and (report / "summary.md").is_file()
    model = json.loads((report / "report.json").read_text())
    assert model["headline"] in (report / "summary.md").read_text()
    assert model["importance"] and abs(sum(model["importance"].values()) - 1.0) < 1e-6
    assert [p["done"] for p in model["best_so_far"]] == list(range(1, len(model["rows"]) + 1))


def test_report_of_a_missing_workspace_is_one_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run([str(CLI), "report", str(tmp_path / "nope")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and "nope" in proc.stderr
