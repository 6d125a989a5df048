"""Bayesian optimization through Optuna's ask/tell interface.

GP by default for the budgets TAO users run (tens of trials: GP found lower regret than TPE on
Hartmann-6 at 50 trials), TPE for large budgets or on request. The GP is our NumPy port of Optuna's
model (:mod:`tao_automl.surrogates`): same kernel, priors and LogEI, about a quarter of the time per
suggestion. Both are pending-aware (the GP by kriging believer, TPE by the constant liar), so
parallel proposals differ. Startup proposals are drawn from our own prior (log scales, option
weights), not Optuna's uniform one. Failures that are the configuration's fault (invalid, out of
memory) are told with the worst value seen and marked infeasible through a constraint, so both
models steer away from that region.

When the GP re-proposes a configuration already tried (it does so once converged: the incumbent
wins its own acquisition), the proposal becomes a small random step from that configuration.
"""

from __future__ import annotations

import math
import random
import warnings
from typing import Any

import optuna
from optuna.trial import Trial, TrialState, create_trial

from tao_automl.algorithms.base import Algorithm, Feedback, Proposal, RecStatus, fingerprint
from tao_automl.surrogates.gp_sampler import FastGPSampler

_CONFIG_FAULTS = {"invalid_configuration", "out_of_memory"}
#: Optuna constraint name: > 0 the configuration itself failed (TPE puts such trials on its bad side).
_CONSTRAINT = "config_fault"
#: Standard deviation, in unit-scaled coordinates, of the step taken from a re-proposed configuration.
_LOCAL_STEP = 0.03


