"""Block C: real training on scikit-learn's bundled digits (no downloads), epochs/rounds as fidelity.

Each configuration trains once, incrementally: asking for fidelity ``z`` after ``z' < z`` continues
the same model (``partial_fit`` / ``warm_start``), exactly the resume the cost model charges ``z - z'``
for. Training uses a fixed seed, so the value at a fidelity depends on the configuration only.
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from typing import Any

import numpy as np

from benchmarks.harness.problems import Problem
from benchmarks.harness.space import Dim

_WIDTHS = (8, 16, 32, 64, 128)
_BATCHES = (32, 64, 128, 256)


@cache
def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x / 16.0, y, test_size=0.3, random_state=0, stratify=y)
    return x_tr, x_va, y_tr, y_va


def _log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(proba[np.arange(len(y)), y], 1e-12, 1.0)
    return float(-np.mean(np.log(p)))


class TrainingProblem(Problem):
    """A problem whose value is a validation log-loss after ``z`` units of real training."""

    def value(self, config: dict[str, Any], z: int, seed: int) -> float:
        key = json.dumps(config, sort_keys=True, default=str)
        models: dict[str, tuple[Any, list[float]]] = self.extra.setdefault("models", {})
        model, losses = models.get(key) or (self._new_model(config), [])
        x_tr, x_va, y_tr, y_va = _digits()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            while len(losses) < z:
                model = self._step(model, len(losses) + 1, x_tr, y_tr)
                losses.append(_log_loss(model.predict_proba(x_va), y_va))
        models[key] = (model, losses)
        return losses[z - 1]

    def noiseless(self, config: dict[str, Any]) -> float:
        return self.value(config, self.z_max, seed=0)

    def _new_model(self, config: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _step(self, model: Any, z: int, x: np.ndarray, y: np.ndarray) -> Any:
        raise NotImplementedError


class DigitsMLP(TrainingProblem):
    """One-hidden-layer MLP (Adam); one fidelity unit is one epoch."""

    def _new_model(self, config: dict[str, Any]) -> Any:
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(
            hidden_layer_sizes=(int(config["width"]),),
            learning_rate_init=float(config["lr"]),
            alpha=float(config["weight_decay"]),
            batch_size=int(config["batch_size"]),
            random_state=0,
        )

    def _step(self, model: Any, z: int, x: np.ndarray, y: np.ndarray) -> Any:
        model.partial_fit(x, y, classes=np.arange(10))
        return model


class DigitsGBM(TrainingProblem):
    """Histogram gradient boosting; one fidelity unit is ``rounds_per_unit`` boosting rounds (warm start)."""

    rounds_per_unit = 1

    def _new_model(self, config: dict[str, Any]) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            learning_rate=float(config["learning_rate"]),
            max_leaf_nodes=int(config["max_leaf_nodes"]),
            min_samples_leaf=int(config["min_samples_leaf"]),
            max_features=float(config["max_features"]),
            max_iter=self.rounds_per_unit,
            early_stopping=False,
            warm_start=True,
            random_state=0,
        )

    def _step(self, model: Any, z: int, x: np.ndarray, y: np.ndarray) -> Any:
        model.set_params(max_iter=self.rounds_per_unit * z)
        return model.fit(x, y)


def training_problems() -> dict[str, Problem]:
    credit = "scikit-learn's bundled digits (Alpaydin & Kaynak, UCI)"
    mlp = DigitsMLP(
        "digits_mlp",
        "C",
        (
            Dim("lr", "float", 1e-4, 1e-1, log=True),
            Dim("batch_size", "ordinal", choices=_BATCHES),
            Dim("weight_decay", "float", 1e-6, 1e-1, log=True),
            Dim("width", "ordinal", choices=_WIDTHS),
        ),
        budget=30,
        z_min=1,
        z_max=27,
        credit=credit,
    )
    gbm = DigitsGBM(
        "digits_gbm",
        "C",
        (
            Dim("learning_rate", "float", 0.02, 1.0, log=True),
            Dim("max_leaf_nodes", "ordinal", choices=(4, 8, 16, 32, 64)),
            Dim("min_samples_leaf", "ordinal", choices=(2, 4, 8, 16, 32, 64)),
            Dim("max_features", "float", 0.2, 1.0),
        ),
        budget=15,  # HistGradientBoosting re-bins the data on every warm-start fit: ~70 ms a round on one thread
        z_min=1,
        z_max=27,
        credit=credit,
    )
    return {mlp.name: mlp, gbm.name: gbm}
