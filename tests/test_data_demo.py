"""The demo pass records its data (the bundled digits file, no staging needed) and its sample count."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import DIGITS_SKILL_DIR, make_runner

from tao_automl.data.preparation import data_review_lines
from tao_automl.estimate import plan_run


def test_demo_run_records_data_staging_and_sample_count(tmp_path: Path) -> None:
    runner = make_runner(DIGITS_SKILL_DIR, tmp_path)
    runner.run(
        automl_algorithm="random",
        automl_settings={
            "automl_max_recommendations": 1,
            "automl_max_concurrent": 1,
            "automl_baseline": False,
            "automl_final_eval": False,
        },
        spec_overrides={"train.num_epochs": 1},
    )
    run_dir = runner.workspace.run_dir
    review = json.loads((run_dir / "launch_review.json").read_text())["data"]
    assert review["train_sample_count"] == 1079
    assert "1797 bundled digits" in review["sample_count_source"]
    assert any(line.startswith("train_sample_count: 1079") for line in review["lines"])
    staging = json.loads((run_dir / "evaluations" / "data_staging.json").read_text())
    [source] = staging["sources"]
    assert source["status"] == "not_needed" and "no staging needed" in source["reason"]
    assert source["source_uri"].endswith("digits.csv.gz") and source["file_count"] == 1 and source["bytes"] > 0
    assert source["checksum"].startswith("sha256:") and source["timestamp"]
    assert staging["train_sample_count"] == 1079
    # The count is a setting of the run from now on: resume caps batch sizes with the same number.
    assert runner.store.meta("settings")["train_sample_count"] == 1079


def test_review_preview_shows_the_count_and_copies_nothing(tmp_path: Path) -> None:
    """The MCP launch review's data lines come from the runner's own plan, previewed without staging."""
    run = plan_run(DIGITS_SKILL_DIR, workspace_dir=tmp_path)
    lines = data_review_lines(run.plan, tmp_path)
    assert lines[-1].startswith("train_sample_count: 1079 (")
    assert any("digits.csv.gz" in line and "no staging needed" in line for line in lines)
    assert not (tmp_path / "data_staging").exists()
