"""The AutoML runner end to end: the real runner, the local platform, real processes.

Everything runs on the quadratic test network (tests/fixtures/skills/quadratic), whose loss is
closed-form: ``(x-0.3)^2 + (y+0.2)^2 + (log10(lr)+2)^2/10 + 0.01/epoch``. Its defaults (x=0, y=0,
lr=0.01, 3 epochs) give exactly 0.09 + 0.04 + 0 + 0.01/3, so baselines can be checked to the digit.
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import RunRunner, SubprocessSdk, make_runner

from tao_automl.errors import MetricMissingError, NoSuccessfulRecommendationError
from tao_automl.platforms import JobStatus
from tao_automl.platforms.local import LocalPlatform
from tao_automl.results import BASELINE_STATUSES, FINAL_STATUSES, query_status
from tao_automl.runner import AutoMLRunner
from tao_automl.store import Store
from tao_automl.workspace import STATE_FILE

DEFAULT_LOSS = 0.09 + 0.04 + 0.01 / 3  # the template's x=0, y=0, lr=0.01 after 3 epochs
NO_EXTRAS = {"automl_baseline": False, "automl_final_eval": False}
#: With 64 samples every batch size of the schema trains (the default 40 makes batch 64 invalid).
ALL_VALID = {"dataset.num_samples": 64}


def loss_of(params: dict[str, Any], epoch: int = 3) -> float:
    """The quadratic network's loss, computed here independently of the skill's scripts."""
    return (
        (params["train.x"] - 0.3) ** 2
        + (params["train.y"] + 0.2) ** 2
        + (math.log10(params["train.optim.lr"]) + 2) ** 2 / 10
        + 0.01 / epoch
    )


def dotted_keys(node: Any, prefix: str = "") -> list[str]:
    """Every mapping key (at any depth) that contains a dot."""
    if not isinstance(node, dict):
        return []
    found = []
    for key, value in node.items():
        if "." in str(key):
            found.append(prefix + str(key))
        found += dotted_keys(value, f"{prefix}{key}/")
    return found


def successes(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [h for h in result["history"] if h["status"] == "success"]


def recs_in_store(run_dir: Path, kind: str | None = "rec") -> list[dict[str, Any]]:
    store = Store(run_dir / STATE_FILE, readonly=True)
    try:
        return store.recs(kind)
    finally:
        store.close()


def only_run_dir(workspace_root: Path) -> Path:
    runs = sorted(workspace_root.glob("run_*"))
    assert len(runs) == 1, runs
    return runs[0]


# ---- result shape ------------------------------------------------------------------------------


def test_result_dict_has_the_published_shape(run_runner: RunRunner) -> None:
    # 64 samples: every batch size of the schema is valid, so all four recommendations must succeed
    result = run_runner({"automl_max_recommendations": 4}, spec_overrides=ALL_VALID)

    assert {"best", "progress", "baseline", "final_evaluation", "history"} <= set(result)
    assert {"rec_id", "specs", "metric_value", "adjustments"} <= set(result["best"])
    assert {"completed", "total", "best_metric", "best_rec_id", "algorithm"} <= set(result["progress"])
    assert {"enabled", "metric_name", "metric_value", "status", "comparison_to_best"} <= set(result["baseline"])
    final_keys = {"enabled", "metric_name", "metric_value", "status", "reason", "comparison_to_baseline"}
    assert final_keys <= set(result["final_evaluation"])
    history_keys = {"rec_id", "specs", "metric", "status", "failure_reason", "adjustments", "job_id", "budget"}
    assert len(result["history"]) == 4
    for entry in result["history"]:
        assert history_keys <= set(entry), history_keys - set(entry)

    progress = result["progress"]
    assert progress["completed"] == progress["total"] == 4
    assert progress["algorithm"] == "random"
    assert [h["rec_id"] for h in result["history"]] == [1, 2, 3, 4]
    assert all(h["status"] == "success" and h["budget"] == 3 and h["job_id"] for h in result["history"])

    # every metric is the closed-form loss of the recommendation's own parameters
    for entry in result["history"]:
        assert entry["metric"] == pytest.approx(loss_of(entry["params"]), abs=1e-9)
    best_entry = min(successes(result), key=lambda h: h["metric"])
    assert result["best"]["rec_id"] == best_entry["rec_id"] == progress["best_rec_id"]
    assert result["best"]["metric_value"] == best_entry["metric"] == progress["best_metric"]

    # best.specs is dotted and carries the recommendation's parameters
    specs = result["best"]["specs"]
    assert specs["train.x"] == best_entry["params"]["train.x"]
    assert specs["dataset.batch_size"] == best_entry["params"]["dataset.batch_size"]
    assert "train" not in specs and not any(isinstance(v, dict) for v in specs.values())

    assert result["baseline"]["status"] in BASELINE_STATUSES
    assert result["final_evaluation"]["status"] in FINAL_STATUSES
    assert result["baseline"]["metric_name"] == result["final_evaluation"]["metric_name"] == "loss"

    # on disk: a nested spec.yaml (no dotted keys) and a log for every recommendation
    run_dir = Path(result["workspace"])
    for entry in result["history"]:
        rec_dir = run_dir / "recs" / f"{entry['rec_id']:04d}"
        spec = yaml.safe_load((rec_dir / "spec.yaml").read_text())
        assert dotted_keys(spec) == []
        assert spec["train"]["x"] == entry["params"]["train.x"]
        assert spec["train"]["optim"]["lr"] == entry["params"]["train.optim.lr"]
        assert spec["results_dir"] == str(rec_dir / "results")
        log = (rec_dir / "train.log").read_text()
        assert "epoch 3/3 loss=" in log
    for label in ("baseline", "baseline_eval", "final_eval"):
        assert dotted_keys(yaml.safe_load((run_dir / "recs" / label / "spec.yaml").read_text())) == []
    assert json.loads((run_dir / "result.json").read_text())["best"]["rec_id"] == result["best"]["rec_id"]


# ---- baseline ----------------------------------------------------------------------------------


def test_baseline_trains_the_default_config_and_final_eval_measures_the_best(run_runner: RunRunner) -> None:
    result = run_runner({"automl_max_recommendations": 2})
    baseline, final, best = result["baseline"], result["final_evaluation"], result["best"]

    assert baseline["enabled"] is True
    assert baseline["status"] == "measured"
    assert baseline["source"] == "default_config"
    assert baseline["metric_value"] == pytest.approx(DEFAULT_LOSS, abs=1e-9)
    assert baseline["eval_metric_value"] == pytest.approx(DEFAULT_LOSS, abs=1e-9)  # evaluate of its checkpoint
    assert baseline["comparison_to_best"]["delta"] == pytest.approx(DEFAULT_LOSS - best["metric_value"])
    assert baseline["comparison_to_best"]["improved"] is (best["metric_value"] < DEFAULT_LOSS)
    assert baseline["comparison_to_best"]["direction"] == "minimize"

    assert final["enabled"] is True
    assert final["status"] == "measured"
    assert final["source"] == "evaluate_action"
    assert final["rec_id"] == best["rec_id"]
    assert final["metric_value"] == pytest.approx(best["metric_value"], abs=1e-9)  # same checkpoint, same loss
    assert final["checkpoint"] == best["checkpoint"]
    assert final["checkpoint"].endswith("model_epoch_003.pth")
    # delta > 0 means better: for a loss that is baseline - final
    assert final["comparison_to_baseline"]["delta"] == pytest.approx(DEFAULT_LOSS - final["metric_value"])
    assert (Path(result["workspace"]) / "evaluations" / "final.json").is_file()


def test_baseline_can_be_skipped(run_runner: RunRunner) -> None:
    result = run_runner({"automl_max_recommendations": 1, "automl_baseline": False, "automl_final_eval": False})
    assert result["baseline"]["status"] == "skipped"
    assert result["baseline"]["enabled"] is False
    assert result["baseline"]["metric_value"] is None
    assert result["baseline"]["comparison_to_best"] is None
    assert not (Path(result["workspace"]) / "recs" / "baseline").exists()


def test_baseline_fn_value_is_provided_and_final_eval_fn_metadata_kept(run_runner: RunRunner) -> None:
    calls: list[tuple[Any, Any]] = []

    def final_eval_fn(best_rec: dict[str, Any], train_job_id: str) -> dict[str, Any]:
        calls.append((best_rec, train_job_id))
        return {"metric_value": 0.1, "record_path": "x"}

    result = run_runner(
        {"automl_max_recommendations": 2},
        baseline_fn=lambda spec: 0.5,
        final_eval_fn=final_eval_fn,
    )
    baseline, final, best = result["baseline"], result["final_evaluation"], result["best"]
    assert baseline["status"] == "provided"
    assert baseline["metric_value"] == 0.5
    assert baseline["comparison_to_best"]["delta"] == pytest.approx(0.5 - best["metric_value"])
    assert not (Path(result["workspace"]) / "recs" / "baseline").exists()

    assert len(calls) == 1
    assert calls[0][0]["rec_id"] == best["rec_id"]
    assert calls[0][1] == best["job_id"]
    assert final["status"] == "measured"
    assert final["metric_value"] == 0.1
    assert final["record_path"] == "x"
    assert final["source"] == "final_eval_fn"
    assert final["comparison_to_baseline"] == {"delta": pytest.approx(0.4), "improved": True, "direction": "minimize"}


def test_comparison_to_baseline_is_negative_when_final_is_worse(run_runner: RunRunner) -> None:
    result = run_runner(
        {"automl_max_recommendations": 1},
        baseline_fn=lambda spec: 0.2,
        final_eval_fn=lambda rec, job_id: 0.7,
    )
    comparison = result["final_evaluation"]["comparison_to_baseline"]
    assert comparison["delta"] == pytest.approx(-0.5)
    assert comparison["improved"] is False


def test_hook_metadata_cannot_override_status_or_source(run_runner: RunRunner) -> None:
    result = run_runner(
        {"automl_max_recommendations": 1},
        baseline_fn=lambda spec: {"metric_value": 0.5, "status": "ok", "source": "lab", "record_path": "b"},
        final_eval_fn=lambda rec, job_id: {"metric_value": 0.1, "status": "done", "source": "lab", "reason": "mine"},
    )
    baseline, final = result["baseline"], result["final_evaluation"]
    assert (baseline["status"], baseline["source"], baseline["record_path"]) == ("provided", "baseline_fn", "b")
    assert (final["status"], final["source"], final["reason"]) == ("measured", "final_eval_fn", "mine")
    assert final["metric_value"] == 0.1


def test_base_checkpoint_is_evaluated_as_the_baseline(run_runner: RunRunner, tmp_path: Path) -> None:
    checkpoint = tmp_path / "base" / "model_epoch_002.pth"
    checkpoint.parent.mkdir()
    checkpoint.write_text(json.dumps({"x": 0.3, "y": -0.2, "lr": 0.01, "epoch": 2}))

    result = run_runner({"automl_max_recommendations": 1, "automl_final_eval": False}, base_checkpoint=str(checkpoint))
    baseline = result["baseline"]
    assert baseline["status"] == "measured"
    assert baseline["source"] == "base_checkpoint_eval"
    assert baseline["checkpoint"] == str(checkpoint)
    assert baseline["metric_value"] == pytest.approx(0.005, abs=1e-12)  # only the 0.01/epoch term is left
    eval_spec = yaml.safe_load((Path(result["workspace"]) / "recs" / "baseline_eval" / "spec.yaml").read_text())
    assert eval_spec["evaluate"]["checkpoint"] == str(checkpoint)
    assert not (Path(result["workspace"]) / "recs" / "baseline").exists()  # no default-config training
    assert result["final_evaluation"]["status"] == "skipped"


# ---- final evaluation statuses -------------------------------------------------------------------


def _boom(rec: dict[str, Any], job_id: str) -> float:
    raise RuntimeError("evaluator exploded")


@pytest.mark.parametrize(
    ("settings", "final_eval_fn", "status", "reason_part"),
    [
        ({}, _boom, "callback_error", "evaluator exploded"),
        ({}, lambda rec, job_id: None, "metric_missing", "no metric_value"),
        ({"automl_final_eval": False}, None, "skipped", "automl_final_eval is false"),
    ],
    ids=["raises", "returns-none", "disabled"],
)
def test_final_evaluation_statuses(
    run_runner: RunRunner, settings: dict[str, Any], final_eval_fn: Any, status: str, reason_part: str
) -> None:
    result = run_runner(
        {"automl_max_recommendations": 1, "automl_baseline": False, **settings}, final_eval_fn=final_eval_fn
    )
    final = result["final_evaluation"]
    assert final["status"] == status
    assert reason_part in final["reason"]
    assert final["metric_value"] is None
    assert final["comparison_to_baseline"] is None
    assert final["enabled"] is (status != "skipped")
    assert result["best"]["rec_id"] == 1  # the run itself still succeeded
    assert not (Path(result["workspace"]) / "recs" / "final_eval").exists()


# ---- metric sources ----------------------------------------------------------------------------


def test_eval_fn_is_the_metric_source(run_runner: RunRunner) -> None:
    calls: list[tuple[dict[str, Any], str]] = []

    def eval_fn(rec: dict[str, Any], train_job_id: str) -> float:
        calls.append((rec, train_job_id))
        return 10.0 + rec["params"]["train.x"]

    result = run_runner({"automl_max_recommendations": 3, **NO_EXTRAS}, eval_fn=eval_fn, spec_overrides=ALL_VALID)
    history = result["history"]
    assert len(calls) == 3
    assert {c[1] for c in calls} == {h["job_id"] for h in history}
    for entry in history:
        assert entry["metric_source"] == "eval_fn"
        assert entry["metric"] == pytest.approx(10.0 + entry["params"]["train.x"])
    assert result["best"]["metric_value"] == min(h["metric"] for h in history)


def test_metric_extractor_wins_over_result_files(run_runner: RunRunner) -> None:
    asked: list[str] = []

    def extractor(logs: str, metric_name: str) -> float | None:
        asked.append(metric_name)
        for line in logs.splitlines():
            if line.startswith("quadratic: x="):
                return 100.0 + float(line.split("x=")[1].split()[0])
        return None

    result = run_runner(
        {"automl_max_recommendations": 2, **NO_EXTRAS}, metric_extractor=extractor, spec_overrides=ALL_VALID
    )
    assert set(asked) == {"loss"}
    for entry in result["history"]:
        assert entry["metric_source"] == "metric_extractor"
        assert entry["metric"] == pytest.approx(100.0 + entry["params"]["train.x"])  # not the status.json loss


def test_three_metricless_successes_abort_the_run(quadratic_skill: Path, tmp_path: Path) -> None:
    runner = make_runner(quadratic_skill, tmp_path)
    with pytest.raises(MetricMissingError) as info:
        runner.run(
            automl_algorithm="random",
            automl_settings={"automl_max_recommendations": 8, "automl_max_concurrent": 1, "automl_baseline": False},
            spec_overrides={"train.fail_mode": "nometric"},
        )
    assert "'loss'" in str(info.value)
    assert info.value.field == "automl_settings.metric"
    assert "metric_extractor" in (info.value.hint or "")

    status = query_status(tmp_path / "ws")
    assert status["state"] == "failed"
    assert "'loss'" in status["progress"]["stop_reason"]
    recs = recs_in_store(only_run_dir(tmp_path / "ws"))
    assert [r["rec_id"] for r in recs] == [1, 2, 3]
    assert all(r["failure_class"] == "metric_missing" for r in recs)
    assert all("no 'loss'" in r["failure_reason"] for r in recs)


def test_a_raising_metric_extractor_fails_that_recommendation_only(quadratic_skill: Path, tmp_path: Path) -> None:
    def extractor(logs: str, metric_name: str) -> float:
        raise RuntimeError("extractor bug")

    runner = make_runner(quadratic_skill, tmp_path)
    with pytest.raises(NoSuccessfulRecommendationError):
        runner.run(
            automl_algorithm="random",
            automl_settings={"automl_max_recommendations": 2, **NO_EXTRAS},
            metric_extractor=extractor,
        )
    status = query_status(tmp_path / "ws")
    assert status["state"] == "failed"
    assert [f["failure_class"] for f in status["failures"]] == ["metric_extractor_error"] * 2
    assert "RuntimeError: extractor bug" in status["failures"][0]["failure_reason"]


def test_a_raising_observer_hook_is_recorded_and_the_run_goes_on(run_runner: RunRunner, tmp_path: Path) -> None:
    def on_result(rec: dict[str, Any]) -> None:
        raise RuntimeError("hook bug")

    result = run_runner({"automl_max_recommendations": 2, **NO_EXTRAS}, on_result=on_result)
    assert result["progress"]["completed"] == 2
    store = Store(Path(result["workspace"]) / STATE_FILE, readonly=True)
    try:
        errors = [e["payload"] for e in store.events("hook_error")]
    finally:
        store.close()
    assert [e["hook"] for e in errors] == ["on_result", "on_result"]
    assert errors[0]["error"] == "RuntimeError: hook bug"


class _BrokenPlatform(LocalPlatform):
    """A platform whose status call breaks after the first job: an unexpected error inside the loop."""

    name = "broken-for-test"

    def _status(self, job_id: str) -> JobStatus:
        raise RuntimeError("status backend exploded")


def test_an_unexpected_error_leaves_the_workspace_marked_failed(quadratic_skill: Path, tmp_path: Path) -> None:
    runner = AutoMLRunner(
        _BrokenPlatform(state_root=tmp_path / "jobs"),
        quadratic_skill,
        workspace_dir=tmp_path / "ws",
        poll_interval=0.05,
    )
    with pytest.raises(RuntimeError, match="status backend exploded"):
        runner.run(automl_algorithm="random", automl_settings={"automl_max_recommendations": 1, **NO_EXTRAS})
    status = query_status(tmp_path / "ws")
    assert status["state"] == "failed"  # not "running" forever for job_status / MCP readers
    assert status["progress"]["stop_reason"] == "RuntimeError: status backend exploded"


# ---- failures ----------------------------------------------------------------------------------


def test_crashes_are_model_code_failures_and_the_run_continues(run_runner: RunRunner) -> None:
    result = run_runner(
        {"automl_max_recommendations": 4, "automl_seed": 4, **NO_EXTRAS},
        automl_hyperparameters=["train.x", "train.y", "train.fail_mode"],
        custom_param_ranges={"train.fail_mode": {"valid_options": ["none", "crash"]}},
    )
    history = result["history"]
    assert len(history) == 4
    crashed = [h for h in history if h["params"]["train.fail_mode"] == "crash"]
    fine = [h for h in history if h["params"]["train.fail_mode"] == "none"]
    assert crashed and fine  # seed 4 draws none, none, crash, none
    for entry in crashed:
        assert entry["status"] == "failure"
        assert entry["failure_class"] == "model_code"
        assert "simulated crash" in entry["failure_reason"]
        assert entry["metric"] is None
    for entry in fine:
        assert entry["status"] == "success"
        assert entry["metric"] == pytest.approx(
            (entry["params"]["train.x"] - 0.3) ** 2 + (entry["params"]["train.y"] + 0.2) ** 2 + 0.01 / 3
        )
    assert result["best"]["rec_id"] in {h["rec_id"] for h in fine}
    assert result["progress"]["completed"] == 4


def test_all_failing_raises_with_the_failed_ids(quadratic_skill: Path, tmp_path: Path) -> None:
    runner = make_runner(quadratic_skill, tmp_path)
    with pytest.raises(NoSuccessfulRecommendationError) as info:
        runner.run(
            automl_algorithm="random",
            automl_settings={"automl_max_recommendations": 3, "automl_max_concurrent": 3, **NO_EXTRAS},
            spec_overrides={"train.fail_mode": "crash"},
        )
    assert "[1, 2, 3]" in str(info.value)
    assert "recs/<id>" in (info.value.hint or "")
    recs = recs_in_store(only_run_dir(tmp_path / "ws"))
    assert [(r["status"].value, r["failure_class"]) for r in recs] == [("failure", "model_code")] * 3


# ---- batch capping -----------------------------------------------------------------------------


def test_train_sample_count_caps_batch_sizes(run_runner: RunRunner) -> None:
    result = run_runner(
        {"automl_max_recommendations": 4, "automl_max_concurrent": 4, "automl_seed": 3, "train_sample_count": 20},
        # the network really has 20 samples: an uncapped 32 or 64 would fail with zero training steps
        spec_overrides={"dataset.num_samples": 20},
    )
    history = result["history"]
    assert all(h["status"] == "success" for h in history)
    drawn = [h["params"]["dataset.batch_size"] for h in history]
    assert any(b > 20 for b in drawn) and any(b <= 20 for b in drawn)  # seed 3 draws 32, 64, 16, 8
    run_dir = Path(result["workspace"])
    for entry in history:
        batch = entry["params"]["dataset.batch_size"]
        on_disk = yaml.safe_load((run_dir / "recs" / f"{entry['rec_id']:04d}" / "spec.yaml").read_text())
        if batch > 20:
            assert entry["adjustments"] == [
                {
                    "type": "effective_batch_cap",
                    "key": "dataset.batch_size",
                    "from": batch,
                    "to": 20,
                    "sample_count": 20,
                    "shards": 1,
                    "reason": entry["adjustments"][0]["reason"],
                }
            ]
            assert "20 samples" in entry["adjustments"][0]["reason"]
        else:
            assert entry["adjustments"] == []
        assert entry["specs"]["dataset.batch_size"] == min(batch, 20)
        assert on_disk["dataset"]["batch_size"] == min(batch, 20)
    # the default-config baseline (batch 32) is capped the same way
    assert result["baseline"]["status"] == "measured"
    baseline_rec = recs_in_store(run_dir, "baseline")[0]
    assert baseline_rec["specs"]["dataset.batch_size"] == 20
    assert baseline_rec["adjustments"][0]["from"] == 32


def test_zero_samples_make_every_recommendation_invalid_and_launch_nothing(
    quadratic_skill: Path, tmp_path: Path
) -> None:
    runner = make_runner(quadratic_skill, tmp_path)
    with pytest.raises(NoSuccessfulRecommendationError):
        runner.run(
            automl_algorithm="random",
            automl_settings={
                "automl_max_recommendations": 10,
                "automl_max_concurrent": 2,
                "automl_max_consecutive_failures": 3,
                "train_sample_count": 0,
            },
        )
    run_dir = only_run_dir(tmp_path / "ws")
    recs = recs_in_store(run_dir)
    assert [r["rec_id"] for r in recs] == [1, 2, 3]  # stops at automl_max_consecutive_failures
    for rec in recs:
        assert rec["status"].value == "invalid_configuration"
        assert rec["failure_class"] == "invalid_configuration"
        assert "zero training steps" in rec["failure_reason"]
    assert not (run_dir / "recs").exists() or not any((run_dir / "recs").iterdir())  # no job dir, no log
    status = query_status(run_dir)
    assert "3 recommendations in a row failed" in status["progress"]["stop_reason"]
    assert status["baseline"]["status"] == "failure"  # the baseline cannot run with zero samples either
    store = Store(run_dir / STATE_FILE, readonly=True)
    try:
        assert store.jobs() == []
    finally:
        store.close()


# ---- parallelism -------------------------------------------------------------------------------


def test_three_jobs_run_at_once_and_bayesian_parallel_proposals_differ(run_runner: RunRunner) -> None:
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def listener(event: str, data: dict[str, Any]) -> None:
        nonlocal in_flight, peak
        with lock:
            if event == "submitted" and data["role"] == "train":
                in_flight += 1
                peak = max(peak, in_flight)
            elif event == "result":
                in_flight -= 1

    result = run_runner(
        {"automl_max_recommendations": 6, "automl_max_concurrent": 3, **NO_EXTRAS},
        algorithm="bayesian",
        spec_overrides={"train.fail_mode": "sleep", "train.sleep_seconds": 0.3, **ALL_VALID},
        listeners=[listener],
    )
    history = result["history"]
    assert peak == 3
    assert all(h["status"] == "success" and h["duration_s"] >= 0.9 for h in history)
    # from the recorded timestamps: the most recommendations running at one instant
    overlap = max(sum(1 for o in history if o["started_at"] <= h["started_at"] < o["finished_at"]) for h in history)
    assert overlap == 3
    # 3 startup draws, then 3 model proposals asked together while the others were pending
    params = [json.dumps(h["params"], sort_keys=True) for h in history]
    assert len(set(params)) == 6
    assert len({json.dumps(h["params"], sort_keys=True) for h in history[3:]}) == 3
    assert [h["note"] for h in history[3:]] == ["gp proposal"] * 3
    # and they are spread out, not the same point nudged apart: measured min distance 0.92-1.42 (seeds 7, 1, 2)
    points = [(p["train.x"], p["train.y"], math.log10(p["train.optim.lr"])) for p in (h["params"] for h in history)]
    assert min(math.dist(a, b) for a, b in itertools.combinations(points[3:], 2)) > 0.1


# ---- the older call spelling with a duck-typed SDK ---------------------------------------------


def test_older_call_spelling_with_a_duck_typed_sdk(quadratic_skill: Path, tmp_path: Path) -> None:
    sdk = SubprocessSdk(tmp_path)
    runner = AutoMLRunner(sdk, quadratic_skill, action="train", poll_interval=0.05)
    result = runner.run(
        "random",
        {"automl_max_recommendations": 2, "automl_max_concurrent": 2},
        ALL_VALID,
        workspace_path=tmp_path / "legacy_ws",
        resume=False,
    )
    assert Path(result["workspace"]).parent == (tmp_path / "legacy_ws").resolve()
    assert [h["status"] for h in result["history"]] == ["success", "success"]
    for entry in result["history"]:
        assert entry["metric"] == pytest.approx(loss_of(entry["params"]), abs=1e-9)
        assert entry["job_id"].startswith("sdk-")
    assert result["baseline"]["status"] == "measured"
    assert result["baseline"]["metric_value"] == pytest.approx(DEFAULT_LOSS, abs=1e-9)
    assert result["final_evaluation"]["status"] == "measured"
    assert result["final_evaluation"]["metric_value"] == pytest.approx(result["best"]["metric_value"])
    # baseline train + baseline eval + 2 recommendations + final eval, all through the SDK
    assert len(sdk.calls) == 5
    assert all(call["image"] is None and "scripts/" in call["command"] for call in sdk.calls)
    assert sum("evaluate.py" in call["command"] for call in sdk.calls) == 2
    # the adapter mirrors each job's log into the workspace
    assert "epoch 3/3 loss=" in (Path(result["workspace"]) / "recs" / "0001" / "train.log").read_text()


# ---- timeout -----------------------------------------------------------------------------------


def test_job_timeout_cancels_a_sleeping_job(quadratic_skill: Path, tmp_path: Path) -> None:
    runner = make_runner(quadratic_skill, tmp_path)
    with pytest.raises(NoSuccessfulRecommendationError):
        runner.run(
            automl_algorithm="random",
            automl_settings={"automl_max_recommendations": 1, "automl_job_timeout": 0.5, **NO_EXTRAS},
            spec_overrides={"train.fail_mode": "sleep", "train.sleep_seconds": 5.0},
        )
    rec = recs_in_store(only_run_dir(tmp_path / "ws"))[0]
    assert rec["status"].value == "failure"
    assert rec["failure_class"] == "timeout"
    assert "automl_job_timeout (0.5s)" in rec["failure_reason"]
    assert rec["finished_at"] - rec["started_at"] < 4.0  # canceled, not waited for
    status_lines = (only_run_dir(tmp_path / "ws") / "recs" / "0001" / "results" / "status.json").read_text()
    assert '"epoch": 1' not in status_lines  # killed during its first 5 s epoch


# ---- live status from another process -----------------------------------------------------------

QUERY = "import json, sys; from tao_automl.results import query_status; print(json.dumps(query_status(sys.argv[1])))"


def test_query_status_from_another_process_during_a_run(run_runner: RunRunner, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def listener(event: str, data: dict[str, Any]) -> None:
        # Runs inside the runner's loop: while the second job is being started, ask a separate process.
        if event == "submitted" and data["role"] == "train" and data["rec_id"] == 2 and not seen:
            proc = subprocess.run(
                [sys.executable, "-c", QUERY, str(tmp_path / "ws")],
                capture_output=True,
                text=True,
                timeout=60,
            )
            seen["returncode"], seen["stderr"] = proc.returncode, proc.stderr
            seen["status"] = json.loads(proc.stdout) if proc.returncode == 0 else None

    result = run_runner(
        {"automl_max_recommendations": 2, "automl_max_concurrent": 2, **NO_EXTRAS},
        spec_overrides={"train.fail_mode": "sleep", "train.sleep_seconds": 0.2},
        listeners=[listener],
    )
    assert seen["returncode"] == 0, seen["stderr"]
    status = seen["status"]
    assert status["state"] == "running"
    assert status["workspace"] == result["workspace"]
    assert status["progress"]["completed"] == 0
    assert status["progress"]["total"] == 2
    assert sorted(job["rec_id"] for job in status["running_jobs"]) == [1, 2]
    assert [job["job_id"] for job in sorted(status["running_jobs"], key=lambda j: j["rec_id"])] == [
        h["job_id"] for h in result["history"]
    ]
    assert query_status(tmp_path / "ws")["state"] == "complete"


# ---- search quality ----------------------------------------------------------------------------


def test_bayesian_beats_random_on_the_quadratic(run_runner: RunRunner) -> None:
    # Measured (seed 2, 16 recommendations, 2 concurrent, no baseline warm start): random 0.0861,
    # bayesian 0.0160, identical over three repetitions; the optimum is 0.01/3 = 0.0033.
    settings = {"automl_max_recommendations": 16, "automl_max_concurrent": 2, "automl_seed": 2, **NO_EXTRAS}
    random_run = run_runner(settings, algorithm="random")
    bayesian = run_runner(settings, algorithm="bayesian")
    random_best, bayes_best = random_run["best"]["metric_value"], bayesian["best"]["metric_value"]
    assert bayes_best < 0.05
    assert bayes_best < random_best
    assert len(bayesian["history"]) == 16
    assert len({json.dumps(h["params"], sort_keys=True) for h in bayesian["history"]}) == 16
    # batch 64 > the 40 samples: the job exits with "invalid configuration", and the rec is marked so
    for entry in random_run["history"] + bayesian["history"]:
        too_big = entry["params"]["dataset.batch_size"] > 40
        assert entry["status"] == ("invalid_configuration" if too_big else "success")
    assert any(h["params"]["dataset.batch_size"] == 64 for h in random_run["history"])
