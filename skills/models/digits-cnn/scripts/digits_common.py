"""Code shared by ``train.py`` and ``evaluate.py``: spec access, the data split, the model, file output.

The scripts are run as files (not as a package), so they import this module from their own directory.
Only torch, numpy, scikit-learn and pyyaml are used.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import math
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn

NETWORK_ARCH = "digits_cnn"
NUM_CLASSES = 10
SPLITS = ("train", "val", "test")
_MISSING = object()


class SpecError(ValueError):
    """An invalid experiment spec; the message names the offending key."""


def load_spec(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a nested YAML spec; an empty file is an empty spec."""
    spec_path = Path(path)
    if not spec_path.is_file():
        raise SpecError(f"experiment spec {spec_path} does not exist")
    data = yaml.safe_load(spec_path.read_text()) or {}
    if not isinstance(data, dict):
        raise SpecError(f"experiment spec {spec_path} must be a mapping, got {type(data).__name__}")
    return data


def get(spec: dict[str, Any], key: str, default: Any = _MISSING) -> Any:
    """Return the value at dotted ``key`` of a nested spec, or ``default`` when absent or null."""
    node: Any = spec
    for part in key.split("."):
        if not isinstance(node, dict) or node.get(part) is None:
            if default is _MISSING:
                raise SpecError(f"invalid configuration: missing required key {key}")
            return default
        node = node[part]
    return node


def get_int(spec: dict[str, Any], key: str, default: int, minimum: int | None = None) -> int:
    """An integer spec value; bools and non-integral floats are rejected so typos do not pass silently."""
    value = get(spec, key, default)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"invalid configuration: {key}={value!r} must be an integer")
    if minimum is not None and value < minimum:
        raise SpecError(f"invalid configuration: {key}={value} must be >= {minimum}")
    return value


def get_float(
    spec: dict[str, Any],
    key: str,
    default: float,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite float spec value inside [low, high] (open ends when asked)."""
    value = get(spec, key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(f"invalid configuration: {key}={value!r} must be a number")
    value = float(value)
    if not math.isfinite(value):
        raise SpecError(f"invalid configuration: {key}={value} must be finite")
    if low is not None and (value <= low if low_open else value < low):
        raise SpecError(f"invalid configuration: {key}={value} must be {'>' if low_open else '>='} {low}")
    if high is not None and (value >= high if high_open else value > high):
        raise SpecError(f"invalid configuration: {key}={value} must be {'<' if high_open else '<='} {high}")
    return value


def get_bool(spec: dict[str, Any], key: str, default: bool) -> bool:
    """A boolean spec value; strings like "true" are rejected rather than guessed."""
    value = get(spec, key, default)
    if not isinstance(value, bool):
        raise SpecError(f"invalid configuration: {key}={value!r} must be true or false")
    return value


def split_params(spec: dict[str, Any]) -> dict[str, Any]:
    """The ``dataset.*`` values that define the train/val/test split, validated."""
    params = {
        "split_seed": get_int(spec, "dataset.split_seed", 0, minimum=0),
        "val_fraction": get_float(spec, "dataset.val_fraction", 0.2, low=0.0, high=1.0, low_open=True),
        "test_fraction": get_float(spec, "dataset.test_fraction", 0.2, low=0.0, high=1.0),
        "train_fraction": get_float(spec, "dataset.train_fraction", 1.0, low=0.0, high=1.0, low_open=True),
    }
    if params["val_fraction"] + params["test_fraction"] >= 0.9:
        raise SpecError(
            "invalid configuration: dataset.val_fraction + dataset.test_fraction must be < 0.9 to leave training data"
        )
    return params


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 8x8 digits as float32 images in [0, 1] shaped (N, 1, 8, 8) and int64 labels.

    Reads the CSV that scikit-learn bundles (exactly what ``load_digits`` parses) without importing
    ``sklearn.datasets``, which alone costs ~2.5 s of import time per job; falls back to
    ``load_digits`` if the file is not where scikit-learn keeps it.
    """
    spec = importlib.util.find_spec("sklearn")
    locations = list(spec.submodule_search_locations or []) if spec else []
    csv_path = Path(locations[0]) / "datasets" / "data" / "digits.csv.gz" if locations else None
    if csv_path is not None and csv_path.is_file():
        raw = np.loadtxt(csv_path, delimiter=",")
        pixels, labels = raw[:, :-1], raw[:, -1]
    else:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        pixels, labels = bunch.data, bunch.target
    images = (pixels / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    return images, labels.astype(np.int64)


def split_indices(
    labels: np.ndarray, split_seed: int, val_fraction: float, test_fraction: float, train_fraction: float
) -> dict[str, np.ndarray]:
    """A stratified train/val/test split that depends only on the seed and fractions.

    Each class is shuffled with its own child RNG, so the val and test sets do not change when
    ``train_fraction`` subsamples the training part (fast tests see the same validation set).
    """
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    seeds = np.random.SeedSequence(split_seed).spawn(NUM_CLASSES)
    for cls in range(NUM_CLASSES):
        members = np.flatnonzero(labels == cls)
        members = members[np.random.default_rng(seeds[cls]).permutation(len(members))]
        n_test = round(len(members) * test_fraction)
        n_val = max(1, round(len(members) * val_fraction))
        rest = members[n_test + n_val :]
        n_train = max(1, round(len(rest) * train_fraction)) if len(rest) else 0
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test : n_test + n_val])
        parts["train"].append(rest[:n_train])
    return {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}


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
