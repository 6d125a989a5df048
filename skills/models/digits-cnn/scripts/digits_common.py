"""Code shared by ``train.py`` and ``evaluate.py``: spec access, the data split, the model, file output.

The scripts are run as files (not as a package), so they import this module from their own directory.
Only torch, numpy, scikit-learn and pyyaml are used.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from digits_data import (  # noqa: F401 - re-exported: train.py and evaluate.py import them from here
    NETWORK_ARCH,
    NUM_CLASSES,
    SPLITS,
    SpecError,
    get,
    get_bool,
    get_float,
    get_int,
    load_digits_arrays,
    load_spec,
    split_indices,
    split_params,
)
from torch import nn


def load_split(params: dict[str, Any]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Tensors ``(images, labels)`` for each split named in ``SPLITS``."""
    images, labels = load_digits_arrays()
    index = split_indices(labels, **params)
    return {name: (torch.from_numpy(images[idx]), torch.from_numpy(labels[idx])) for name, idx in index.items()}


def model_params(spec: dict[str, Any]) -> dict[str, Any]:
    """The ``model.*`` values that define the architecture, validated."""
    return {
        "width": get_int(spec, "model.width", 16, minimum=1),
        "dropout": get_float(spec, "model.dropout", 0.1, low=0.0, high=1.0, high_open=True),
    }


class DigitsCNN(nn.Module):
    """conv-ReLU-conv-ReLU-maxpool-dropout-linear(64)-ReLU-dropout-linear(10): small enough for one CPU thread."""

    def __init__(self, width: int = 16, dropout: float = 0.1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Dropout(dropout),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * width * 4 * 4, 64),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(64, NUM_CLASSES),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@torch.no_grad()
def evaluate_model(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int) -> dict[str, float]:
    """Mean cross-entropy and accuracy over samples (not batches), so a short last batch is not over-weighted."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    for start in range(0, len(labels), batch_size):
        logits = model(images[start : start + batch_size])
        target = labels[start : start + batch_size]
        total_loss += nn.functional.cross_entropy(logits, target, reduction="sum").item()
        correct += int((logits.argmax(dim=1) == target).sum().item())
    model.train(was_training)
    count = max(1, len(labels))
    return {"val_accuracy": correct / count, "val_loss": total_loss / count}


def _fsync_replace(tmp: Path, target: Path) -> None:
    os.replace(tmp, target)
    if hasattr(os, "O_DIRECTORY"):
        dir_fd = os.open(target.parent, os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _tmp_path(target: Path) -> Path:
    """A hidden sibling, so a checkpoint glob such as ``model_epoch_*.pth`` never matches it."""
    return target.with_name(f".{target.name}.tmp-{os.getpid()}")


def atomic_write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON via temp file + ``os.replace`` so readers never see a half-written file."""
    tmp = _tmp_path(path)
    with tmp.open("w") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    _fsync_replace(tmp, path)


def atomic_torch_save(payload: dict[str, Any], path: Path) -> None:
    """``torch.save`` via temp file + ``os.replace``: a job killed mid-write leaves no torn checkpoint."""
    tmp = _tmp_path(path)
    with tmp.open("wb") as handle:
        torch.save(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    _fsync_replace(tmp, path)


def load_checkpoint(path: str | os.PathLike[str], key: str) -> dict[str, Any]:
    """Load a checkpoint written by ``train.py``; ``key`` names the spec entry in error messages."""
    ckpt_path = Path(path)
    if not ckpt_path.is_file():
        raise SpecError(f"invalid configuration: {key}={str(path)!r}: checkpoint file does not exist")
    try:
        payload = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise SpecError(f"invalid configuration: {key}={str(path)!r} is not a readable checkpoint: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("network_arch") != NETWORK_ARCH:
        raise SpecError(f"invalid configuration: {key}={str(path)!r} is not a {NETWORK_ARCH} checkpoint")
    return payload


class StatusLogger:
    """Appends TAO status-logger JSON lines to ``<results_dir>/status.json``.

    One complete line per write, flushed and fsynced, so a poller reading from an offset sees whole
    events only.
    """

    def __init__(self, results_dir: Path) -> None:
        self.path = results_dir / "status.json"

    def write(self, status: str, message: str, verbosity: str = "INFO", **fields: Any) -> None:
        now = _dt.datetime.now()
        record = {
            "date": now.strftime("%m/%d/%Y"),
            "time": now.strftime("%H:%M:%S"),
            "status": status,
            "verbosity": verbosity,
            "message": message,
            **fields,
        }
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def results_dir_from(spec: dict[str, Any]) -> Path:
    """The job's output folder (created if needed); required because every output goes there."""
    value = get(spec, "results_dir", "")
    if not isinstance(value, str) or not value.strip():
        raise SpecError("invalid configuration: results_dir must be set to the job's output folder")
    path = Path(value)
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_action(
    action: str, body: Callable[[dict[str, Any], Path, StatusLogger], None], argv: list[str] | None = None
) -> int:
    """Shared ``-e spec.yaml`` entry point: STARTED/FAILURE status lines and exit codes like TAO's."""
    parser = argparse.ArgumentParser(description=f"{NETWORK_ARCH} {action}")
    parser.add_argument("-e", "--experiment_spec", required=True, help=f"path to the {action} spec YAML")
    args = parser.parse_args(argv)
    status: StatusLogger | None = None
    try:
        spec = load_spec(args.experiment_spec)
        results_dir = results_dir_from(spec)
        status = StatusLogger(results_dir)
        status.write("STARTED", f"Starting {NETWORK_ARCH} {action}")
        body(spec, results_dir, status)
        return 0
    except SpecError as exc:
        message = str(exc)
    except Exception as exc:  # noqa: BLE001 - any crash becomes a FAILURE status line and exit code 1
        traceback.print_exc()
        message = f"{type(exc).__name__}: {exc}"
    print(f"error: {message}", file=sys.stderr, flush=True)
    if status is not None:
        status.write("FAILURE", message, verbosity="ERROR")
    return 1
