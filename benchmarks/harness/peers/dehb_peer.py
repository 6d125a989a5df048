"""The ``dehb`` package (Awad et al. 2021): differential evolution over Hyperband brackets."""

from __future__ import annotations

import tempfile
from typing import Any

from dehb import DEHB

from benchmarks.harness.ledger import BudgetExhausted, Ledger
from benchmarks.harness.peers.configspace_space import to_config, to_configspace
from benchmarks.harness.problems import Problem


def run_dehb(problem: Problem, ledger: Ledger, seed: int) -> None:
    cs = to_configspace(problem.space, seed)

    def objective(config: Any, fidelity: float, **_: Any) -> dict[str, Any]:
        value = ledger.evaluate(to_config(problem.space, config), round(fidelity))
        return {"fitness": value, "cost": float(fidelity)}

    with tempfile.TemporaryDirectory(prefix="dehb-") as out:
        optimizer = DEHB(
            f=objective,
            cs=cs,
            dimensions=len(problem.space),
            min_fidelity=problem.z_min,
            max_fidelity=problem.z_max,
            eta=3,
            n_workers=1,
            seed=seed,
            output_path=out,
            log_level="ERROR",
            save_freq=None,
        )
        try:
            optimizer.run(fevals=100_000)
        except BudgetExhausted:
            return
