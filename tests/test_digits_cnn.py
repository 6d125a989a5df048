"""The digits-cnn demo skill, run the way the local platform runs it: scripts as real subprocesses.

Budgets are small (<= 4 epochs on half the training split) and independent jobs run two at a time,
so the whole file stays well under a minute on two cores.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

SKILL_DIR = Path(__file__).resolve().parents[1] / "skills" / "models" / "digits-cnn"
TRAIN = SKILL_DIR / "scripts" / "train.py"
EVALUATE = SKILL_DIR / "scripts" / "evaluate.py"
FAST = {"train.num_epochs": 4, "dataset.train_fraction": 0.5}


def make_spec(directory: Path, action: str, overrides: dict[str, Any]) -> Path:
    """Write the skill's template for ``action`` with dotted ``overrides``; results go in ``directory``."""
    spec = yaml.safe_load((SKILL_DIR / "references" / f"spec_template_{action}.yaml").read_text())
    for dotted, value in {"results_dir": str(directory), **overrides}.items():
        *parents, leaf = dotted.split(".")
        node = spec
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    directory.mkdir(parents=True, exist_ok=True)
    path = directory.parent / f"{directory.name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def run_all(*jobs: tuple[Path, Path]) -> list[subprocess.CompletedProcess[str]]:
    """Run ``(script, spec)`` jobs concurrently (each uses one thread) and wait for all of them."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), "-e", str(spec)],
            cwd=SKILL_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for script, spec in jobs
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def status_lines(results_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (results_dir / "status.json").read_text().splitlines()]


def epoch_kpis(results_dir: Path) -> dict[int, dict[str, float]]:
    return {line["epoch"]: line["kpi"] for line in status_lines(results_dir) if line["status"] == "RUNNING"}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two identical uninterrupted 4-epoch runs (the determinism pair and the resume reference)."""
    root = tmp_path_factory.mktemp("digits")
    dirs = {"a": root / "a", "b": root / "b"}
    results = run_all(*[(TRAIN, make_spec(d, "train", FAST)) for d in dirs.values()])
    for result in results:
        assert result.returncode == 0, result.stderr
    return {**dirs, "stdout": results[0].stdout}


def test_train_writes_status_log_checkpoints_and_metrics(base: dict[str, Any]) -> None:
    run = base["a"]
    lines = status_lines(run)
    assert [line["status"] for line in lines] == ["STARTED"] + ["RUNNING"] * 4 + ["SUCCESS"]
    for line in lines:
        assert {"date", "time", "status", "verbosity", "message"} <= line.keys()
    for epoch, line in enumerate(lines[1:5], start=1):
        assert line["epoch"] == epoch and line["max_epoch"] == 4
        assert line["message"] == f"Epoch {epoch} finished"
        assert set(line["kpi"]) == {"val_accuracy", "val_loss", "train_loss"}
    assert lines[-1]["kpi"] == lines[-2]["kpi"]

    assert sorted(p.name for p in run.glob("model_epoch_*.pth")) == [f"model_epoch_00{e}.pth" for e in range(1, 5)]
    assert not list(run.glob("*latest*")) and not list(run.glob(".*tmp*"))

    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epoch"] == 4
    assert metrics["val_accuracy"] == lines[-1]["kpi"]["val_accuracy"]
    assert Path(metrics["checkpoint"]) == (run / "model_epoch_004.pth").resolve()
    assert metrics["val_accuracy"] > 0.6  # it really learns (chance is 0.1), even on half the data

    epoch_lines = [line for line in base["stdout"].splitlines() if line.startswith("epoch ")]
    assert len(epoch_lines) == 4
    assert epoch_lines[2].startswith("epoch 3/4 train_loss=")
    assert f"val_accuracy={lines[3]['kpi']['val_accuracy']:.5f}" in epoch_lines[2]


def test_same_spec_gives_identical_metrics(base: dict[str, Any]) -> None:
    assert epoch_kpis(base["a"]) == epoch_kpis(base["b"])
    assert (
        json.loads((base["a"] / "metrics.json").read_text())["val_loss"]
        == json.loads((base["b"] / "metrics.json").read_text())["val_loss"]
    )


def test_resume_matches_uninterrupted_run_and_spec_overrides_hyperparameters(
    base: dict[str, Any], tmp_path: Path
) -> None:
    parent = base["a"] / "model_epoch_002.pth"
    resume, perturbed = tmp_path / "resume", tmp_path / "perturbed"
    results = run_all(
        (TRAIN, make_spec(resume, "train", {**FAST, "train.resume_training_checkpoint_path": str(parent)})),
        (
            TRAIN,
            make_spec(
                perturbed,
                "train",
                {
                    **FAST,
                    "train.num_epochs": 3,
                    "train.optim.lr": 0.01,
                    "train.resume_training_checkpoint_path": str(parent),
                },
            ),
        ),
    )
    for result in results:
        assert result.returncode == 0, result.stderr

    reference = epoch_kpis(base["a"])
    assert epoch_kpis(resume) == {3: reference[3], 4: reference[4]}
    assert sorted(p.name for p in resume.glob("model_epoch_*.pth")) == ["model_epoch_003.pth", "model_epoch_004.pth"]
    assert json.loads((resume / "metrics.json").read_text())["val_loss"] == reference[4]["val_loss"]

    import torch

    resumed = torch.load(resume / "model_epoch_004.pth", weights_only=True)
    uninterrupted = torch.load(base["a"] / "model_epoch_004.pth", weights_only=True)
    for name, tensor in uninterrupted["model_state"].items():
        assert torch.equal(tensor, resumed["model_state"][name]), name

    bumped = torch.load(perturbed / "model_epoch_003.pth", weights_only=True)
    assert bumped["optimizer_state"]["lr"] == 0.01
    assert epoch_kpis(perturbed)[3] != reference[3]


