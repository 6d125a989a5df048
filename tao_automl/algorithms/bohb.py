"""BOHB (Falkner et al., 2018): Hyperband whose new configurations come from a model.

The model is Optuna's multivariate TPE, fitted on the largest budget that has enough
observations (at least ``d + 1`` for ``d`` parameters); a third of the configurations stay random
so the model cannot lock onto a bad region early.
"""

from __future__ import annotations

import warnings
from typing import Any

import optuna
from optuna.trial import create_trial

from tao_automl.algorithms.hyperband import Hyperband

RANDOM_FRACTION = 1 / 3


class BOHB(Hyperband):
    """Hyperband schedule + TPE config generator over the largest well-observed budget."""

    name = "bohb"

    def new_config(self, epochs: int) -> tuple[dict[str, Any], str]:
        budgets = sorted(self._obs, reverse=True)
        min_points = len(self.space) + 1
        budget = next((b for b in budgets if len(self._obs[b]) >= min_points), None)
        if budget is None or self._rng.random() < RANDOM_FRACTION:
            return self.space.sample(self._rng), "random draw"
        return self._tpe(self._obs[budget]), f"TPE on {len(self._obs[budget])} results at {budget} epochs"

    def _tpe(self, observations: list[tuple[dict[str, Any], float]]) -> dict[str, Any]:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=self._rng.randrange(2**31), n_startup_trials=0, multivariate=True)
        study = optuna.create_study(direction=self.direction, sampler=sampler)
        distributions = {p.name: p.distribution() for p in self.space}
        for params, value in observations:
            internal = {p.name: p.encode(params[p.name]) for p in self.space}
            study.add_trial(create_trial(params=internal, distributions=distributions, value=value))
        trial = study.ask(distributions)
        return self.space.repair({p.name: p.decode(trial.params[p.name]) for p in self.space})
