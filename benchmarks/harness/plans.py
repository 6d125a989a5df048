"""What ``make bench`` (full) and ``make bench-ci`` (subset) run: (optimizer, problem, seeds, workers) tasks.

Our algorithms are named ``ours_<algorithm>``. Multi-fidelity methods run only on problems with a
fidelity. An LLM row is added when an endpoint is configured (``AUTOML_LLM_ENDPOINT``): the llm
algorithm runs through the same runner and ledger as everything else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    optimizer: str
    problem: str
    seeds: tuple[int, ...]
    workers: int = 1

    @property
    def label(self) -> str:
        return self.optimizer if self.workers == 1 else f"{self.optimizer}@{self.workers}w"


OURS_FULL_FIDELITY = ("ours_bayesian", "ours_random")
OURS_MULTI_FIDELITY = ("ours_hyperband", "ours_asha", "ours_bohb", "ours_dehb")
PEERS_A = ("random", "optuna_tpe", "optuna_gp", "optuna_cmaes", "hyperopt_tpe", "smac_hpo")
PEERS_MF = (
    "random",
    "optuna_tpe",
    "optuna_tpe_hyperband",
    "optuna_tpe_sha",
    "dehb",
    "hpbandster_bohb",
    "hpbandster_hyperband",
    "smac_multifidelity",
)
#: 4 simulated workers: regret against simulated wall-clock time (asynchronous schedules should win).
WALLTIME_OURS = ("ours_asha", "ours_hyperband", "ours_bohb", "ours_random", "ours_bayesian")


def _llm_rows(problems: tuple[str, ...], seeds: tuple[int, ...]) -> list[Task]:
    if not os.environ.get("AUTOML_LLM_ENDPOINT"):
        return []
    return [Task("ours_llm", p, seeds) for p in problems]


def full_plan() -> list[Task]:
    seeds = tuple(range(1, 11))
    block_a = ("branin", "hartmann3", "hartmann6", "ackley5")
    block_b = ("mfh6_good", "mfh6_bad", "mfh3_good")
    block_c = ("digits_mlp", "digits_gbm")
    tasks = [Task(o, p, seeds) for p in block_a for o in (*OURS_FULL_FIDELITY, *PEERS_A)]
    tasks += [Task("smac_blackbox", p, seeds[:3]) for p in block_a]  # GP in SMAC is slow: fewer seeds
    tasks += [Task(o, p, seeds) for p in block_b for o in (*OURS_MULTI_FIDELITY, *PEERS_MF)]
    tasks += [Task(o, p, seeds[:5]) for p in block_c for o in (*OURS_MULTI_FIDELITY, *PEERS_MF)]
    tasks += [Task(o, "mfh6_good", seeds[:5], workers=4) for o in WALLTIME_OURS]
    return tasks + _llm_rows(block_a, seeds[:3])


def ci_plan() -> list[Task]:
    seeds = (1, 2, 3)
    tasks = [
        Task(o, p, seeds)
        for p in ("branin", "hartmann3")
        for o in ("ours_bayesian", "ours_random", "random", "optuna_tpe", "optuna_gp", "hyperopt_tpe")
    ]
    mf = ("ours_hyperband", "ours_bohb", "ours_dehb", "random", "optuna_tpe_hyperband", "dehb", "hpbandster_hyperband")
    tasks += [Task(o, "mfh6_good", seeds) for o in mf]
    tasks += [Task("hpbandster_bohb", "mfh6_good", seeds[:1])]
    tasks += [Task(o, "digits_mlp", seeds) for o in ("ours_hyperband", "ours_bohb", "random", "optuna_tpe_hyperband")]
    tasks += [Task(o, "mfh6_good", seeds[:1], workers=4) for o in ("ours_asha", "ours_hyperband", "ours_random")]
    return tasks + _llm_rows(("branin",), seeds[:1])


PLANS = {"full": full_plan, "ci": ci_plan}
