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


#: 4 simulated workers: regret against simulated wall-clock time (asynchronous schedules should win).
WALLTIME_OURS = ("ours_asha", "ours_hyperband", "ours_bohb", "ours_random", "ours_bayesian")


def _llm_rows(problems: tuple[str, ...], seeds: tuple[int, ...]) -> list[Task]:
    if not os.environ.get("AUTOML_LLM_ENDPOINT"):
        return []
    return [Task("ours_llm", p, seeds) for p in problems]


def full_plan() -> list[Task]:
    """10 seeds where a run costs seconds; fewer where a method costs minutes per seed (listed in the report).

    Sized from the CI plan's per-process times to fit 60 minutes on 2 cores with the demo-network
    benchmarks after it: the GP methods on 100-evaluation problems, ASHA's thousand-odd
    recommendations per run, and SMAC / hpbandster BOHB (seconds per suggestion) get 3-5 seeds.
    """
    ten, five, three = tuple(range(1, 11)), tuple(range(1, 6)), (1, 2, 3)
    cheap_a = ("ours_random", "random", "optuna_tpe", "optuna_cmaes", "hyperopt_tpe")
    tasks = [Task(o, p, ten) for p in ("branin", "hartmann3", "hartmann6", "ackley5") for o in cheap_a]
    tasks += [Task(o, p, ten) for p in ("branin", "hartmann3") for o in ("ours_bayesian", "optuna_gp")]
    tasks += [Task(o, p, five) for p in ("hartmann6", "ackley5") for o in ("ours_bayesian", "optuna_gp")]
    tasks += [Task("smac_hpo", p, three) for p in ("branin", "hartmann3")]
    tasks += [Task("smac_blackbox", "branin", three)]
    block_b = ("mfh6_good", "mfh6_bad", "mfh3_good")
    cheap_mf = ("ours_hyperband", "ours_bohb", "ours_dehb", "random", "optuna_tpe", "optuna_tpe_hyperband",
                "optuna_tpe_sha", "dehb", "hpbandster_hyperband")  # fmt: skip
    tasks += [Task(o, p, ten) for p in block_b for o in cheap_mf]
    tasks += [Task("ours_asha", p, five) for p in block_b]
    tasks += [Task("hpbandster_bohb", p, three) for p in ("mfh6_good", "mfh6_bad")]
    tasks += [Task("smac_multifidelity", "mfh6_good", three)]
    block_c = ("ours_hyperband", "ours_bohb", "random", "optuna_tpe_hyperband", "dehb", "hpbandster_hyperband")
    tasks += [Task(o, p, five) for p in ("digits_mlp", "digits_gbm") for o in block_c]
    tasks += [Task(o, "mfh6_good", three, workers=4) for o in WALLTIME_OURS]
    return tasks + _llm_rows(("branin", "hartmann3"), three)


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
    tasks += [Task(o, "digits_mlp", seeds) for o in ("ours_hyperband", "random", "optuna_tpe_hyperband")]
    tasks += [Task(o, "mfh6_good", seeds[:1], workers=4) for o in ("ours_asha", "ours_hyperband", "ours_random")]
    return tasks + _llm_rows(("branin",), seeds[:1])


PLANS = {"full": full_plan, "ci": ci_plan}
