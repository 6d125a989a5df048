"""Population based training: the schedule driven by hand, then end to end on a simulated clock.

The hand-driven tests pin the decisions (who continues, who copies whom, how params move); the
runner test proves those decisions become real resumes from the donor's exact epoch checkpoint
and that retention deletes the checkpoints no member can use any more.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from tao_automl.algorithms import Feedback, Proposal, RecStatus, fingerprint, make_algorithm
from tao_automl.algorithms.pbt import FACTORS, PopulationBasedTraining, perturb
from tao_automl.errors import ConfigurationError
from tao_automl.platforms.simulated import SimClock, SimulatedPlatform
from tao_automl.runner import AutoMLRunner
from tao_automl.settings import AutoMLSettings
from tao_automl.space import Param, ParamType, SearchSpace, build_search_space

QUADRATIC = Path(__file__).parent / "fixtures" / "skills" / "quadratic"

SCHEMA: dict[str, Any] = {
    "type": "object",
    "automl_default_parameters": ["train.lr", "train.x", "train.depth", "train.batch", "train.opt"],
    "properties": {
        "train": {
            "type": "collection",
            "properties": {
                "lr": {"type": "float", "default": 1e-3, "minimum": 0.0, "maximum": math.inf, "math_cond": "> 0.0"},
                "x": {"type": "float", "default": 0.0, "minimum": -1.0, "maximum": 1.0},
                "depth": {"type": "int", "default": 4, "minimum": 1, "maximum": 8},
                "batch": {"type": "ordered_int", "default": 32, "enum": [16, 32, 64, 128]},
                "opt": {"type": "categorical", "default": "adam", "enum": ["adam", "sgd"]},
            },
        }
    },
}


@pytest.fixture
def space() -> SearchSpace:
    return build_search_space(SCHEMA)


def make(space: SearchSpace, direction: str = "minimize", **settings: Any) -> PopulationBasedTraining:
    merged = {"automl_population_size": 4, "automl_max_generations": 3, "automl_pbt_interval": 2, **settings}
    algo = make_algorithm(
        "pbt", space, direction=direction, settings=AutoMLSettings.parse({"automl_seed": 3, **merged})
    )
    assert isinstance(algo, PopulationBasedTraining)
    return algo


class Driver:
    """Binds proposals to increasing rec ids and reports metrics, keeping the history the runner would."""

    def __init__(self, algo: PopulationBasedTraining) -> None:
        self.algo = algo
        self.next_id = 1
        self.proposals: dict[int, Proposal] = {}
        self.feedback: dict[int, Feedback] = {}

    def launch(self, n: int = 100) -> list[int]:
        ids = []
        for proposal in self.algo.propose(n):
            self.algo.bind(self.next_id, proposal)
            self.proposals[self.next_id] = proposal
            ids.append(self.next_id)
            self.next_id += 1
        return ids

    def finish(self, rec_id: int, metric: float | None, status: RecStatus = RecStatus.SUCCESS) -> None:
        epoch = self.proposals[rec_id].budget if status is RecStatus.SUCCESS else None
        fb = Feedback(rec_id, status, metric, None if status is RecStatus.SUCCESS else "model_code", epoch=epoch)
        self.feedback[rec_id] = fb
        self.algo.report(fb)

    def history(self) -> list[tuple[int, Proposal, Feedback | None]]:
        return [(r, p, self.feedback.get(r)) for r, p in self.proposals.items()]


def by_member(driver: Driver, ids: list[int]) -> dict[int, tuple[int, Proposal]]:
    return {driver.proposals[r].meta["member"]: (r, driver.proposals[r]) for r in ids}


# ====================================================================== schedule


def test_generations_are_synchronous_and_sized_by_the_population(space: SearchSpace) -> None:
    algo = make(space)
    drv = Driver(algo)
    assert algo.planned_recommendations() == 12
    first = drv.launch(3)
    first += drv.launch(3)
    assert len(first) == 4, "generation 0 holds exactly the population"
    assert all(drv.proposals[r].budget == 2 and drv.proposals[r].resume_from is None for r in first)
    assert len({fingerprint(drv.proposals[r].params) for r in first}) == 4
    for r in first[:3]:
        drv.finish(r, float(r))
    assert drv.launch() == [], "no member starts generation 1 before generation 0 has finished"
    drv.finish(first[3], 4.0)
    second = drv.launch()
    assert [drv.proposals[r].budget for r in second] == [4, 4, 4, 4]
    assert [drv.proposals[r].meta["generation"] for r in second] == [1, 1, 1, 1]
    for r in second:
        drv.finish(r, float(r))
    third = drv.launch()
    assert [drv.proposals[r].budget for r in third] == [6, 6, 6, 6]
    assert not algo.done()
    for r in third:
        drv.finish(r, float(r))
    assert algo.done() and drv.launch() == []


def test_interval_defaults_to_max_epochs_over_generations(space: SearchSpace) -> None:
    algo = make(space, automl_pbt_interval=None, automl_max_epochs=27, automl_max_generations=4)
    assert algo.interval == 6
    assert make(space, automl_pbt_interval=None, automl_max_epochs=3, automl_max_generations=20).interval == 1


def test_continuing_members_resume_their_own_checkpoint_with_the_same_params(space: SearchSpace) -> None:
    drv = Driver(make(space))
    first = drv.launch()
    for r in first:
        drv.finish(r, float(r))  # minimize: rec 4 (member 3) is the worst
    members = by_member(drv, drv.launch())
    for m in (0, 1, 2):
        _, proposal = members[m]
        assert proposal.resume_from == first[m]
        assert proposal.params == drv.proposals[first[m]].params
        assert proposal.meta == {"member": m, "generation": 1, "exploit_from": None, "parent": first[m]}


def test_exploit_copies_the_donor_params_and_exact_checkpoint_then_explores(space: SearchSpace) -> None:
    algo = make(space, automl_population_size=8)
    drv = Driver(algo)
    first = drv.launch()
    for r in first:
        drv.finish(r, float(r))  # top quarter: recs 1, 2; bottom quarter: recs 7, 8
    members = by_member(drv, drv.launch())
    exploited = {m: p for m, (_, p) in members.items() if p.meta["exploit_from"] is not None}
    assert set(exploited) == {6, 7}
    for m, proposal in exploited.items():
        donor = proposal.meta["exploit_from"]
        assert donor in (1, 2) and proposal.resume_from == donor
        assert proposal.meta["parent"] == first[m] and proposal.meta["generation"] == 1
        assert f"exploit rec {donor}" in proposal.note and "explore" in proposal.note
        parent = drv.proposals[donor].params
        changes = proposal.meta["explore"]
        for name in ("train.lr", "train.x"):
            p = space[name]
            factor = float(changes[name].removeprefix("x"))
            assert factor in FACTORS
            assert proposal.params[name] == pytest.approx(min(max(parent[name] * factor, p.low), p.high))
        batches = space["train.batch"].choices
        moved = abs(batches.index(proposal.params["train.batch"]) - batches.index(parent["train.batch"]))
        assert moved == 1 or parent["train.batch"] in (batches[0], batches[-1])
        assert proposal.params["train.opt"] == parent["train.opt"] or "resampled" in changes["train.opt"]
        assert all(space[k].contains(v) for k, v in proposal.params.items())
        assert fingerprint(proposal.params) != fingerprint(parent)


def test_explore_stays_inside_the_space_across_many_generations(space: SearchSpace) -> None:
    algo = make(space, automl_population_size=6, automl_max_generations=25)
    drv = Driver(algo)
    while not algo.done():
        ids = drv.launch()
        params = [drv.proposals[r].params for r in ids]
        assert len({fingerprint(p) for p in params}) == len(params), "members of one generation differ"
        for r, p in zip(ids, params, strict=True):
            assert all(space[k].contains(v) for k, v in p.items())
            drv.finish(r, -p["train.lr"])  # pull lr up to its upper bound: clipping is exercised
    lrs = [p.params["train.lr"] for p in drv.proposals.values()]
    assert max(lrs) == pytest.approx(space["train.lr"].high)


@pytest.mark.parametrize(
    ("p", "value", "factor", "expected"),
    [
        (Param("i", ParamType.INT, low=1, high=8), 2, 1.2, 3),  # rounding alone would keep 2
        (Param("i", ParamType.INT, low=1, high=8), 2, 0.8, 1),
        (Param("i", ParamType.INT, low=1, high=8), 8, 1.2, 8),  # clipped
        (Param("i", ParamType.INT, low=0, high=64, step=8), 40, 1.2, 48),
        (Param("f", ParamType.FLOAT, low=0.1, high=1.0), 0.9, 1.2, 1.0),
        (Param("o", ParamType.ORDERED, low=16, high=64, choices=(16, 32, 64)), 32, 1.2, 64),
        (Param("o", ParamType.ORDERED, low=16, high=64, choices=(16, 32, 64)), 16, 0.8, 16),
    ],
)
def test_perturb_respects_integers_steps_bounds_and_option_order(
    p: Param, value: Any, factor: float, expected: Any
) -> None:
    assert perturb(p, value, factor) == expected


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_direction_decides_who_is_replaced(space: SearchSpace, direction: str) -> None:
    drv = Driver(make(space, direction=direction))
    first = drv.launch()
    for r in first:
        drv.finish(r, float(r))
    best, worst = (first[0], first[3]) if direction == "minimize" else (first[3], first[0])
    proposals = [drv.proposals[r] for r in drv.launch()]
    exploits = [p for p in proposals if p.meta["exploit_from"] is not None]
    assert len(exploits) == 1
    assert exploits[0].meta["parent"] == worst and exploits[0].meta["exploit_from"] == best


def test_failed_members_exploit_a_top_member_and_failed_params_never_return(space: SearchSpace) -> None:
    drv = Driver(make(space))
    first = drv.launch()
    drv.finish(first[0], 1.0)
    drv.finish(first[1], None, RecStatus.FAILURE)
    drv.finish(first[2], None, RecStatus.INVALID_CONFIGURATION)
    drv.finish(first[3], 2.0)
    failed = {fingerprint(drv.proposals[r].params) for r in first[1:3]}
    members = by_member(drv, drv.launch())
    for m in (1, 2):
        _, proposal = members[m]
        assert proposal.meta["exploit_from"] == first[0] == proposal.resume_from
        assert "failed" in proposal.note
        assert fingerprint(proposal.params) not in failed
    assert members[3][1].resume_from == first[3], "one success does not push the other into the bottom"


def test_without_any_success_members_start_over_at_the_generation_budget(space: SearchSpace) -> None:
    drv = Driver(make(space))
    first = drv.launch()
    for r in first:
        drv.finish(r, None, RecStatus.FAILURE)
    second = [drv.proposals[r] for r in drv.launch()]
    assert [p.budget for p in second] == [4] * 4
    assert all(p.resume_from is None and p.meta["exploit_from"] is None for p in second)
    assert not {fingerprint(p.params) for p in second} & {fingerprint(drv.proposals[r].params) for r in first}


def test_retained_is_what_the_current_generation_can_still_resume(space: SearchSpace) -> None:
    algo = make(space)
    drv = Driver(algo)
    first = drv.launch()
    assert algo.retained() == set(first)
    for r in first:
        drv.finish(r, float(r))
    # generation 1 is planned: rec 4 (worst) is replaced by a copy, so only recs 1-3 can be resumed
    assert algo.retained() == {1, 2, 3}
    second = drv.launch()
    assert algo.retained() == set(second), "launched members' parents are the runner's to keep"
    for r in second:
        drv.finish(r, float(r))
    third = drv.launch()
    for r in third:
        drv.finish(r, float(r))
    assert algo.retained() == set(third)


def test_pbt_refuses_a_model_that_cannot_resume(space: SearchSpace) -> None:
    with pytest.raises(ConfigurationError) as info:
        make_algorithm("pbt", space, direction="minimize", settings=AutoMLSettings.parse({}), resumable=False)
    assert info.value.field == "automl_algorithm" and info.value.hint


def test_restore_mid_generation_reproduces_the_uninterrupted_run(space: SearchSpace) -> None:
    live = Driver(make(space, automl_population_size=5))
    for r in reversed(live.launch()):  # finish order differs from launch order
        live.finish(r, math.sin(r))
    second = live.launch(3)
    live.finish(second[1], 0.5)  # one finished, two still running, two members not yet launched
    restored = make(space, automl_population_size=5)
    restored.restore(live.history())
    twin = Driver(restored)
    twin.next_id, twin.proposals, twin.feedback = live.next_id, dict(live.proposals), dict(live.feedback)
    assert restored.retained() == live.algo.retained()
    for _ in range(2):  # the rest of generation 1, then all of generation 2
        launched = live.launch()
        assert launched and twin.launch() == launched
        assert [twin.proposals[r] for r in launched] == [live.proposals[r] for r in launched]
        for r in [r for r in live.proposals if r not in live.feedback]:
            live.finish(r, math.cos(r))
            twin.finish(r, math.cos(r))
    assert live.algo.done() and restored.done()


# ====================================================================== end to end


def curve(params: dict[str, Any], epoch: int) -> float:
    """A loss that falls with epochs toward a floor set by the configuration."""
    floor = (
        (params["train.x"] - 0.3) ** 2
        + (params["train.y"] + 0.2) ** 2
        + 0.1 * (math.log10(params["train.optim.lr"]) + 2) ** 2
        + 0.01 * abs(math.log2(params["dataset.batch_size"]) - 5)
    )
    return floor + 1.0 / epoch


PBT_SETTINGS: dict[str, Any] = {
    "automl_population_size": 4,
    "automl_max_generations": 3,
    "automl_pbt_interval": 2,
    "automl_max_concurrent": 4,
    "automl_baseline": False,
}


def test_pbt_runs_on_the_simulated_clock_with_real_resumes_and_pruning(tmp_path: Path) -> None:
    clock = SimClock()
    platform = SimulatedPlatform(curve=curve, clock=clock, metric="loss")
    runner = AutoMLRunner(platform, QUADRATIC, workspace_dir=tmp_path / "ws", poll_interval=30, clock=clock)
    result = runner.run(
        automl_algorithm="pbt",
        automl_settings=PBT_SETTINGS,
        spec_overrides={"dataset.num_samples": 64},
    )
    run_dir = Path(result["workspace"])
    history = {h["rec_id"]: h for h in result["history"]}
    assert len(history) == 12 and all(h["status"] == "success" for h in history.values())
    proposals = {r: Proposal.from_dict(rec["proposal"]) for rec in runner.store.recs("rec") for r in [rec["rec_id"]]}

    exploits = 0
    for rec_id, proposal in proposals.items():
        generation = proposal.meta["generation"]
        assert history[rec_id]["budget"] == 2 * (generation + 1)
        spec = yaml.safe_load((run_dir / "recs" / f"{rec_id:04d}" / "spec.yaml").read_text())
        resume = spec["train"]["resume_training_checkpoint_path"]
        if generation == 0:
            assert not resume
            continue
        source = proposal.meta["exploit_from"] or proposal.meta["parent"]
        assert proposal.resume_from == source
        assert resume == str(run_dir / "recs" / f"{source:04d}" / "results" / f"model_epoch_{2 * generation:03d}.pth")
        if proposal.meta["exploit_from"] is not None:
            exploits += 1
            assert proposal.params != proposals[source].params
        job = platform.jobs[history[rec_id]["jobs"][0]["job_id"]]
        assert job.start_epoch == 2 * generation, "the simulated job really resumed at the parent's epoch"
    assert exploits == 2, "one bottom member per generation after the first"

    best = result["best"]
    assert proposals[best["rec_id"]].meta["generation"] == 2
    assert history[best["rec_id"]]["epochs_trained"] == 6
    assert best["checkpoint"].endswith("model_epoch_006.pth") and Path(best["checkpoint"]).is_file()
    for rec_id, proposal in proposals.items():
        checkpoints = list((run_dir / "recs" / f"{rec_id:04d}" / "results").glob("model_epoch_*.pth"))
        if proposal.meta["generation"] < 2:
            assert not checkpoints and history[rec_id]["checkpoints_deleted"], f"rec {rec_id} was not pruned"
        else:
            assert checkpoints


def _run(tmp_path: Path, interrupt_after: int | None = None) -> tuple[list[tuple[Any, ...]], int]:
    """Run PBT on the simulated clock, optionally killed after N results and resumed from the store.

    Returns the history and how many recommendations were still running when it was killed.
    """
    clock = SimClock()
    platform = SimulatedPlatform(curve=curve, clock=clock, metric="loss")
    finished: list[int] = []

    def crash(event: str, data: dict[str, Any]) -> None:
        if event == "result":
            finished.append(data["rec"]["rec_id"])
            if len(finished) == interrupt_after:
                raise KeyboardInterrupt  # not an Exception: the runner lets it through, as on Ctrl-C

    runner = AutoMLRunner(
        platform, QUADRATIC, workspace_dir=tmp_path / "ws", poll_interval=30, clock=clock, listeners=[crash]
    )
    settings = {**PBT_SETTINGS, "automl_max_concurrent": 3}
    running_at_kill = 0
    try:
        result = runner.run(
            automl_algorithm="pbt", automl_settings=settings, spec_overrides={"dataset.num_samples": 64}
        )
    except KeyboardInterrupt:
        assert runner.workspace is not None
        running_at_kill = len(runner.running)
        resumed = AutoMLRunner(platform, QUADRATIC, workspace_dir=tmp_path / "ws", poll_interval=30, clock=clock)
        result = resumed.run(resume=True, workspace_path=runner.workspace.run_dir)
    return [(h["params"], h["budget"], h["resume_from"], h["note"]) for h in result["history"]], running_at_kill


def test_resume_mid_generation_continues_exactly_like_the_uninterrupted_run(tmp_path: Path) -> None:
    uninterrupted, _ = _run(tmp_path / "a")
    resumed, running_at_kill = _run(tmp_path / "b", interrupt_after=6)  # generation 1 half done
    assert len(uninterrupted) == 12
    assert running_at_kill >= 1, "the kill must leave jobs to re-attach"
    assert resumed == uninterrupted
