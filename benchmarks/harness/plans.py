"""What ``make bench`` (full) and ``make bench-ci`` (subset) run: (optimizer, problem, seeds, workers) tasks.

Our algorithms are named ``ours_<algorithm>``. Multi-fidelity methods run only on problems with a
fidelity. An LLM row is added when an endpoint is configured (``AUTOML_LLM_ENDPOINT``): the llm
algorithm runs through the same runner and ledger as everything else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from benchmarks.harness.local_llm import model_path


@dataclass(frozen=True)
class Task:
    optimizer: str
    problem: str
    seeds: tuple[int, ...]
    workers: int = 1
    timeout_s: float | None = None  # None: bench.py's --timeout

    @property
    def label(self) -> str:
        return self.optimizer if self.workers == 1 else f"{self.optimizer}@{self.workers}w"

    @property
    def key(self) -> str:
        """Names the task's results file and its entry in ``wall_time.json``."""
        return f"{self.label}__{self.problem}"


#: 4 simulated workers: regret against simulated wall-clock time (asynchronous schedules should win).
WALLTIME_OURS = ("ours_asha", "ours_hyperband", "ours_bohb", "ours_random", "ours_bayesian")


def _llm_rows(problems: tuple[str, ...], seeds: tuple[int, ...], *, local_model: bool) -> list[Task]:
    """LLM rows when an endpoint is configured, or (``local_model``) when bench.py can serve SmolLM2 itself."""
    if not os.environ.get("AUTOML_LLM_ENDPOINT") and not (local_model and model_path() is not None):
        return []
    # CPU inference of a 135M model: 15-35 s a call on 2 busy cores, about 40 calls a seed
    return [Task("ours_llm", p, seeds, timeout_s=2400) for p in problems]


def full_plan() -> list[Task]:
    """10 seeds where a run costs about a second; fewer where one costs tens of seconds (the report lists seeds).

    Sized from measured per-seed times to fit 60 minutes on 2 cores (measured in a clean clone: a
    2,908 s plan, 3,200 s for ``make bench`` with building both environments; per-process seconds are
    in ``wall_time.json``): our runner-driven multi-fidelity runs (hundreds of simulated jobs, 20-30 s
    a seed), Optuna's GP on the 100-evaluation problems, SMAC, hpbandster's and Syne Tune's BOHB (a KDE
    refit per result), real training (block C) and the LLM row (CPU inference: about 1,000 s for one
    seed beside the other processes) get 1-5 seeds. Longest tasks first, so the two process slots
    finish together. About 6 minutes are left for new rows.
    """
    ten, five, three = tuple(range(1, 11)), tuple(range(1, 6)), (1, 2, 3)
    block_b = ("mfh6_good", "mfh6_bad", "mfh3_good")
    block_c = ("digits_mlp", "digits_gbm")  # digits_cnn (the demo network) below, with fewer optimizers
    ours_mf = ("ours_hyperband", "ours_bohb", "ours_dehb")
    tasks = _llm_rows(("branin",), (1,), local_model=True)
    c_peers = ("random", "optuna_tpe_hyperband", "dehb")
    tasks += [Task(o, p, three) for p in block_c for o in (*ours_mf, *c_peers)]
    tasks += [Task("synetune_asha", p, three) for p in block_c]
    tasks += [Task(o, "digits_cnn", three) for o in ("ours_hyperband", "ours_bohb", "random", "optuna_tpe_hyperband")]
    tasks += [Task("hpbandster_bohb", p, three) for p in ("digits_mlp", "mfh6_good", "mfh6_bad")]
    tasks += [Task("synetune_bohb", p, three) for p in (*block_b, "digits_mlp")]
    tasks += [Task(o, p, five) for p in block_b for o in ours_mf]
    tasks += [Task("ours_asha", p, three) for p in ("mfh6_good", "mfh6_bad")]
    tasks += [Task("smac_multifidelity", "mfh6_good", three), Task("smac_blackbox", "branin", three)]
    tasks += [Task(o, p, three) for p in ("hartmann6", "ackley5") for o in ("ours_bayesian", "optuna_gp")]
    tasks += [Task(o, p, ten) for p in ("branin", "hartmann3") for o in ("ours_bayesian", "optuna_gp")]
    tasks += [Task("smac_hpo", p, three) for p in ("branin", "hartmann3")]
    tasks += [Task(o, "mfh6_good", three, workers=4) for o in WALLTIME_OURS]
    cheap_mf = ("random", "optuna_tpe", "optuna_tpe_hyperband", "dehb", "hpbandster_hyperband", "synetune_asha")
    tasks += [Task(o, p, ten) for p in block_b for o in cheap_mf]
    tasks += [Task("optuna_tpe_sha", p, five) for p in block_b]
    cheap_a = ("ours_random", "random", "optuna_tpe", "optuna_cmaes", "hyperopt_tpe")
    tasks += [Task(o, p, ten) for p in ("branin", "hartmann3", "hartmann6", "ackley5") for o in cheap_a]
    return tasks


def ci_plan() -> list[Task]:
    """3 seeds of block A (2 problems), block B on mfh6_good, block C on the digits MLP; under 10 minutes."""
    seeds = (1, 2, 3)
    tasks = [Task(o, "digits_mlp", seeds) for o in ("ours_dehb", "random", "optuna_tpe_hyperband")]
    mf = ("ours_bohb", "ours_dehb", "random", "optuna_tpe_hyperband", "dehb", "hpbandster_hyperband", "synetune_asha")
    tasks += [Task(o, "mfh6_good", seeds) for o in mf]
    tasks += [Task(o, "mfh6_good", seeds[:1]) for o in ("hpbandster_bohb", "synetune_bohb")]
    tasks += [
        Task(o, p, seeds)
        for p in ("branin", "hartmann3")
        for o in ("ours_bayesian", "ours_random", "random", "optuna_tpe", "optuna_gp", "hyperopt_tpe")
    ]
    tasks += [Task(o, "mfh6_good", seeds[:1], workers=4) for o in ("ours_asha", "ours_hyperband", "ours_random")]
    return tasks + _llm_rows(("branin",), seeds[:1], local_model=False)


PLANS = {"full": full_plan, "ci": ci_plan}
