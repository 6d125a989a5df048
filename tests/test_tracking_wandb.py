"""W&B tracking of real runs, read back from the offline ``run-*.wandb`` files wandb wrote."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_RUNNER_SETTINGS, RunRunner, make_runner
from services.digits_demo import DemoRun

from tao_automl.errors import ConfigurationError
from tao_automl.settings import AutoMLSettings
from tao_automl.store import Store
from tao_automl.tracking.wandb_file import read_runs
from tao_automl.tracking.wandb_tracker import BRAIN_RUN, EXPERIMENTS_TABLE, resolved_mode
from tao_automl.workspace import STATE_FILE


def _epoch_metrics(run_dir: Path, rec_id: int) -> list[tuple[int, float]]:
    store = Store(run_dir / STATE_FILE, readonly=True)
    try:
        return [(m["step"], m["value"]) for m in store.metrics(rec_id, "loss")]
    finally:
        store.close()


@pytest.fixture(scope="module")
def tracked_run(quadratic_skill: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("WANDB_API_KEY", raising=False)  # no key: the tracker must choose offline by itself
        runner = make_runner(quadratic_skill, tmp_path_factory.mktemp("tracked"))
        return runner.run(
            automl_algorithm="random",
            automl_settings={
                **FAST_RUNNER_SETTINGS,
                "automl_tracking": ["wandb"],
                "wandb_project": "quad-hpo",
                "wandb_tags": ["ci"],
                "experiment_id": "exp-7",
            },
        )


def test_one_offline_run_per_recommendation_with_config_history_and_summary(tracked_run: dict[str, Any]) -> None:
    run_dir = Path(tracked_run["workspace"])
    runs = {r.name: r for r in read_runs(run_dir / "tracking")}
    assert set(runs) == {BRAIN_RUN, "rec-0001", "rec-0002", "rec-0003"}
    assert all(r.group == "exp-7" and r.project == "quad-hpo" and r.tags == ["ci"] for r in runs.values())
    for h in tracked_run["history"]:
        run = runs[f"rec-{h['rec_id']:04d}"]
        assert run.job_type == "recommendation"
        assert run.config == h["params"] and run.config  # the recommendation's hyperparameters
        logged = [(row["epoch"], row["loss"]) for row in run.history]
        assert logged == _epoch_metrics(run_dir, h["rec_id"]) and len(logged) == h["budget"]
        assert run.summary["status"] == h["status"] == "success"
        assert run.summary["loss"] == h["metric"]
        assert run.summary["budget"] == h["budget"] and run.summary["rec_id"] == h["rec_id"]
        assert run.exit_code == 0


def test_brain_run_has_best_so_far_curve_and_experiments_table(tracked_run: dict[str, Any]) -> None:
    run_dir = Path(tracked_run["workspace"])
    brain = next(r for r in read_runs(run_dir / "tracking") if r.name == BRAIN_RUN)
    assert brain.job_type == BRAIN_RUN
    assert brain.config["algorithm"] == "random" and brain.config["metric"] == "loss"
    assert brain.config["direction"] == "minimize"
    assert brain.config["settings"]["automl_max_recommendations"] == 3
    assert "llm_api_key" not in brain.config["settings"]
    curve = [row for row in brain.history if "best_so_far" in row]
    assert [row["recommendations_done"] for row in curve] == [1, 2, 3]
    # best-so-far is the running minimum of the finished recommendations' losses, in finishing order
    finished = sorted(tracked_run["history"], key=lambda h: h["finished_at"])
    running_min = [min(h["metric"] for h in finished[: i + 1]) for i in range(3)]
    assert [row["best_so_far"] for row in curve] == pytest.approx(running_min)
    assert brain.summary["best_rec_id"] == tracked_run["best"]["rec_id"]
    assert brain.summary["best_loss"] == tracked_run["best"]["metric_value"]
    table_path = next(row[f"{EXPERIMENTS_TABLE}/path"] for row in brain.history if f"{EXPERIMENTS_TABLE}/path" in row)
    assert brain.summary[f"{EXPERIMENTS_TABLE}/nrows"] == 3
    table_file = next((run_dir / "tracking").rglob(Path(table_path).name))
    table = json.loads(table_file.read_text())
    rows = [dict(zip(table["columns"], row, strict=True)) for row in table["data"]]
    assert sorted(r["rec_id"] for r in rows) == [1, 2, 3]
    by_id = {h["rec_id"]: h for h in tracked_run["history"]}
    for row in rows:
        h = by_id[row["rec_id"]]
        assert row["loss"] == h["metric"] and row["status"] == h["status"]
        assert {k: row[k] for k in h["params"]} == h["params"]


def test_mode_is_offline_without_a_key_and_online_with_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    assert resolved_mode("auto") == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert resolved_mode("auto") == "online"
    assert resolved_mode("offline") == "offline"


def test_a_tracker_that_cannot_write_logs_once_and_the_run_goes_on(
    run_runner: RunRunner, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where wandb wants its directory")
    with caplog.at_level(logging.WARNING, logger="tao_automl.tracking"):
        result = run_runner(
            {"automl_max_recommendations": 2, "automl_tracking": ["wandb"], "wandb_dir": str(blocker / "wandb")}
        )
    assert result["progress"]["completed"] == 2 and result["best"] is not None
    failures = [r for r in caplog.records if "tracking failed" in r.getMessage()]
    assert len(failures) == 1, [r.getMessage() for r in caplog.records]
    assert "wandb" in failures[0].getMessage()


def test_demo_pass_offline_runs_hold_config_epochs_and_summary(digits_demo_run: DemoRun) -> None:
    """Acceptance: the W&B offline runs of a real demo pass, read back from their .wandb files."""
    run_dir = digits_demo_run.run_dir
    runs = {r.name: r for r in read_runs(run_dir / "tracking")}
    history = digits_demo_run.result["history"]
    assert set(runs) == {BRAIN_RUN} | {f"rec-{h['rec_id']:04d}" for h in history}
    assert {r.group for r in runs.values()} == {run_dir.name}
    store = Store(run_dir / STATE_FILE, readonly=True)
    try:
        for h in history:
            run = runs[f"rec-{h['rec_id']:04d}"]
            assert run.config == h["params"]
            epochs = [(m["step"], m["value"]) for m in store.metrics(h["rec_id"], "val_accuracy")]
            assert [(row["epoch"], row["val_accuracy"]) for row in run.history] == epochs
            assert epochs and epochs[-1][0] == h["epochs_trained"]
            assert run.summary["val_accuracy"] == h["metric"] and run.summary["status"] == h["status"]
            assert run.summary["budget"] == h["budget"]
    finally:
        store.close()
    brain = runs[BRAIN_RUN]
    assert brain.summary["best_rec_id"] == digits_demo_run.result["best"]["rec_id"]
    assert brain.summary["final_evaluation/status"] == digits_demo_run.result["final_evaluation"]["status"]
    assert brain.summary[f"{EXPERIMENTS_TABLE}/nrows"] == len(history)
    assert "wandb:" not in digits_demo_run.stderr  # the terminal shows our progress, not wandb's chatter


def test_an_unknown_tracker_is_one_clear_error() -> None:
    with pytest.raises(ConfigurationError) as err:
        AutoMLSettings.parse({"automl_tracking": ["wandbb"]})
    assert "automl_settings.automl_tracking" in str(err.value) and "wandb" in str(err.value)


def test_tracked_run_files_hold_no_planted_secret(
    run_runner: RunRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """W&B gets the environment, never a secret's value into its files: config, history, summary, metadata."""
    planted = {
        "WANDB_API_KEY": "planted0123456789abcdef0123456789abcdef01",
        "NGC_API_KEY": "nvapi-PLANTED0123456789xyz",
    }
    for name, value in planted.items():
        monkeypatch.setenv(name, value)
    llm_key = "sk-PLANTEDplanted0123456789abcdefghijklmn"
    result = run_runner(
        {"automl_max_recommendations": 2, "automl_tracking": ["wandb"], "wandb_mode": "offline",
         "llm_api_key": llm_key},
        spec_overrides={"dataset.num_samples": 64},
    )  # fmt: skip
    run_dir = Path(result["workspace"])
    assert len(read_runs(run_dir / "tracking")) == 3  # two recommendations and the brain
    needles = [v.encode() for v in [*planted.values(), llm_key]]
    leaks = [str(p) for p in tmp_path.rglob("*") if p.is_file() and any(n in p.read_bytes() for n in needles)]
    assert leaks == []
