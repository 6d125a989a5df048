"""The digits data and spec helpers that need only numpy and yaml (no torch).

Split out of ``digits_common`` so light tools (the sample counter the AutoML runner calls before a
sweep) read exactly the split the training job will use without paying for a torch import.
"""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import yaml

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
