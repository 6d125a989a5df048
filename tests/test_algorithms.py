"""Conformance tests written once for every registered algorithm, plus bayesian-specific behaviour.

A configuration may recur only as a continuation (``resume_from`` set: a promotion or a PBT step).

Adding an algorithm to the registry adds it to these tests.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from optuna.trial import TrialState
from services.llm_server import ScriptedLLM, cooperative

from tao_automl.algorithms import Feedback, RecStatus, available_algorithms, fingerprint, make_algorithm
from tao_automl.errors import ConfigurationError
from tao_automl.settings import AutoMLSettings
from tao_automl.space import SearchSpace, build_search_space

SCHEMA: dict[str, Any] = {
    "type": "object",
    "automl_default_parameters": ["train.lr", "train.x", "train.batch", "train.opt"],
    "properties": {
        "train": {
            "type": "collection",
            "properties": {
                "lr": {"type": "float", "default": 1e-3, "minimum": 0.0, "maximum": math.inf, "math_cond": "> 0.0"},
                "x": {"type": "float", "default": 0.0, "minimum": -1.0, "maximum": 1.0},
                "batch": {"type": "ordered_int", "default": 32, "enum": [16, 32, 64, 128]},
                "opt": {"type": "categorical", "default": "adam", "enum": ["adam", "sgd"]},
            },
        }
    },
}


def objective(params: dict[str, Any]) -> float:
    """A loss with its minimum at lr=1e-3, x=0.3, batch=32, opt=adam."""
    return (
        (math.log10(params["train.lr"]) + 3) ** 2
        + (params["train.x"] - 0.3) ** 2
        + abs(math.log2(params["train.batch"]) - 5) * 0.1
        + (0.0 if params["train.opt"] == "adam" else 0.2)
    )


@pytest.fixture
def space() -> SearchSpace:
    return build_search_space(SCHEMA)


@pytest.fixture(autouse=True)
def _llm_endpoint(llm_server: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    """LLM algorithms ask the scripted server (through the AUTOML_LLM_* variables), answering as a cooperative model."""
    llm_server.default = cooperative
    monkeypatch.setenv("AUTOML_LLM_ENDPOINT", llm_server.url)
    monkeypatch.setenv("AUTOML_LLM_MODEL", "cooperative")


def make(name: str, space: SearchSpace, direction: str = "minimize", **settings: Any):  # type: ignore[no-untyped-def]
    merged = {"automl_max_recommendations": 12, "automl_sampler": "tpe", "automl_seed": 5, **settings}
    return make_algorithm(name, space, direction=direction, settings=AutoMLSettings.parse(merged))


@pytest.mark.parametrize("name", available_algorithms())
def test_parallel_proposals_are_distinct_and_inside_the_space(name: str, space: SearchSpace) -> None:
    algo = make(name, space)
    seen: set[str] = set()
    rec_id = 0
    for _ in range(4):
        batch = algo.propose(3)
        assert batch, "an algorithm with budget left must propose"
        for proposal in batch:
            rec_id += 1
            algo.bind(rec_id, proposal)
            assert set(proposal.params) == set(space.names)
            assert all(space[k].contains(v) for k, v in proposal.params.items())
            key = fingerprint(proposal.params)
            assert key not in seen or proposal.resume_from is not None  # only continuations may repeat
            seen.add(key)
        for i, proposal in enumerate(batch):
            algo.report(Feedback(rec_id - len(batch) + 1 + i, RecStatus.SUCCESS, objective(proposal.params)))


@pytest.mark.parametrize("name", available_algorithms())
def test_failures_and_invalid_configurations_are_accepted_and_never_reproposed(name: str, space: SearchSpace) -> None:
    algo = make(name, space)
    failed: set[str] = set()
    for rec_id in range(1, 13):
        (proposal,) = algo.propose(1)
        algo.bind(rec_id, proposal)
        assert fingerprint(proposal.params) not in failed  # a failed configuration is never continued
        if rec_id % 3 == 0:
            failed.add(fingerprint(proposal.params))
            algo.report(Feedback(rec_id, RecStatus.INVALID_CONFIGURATION, failure_class="invalid_configuration"))
        elif rec_id % 3 == 1:
            failed.add(fingerprint(proposal.params))
            algo.report(Feedback(rec_id, RecStatus.FAILURE, failure_class="model_code"))
        else:
            algo.report(Feedback(rec_id, RecStatus.SUCCESS, objective(proposal.params)))


@pytest.mark.parametrize("name", available_algorithms())
def test_restore_from_history_continues_without_repeats(name: str, space: SearchSpace) -> None:
    algo = make(name, space)
    history = []
    for rec_id in range(1, 7):
        (proposal,) = algo.propose(1)
        algo.bind(rec_id, proposal)
        feedback = Feedback(rec_id, RecStatus.SUCCESS, objective(proposal.params)) if rec_id < 6 else None
        if feedback:
            algo.report(feedback)
        history.append((rec_id, proposal, feedback))
    fresh = make(name, space)
    fresh.restore(history)
    fresh.report(Feedback(6, RecStatus.SUCCESS, objective(history[-1][1].params)))
    known = {fingerprint(p.params) for _, p, _ in history}
    for proposal in fresh.propose(3):
        assert fingerprint(proposal.params) not in known or proposal.resume_from is not None


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_bayesian_honours_direction(direction: str, space: SearchSpace) -> None:
    sign = 1.0 if direction == "minimize" else -1.0
    algo = make("bayesian", space, direction=direction, automl_max_recommendations=30)
    values = []
    for rec_id in range(1, 31):
        (proposal,) = algo.propose(1)
        algo.bind(rec_id, proposal)
        value = sign * objective(proposal.params)
        values.append(sign * value)
        algo.report(Feedback(rec_id, RecStatus.SUCCESS, value))
    # Model-based half beats the startup half, and finds a near-optimal configuration.
    assert min(values[15:]) < min(values[:8])
    assert min(values) < 0.15


def test_bayesian_gp_is_the_default_for_small_budgets_and_learns(space: SearchSpace) -> None:
    algo = make_algorithm(
        "bayesian",
        space,
        direction="minimize",
        settings=AutoMLSettings.parse({"automl_max_recommendations": 14, "automl_seed": 1}),
    )
    assert algo.sampler_name == "gp"
    large = make_algorithm(
        "bayesian", space, direction="minimize", settings=AutoMLSettings.parse({"automl_max_recommendations": 500})
    )
    assert large.sampler_name == "tpe"
    values = []
    for rec_id in range(1, 15):
        batch = algo.propose(2) if rec_id % 2 else algo.propose(1)
        for offset, proposal in enumerate(batch[:1]):
            algo.bind(rec_id + offset, proposal)
            values.append(objective(proposal.params))
            algo.report(Feedback(rec_id + offset, RecStatus.SUCCESS, values[-1]))
        for proposal in batch[1:]:
            algo.bind(1000 + rec_id, proposal)
            algo.report(Feedback(1000 + rec_id, RecStatus.FAILURE, failure_class="infrastructure"))
    assert min(values) < min(values[: algo.n_startup])


def test_bayesian_steers_away_from_invalid_region(space: SearchSpace) -> None:
    """Batch 128 always fails as invalid: after the startup phase it is rarely proposed again."""
    algo = make("bayesian", space, automl_max_recommendations=40)
    late_128 = 0
    for rec_id in range(1, 41):
        (proposal,) = algo.propose(1)
        algo.bind(rec_id, proposal)
        if proposal.params["train.batch"] == 128:
            late_128 += rec_id > 20
            algo.report(Feedback(rec_id, RecStatus.INVALID_CONFIGURATION, failure_class="invalid_configuration"))
        else:
            algo.report(Feedback(rec_id, RecStatus.SUCCESS, objective(proposal.params)))
    assert late_128 <= 2


def test_bayesian_fault_while_others_run_keeps_every_result(space: SearchSpace) -> None:
    """A configuration fault is told with the worst value and marked infeasible; running trials still report."""
    algo = make("bayesian", space, automl_sampler="gp", automl_max_recommendations=20, automl_n_startup_trials=3)
    for rec_id in range(1, 5):
        (proposal,) = algo.propose(1)
        algo.bind(rec_id, proposal)
        algo.report(Feedback(rec_id, RecStatus.SUCCESS, objective(proposal.params)))
    batch = algo.propose(3)
    for offset, proposal in enumerate(batch):
        algo.bind(5 + offset, proposal)
    algo.report(Feedback(5, RecStatus.INVALID_CONFIGURATION, failure_class="invalid_configuration"))
    for offset, proposal in enumerate(batch[1:], start=1):
        algo.report(Feedback(5 + offset, RecStatus.SUCCESS, objective(proposal.params)))
    done = algo.study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 7
    faulted = [t for t in done if t.constraints.get("config_fault", 0.0) > 0]
    assert len(faulted) == 1
    assert faulted[0].value == max(t.value for t in done if t.number < 4)  # the worst value seen when it faulted
    known = {fingerprint(p.params) for p in batch}
    (after,) = algo.propose(1)
    assert fingerprint(after.params) not in known


def test_bayesian_never_repeats_the_incumbent_once_the_model_converges() -> None:
    """With the optimum in a corner the GP re-proposes its incumbent; a nearby new configuration is tried instead."""
    corner = build_search_space(
        {
            "type": "object",
            "automl_default_parameters": ["train.x", "train.y"],
            "properties": {
                "train": {
                    "type": "collection",
                    "properties": {
                        "x": {"type": "float", "default": 0.0, "minimum": -1.0, "maximum": 1.0},
                        "y": {"type": "float", "default": 0.0, "minimum": -1.0, "maximum": 1.0},
                    },
                }
            },
        }
    )
    algo = make("bayesian", corner, automl_sampler="gp", automl_max_recommendations=20, automl_seed=1)
    seen, notes, values = set(), [], []
    for rec_id in range(1, 21):
        (proposal,) = algo.propose(1)
        algo.bind(rec_id, proposal)
        key = fingerprint(proposal.params)
        assert key not in seen
        seen.add(key)
        notes.append(proposal.note)
        values.append((proposal.params["train.x"] - 1) ** 2 + (proposal.params["train.y"] + 1) ** 2)
        algo.report(Feedback(rec_id, RecStatus.SUCCESS, values[-1]))
    assert any("stepped from a known configuration" in note for note in notes)
    assert min(values) < 1e-3


def test_unknown_algorithm_is_a_clear_error(space: SearchSpace) -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'bayesian'"):
        make("baysian", space)
