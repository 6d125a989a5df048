"""Every multi-fidelity and population algorithm, end to end on the real demo network with 2 slots.

Promotions are real: the promoted job resumes the parent's exact checkpoint, and its own log says so.
Early stops are real: the runner cancels the job at a rung boundary and records ``early_stop_epoch``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tao_automl.runner import AutoMLRunner

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "skills" / "models" / "digits-cnn"
FAST = {"dataset.train_fraction": 0.3}
BASE = {"automl_max_concurrent": 2, "automl_baseline": False, "automl_final_eval": False, "automl_seed": 5}


def run(tmp_path: Path, algorithm: str, **settings: Any) -> dict[str, Any]:
    runner = AutoMLRunner(skill_dir=DIGITS, platform_sdk="local", workspace_dir=tmp_path / "ws", poll_interval=0.2)
    return runner.run(algorithm, {**BASE, **settings}, spec_overrides=FAST)


def _log(result: dict[str, Any], rec_id: int) -> str:
    return (Path(result["workspace"]) / "recs" / f"{rec_id:04d}" / "train.log").read_text()


# bohb and dehb promote through Hyperband's brackets (subclasses; only their sampling differs) and run end to
# end in test_every_algorithm_runs_from_the_cli.
@pytest.mark.parametrize("algorithm", ["hyperband", "asha"])
def test_promotions_resume_the_parents_exact_checkpoint(tmp_path: Path, algorithm: str) -> None:
    extra = {"automl_max_recommendations": 6} if algorithm == "asha" else {}
    result = run(tmp_path, algorithm, automl_max_epochs=3, automl_reduction_factor=3, **extra)
    history = {h["rec_id"]: h for h in result["history"]}
    promoted = [h for h in history.values() if h["resume_from"] is not None]
    assert promoted, "the schedule promotes at least one configuration"
    for child in promoted:
        parent = history[child["resume_from"]]
        assert f"at epoch {parent['epochs_trained']}" in _log(result, child["rec_id"])
        assert f"{parent['rec_id']:04d}/results/model_epoch_{parent['epochs_trained']:03d}.pth" in _log(
            result, child["rec_id"]
        )
        assert child["epochs_trained"] == 3 and child["status"] == "success"
    best = history[result["best"]["rec_id"]]
    assert best["epochs_trained"] == 3
    assert Path(result["best"]["checkpoint"]).is_file()


def test_asha_stopping_mode_cancels_jobs_at_rung_boundaries(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "asha",
        automl_max_epochs=4,
        automl_reduction_factor=2,
        automl_rung_mode="stopping",
        automl_max_recommendations=6,
        automl_max_concurrent=1,
        automl_seed=2,
    )
    stopped = [h for h in result["history"] if h["early_stop_epoch"] is not None]
    assert stopped, "some configuration is below its rung's top half"
    for h in stopped:
        assert h["early_stop_epoch"] in (1, 2) and h["status"] == "success"
        assert h["metric_source"] == f"intermediate epoch {h['early_stop_epoch']}"
        # The job reached its rung (the cancel may land an epoch or two later: epochs here take 0.1 s).
        assert f"epoch {h['early_stop_epoch']}/4" in _log(result, h["rec_id"])
    assert all(h["epochs_trained"] == 4 for h in result["history"] if h["early_stop_epoch"] is None)


def test_pbt_exploits_real_checkpoints(tmp_path: Path) -> None:
    result = run(
        tmp_path, "pbt", automl_population_size=2, automl_max_generations=2, automl_pbt_interval=2, automl_max_epochs=4
    )
    history = {h["rec_id"]: h for h in result["history"]}
    assert len(history) == 4
    second = [h for h in history.values() if h["resume_from"] is not None]
    assert len(second) == 2
    for h in second:
        assert "at epoch 2" in _log(result, h["rec_id"]) and h["epochs_trained"] == 4


@pytest.mark.parametrize(
    ("algorithm", "settings"),
    [
        ("hyperband", ["automl_max_epochs=3"]),
        ("asha", ["automl_max_epochs=3", "automl_max_recommendations=4"]),
        ("bohb", ["automl_max_epochs=3"]),
        ("dehb", ["automl_max_epochs=3"]),
        ("pbt", ["automl_population_size=2", "automl_max_generations=2", "automl_pbt_interval=1"]),
        ("random", ["automl_max_recommendations=2"]),
        ("bayesian", ["automl_max_recommendations=2"]),
    ],
)
def test_every_algorithm_runs_from_the_cli(
    quadratic_skill: Path, tmp_path: Path, algorithm: str, settings: list
) -> None:
    argv = [sys.executable, "-m", "tao_automl.cli", "run", "--skill", str(quadratic_skill), "--algorithm", algorithm]
    argv += [
        "--workspace",
        str(tmp_path / "ws"),
        "--poll-interval",
        "0.05",
        "--json",
        "--set",
        "dataset.num_samples=64",
    ]
    for item in [*settings, "automl_baseline=false", "automl_final_eval=false"]:
        argv += ["--setting", item]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["progress"]["algorithm"] == algorithm
    assert result["progress"]["completed"] == result["progress"]["total"] >= 2
    assert result["best"]["metric_value"] is not None
