"""The launch-review estimate: schedule arithmetic, multi-fidelity simulation, cuts, and real measurement.

The measurement tests run the quadratic test network for real on the local platform (stdlib-only
jobs of a few tens of milliseconds; ``fail_mode: sleep`` makes every epoch take a known time).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tao_automl.estimate import (
    Timing,
    baseline_blockers,
    first_batch,
    local_contention,
    measure_default_config,
    plan_run,
    timing_from_record,
)
from tao_automl.estimate import (
    estimate_run as _estimate_run,
)
from tao_automl.runner import AutoMLRunner
from tao_automl.skill import ModelSkill
from tao_automl.store import Store
from tao_automl.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "skills" / "models" / "digits-cnn"
QUADRATIC = Path(__file__).resolve().parent / "fixtures" / "skills" / "quadratic"
MEASURED = {"status": "measured", "metric_value": 1.0, "source": "default_config", "metric_name": "loss"}


def estimate_run(*args: Any, **kwargs: Any) -> Any:
    """Deterministic: an idle machine with plenty of cores unless a test says otherwise."""
    kwargs.setdefault("background_load", 0.0)
    kwargs.setdefault("cpu_count", 64)
    return _estimate_run(*args, **kwargs)


def _quadratic(**kwargs: Any) -> Any:
    kwargs.setdefault("algorithm", "random")
    kwargs.setdefault("settings", {"automl_max_recommendations": 5, "automl_max_concurrent": 2, "automl_seed": 3})
    return plan_run(QUADRATIC, **kwargs)


def test_uniform_schedule_is_waves_of_equal_jobs() -> None:
    run = _quadratic()
    timing = Timing(per_epoch_s=10.0, startup_s=5.0, eval_s=3.0)
    est = estimate_run(run, timing, baseline=MEASURED, poll_interval=0.0, gpus_per_job=2, price_per_gpu_hour=4.0)
    job = 5.0 + 3 * 10.0  # the template trains 3 epochs
    assert est.recommendations == 5 and est.epochs_per_recommendation == 3 and est.total_epochs == 15
    assert est.wall_s == pytest.approx(math.ceil(5 / 2) * job + 3.0)  # three waves, then the final evaluation
    assert est.job_hours == pytest.approx((5 * job + 3.0) / 3600)
    assert est.gpu_hours == pytest.approx(2 * est.job_hours)
    assert est.cost == pytest.approx(4.0 * est.gpu_hours)
    assert est.fits is None and est.cuts == []
    assert any("per-epoch 10 s" in a for a in est.assumptions)


def test_a_run_without_a_measured_baseline_trains_it_first() -> None:
    run = _quadratic()
    timing = Timing(per_epoch_s=10.0, startup_s=5.0, eval_s=3.0)
    reused = estimate_run(run, timing, baseline=MEASURED, poll_interval=0.0)
    own = estimate_run(run, timing, baseline=None, poll_interval=0.0)
    assert own.wall_s > reused.wall_s
    assert any("own default-config baseline" in a for a in own.assumptions)


def test_poll_interval_and_contention_are_counted() -> None:
    run = _quadratic(settings={"automl_max_recommendations": 4, "automl_max_concurrent": 4})
    timing = Timing(per_epoch_s=1.0, startup_s=1.0, eval_s=1.0)
    calm = estimate_run(run, timing, baseline=MEASURED, poll_interval=0.0, cpu_count=4, background_load=0)
    crowded = estimate_run(run, timing, baseline=MEASURED, poll_interval=0.0, cpu_count=2, background_load=0)
    polled = estimate_run(run, timing, baseline=MEASURED, poll_interval=4.0, cpu_count=4, background_load=0)
    assert crowded.wall_s == pytest.approx(calm.wall_s + 4.0) and any("on 2 cores" in a for a in crowded.assumptions)
    assert polled.wall_s == pytest.approx(calm.wall_s + 2.0 + 2.0)  # half a poll per job, min(poll, 2) at the end


def test_local_contention_model() -> None:
    assert local_contention(2, 2, 0.0) == 1.0  # two jobs, two idle cores
    assert local_contention(4, 2, 0.0) == 2.0
    assert local_contention(2, 2, 1.0) == pytest.approx(1.5)  # the timed job had a core; now 3 share 2
    assert local_contention(1, 2, 5.0) == 1.0


def test_multi_fidelity_schedule_is_simulated_from_the_algorithm() -> None:
    run = _quadratic(algorithm="hyperband", settings={"automl_max_epochs": 9, "automl_max_concurrent": 3})
    est = estimate_run(run, Timing(per_epoch_s=1.0, startup_s=0.0), baseline=MEASURED, poll_interval=0.0)
    assert est.recommendations == run.total  # the schedule's own number of recommendations
    assert "simulated" in est.schedule and est.epochs_per_recommendation is None
    # Promotions resume their parent's checkpoint: far fewer epochs than every rec at the full budget.
    assert 0 < est.total_epochs < est.recommendations * 9


def test_cuts_fit_the_limit_and_their_changes_really_fit() -> None:
    settings = {"automl_max_recommendations": 8, "automl_max_concurrent": 2, "automl_seed": 1}
    overrides = {"train.num_epochs": 10}
    run = plan_run(DIGITS, algorithm="random", settings=settings, spec_overrides=overrides)
    timing = Timing(per_epoch_s=60.0, startup_s=30.0, eval_s=30.0)
    full = estimate_run(run, timing, baseline=MEASURED | {"metric_name": "val_accuracy"}, poll_interval=0.0)
    limit = full.wall_s / 2
    est = estimate_run(run, timing, baseline=MEASURED, poll_interval=0.0, time_limit_s=limit)
    assert est.fits is False
    cuts = {c.kind: c for c in est.cuts}
    assert set(cuts) == {
        "fewer_recommendations",
        "fewer_epochs",
        "smaller_dataset",
        "fewer_validations",
        "narrower_space",
    }
    for kind in ("fewer_recommendations", "fewer_epochs", "smaller_dataset", "narrower_space"):
        assert cuts[kind].fits and cuts[kind].wall_s <= limit, kind
    assert not cuts["fewer_validations"].fits  # digits has no validation-interval key
    assert cuts["smaller_dataset"].changes["spec_overrides"]["dataset.train_fraction"] < 1.0
    # Applying a cut's changes and estimating again lands inside the limit.
    for kind in ("fewer_recommendations", "fewer_epochs", "smaller_dataset", "narrower_space"):
        changes = cuts[kind].changes
        again = plan_run(
            DIGITS,
            algorithm="random",
            settings={**settings, **changes.get("settings", {})},
            spec_overrides={**overrides, **changes.get("spec_overrides", {})},
            hyperparameters=changes.get("automl_hyperparameters"),
        )
        scaled = timing
        if kind == "smaller_dataset":  # a new measurement would see shorter epochs: scale them by the fraction
            fraction = changes["spec_overrides"]["dataset.train_fraction"]
            scaled = timing.model_copy(update={"per_epoch_s": timing.per_epoch_s * fraction})
        assert estimate_run(again, scaled, baseline=MEASURED, poll_interval=0.0).wall_s <= limit * 1.0001, kind


def test_a_start_up_bound_limit_says_so() -> None:
    run = _quadratic()
    est = estimate_run(
        run, Timing(per_epoch_s=0.01, startup_s=100.0), baseline=MEASURED, poll_interval=0.0, time_limit_s=50.0
    )
    cuts = {c.kind: c for c in est.cuts}
    assert not cuts["smaller_dataset"].fits and "start-up" in cuts["smaller_dataset"].description
    assert not cuts["fewer_recommendations"].fits


def test_first_batch_is_exactly_what_the_runner_launches(tmp_path: Path) -> None:
    """Same algorithm, seed and warm start: the review's first batch is the run's first recommendations."""
    settings = {"automl_max_recommendations": 2, "automl_max_concurrent": 2, "automl_seed": 11}
    run = plan_run(QUADRATIC, algorithm="bayesian", settings=settings)
    batch = first_batch(run, MEASURED)
    assert len(batch) == 2
    runner = AutoMLRunner(
        skill_dir=QUADRATIC,
        platform_sdk="local",
        workspace_dir=tmp_path / "ws",
        poll_interval=0.05,
        platform_options={"state_root": tmp_path / "jobs"},
    )
    result = runner.run(automl_algorithm="bayesian", automl_settings=settings, baseline_record=dict(MEASURED))
    assert [h["params"] for h in result["history"][:2]] == [p.params for p in batch]
    # The given baseline is the run's baseline: kept as measured, its origin noted, nothing trained for it.
    base = result["baseline"]
    assert base["status"] == "measured" and base["metric_value"] == 1.0 and base["provided_by"] == "baseline_record"
    store = Store(Workspace.open_existing(result["workspace"]).state_path, readonly=True)
    try:
        assert {j["role"] for j in store.jobs()} == {"train", "final_eval"}
    finally:
        store.close()


def test_a_baseline_record_for_another_metric_is_not_used(tmp_path: Path) -> None:
    runner = AutoMLRunner(
        skill_dir=QUADRATIC,
        platform_sdk="local",
        workspace_dir=tmp_path / "ws",
        poll_interval=0.05,
        platform_options={"state_root": tmp_path / "jobs"},
    )
    result = runner.run(
        automl_algorithm="random",
        automl_settings={"automl_max_recommendations": 1},
        baseline_record=MEASURED | {"metric_name": "accuracy"},
    )
    assert result["baseline"]["status"] == "unavailable" and "accuracy" in result["baseline"]["reason"]


def test_measure_times_start_up_and_epochs_separately(tmp_path: Path) -> None:
    overrides = {"train.fail_mode": "sleep", "train.sleep_seconds": 0.4, "train.num_epochs": 3}
    record = measure_default_config(QUADRATIC, tmp_path / "m", spec_overrides=overrides)
    assert record["status"] == "measured" and record["source"] == "default_config"
    assert record["metric_name"] == "loss" and isinstance(record["metric_value"], float)
    assert record["eval_metric_value"] == pytest.approx(record["metric_value"])
    assert Path(record["checkpoint"]).name == "model_epoch_003.pth"
    timing = record["timing"]
    assert 0.3 <= timing["per_epoch_s"] <= 1.0, timing
    assert timing["wall_s"] >= 3 * 0.4 and timing["eval_s"] > 0
    t = timing_from_record(record, process_start_s=0.5, source="baseline")
    assert t is not None and t.per_epoch_s == timing["per_epoch_s"] and t.process_start_s == 0.5


def test_measure_reports_a_failed_job_with_its_class(tmp_path: Path) -> None:
    record = measure_default_config(QUADRATIC, tmp_path / "m", spec_overrides={"train.fail_mode": "crash"})
    assert record["status"] == "failure" and record["failure_class"]
    assert "failed" in record["reason"] and record["job_id"]


def test_probe_times_the_train_action_only(tmp_path: Path) -> None:
    record = measure_default_config(QUADRATIC, tmp_path / "p", probe_epochs=2, evaluate=False)
    assert record["status"] == "measured" and record["timing"]["epochs"] == 2
    assert "eval_job_id" not in record and record["specs"]["train.num_epochs"] == 2


def test_baseline_blockers(tao_skill_writer: Any) -> None:
    skill = ModelSkill.load(tao_skill_writer())  # a train action only
    assert baseline_blockers(skill, checkpoint=None, train_uri=None, eval_uri=None) == []
    assert "no evaluate action" in baseline_blockers(skill, checkpoint="/x.pth", train_uri=None, eval_uri=None)[0]
    skill.info.data_sources = {"train": {"dataset.val": {"source": "eval_dataset", "path": "val"}}}
    assert "no eval data" in baseline_blockers(skill, checkpoint=None, train_uri=None, eval_uri=None)[0]
    assert baseline_blockers(skill, checkpoint=None, train_uri=None, eval_uri="/data") == []


def test_detached_measurement_writes_its_record(tmp_path: Path) -> None:
    request = {"skill_dir": str(QUADRATIC), "out_dir": str(tmp_path / "m"), "probe_epochs": 1, "evaluate": False}
    (tmp_path / "req.json").write_text(json.dumps(request))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tao_automl.estimate",
            "measure",
            str(tmp_path / "req.json"),
            str(tmp_path / "out.json"),
        ],
        check=True,
        timeout=120,
    )
    record = json.loads((tmp_path / "out.json").read_text())
    assert record["status"] == "measured" and record["process_started_at"] <= record["finished_at"]
    (tmp_path / "bad.json").write_text(json.dumps({**request, "spec_overrides": {"train.nope": 1}}))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tao_automl.estimate",
            "measure",
            str(tmp_path / "bad.json"),
            str(tmp_path / "bad_out.json"),
        ],
        check=True,
        timeout=120,
    )
    bad = json.loads((tmp_path / "bad_out.json").read_text())
    assert bad["status"] == "unavailable" and "train.nope" in bad["reason"]
