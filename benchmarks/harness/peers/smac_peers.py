"""SMAC3 2.x facades through ask/tell: HPO (random forest), BlackBox (GP) and MultiFidelity (RF + Hyperband)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from smac import BlackBoxFacade, HyperparameterOptimizationFacade, MultiFidelityFacade, Scenario
from smac.runhistory.dataclasses import TrialValue

from benchmarks.harness.ledger import BudgetExhausted, Ledger
from benchmarks.harness.peers.configspace_space import to_config, to_configspace
from benchmarks.harness.problems import Problem

logging.getLogger("smac").setLevel(logging.ERROR)


def _unused_target(config: Any, seed: int = 0, budget: float | None = None) -> float:
    raise RuntimeError("SMAC is driven through ask/tell here")


def _run(facade: Any, problem: Problem, ledger: Ledger, seed: int, multi: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="smac-") as out:
        extra: dict[str, Any] = {"min_budget": problem.z_min, "max_budget": problem.z_max} if multi else {}
        scenario = Scenario(
            to_configspace(problem.space, seed),
            deterministic=True,
            n_trials=100_000,
            seed=seed,
            output_directory=Path(out),
            **extra,
        )
        kwargs: dict[str, Any] = {"overwrite": True, "logging_level": 40}
        if multi:
            kwargs["intensifier"] = MultiFidelityFacade.get_intensifier(scenario, eta=3)
        smac = facade(scenario, _unused_target, **kwargs)
        try:
            while True:
                info = smac.ask()
                z = round(info.budget) if multi and info.budget is not None else problem.z_max
                value = ledger.evaluate(to_config(problem.space, info.config), z)
                smac.tell(info, TrialValue(cost=value))
        except BudgetExhausted:
            return


def run_hpo(problem: Problem, ledger: Ledger, seed: int) -> None:
    _run(HyperparameterOptimizationFacade, problem, ledger, seed, multi=False)


def run_blackbox(problem: Problem, ledger: Ledger, seed: int) -> None:
    _run(BlackBoxFacade, problem, ledger, seed, multi=False)


def run_multifidelity(problem: Problem, ledger: Ledger, seed: int) -> None:
    _run(MultiFidelityFacade, problem, ledger, seed, multi=True)
