"""hyperopt's TPE at full fidelity."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hyperopt import fmin, hp, tpe

from benchmarks.harness.ledger import BudgetExhausted, Ledger
from benchmarks.harness.problems import Problem


def run_hyperopt(problem: Problem, ledger: Ledger, seed: int) -> None:
    space: dict[str, Any] = {}
    for d in problem.space:
        if d.kind == "ordinal":
            space[d.name] = hp.choice(d.name, list(d.choices))
        elif d.log:
            space[d.name] = hp.loguniform(d.name, math.log(d.low), math.log(d.high))
        else:
            space[d.name] = hp.uniform(d.name, d.low, d.high)

    def objective(config: dict[str, Any]) -> float:
        config = {d.name: round(config[d.name]) if d.kind == "int" else config[d.name] for d in problem.space}
        return ledger.evaluate(config, problem.z_max)

    try:
        fmin(
            objective,
            space,
            algo=tpe.suggest,
            max_evals=100_000,
            rstate=np.random.default_rng(seed),
            show_progressbar=False,
        )
    except BudgetExhausted:
        return
