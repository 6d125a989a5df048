"""Block C: the demo network, the ``digits-cnn`` model skill's CNN that ``make demo`` tunes, epochs as fidelity.

The skill's own code builds everything: ``TrainConfig.from_spec`` validates a spec made from the
configuration, and the skill's split, ``DigitsCNN``, ``Optimizer`` and ``evaluate_model`` do the work,
so the benchmark tunes the very network (and data split) the demo does. Only the epoch loop is
repeated here: ``train.py`` runs it inside one file-bound function (a checkpoint with fsync, a status
line and a data reload per call), which would cost more than the epochs themselves. A test checks
that the values here equal the metrics ``train.py`` reports for the same spec.

Training is incremental and seeded like a resumed job: each configuration keeps its model, optimizer,
shuffle generator and torch RNG state, so asking for ``z`` after ``z' < z`` trains ``z - z'`` more epochs
(what the ledger charges) and the value at an epoch depends on the configuration only, whatever
order the optimizer interleaves configurations in. The value follows the skill's AutoML metric
(``val_accuracy``, maximised), minimised here as the validation error ``1 - val_accuracy``.

The search space is what our product derives from the skill's schema for the demo (lr and weight
decay one decade either side of their defaults, log scale; the schema's batch sizes, widths and
dropout range), except ``train.optim.optimizer``: the neutral space has no unordered categorical
kind, so it stays at the skill's default, adam.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from benchmarks.harness.problems import Problem
from benchmarks.harness.space import Dim

SKILL_DIR = Path(__file__).resolve().parents[2] / "skills" / "models" / "digits-cnn"
#: Neutral dimension name -> the skill's spec key and value type (peers may hand numpy scalars over).
SPEC_KEYS: dict[str, tuple[str, type]] = {
    "lr": ("train.optim.lr", float),
    "weight_decay": ("train.optim.weight_decay", float),
    "batch_size": ("dataset.batch_size", int),
    "width": ("model.width", int),
    "dropout": ("model.dropout", float),
}
#: CPU seconds per epoch on one thread (``torch.set_num_threads(1)``), measured: 0.09 (width 8, batch 128) to
#: 1.0 (width 48, batch 16), ~0.5 on average over the space. 9 FFE (81 epochs) measured 45-52 s of CPU per
#: (optimizer, seed) run; 8 FFE (72 epochs) keeps a run near 40 s (the full plan runs six optimizers x three
#: seeds of it) and still holds one whole Hyperband iteration at eta = 3 (69 epochs, rungs 1-3-9) and eight
#: full trainings for random search.
Z_MAX = 9
BUDGET_FFE = 8


@cache
def skill_train_module() -> ModuleType:
    """The skill's ``scripts/train.py`` as a module (it puts its own folder on ``sys.path`` for its imports)."""
    path = SKILL_DIR / "scripts" / "train.py"
    spec = importlib.util.spec_from_file_location("digits_cnn_skill_train", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@cache
def skill_metric() -> tuple[str, str]:
    """The skill's AutoML metric and direction (``automl.metric`` / ``automl.direction`` of its skill_info)."""
    info = yaml.safe_load((SKILL_DIR / "references" / "skill_info.yaml").read_text())
    return info["automl"]["metric"], info["automl"]["direction"]


def config_spec(config: dict[str, Any]) -> dict[str, Any]:
    """The nested train spec for ``config``; every other key keeps the skill's default (seed 42, adam, split)."""
    spec: dict[str, Any] = {}
    for name, (key, kind) in SPEC_KEYS.items():
        *parents, leaf = key.split(".")
        node = spec
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = kind(config[name])
    return spec


def _plain(config: dict[str, Any]) -> dict[str, Any]:
    return {name: kind(config[name]) for name, (_, kind) in SPEC_KEYS.items()}


@dataclass
class _Run:
    """One configuration's training state between calls: everything a checkpoint of ``train.py`` holds."""

    model: Any
    optimizer: Any
    generator: Any
    rng_state: Any
    steps: int
    values: list[float]


class DemoNetwork(Problem):
    """The digits CNN trained ``z`` epochs; value = validation error of the skill's metric after epoch ``z``."""

    def value(self, config: dict[str, Any], z: int, seed: int) -> float:
        import torch

        train = skill_train_module()
        config = _plain(config)
        key = json.dumps(config, sort_keys=True)
        runs: dict[str, _Run] = self.extra.setdefault("runs", {})
        run = runs.get(key) or self._start(config)
        runs[key] = run
        x_train, y_train, x_val, y_val = self._data()
        batch_size = int(config["batch_size"])
        saved = torch.get_rng_state()
        torch.set_rng_state(run.rng_state)  # dropout draws continue this configuration's own stream
        try:
            while len(run.values) < z:
                run.model.train()
                order = torch.randperm(len(y_train), generator=run.generator)
                for step in range(run.steps):
                    batch = order[step * batch_size : (step + 1) * batch_size]
                    run.optimizer.zero_grad()
                    loss = torch.nn.functional.cross_entropy(run.model(x_train[batch]), y_train[batch])
                    loss.backward()
                    run.optimizer.step()
                metrics = train.evaluate_model(run.model, x_val, y_val, train.VAL_BATCH_SIZE)
                run.values.append(self._minimised(metrics))
            run.rng_state = torch.get_rng_state()
        finally:
            torch.set_rng_state(saved)
        return run.values[z - 1]

    def noiseless(self, config: dict[str, Any]) -> float:
        return self.value(config, self.z_max, seed=0)

    @staticmethod
    def _minimised(metrics: dict[str, float]) -> float:
        name, direction = skill_metric()
        return 1.0 - metrics[name] if direction == "maximize" else metrics[name]

    def _data(self) -> tuple[Any, Any, Any, Any]:
        if "data" not in self.extra:
            train = skill_train_module()
            split = train.load_split(train.split_params({}))  # the skill's default split, as the demo uses
            self.extra["data"] = (*split["train"], *split["val"])
        return self.extra["data"]

    def _start(self, config: dict[str, Any]) -> _Run:
        """Build the run exactly as ``train.py`` starts one: validated spec, seeded model, optimizer, generator."""
        import torch

        train = skill_train_module()
        cfg = train.TrainConfig.from_spec(config_spec(config))
        torch.set_num_threads(cfg.num_threads)
        train.enable_deterministic_algorithms()
        n_train = len(self._data()[1])
        steps = n_train // cfg.batch_size if cfg.drop_last else -(-n_train // cfg.batch_size)
        saved = torch.get_rng_state()
        try:
            torch.manual_seed(cfg.seed)
            model = train.DigitsCNN(**cfg.model)
            rng_state = torch.get_rng_state()
        finally:
            torch.set_rng_state(saved)
        optimizer = train.Optimizer(cfg, list(model.parameters()))
        generator = torch.Generator().manual_seed(cfg.seed)
        return _Run(model, optimizer, generator, rng_state, steps, [])


def demo_network_problems() -> dict[str, Problem]:
    problem = DemoNetwork(
        "digits_cnn",
        "C",
        (
            Dim("lr", "float", 1e-4, 1e-2, log=True),
            Dim("weight_decay", "float", 1e-5, 1e-3, log=True),
            Dim("batch_size", "ordinal", choices=(16, 32, 64, 128)),
            Dim("width", "ordinal", choices=(8, 16, 24, 32, 40, 48)),
            Dim("dropout", "float", 0.0, 0.6),
        ),
        budget=BUDGET_FFE,
        z_min=1,
        z_max=Z_MAX,
        credit="the digits-cnn model skill (make demo) on scikit-learn's bundled digits (Alpaydin & Kaynak, UCI)",
    )
    return {problem.name: problem}
