"""End to end: the real runner trains the real digits CNN on the local platform."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from tao_automl.runner import AutoMLRunner

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "skills" / "models" / "digits-cnn"


def _has_dotted_key(node: Any) -> bool:
    if isinstance(node, dict):
        return any("." in k or _has_dotted_key(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_has_dotted_key(v) for v in node)
    return False


@pytest.fixture(scope="module")
def digits_result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("digits")
    runner = AutoMLRunner(
        skill_dir=DIGITS,
        platform_sdk="local",
        workspace_dir=tmp / "ws",
        poll_interval=0.2,
        platform_options={"state_root": tmp / "jobs"},
    )
    return runner.run(
        automl_algorithm="bayesian",
        automl_settings={"automl_max_recommendations": 4, "automl_max_concurrent": 2, "automl_seed": 7},
        spec_overrides={"train.num_epochs": 3, "dataset.train_fraction": 0.4},
    )


def test_result_invariants(digits_result: dict[str, Any]) -> None:
    res = digits_result
    assert res["progress"]["completed"] == res["progress"]["total"] == 4
    assert res["progress"]["algorithm"] == "bayesian"
    metrics = [h["metric"] for h in res["history"] if h["status"] == "success"]
    assert metrics and all(math.isfinite(m) and 0.0 <= m <= 1.0 for m in metrics)
    assert res["best"]["metric_value"] == max(metrics)
    assert res["progress"]["best_metric"] == max(metrics)
    best_specs = res["best"]["specs"]
    assert isinstance(best_specs["train.optim.lr"], float) and best_specs["train.optim.lr"] > 0
    assert best_specs["train.num_epochs"] == 3


def test_baseline_and_final_evaluation(digits_result: dict[str, Any]) -> None:
    base, final = digits_result["baseline"], digits_result["final_evaluation"]
    assert base["status"] == "measured" and base["source"] == "default_config"
    assert 0.0 < base["metric_value"] <= 1.0
    # Validation ranks the recommendations; the evaluate action checks on the held-out test split.
    assert 0.0 < base["eval_metric_value"] <= 1.0 and base["eval_data"] == {"evaluate.split": "test"}
    assert base["comparison_to_best"]["direction"] == "maximize"
    expected = digits_result["best"]["metric_value"] - base["metric_value"]
    assert base["comparison_to_best"]["delta"] == pytest.approx(expected)
    assert final["status"] == "measured" and final["source"] == "evaluate_action"
    assert final["eval_data"] == {"evaluate.split": "test"} and 0.0 < final["metric_value"] <= 1.0
    assert final["selection_metric_value"] == digits_result["best"]["metric_value"]
    assert final["comparison_to_baseline"]["improved"] == (final["metric_value"] > base["eval_metric_value"])


def test_workspace_holds_every_spec_log_and_result(digits_result: dict[str, Any]) -> None:
    run_dir = Path(digits_result["workspace"])
    assert (run_dir / "result.json").is_file()
    assert (run_dir / "evaluations" / "baseline.json").is_file()
    assert (run_dir / "evaluations" / "final.json").is_file()
    for h in digits_result["history"]:
        rec_dir = run_dir / "recs" / f"{h['rec_id']:04d}"
        spec = yaml.safe_load((rec_dir / "spec.yaml").read_text())
        assert not _has_dotted_key(spec)
        assert spec["train"]["optim"]["lr"] == pytest.approx(h["params"]["train.optim.lr"])
        assert "val_accuracy=" in (rec_dir / "train.log").read_text()
        assert h["checkpoint"] and Path(h["checkpoint"]).name == "model_epoch_003.pth"
