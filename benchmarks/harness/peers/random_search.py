"""Random search at the highest fidelity: the floor every method is measured against."""

from __future__ import annotations

import random

from benchmarks.harness.ledger import BudgetExhausted, Ledger
from benchmarks.harness.problems import Problem
from benchmarks.harness.space import sample_config


def run_random(problem: Problem, ledger: Ledger, seed: int) -> None:
    rng = random.Random(seed)
    try:
        while True:
            ledger.evaluate(sample_config(problem.space, rng), problem.z_max)
    except BudgetExhausted:
        return
