"""BOHB (Falkner et al., 2018): Hyperband whose new configurations come from a model.

The model is Optuna's multivariate TPE. Its good side is the best tenth of the largest budget that
has enough observations (at least ``d + 1`` for ``d`` parameters): Falkner's rule, because those are
the most trustworthy measurements. Every configuration stopped at a lower budget joins the bad side
as a pruned trial at the budget it reached (Optuna's TPE learns from its own pruned trials the same
way), so the model also learns where not to sample from every rung, without letting noisy low-budget
values into the good side. A third of the configurations stay random so the model cannot lock onto a
bad region early.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState, create_trial

from tao_automl.algorithms.base import fingerprint
from tao_automl.algorithms.hyperband import Hyperband, Observation

RANDOM_FRACTION = 1 / 3
GOOD_FRACTION = 0.1  # Optuna's default split (ceil(10 %), at most 25), applied to the model budget alone
MAX_GOOD = 25


class BOHB(Hyperband):
    """Hyperband schedule + TPE config generator: good side from the largest well-observed budget."""

    name = "bohb"

    def new_config(self, epochs: int) -> tuple[dict[str, Any], str]:
        budgets = sorted(self._obs, reverse=True)
        min_points = len(self.space) + 1
        budget = next((b for b in budgets if len(self._obs[b]) >= min_points), None)
        if budget is None or self._rng.random() < RANDOM_FRACTION:
            return self.space.sample(self._rng), "random draw"
        measured, stopped = self._obs[budget], self._stopped_below(budget)
        note = f"TPE on {len(measured)} results at {budget} epochs and {len(stopped)} stopped earlier"
        return self._tpe(measured, budget, stopped), note

    def _stopped_below(self, budget: int) -> list[tuple[dict[str, Any], int, float]]:
        """(params, epochs, metric) at the furthest budget of every finished configuration that ended below it."""
        running = {
            fingerprint(e.params)
            for b in self.brackets
            for rung in b.entries
            for e in rung
            if e.rec_id is not None and not e.done
        }
        furthest: dict[str, tuple[dict[str, Any], int, float]] = {}
        for b in sorted(self._obs):
            for params, value in self._obs[b]:
                furthest[fingerprint(params)] = (params, b, value)
        return [o for key, o in furthest.items() if o[1] < budget and key not in running]

    def _tpe(
        self, measured: list[Observation], budget: int, stopped: list[tuple[dict[str, Any], int, float]]
    ) -> dict[str, Any]:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        n_good = min(math.ceil(GOOD_FRACTION * len(measured)), MAX_GOOD)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # ``gamma`` is deprecated (still in optuna<6, pinned)
            sampler = optuna.samplers.TPESampler(
                seed=self._rng.randrange(2**31), n_startup_trials=0, multivariate=True, gamma=lambda _: n_good
            )
        study = optuna.create_study(direction=self.direction, sampler=sampler)
        distributions = {p.name: p.distribution() for p in self.space}
        trials = [create_trial(params=self._internal(p), distributions=distributions, value=v) for p, v in measured]
        study.add_trials(trials + [self._pruned(p, epochs, v, distributions) for p, epochs, v in stopped])
        trial = study.ask(distributions)
        return self.space.repair({p.name: p.decode(trial.params[p.name]) for p in self.space})

    def _internal(self, params: dict[str, Any]) -> dict[str, Any]:
        return {p.name: p.encode(params[p.name]) for p in self.space}

    def _pruned(self, params: dict[str, Any], epochs: int, value: float, distributions: dict[str, Any]) -> FrozenTrial:
        """A pruned trial: Optuna ranks it after every complete one, so it only ever shapes the bad side."""
        return create_trial(
            params=self._internal(params),
            distributions=distributions,
            state=TrialState.PRUNED,
            intermediate_values={epochs: value},
        )
