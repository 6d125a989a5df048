"""Syne Tune 0.16: ASHA (Li et al. 2018) and its BOHB (ASHA with a kernel-density searcher).

Both are Syne Tune's own baselines (``syne_tune.optimizer.baselines.ASHA`` / ``BOHB``), which in
0.16 are *stopping*-type asynchronous successive halving: a trial trains epoch by epoch and the
scheduler stops it at a rung when it is outside the top 1/eta there; promotion-type Hyperband
(``HyperbandScheduler(type="promotion")`` of earlier releases) no longer exists. Syne Tune's BOHB
fits its KDE on the last value each trial reported ("we use asynchronous successive halving for
scheduling", its docstring says), not on one rung's results as Falkner et al.'s does.

The scheduler is driven here as Syne Tune's ``Tuner`` drives it with one worker: ``suggest``, then
``on_trial_add``, then one ``on_trial_result`` per epoch until it answers STOP (which it also does
at ``max_t``), then ``on_trial_remove``. We drive it in-process rather than through the ``Tuner``
because its local backends run every trial as a subprocess of a training script and poll it, which would
measure process start-up and polling intervals, not the scheduler. Library defaults except
``reduction_factor=3`` and the fidelity range (``time_attr="epoch"``, ``grace_period=z_min``,
``max_t=z_max``).
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

import numpy as np
from syne_tune.backend.trial_status import Trial
from syne_tune.config_space import Domain, lograndint, loguniform, ordinal, randint, uniform
from syne_tune.optimizer.baselines import ASHA, BOHB
from syne_tune.optimizer.scheduler import SchedulerDecision, TrialScheduler
from syne_tune.optimizer.schedulers.asha import AsynchronousSuccessiveHalving

from benchmarks.harness.ledger import BudgetExhausted, Ledger
from benchmarks.harness.problems import Problem
from benchmarks.harness.space import Space

logging.getLogger("syne_tune").setLevel(logging.ERROR)

METRIC = "loss"
RESOURCE = "epoch"


def to_config_space(space: Space) -> dict[str, Domain]:
    """The neutral space as Syne Tune domains; ordinals keep Syne Tune's default kind (nearest neighbour)."""
    domains: dict[str, Domain] = {}
    for d in space:
        if d.kind == "ordinal":
            domains[d.name] = ordinal(list(d.choices))
        elif d.kind == "int":
            domains[d.name] = (lograndint if d.log else randint)(int(d.low), int(d.high))
        else:
            domains[d.name] = (loguniform if d.log else uniform)(d.low, d.high)
    return domains


def to_config(space: Space, config: dict[str, Any]) -> dict[str, Any]:
    """Plain Python values in the neutral space's order (Syne Tune may hand back numpy scalars)."""
    out: dict[str, Any] = {}
    for d in space:
        value = config[d.name]
        if d.kind == "ordinal":
            out[d.name] = next(c for c in d.choices if c == value)
        else:
            out[d.name] = int(value) if d.kind == "int" else float(value)
    return out


def drive(scheduler: TrialScheduler, problem: Problem, ledger: Ledger) -> None:
    """Run trials one at a time, reporting every epoch, until the ledger's budget is spent."""
    trial_id = 0
    try:
        while (suggestion := scheduler.suggest()) is not None:
            trial = Trial(trial_id=trial_id, config=suggestion.config, creation_time=datetime.datetime.now())
            trial_id += 1
            scheduler.on_trial_add(trial)
            config = to_config(problem.space, suggestion.config)
            result: dict[str, Any] = {}
            for epoch in range(problem.z_min, problem.z_max + 1):
                result = {RESOURCE: epoch, METRIC: ledger.evaluate(config, epoch)}
                if scheduler.on_trial_result(trial, result) != SchedulerDecision.CONTINUE:
                    scheduler.on_trial_remove(trial)
                    break
            else:
                scheduler.on_trial_complete(trial, result)
    except BudgetExhausted:
        return


def _schedule(kind: type[AsynchronousSuccessiveHalving], problem: Problem, ledger: Ledger, seed: int) -> None:
    # Syne Tune 0.16 seeds its first random draws but not all: once fitted, its random searcher (ASHA) and
    # the KDE searcher's random fraction (BOHB) sample domains with numpy's global generator. Seeding that
    # generator per run is what makes a Syne Tune run repeatable at all.
    np.random.seed(seed)
    scheduler = kind(
        config_space=to_config_space(problem.space),
        metric=METRIC,
        do_minimize=True,
        time_attr=RESOURCE,
        max_t=problem.z_max,
        grace_period=problem.z_min,
        reduction_factor=3,
        random_seed=seed,
    )
    drive(scheduler, problem, ledger)


def run_asha(problem: Problem, ledger: Ledger, seed: int) -> None:
    _schedule(ASHA, problem, ledger, seed)


def run_bohb(problem: Problem, ledger: Ledger, seed: int) -> None:
    _schedule(BOHB, problem, ledger, seed)
