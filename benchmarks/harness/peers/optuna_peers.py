"""Optuna 5: TPE, GP and CMA-ES samplers at full fidelity; TPE with the Hyperband and SHA pruners.

Pruned studies report one intermediate value per fidelity unit (each costs one unit through the
ledger); study names are fixed because HyperbandPruner assigns brackets by hashing them.
"""

from __future__ import annotations

from typing import Any

import optuna

from benchmarks.harness.ledger import BudgetExhausted, Ledger
from benchmarks.harness.problems import Problem
from benchmarks.harness.space import Space

optuna.logging.set_verbosity(optuna.logging.WARNING)


def suggest(trial: optuna.Trial, space: Space) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for d in space:
        if d.kind == "ordinal":
            config[d.name] = trial.suggest_categorical(d.name, list(d.choices))
        elif d.kind == "int":
            config[d.name] = trial.suggest_int(d.name, int(d.low), int(d.high), log=d.log)
        else:
            config[d.name] = trial.suggest_float(d.name, d.low, d.high, log=d.log)
    return config


def _full_fidelity(problem: Problem, ledger: Ledger, sampler: optuna.samplers.BaseSampler, name: str) -> None:
    study = optuna.create_study(study_name=name, sampler=sampler)

    def objective(trial: optuna.Trial) -> float:
        try:
            return ledger.evaluate(suggest(trial, problem.space), problem.z_max)
        except BudgetExhausted:
            study.stop()
            raise optuna.TrialPruned() from None

    study.optimize(objective, n_trials=100_000)


def _pruned(problem: Problem, ledger: Ledger, seed: int, pruner: optuna.pruners.BasePruner, name: str) -> None:
    study = optuna.create_study(study_name=name, sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner)

    def objective(trial: optuna.Trial) -> float:
        config = suggest(trial, problem.space)
        value = float("nan")
        try:
            for z in range(problem.z_min, problem.z_max + 1):
                value = ledger.evaluate(config, z)
                trial.report(value, z)
                if trial.should_prune():
                    raise optuna.TrialPruned()
        except BudgetExhausted:
            study.stop()
            raise optuna.TrialPruned() from None
        return value

    study.optimize(objective, n_trials=100_000)


def run_tpe(problem: Problem, ledger: Ledger, seed: int) -> None:
    _full_fidelity(problem, ledger, optuna.samplers.TPESampler(seed=seed), f"bench-{problem.name}-{seed}")


def run_gp(problem: Problem, ledger: Ledger, seed: int) -> None:
    _full_fidelity(problem, ledger, optuna.samplers.GPSampler(seed=seed), f"bench-{problem.name}-{seed}")


def run_cmaes(problem: Problem, ledger: Ledger, seed: int) -> None:
    _full_fidelity(problem, ledger, optuna.samplers.CmaEsSampler(seed=seed), f"bench-{problem.name}-{seed}")


def run_tpe_hyperband(problem: Problem, ledger: Ledger, seed: int) -> None:
    pruner = optuna.pruners.HyperbandPruner(min_resource=problem.z_min, max_resource=problem.z_max, reduction_factor=3)
    _pruned(problem, ledger, seed, pruner, f"bench-{problem.name}-{seed}")


def run_tpe_sha(problem: Problem, ledger: Ledger, seed: int) -> None:
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=problem.z_min, reduction_factor=3)
    _pruned(problem, ledger, seed, pruner, f"bench-{problem.name}-{seed}")
