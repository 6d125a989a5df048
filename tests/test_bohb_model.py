"""BOHB's model: which results it learns from, driven through the ask/tell interface as the runner does."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from optuna.trial import TrialState

from tao_automl.algorithms import Feedback, RecStatus, make_algorithm
from tao_automl.algorithms.base import fingerprint
from tao_automl.settings import AutoMLSettings
from tao_automl.skill import ModelSkill
from tao_automl.space import build_search_space


def loss(params: dict[str, Any], epoch: int) -> float:
    return (params["train.x"] - 0.3) ** 2 + (params["train.y"] + 0.2) ** 2 + 0.5 * math.exp(-epoch / 3)


def test_model_counts_configurations_stopped_below_the_model_budget(quadratic_skill: Path) -> None:
    """Once a higher budget has enough results, configurations stopped lower still inform the model (bad side)."""
    space = build_search_space(ModelSkill.load(quadratic_skill).schema("train"))
    settings = AutoMLSettings.parse({"automl_max_epochs": 9, "automl_max_total_epochs": 400})
    bohb = make_algorithm("bohb", space, direction="minimize", settings=settings)
    furthest: dict[str, int] = {}
    notes = []
    for rec_id in range(1, 40):
        (proposal,) = bohb.propose(1)
        match = re.search(r"TPE on (\d+) results at (\d+) epochs and (\d+) stopped earlier", proposal.note)
        if match:
            n_top, budget, n_below = (int(g) for g in match.groups())
            measured_at = [b for b in furthest.values() if b >= budget]
            assert n_top >= len(space) + 1 and n_top <= len(measured_at)
            assert n_below == sum(1 for b in furthest.values() if b < budget)
            notes.append((budget, n_below))
            # the model study kept between proposals holds exactly this data (stale entries rebuilt away)
            held = bohb._model.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
            assert sum(t.state == TrialState.COMPLETE for t in held) == n_top
            assert sum(t.state == TrialState.PRUNED for t in held) == n_below
        bohb.bind(rec_id, proposal)
        bohb.report(Feedback(rec_id, RecStatus.SUCCESS, loss(proposal.params, proposal.budget), epoch=proposal.budget))
        key = fingerprint(proposal.params)
        furthest[key] = max(furthest.get(key, 0), proposal.budget)
    assert any(budget > 1 and n_below > 0 for budget, n_below in notes)


def _tpe_note(bohb: Any) -> str:
    """The note of the next model-based proposal (random draws in between are left unlaunched)."""
    for _ in range(12):
        (proposal,) = bohb.propose(1)
        if "TPE on" in proposal.note:
            return proposal.note
    raise AssertionError("no model-based proposal in 12 draws")


def test_a_running_configuration_is_not_taken_for_a_stopped_one(quadratic_skill: Path) -> None:
    """Stopping mode: a job still training past a low rung is not yet evidence against its configuration."""
    space = build_search_space(ModelSkill.load(quadratic_skill).schema("train"))
    settings = AutoMLSettings.parse({"automl_max_epochs": 9, "automl_max_total_epochs": 400})
    bohb = make_algorithm("bohb", space, direction="minimize", settings=settings, resumable=False)
    for rec_id in range(1, 7):
        (proposal,) = bohb.propose(1)
        assert proposal.budget == 9 and proposal.resume_from is None
        bohb.bind(rec_id, proposal)
        for epoch in (1, 3, 9) if rec_id < 6 else (1,):
            metric = loss(proposal.params, epoch)
            bohb.report(Feedback(rec_id, RecStatus.RUNNING, metric, epoch=epoch, intermediate=True))
        if rec_id < 6:
            bohb.report(Feedback(rec_id, RecStatus.SUCCESS, metric, epoch=9))
    assert "TPE on 5 results at 9 epochs and 0 stopped earlier" in _tpe_note(bohb)
    bohb.report(Feedback(6, RecStatus.CANCELED, None, epoch=1))
    assert "TPE on 5 results at 9 epochs and 1 stopped earlier" in _tpe_note(bohb)
