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
from collections import Counter
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._distributions = {p.name: p.distribution() for p in self.space}
        self._model: optuna.Study | None = None
        self._model_budget = 0
        self._model_entries: Counter[tuple[str, int | None, float]] = Counter()
        self._keys: dict[int, tuple[dict[str, Any], str]] = {}

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
            self._key(e.params)
            for b in self.brackets
            for rung in b.entries
            for e in rung
            if e.rec_id is not None and not e.done
        }
        furthest: dict[str, tuple[dict[str, Any], int, float]] = {}
        for b in sorted(self._obs):
            for params, value in self._obs[b]:
                furthest[self._key(params)] = (params, b, value)
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
        entries = [(self._key(p), None, v, p) for p, v in measured]
        entries += [(self._key(p), epochs, v, p) for p, epochs, v in stopped]
        study = self._model_study(budget, entries)
        study.sampler = sampler
        trial = study.ask(self._distributions)
        study.tell(trial, state=TrialState.FAIL)  # the model's own ask: never data for the next one
        return self.space.repair({p.name: p.decode(trial.params[p.name]) for p in self.space})

    def _model_study(self, budget: int, entries: list[tuple[str, int | None, float, dict[str, Any]]]) -> optuna.Study:
        """The TPE study holding ``entries`` (complete when epochs is None, else pruned at epochs).

        Between two proposals most entries are unchanged, and Optuna deep-copies every trial it stores
        (it was 60 % of a BOHB run's time when rebuilt per proposal), so the study is kept and only new
        entries are added. It is rebuilt when the model budget changes or an entry in it no longer holds
        (a configuration promoted past the rung it had stopped at).
        """
        wanted = Counter((key, epochs, value) for key, epochs, value, _ in entries)
        held = self._model_entries
        if self._model is None or self._model_budget != budget or held - wanted:
            self._model = optuna.create_study(direction=self.direction)
            self._model_budget, held = budget, Counter()
        new = wanted - held
        trials = []
        for key, epochs, value, params in entries:
            if new[(key, epochs, value)] > 0:
                new[(key, epochs, value)] -= 1
                trials.append(self._trial(params, epochs, value))
        self._model.add_trials(trials)
        self._model_entries = wanted
        return self._model

    def _key(self, params: dict[str, Any]) -> str:
        """``fingerprint(params)`` once per configuration object: every proposal walks all observations.

        The object is held with its key, so its ``id`` cannot be reused by another dict meanwhile.
        """
        hit = self._keys.get(id(params))
        if hit is None or hit[0] is not params:
            hit = self._keys[id(params)] = (params, fingerprint(params))
        return hit[1]

    def _trial(self, params: dict[str, Any], epochs: int | None, value: float) -> FrozenTrial:
        """Complete at the model budget, or pruned: Optuna ranks pruned after every complete trial, so a
        configuration stopped below the model budget only ever shapes the bad side."""
        internal = {p.name: p.encode(params[p.name]) for p in self.space}
        if epochs is None:
            return create_trial(params=internal, distributions=self._distributions, value=value)
        return create_trial(
            params=internal,
            distributions=self._distributions,
            state=TrialState.PRUNED,
            intermediate_values={epochs: value},
        )