def test_invalid_configurations_fail_fast_naming_the_problem(tmp_path: Path) -> None:
    zero_steps, bad_optimizer = tmp_path / "zero", tmp_path / "bad"
    results = run_all(
        (TRAIN, make_spec(zero_steps, "train", {"dataset.batch_size": 128, "dataset.train_fraction": 0.05})),
        (TRAIN, make_spec(bad_optimizer, "train", {"train.optim.optimizer": "rmsprop"})),
    )
    assert [r.returncode for r in results] == [1, 1]
    assert "invalid configuration: batch_size 128 exceeds the " in results[0].stderr
    assert "training samples (zero training steps)" in results[0].stderr
    assert "train.optim.optimizer" in results[1].stderr and "rmsprop" in results[1].stderr
    for run in (zero_steps, bad_optimizer):
        last = status_lines(run)[-1]
        assert last["status"] == "FAILURE" and last["verbosity"] == "ERROR"
        assert not list(run.glob("model_epoch_*.pth"))


def test_evaluate_scores_a_checkpoint_and_refuses_a_missing_one(base: dict[str, Any], tmp_path: Path) -> None:
    checkpoint = base["a"] / "model_epoch_004.pth"
    val, test, missing = tmp_path / "val", tmp_path / "test", tmp_path / "missing"
    results = run_all(
        (EVALUATE, make_spec(val, "evaluate", {"evaluate.checkpoint": str(checkpoint), "evaluate.split": "val"})),
        (EVALUATE, make_spec(test, "evaluate", {"evaluate.checkpoint": str(checkpoint)})),  # the template's split
        (EVALUATE, make_spec(missing, "evaluate", {"evaluate.checkpoint": str(tmp_path / "nope.pth")})),
    )
    assert results[0].returncode == 0, results[0].stderr
    assert results[1].returncode == 0, results[1].stderr
    assert "split=val val_accuracy=" in results[0].stdout and "val_loss=" in results[0].stdout
    assert "split=test val_accuracy=" in results[1].stdout

    val_metrics = json.loads((val / "metrics.json").read_text())
    trained = json.loads((base["a"] / "metrics.json").read_text())
    assert val_metrics["split"] == "val" and val_metrics["epoch"] == 4
    assert val_metrics["val_accuracy"] == trained["val_accuracy"]  # same split, same model
    assert val_metrics["val_loss"] == pytest.approx(trained["val_loss"], rel=1e-6)
    assert [line["status"] for line in status_lines(val)] == ["STARTED", "SUCCESS"]
    assert status_lines(val)[-1]["kpi"]["val_accuracy"] == val_metrics["val_accuracy"]
    assert 0.5 < json.loads((test / "metrics.json").read_text())["val_accuracy"] <= 1.0

    assert results[2].returncode == 1
    assert "evaluate.checkpoint" in results[2].stderr and "does not exist" in results[2].stderr
    assert status_lines(missing)[-1]["status"] == "FAILURE"


def test_split_is_stratified_disjoint_and_uses_the_sklearn_digits() -> None:
    sys.path.insert(0, str(SKILL_DIR / "scripts"))
    try:
        import digits_common
    finally:
        sys.path.remove(str(SKILL_DIR / "scripts"))
    from sklearn.datasets import load_digits

    images, labels = digits_common.load_digits_arrays()
    bunch = load_digits()
    np.testing.assert_array_equal(labels, bunch.target)
    np.testing.assert_array_equal(images.reshape(len(labels), -1), (bunch.data / 16.0).astype(np.float32))

    full = digits_common.split_indices(labels, 0, 0.2, 0.2, 1.0)
    half = digits_common.split_indices(labels, 0, 0.2, 0.2, 0.5)
    assert sum(len(idx) for idx in full.values()) == len(labels) == 1797
    assert not set(full["train"]) & set(full["val"]) and not set(full["val"]) & set(full["test"])
    assert set(half["train"]) < set(full["train"])
    np.testing.assert_array_equal(half["val"], full["val"])
    assert all(abs(np.mean(labels[full["val"]] == c) - 0.1) < 0.02 for c in range(10))
    assert not np.array_equal(digits_common.split_indices(labels, 1, 0.2, 0.2, 1.0)["val"], full["val"])
