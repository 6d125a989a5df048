"""MetricResolver: where a job's metric comes from, and which values are refused."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tao_automl.metrics import MetricResolver, as_metric, comparison


def status_line(**fields: Any) -> str:
    return json.dumps({"status": "RUNNING", "verbosity": "INFO", "message": "Epoch finished", **fields})


def write(path: Path, text: str, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


# ---- as_metric ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.5, 0.5), (3, 3.0), ("0.25", 0.25), ("1e-3", 0.001), (-2.5, -2.5), (0, 0.0)],
)
def test_as_metric_accepts_finite_numbers(value: Any, expected: float) -> None:
    assert as_metric(value) == expected
    assert type(as_metric(value)) is float


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        "nan",
        "inf",
        "Infinity",
        True,
        False,
        None,
        "high",
        "0.5 (best)",
        "",
        [0.5],
        {"value": 0.5},
        pytest.param(10**400, id="int-too-large-for-float"),
    ],
)
def test_as_metric_refuses_non_metrics(value: Any) -> None:
    assert as_metric(value) is None


# ---- status.json -------------------------------------------------------------------------------


def test_status_json_kpi_lines_latest_wins_and_torn_last_line_is_skipped(tmp_path: Path) -> None:
    text = "\n".join(
        [
            json.dumps({"status": "STARTED", "message": "Starting"}),
            status_line(epoch=1, max_epoch=3, kpi={"loss": 0.9, "accuracy": 0.1}),
            status_line(epoch=2, max_epoch=3, kpi={"loss": 0.4}),
            status_line(epoch=3, max_epoch=3, kpi={"accuracy": 0.8}),  # no loss in this line
            '{"status": "RUNNING", "epoch": 4, "kpi": {"loss": 0.1',  # torn: the writer was killed mid-line
        ]
    )
    write(tmp_path / "status.json", text)
    resolver = MetricResolver("loss")
    assert resolver.from_status_json(text) == [(1, 0.9), (2, 0.4)]
    reading = resolver.resolve(tmp_path, logs="")
    assert reading is not None
    assert (reading.value, reading.epoch, reading.source) == (0.4, 2, "status.json:status.json")
    assert MetricResolver("accuracy").resolve(tmp_path, "").value == 0.8  # type: ignore[union-attr]


def test_status_json_rejects_nan_bool_and_string_kpis(tmp_path: Path) -> None:
    lines = [
        status_line(epoch=1, kpi={"loss": 0.7}),
        '{"epoch": 2, "kpi": {"loss": NaN}}',
        status_line(epoch=3, kpi={"loss": True}),
        status_line(epoch=4, kpi={"loss": "n/a"}),
        status_line(epoch=5, kpi={"loss": None}),
        '{"epoch": 6, "kpi": {"loss": Infinity}}',
        json.dumps(["not", "a", "dict"]),
        status_line(epoch="7", kpi={"loss": 0.6}),  # a non-integer epoch is kept as unknown
    ]
    write(tmp_path / "status.json", "\n".join(lines) + "\n")
    resolver = MetricResolver("loss")
    assert resolver.from_status_json("\n".join(lines)) == [(1, 0.7), (None, 0.6)]
    reading = resolver.resolve(tmp_path, "")
    assert reading is not None and reading.value == 0.6 and reading.epoch is None


def test_status_json_is_found_in_subfolders_and_newest_file_wins(tmp_path: Path) -> None:
    write(tmp_path / "old" / "status.json", status_line(epoch=9, kpi={"loss": 0.1}) + "\n", mtime=1_000_000)
    write(tmp_path / "train" / "new" / "status.json", status_line(epoch=1, kpi={"loss": 0.3}) + "\n", mtime=2_000_000)
    reading = MetricResolver("loss").resolve(tmp_path, "")
    assert reading is not None
    assert (reading.value, reading.source) == (0.3, "status.json:train/new/status.json")


# ---- metrics.json / best_score.json --------------------------------------------------------------


def test_metrics_json_is_read_when_no_status_line_has_the_metric(tmp_path: Path) -> None:
    write(tmp_path / "status.json", status_line(epoch=1, kpi={"other": 1.0}) + "\n")
    write(tmp_path / "metrics.json", json.dumps({"loss": 0.25, "epoch": 5}))
    reading = MetricResolver("loss").resolve(tmp_path, "loss=0.99")
    assert reading is not None
    assert (reading.value, reading.epoch, reading.source) == (0.25, 5, "metrics.json:metrics.json")


def test_status_json_beats_metrics_json(tmp_path: Path) -> None:
    write(tmp_path / "status.json", status_line(epoch=3, kpi={"loss": 0.2}) + "\n")
    write(tmp_path / "metrics.json", json.dumps({"loss": 0.25}))
    assert MetricResolver("loss").resolve(tmp_path, "").value == 0.2  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"loss": float("nan")}, None),
        ({"loss": True}, None),
        ({"loss": "bad"}, None),
        pytest.param({"loss": 10**400}, None, id="int-too-large-for-float"),
        ({"loss": 0.125}, 0.125),
    ],
)
def test_metrics_json_refuses_bad_values(tmp_path: Path, payload: dict[str, Any], expected: float | None) -> None:
    write(tmp_path / "metrics.json", json.dumps(payload))  # NaN is written as the bare token NaN
    reading = MetricResolver("loss").resolve(tmp_path, "")
    assert (reading.value if reading else None) == expected


def test_best_score_json_by_name_or_best_score_key(tmp_path: Path) -> None:
    write(tmp_path / "best_score.json", json.dumps({"best_score": 0.91, "epoch": 7}))
    reading = MetricResolver("val_accuracy").resolve(tmp_path, "")
    assert reading is not None
    assert (reading.value, reading.epoch, reading.source) == (0.91, 7, "best_score.json:best_score.json")
    write(tmp_path / "best_score.json", json.dumps({"best_score": 0.91, "val_accuracy": 0.88}))
    assert MetricResolver("val_accuracy").resolve(tmp_path, "").value == 0.88  # type: ignore[union-attr]


def test_metrics_json_beats_best_score_json_and_broken_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / "a" / "metrics.json", '{"loss": 0.3')  # unparseable
    write(tmp_path / "b" / "metrics.json", json.dumps([0.1]))  # not a mapping
    write(tmp_path / "best_score.json", json.dumps({"best_score": 0.05}))
    reading = MetricResolver("loss").resolve(tmp_path, "")
    assert reading is not None and reading.source == "best_score.json:best_score.json"
    write(tmp_path / "c" / "metrics.json", json.dumps({"loss": 0.3}))
    assert MetricResolver("loss").resolve(tmp_path, "").value == 0.3  # type: ignore[union-attr]


def test_missing_results_dir_falls_back_to_logs(tmp_path: Path) -> None:
    reading = MetricResolver("loss").resolve(tmp_path / "does-not-exist", "epoch 1 loss=0.42")
    assert reading is not None and (reading.value, reading.source) == (0.42, "log")
    assert MetricResolver("loss").resolve(None, "") is None
    assert MetricResolver("loss").resolve(tmp_path, "no metric here") is None


# ---- log lines ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logs", "expected"),
    [
        ("val_accuracy=0.5", 0.5),
        ("val_accuracy: 0.5", 0.5),
        ("val_accuracy = 0.5", 0.5),
        ("epoch 1 val_accuracy=0.3\nepoch 2 val_accuracy: 0.7\n", 0.7),  # the latest match wins
        ("val_accuracy=0.3 val_accuracy=0.6", 0.6),
        ("val_accuracy=7.5e-1", 0.75),
        ("val_accuracy=.25", 0.25),
        ("val_accuracy=0.6\nval_accuracy=nan\n", 0.6),  # nan is not a number here
        ("val_accuracy=0.6\nval_accuracy=1e999\n", 0.6),  # overflows to inf: refused, earlier one used
        ("top_val_accuracy_x=0.9", None),
        ("top_val_accuracy=0.9", None),
        ("val_accuracy_top5=0.9", None),
        ("model.val_accuracy=0.9", None),
        ("val_accuracy=0.4 top_val_accuracy_x=0.9", 0.4),
        ("val_accuracy=high", None),
        ("", None),
    ],
)
def test_log_lines(logs: str, expected: float | None) -> None:
    reading = MetricResolver("val_accuracy").from_logs(logs)
    assert (reading.value if reading else None) == expected
    if reading:
        assert reading.source == "log"


# ---- metric_extractor --------------------------------------------------------------------------


def test_extractor_beats_result_files_and_logs(tmp_path: Path) -> None:
    write(tmp_path / "status.json", status_line(epoch=1, kpi={"loss": 0.2}) + "\n")
    calls: list[tuple[str, str]] = []

    def extractor(logs: str, name: str) -> float:
        calls.append((logs, name))
        return 0.123

    reading = MetricResolver("loss", extractor).resolve(tmp_path, "the log loss=0.9")
    assert reading is not None and (reading.value, reading.source) == (0.123, "metric_extractor")
    assert calls == [("the log loss=0.9", "loss")]


@pytest.mark.parametrize("returned", [None, float("nan"), float("inf"), True, "n/a"])
def test_unusable_extractor_value_falls_back_to_files(tmp_path: Path, returned: Any) -> None:
    write(tmp_path / "status.json", status_line(epoch=2, kpi={"loss": 0.2}) + "\n")
    reading = MetricResolver("loss", lambda logs, name: returned).resolve(tmp_path, "loss=0.9")
    assert reading is not None and (reading.value, reading.source) == (0.2, "status.json:status.json")


def test_extractor_string_number_is_accepted(tmp_path: Path) -> None:
    reading = MetricResolver("loss", lambda logs, name: "0.5").resolve(tmp_path, "")
    assert reading is not None and reading.value == 0.5


def test_seen_keys_names_what_the_job_did_report(tmp_path: Path) -> None:
    write(
        tmp_path / "status.json",
        "\n".join([status_line(epoch=1, kpi={"val_loss": 0.3, "acc": 0.9}), "torn {", status_line(epoch=2)]) + "\n",
    )
    assert MetricResolver("loss").seen_keys(tmp_path) == ["acc", "val_loss"]
    assert MetricResolver("loss").seen_keys(tmp_path / "missing") == []


# ---- comparison --------------------------------------------------------------------------------


def test_comparison_delta_is_positive_when_better_in_either_direction() -> None:
    assert comparison(0.9, 0.8, "maximize") == {"delta": pytest.approx(0.1), "improved": True, "direction": "maximize"}
    assert comparison(0.7, 0.8, "maximize") == {
        "delta": pytest.approx(-0.1),
        "improved": False,
        "direction": "maximize",
    }
    assert comparison(0.2, 0.5, "minimize") == {"delta": pytest.approx(0.3), "improved": True, "direction": "minimize"}
    assert comparison(0.6, 0.5, "minimize") == {
        "delta": pytest.approx(-0.1),
        "improved": False,
        "direction": "minimize",
    }
    assert comparison(0.5, 0.5, "minimize") == {"delta": 0.0, "improved": False, "direction": "minimize"}


def test_comparison_needs_both_values() -> None:
    assert comparison(None, 0.5, "maximize") is None
    assert comparison(0.5, None, "minimize") is None
