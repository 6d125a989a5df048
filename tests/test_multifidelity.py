"""Multi-fidelity schedules on a simulated clock: the real runner, store and algorithms, simulated jobs.

Hours of simulated training run in well under a second; the simulated platform writes real checkpoint
files, so promotions are checked against the exact checkpoint paths the runner put in the specs.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from tao_automl.algorithms import Feedback, RecStatus, make_algorithm
from tao_automl.algorithms.rungs import asha_rungs, hyperband_brackets
from tao_automl.platforms.simulated import SimClock, SimulatedPlatform
from tao_automl.runner import AutoMLRunner
from tao_automl.settings import AutoMLSettings
from tao_automl.skill import ModelSkill
from tao_automl.space import build_search_space

NO_EXTRAS = {"automl_baseline": False}


def curve(params: dict[str, Any], epoch: int) -> float:
    """Loss that falls with epochs; the configuration sets the floor (minimum near x=0.3, y=-0.2)."""
    floor = (params["train.x"] - 0.3) ** 2 + (params["train.y"] + 0.2) ** 2
    return floor + 0.5 * math.exp(-epoch / 3)


def simulate(skill: Path, tmp_path: Path, algorithm: str, **settings: Any) -> tuple[dict[str, Any], SimulatedPlatform]:
    clock = SimClock()
    platform = SimulatedPlatform(curve=curve, clock=clock, metric="loss", epoch_seconds=60, startup_seconds=20)
    runner = AutoMLRunner(platform, skill, workspace_dir=tmp_path / "ws", poll_interval=10, clock=clock)
    events: list[tuple[float, str, dict[str, Any]]] = []
    runner.listeners.append(lambda event, data: events.append((clock.now(), event, data)))
    merged = {"automl_max_concurrent": 4, "automl_max_epochs": 9, "automl_reduction_factor": 3, **NO_EXTRAS}
    result = runner.run(algorithm, {**merged, **settings}, spec_overrides={"dataset.num_samples": 64})
    result["_events"] = events
    return result, platform


def test_hyperband_bracket_sizes() -> None:
    as_pairs = [[(r.n, r.epochs) for r in bracket] for bracket in hyperband_brackets(27, 3)]
    assert as_pairs == [[(27, 1), (9, 3), (3, 9), (1, 27)], [(12, 3), (4, 9), (1, 27)], [(6, 9), (2, 27)], [(4, 27)]]
    as_pairs = [[(r.n, r.epochs) for r in bracket] for bracket in hyperband_brackets(9, 3)]
    assert as_pairs == [[(9, 1), (3, 3), (1, 9)], [(5, 3), (1, 9)], [(3, 9)]]
    assert asha_rungs(27, 3) == [1, 3, 9, 27] and asha_rungs(10, 3) == [1, 3, 9, 10]


def _spec(result: dict[str, Any], rec_id: int) -> dict[str, Any]:
    return yaml.safe_load((Path(result["workspace"]) / "recs" / f"{rec_id:04d}" / "spec.yaml").read_text())


def test_hyperband_promotes_from_exact_checkpoints(quadratic_skill: Path, tmp_path: Path) -> None:
    result, platform = simulate(quadratic_skill, tmp_path, "hyperband")
    history = {h["rec_id"]: h for h in result["history"]}
    assert len(history) == 9 + 3 + 1 + 5 + 1 + 3 == result["progress"]["total"]
    promotions = [h for h in history.values() if h["resume_from"] is not None]
    assert len(promotions) == 3 + 1 + 1
    for child in promotions:
        parent = history[child["resume_from"]]
        assert child["params"] == parent["params"]
        resume = _spec(result, child["rec_id"])["train"]["resume_training_checkpoint_path"]
        assert resume.endswith(f"{parent['rec_id']:04d}/results/model_epoch_{parent['epochs_trained']:03d}.pth")
        assert child["budget"] > parent["budget"]
    # Promotion trains only the extra epochs: 9+2*3+6 (bracket 0) + 15+6 (bracket 1) + 27 (bracket 2).
    assert platform.epochs_trained == 69
    best = history[result["best"]["rec_id"]]
    assert best["epochs_trained"] == 9
    # Checkpoints of configurations that can no longer be promoted are gone; the winner's stays.
    assert Path(result["best"]["checkpoint"]).is_file()
    pruned = [h for h in history.values() if h["checkpoints_deleted"]]
    assert len(pruned) >= 10 and result["best"]["rec_id"] not in {h["rec_id"] for h in pruned}


def test_asha_promotes_asynchronously_and_never_idles(quadratic_skill: Path, tmp_path: Path) -> None:
    result, _ = simulate(quadratic_skill, tmp_path, "asha", automl_max_recommendations=24)
    history = result["history"]
    assert len(history) == 24
    first_promotion = min(h["rec_id"] for h in history if h["resume_from"] is not None)
    rung0 = [h for h in history if h["budget"] == 1]
    assert first_promotion < max(h["rec_id"] for h in rung0)  # promoted before rung 0 was done
    events = result["_events"]
    submits = [t for t, e, d in events if e == "submitted" and d["role"] == "train"]
    finishes = [t for t, e, _ in events if e == "result"]
    # Every finish before the budget ran out was followed by a new job at the same simulated moment.
    for t in finishes[: len(submits) - 4]:
        assert t in submits
    assert {h["budget"] for h in history} == {1, 3, 9}
    assert max(h["epochs_trained"] for h in history if h["status"] == "success") == 9


@pytest.mark.parametrize("algorithm", ["hyperband", "asha"])
def test_stopping_mode_cancels_at_rung_boundaries(quadratic_skill: Path, tmp_path: Path, algorithm: str) -> None:
    extra = {"automl_max_recommendations": 12} if algorithm == "asha" else {}
    result, platform = simulate(quadratic_skill, tmp_path, algorithm, automl_rung_mode="stopping", **extra)
    history = result["history"]
    assert all(h["resume_from"] is None and h["budget"] == 9 for h in history)
    stopped = [h for h in history if h["early_stop_epoch"] is not None]
    assert stopped and {h["early_stop_epoch"] for h in stopped} <= {1, 3}
    assert platform.epochs_trained < 9 * len(history)
    best = next(h for h in history if h["rec_id"] == result["best"]["rec_id"])
    assert best["early_stop_epoch"] is None and best["epochs_trained"] == 9


@pytest.mark.parametrize(("algorithm", "note"), [("bohb", "TPE on"), ("dehb", "DE/rand/1/bin")])
def test_model_based_brackets_stay_inside_the_space(
    quadratic_skill: Path, tmp_path: Path, algorithm: str, note: str
) -> None:
    result, _ = simulate(quadratic_skill, tmp_path, algorithm, automl_max_epochs=27)
    space = build_search_space(ModelSkill.load(quadratic_skill).schema("train"))
    for h in result["history"]:
        assert all(space[name].contains(value) for name, value in h["params"].items())
    assert any(note in h["note"] for h in result["history"])


@pytest.mark.parametrize("name", ["hyperband", "asha", "bohb", "dehb"])
def test_restore_mid_schedule_continues_identically(quadratic_skill: Path, name: str) -> None:
    """Replay half a run into a fresh instance: both propose the same next steps."""
    space = build_search_space(ModelSkill.load(quadratic_skill).schema("train"))
    settings = AutoMLSettings.parse({"automl_max_epochs": 9, "automl_max_recommendations": 30})

    def make():  # type: ignore[no-untyped-def]
        return make_algorithm(name, space, direction="minimize", settings=settings)

    live, history, rec_id = make(), [], 0
    for _ in range(6):
        for proposal in live.propose(2):
            rec_id += 1
            live.bind(rec_id, proposal)
            feedback = Feedback(
                rec_id, RecStatus.SUCCESS, curve(proposal.params, proposal.budget), epoch=proposal.budget
            )
            live.report(feedback)
            history.append((rec_id, proposal, feedback, []))
    restored = make()
    restored.restore(history)
    a, b = live.propose(3), restored.propose(3)
    assert [(p.budget, p.resume_from) for p in a] == [(p.budget, p.resume_from) for p in b]
    assert [p.params for p in a if p.resume_from] == [p.params for p in b if p.resume_from]


@pytest.mark.parametrize("algorithm", ["asha", "hyperband", "random"])
def test_epoch_budget_counts_only_new_epochs(quadratic_skill: Path, tmp_path: Path, algorithm: str) -> None:
    result, platform = simulate(
        quadratic_skill, tmp_path, algorithm, automl_max_total_epochs=27, automl_max_recommendations=100
    )
    assert platform.epochs_trained <= 27 + 9  # the last launch may start just under the limit
    trained = {h["rec_id"]: h["epochs_trained"] for h in result["history"]}
    spent = sum(h["epochs_trained"] - trained.get(h["resume_from"], 0) for h in result["history"])
    assert spent == platform.epochs_trained


@pytest.mark.parametrize(("name", "note", "needed"), [("bohb", "TPE on", None), ("dehb", "DE/rand/1/bin", 4)])
def test_model_draws_rung_zero_lazily_from_results_so_far(
    quadratic_skill: Path, name: str, note: str, needed: int | None
) -> None:
    """The first bracket's rung 0 is drawn one launch at a time, so the model engages inside it."""
    space = build_search_space(ModelSkill.load(quadratic_skill).schema("train"))
    settings = AutoMLSettings.parse({"automl_max_epochs": 27, "automl_max_recommendations": 100})
    algorithm = make_algorithm(name, space, direction="minimize", settings=settings)
    needed = needed or len(space) + 1
    notes = []
    for rec_id in range(1, 20):
        (proposal,) = algorithm.propose(1)
        assert proposal.budget == 1 and proposal.resume_from is None  # still rung 0 of the first bracket (27 slots)
        algorithm.bind(rec_id, proposal)
        algorithm.report(Feedback(rec_id, RecStatus.SUCCESS, curve(proposal.params, 1), epoch=1))
        notes.append(proposal.note)
    assert not any(note in n for n in notes[:needed])
    assert all(note in n or "random draw" in n for n in notes[needed:])
    assert any(note in n for n in notes[needed:])