class BayesianSearch(Algorithm):
    """Model-based search (Optuna GP or TPE sampler) behind the ask/tell interface."""

    name = "bayesian"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        budget = self.settings.automl_max_recommendations
        self.n_startup = self.settings.automl_n_startup_trials or min(10, max(3, math.ceil(budget / 3)))
        choice = self.settings.automl_sampler
        self.sampler_name = ("gp" if budget <= 100 else "tpe") if choice == "auto" else choice
        self._rng = random.Random(self.seed)
        self.study = self._new_study()
        self._distributions = {p.name: p.distribution() for p in self.space}
        self._unbound: dict[str, Trial] = {}
        self._trials: dict[int, Trial] = {}
        self._seen: set[str] = set()
        self._worst: float | None = None
        self._pending_penalties: list[Trial] = []

    def _new_study(self) -> optuna.Study:
        if self.sampler_name == "gp":
            sampler: optuna.samplers.BaseSampler = FastGPSampler(seed=self.seed, n_startup_trials=self.n_startup)
        elif self.sampler_name == "tpe":
            sampler = optuna.samplers.TPESampler(
                seed=self.seed,
                n_startup_trials=self.n_startup,
                constant_liar=True,
                multivariate=True,
            )
        else:
            sampler = optuna.samplers.RandomSampler(seed=self.seed)
        return optuna.create_study(direction=self.direction, sampler=sampler)

    def _n_model_ready(self) -> int:
        return len(self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))

    def propose(self, n: int) -> list[Proposal]:
        return [self._propose_one() for _ in range(n)]

    def _propose_one(self) -> Proposal:
        started = len(self.study.get_trials(deepcopy=False))
        if started < self.n_startup or self._n_model_ready() == 0:
            return self._enqueue(self.space.sample(self._rng), "startup draw from the prior")
        for _ in range(10):
            trial = self.study.ask(self._distributions)
            params = self.space.repair({p.name: p.decode(trial.params[p.name]) for p in self.space})
            if fingerprint(params) not in self._seen:
                return self._register(trial, params, f"{self.sampler_name} proposal")
            self.study.tell(trial, state=TrialState.FAIL)
            if self.sampler_name == "gp":  # deterministic given the same trials: asking again repeats it
                return self._step_from(params)
        return self._enqueue(self.space.sample(self._rng), "prior draw (model repeated known configurations)")

    def _step_from(self, params: dict[str, Any]) -> Proposal:
        """A small random step from ``params`` along its numeric dimensions (options kept)."""
        for _ in range(20):
            moved = dict(params)
            for p in self.space:
                if not p.choices:
                    u = p.to_unit(params[p.name]) + self._rng.gauss(0, _LOCAL_STEP)
                    moved[p.name] = p.from_unit(min(max(u, 0.0), 1.0))
            moved = self.space.repair(moved)
            if fingerprint(moved) not in self._seen:
                return self._enqueue(moved, f"{self.sampler_name} proposal, stepped from a known configuration")
        return self._enqueue(self.space.sample(self._rng), "prior draw (model repeated known configurations)")

    def _enqueue(self, params: dict[str, Any], note: str) -> Proposal:
        for _ in range(20):
            if fingerprint(params) not in self._seen:
                break
            params = self.space.sample(self._rng)
        self.study.enqueue_trial({p.name: p.encode(params[p.name]) for p in self.space}, skip_if_exists=False)
        trial = self.study.ask(self._distributions)
        return self._register(trial, params, note)

    def _register(self, trial: Trial, params: dict[str, Any], note: str) -> Proposal:
        key = fingerprint(params)
        self._seen.add(key)
        self._unbound[key] = trial
        return Proposal(params=params, note=note, meta={"sampler": self.sampler_name})

    def withdraw(self, proposal: Proposal) -> None:
        """A proposal that will never be bound (hybrid's unchosen candidates): its trial is dropped."""
        key = fingerprint(proposal.params)
        trial = self._unbound.pop(key, None)
        if trial is not None:
            self.study.tell(trial, state=TrialState.FAIL)
            self._seen.discard(key)

    def bind(self, rec_id: int, proposal: Proposal) -> None:
        key = fingerprint(proposal.params)
        trial = self._unbound.pop(key, None)
        if trial is None:
            self.study.enqueue_trial(
                {p.name: p.encode(proposal.params[p.name]) for p in self.space}, skip_if_exists=False
            )
            trial = self.study.ask(self._distributions)
        self._seen.add(key)
        self._trials[rec_id] = trial

    def report(self, feedback: Feedback) -> None:
        if feedback.intermediate:
            return
        trial = self._trials.pop(feedback.rec_id, None)
        if trial is None:
            return
        if feedback.status is RecStatus.SUCCESS and feedback.metric is not None and math.isfinite(feedback.metric):
            self.study.tell(trial, feedback.metric)
            if self._worst is None or self.better(self._worst, feedback.metric):
                self._worst = feedback.metric
            self._flush_penalties()
        elif feedback.failure_class in _CONFIG_FAULTS or feedback.status is RecStatus.INVALID_CONFIGURATION:
            trial.set_constraint(_CONSTRAINT, 1.0)
            self._pending_penalties.append(trial)
            self._flush_penalties()
        else:
            self.study.tell(trial, state=TrialState.FAIL)

    def _flush_penalties(self) -> None:
        """Tell infeasible trials once a penalty value (the worst metric seen) exists."""
        if self._worst is None:
            return
        for trial in self._pending_penalties:
            self.study.tell(trial, self._worst)
        self._pending_penalties.clear()

    def warm_start(self, params: dict[str, Any], metric: float) -> None:
        """Add the measured default configuration as a completed trial (clipped into the space)."""
        inside = {}
        for p in self.space:
            value = params.get(p.name, p.default)
            if not p.contains(value):
                return
            inside[p.name] = p.encode(value)
        self.study.add_trial(
            create_trial(
                params=inside,
                distributions=self._distributions,
                value=metric,
            )
        )
        self._seen.add(fingerprint({p.name: p.decode(v) for p, v in zip(self.space, inside.values(), strict=True)}))
        if self._worst is None or self.better(self._worst, metric):
            self._worst = metric

    def restore(self, history: list[tuple[Any, ...]]) -> None:
        """Rebuild the study: finished recommendations become trials, running ones are re-asked."""
        self.study = self._new_study()
        self._trials.clear()
        self._unbound.clear()
        self._rng = random.Random(f"{self.seed}:{len(history)}")
        super().restore(history)
