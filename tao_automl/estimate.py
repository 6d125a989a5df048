"""Budget and runtime estimate for the launch review, and the measurement it rests on.

An estimate is only as good as its per-epoch time, so the time comes from a real job of this model
on this platform: the default-configuration baseline (which the run needs anyway) or, when no
baseline can be trained, a short probe of one or two epochs. Both are measured by
:func:`measure_default_config`, which builds the job exactly as :class:`AutoMLRunner` builds its own
``default_config`` baseline (same plan, same spec, same launch code) and records when each epoch's
metric first appeared, so job start-up and per-epoch time are separated.

The schedule comes from the algorithm itself: uniform algorithms (random, bayesian, ...) train every
recommendation for the spec's epochs; multi-fidelity ones (hyperband, asha, bohb, dehb, pbt) are
simulated on a virtual clock with the runner's slot-filling rule, so promotions and rungs count only
the epochs they really add. Over a stated time limit, :func:`estimate_run` lists the cuts that would
fit. ``python -m tao_automl.estimate measure REQUEST.json OUT.json`` runs a measurement detached
from the caller (the MCP server uses it so a long baseline outlives one tool call).
"""

from __future__ import annotations

import heapq
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from tao_automl.algorithms import Algorithm, Feedback, Proposal, RecStatus
from tao_automl.checkpoints import final_checkpoint
from tao_automl.errors import AutoMLError, ConfigurationError
from tao_automl.launch import prepare_job
from tao_automl.metrics import MetricResolver
from tao_automl.platforms import JobState, Platform, as_platform
from tao_automl.runner import AutoMLRunner
from tao_automl.spec import deep_merge, flatten, get_dotted
from tao_automl.workspace import atomic_write_json

__all__ = [
    "Cut",
    "Estimate",
    "PlannedRun",
    "Timing",
    "baseline_blockers",
    "estimate_run",
    "first_batch",
    "measure_default_config",
    "plan_run",
]

#: Share of an epoch assumed to be validation when a cut raises the validation interval.
VALIDATION_SHARE = 0.2
#: Largest budget a review estimates; beyond it the plan is refused rather than simulated for minutes.
MAX_RECOMMENDATIONS = 2000
_LLM_ALGORITHMS = frozenset({"llm", "hybrid", "autoresearch"})


class Timing(BaseModel):
    """How long jobs of this model take on this platform, and where that number came from.

    ``startup_s`` is paid once per job (scheduling, container or interpreter start, imports, data
    loading, the final checkpoint write); ``per_epoch_s`` per trained epoch including validation.
    """

    per_epoch_s: float = Field(ge=0)
    startup_s: float = Field(0.0, ge=0)
    eval_s: float | None = Field(None, ge=0)
    process_start_s: float = Field(0.0, ge=0, description="start of the runner process itself")
    epochs_measured: int | None = None
    source: str = "given"


class Cut(BaseModel):
    """One change that shortens the run, with its estimate. ``changes`` are the inputs to pass instead."""

    kind: Literal["fewer_recommendations", "fewer_epochs", "smaller_dataset", "fewer_validations", "narrower_space"]
    description: str
    changes: dict[str, Any] = Field(default_factory=dict)
    wall_s: float | None = None
    fits: bool = False


class Estimate(BaseModel):
    """Wall time, compute and cost of a run, with every assumption stated."""

    wall_s: float
    wall_h: float
    recommendations: int
    max_concurrent: int
    epochs_per_recommendation: int | None
    total_epochs: int
    schedule: str
    job_s: float | None = Field(None, description="one full-budget training job")
    job_hours: float
    gpus_per_job: int
    gpu_hours: float
    price_per_gpu_hour: float | None = None
    cost: float | None = None
    time_limit_s: float | None = None
    fits: bool | None = None
    timing: Timing
    assumptions: list[str] = Field(default_factory=list)
    cuts: list[Cut] = Field(default_factory=list)


# ---- the runner's own plan, built without writing anything -------------------------------------------


@dataclass
class PlannedRun:
    """A run as :meth:`AutoMLRunner.run` would plan it: validated inputs, algorithm, total budget.

    Built with the runner's own planning code so the review shows what will run, not a re-implementation.
    """

    runner: AutoMLRunner
    algorithm: Algorithm

    @property
    def plan(self) -> Any:
        return self.runner.plan

    @property
    def total(self) -> int:
        return self.runner.total_recommendations()

    @property
    def epochs(self) -> int | None:
        value = get_dotted(self.plan.base_spec, self.plan.skill.epochs_key)
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None

    def fresh_algorithm(self) -> Algorithm:
        return self.runner.build_algorithm(self.plan)

    def defaults(self) -> dict[str, Any]:
        return {p.name: get_dotted(self.plan.base_spec, p.name) for p in self.plan.space}

    def dataset_keys(self) -> dict[str, str]:
        """Spec keys the run fills from its dataset URIs (the skill's ``data_sources``)."""
        inputs = self.plan.inputs
        keys = dict(
            self.runner.dataset_keys(
                self.plan.skill, self.plan.action, inputs.get("train_dataset_uri"), inputs.get("eval_dataset_uri")
            )
        )
        if self.plan.skill.has_action("evaluate"):
            keys.update(
                self.runner.dataset_keys(
                    self.plan.skill, "evaluate", inputs.get("train_dataset_uri"), inputs.get("eval_dataset_uri")
                )
            )
        return keys


def plan_run(
    skill_dir: str | Path,
    *,
    algorithm: str | None = None,
    settings: dict[str, Any] | None = None,
    spec_overrides: dict[str, Any] | None = None,
    hyperparameters: list[str] | None = None,
    custom_param_ranges: dict[str, dict[str, Any]] | None = None,
    train_dataset_uri: str | None = None,
    eval_dataset_uri: str | None = None,
    base_checkpoint: str | None = None,
    platform: Any = "local",
    platform_options: dict[str, Any] | None = None,
    workspace_dir: str | Path | None = None,
) -> PlannedRun:
    """Validate a run's inputs exactly as the runner does and build its algorithm; nothing is written.

    Raises:
        AutoMLError: any input the runner would refuse (unknown setting, bad range, unknown key...).
    """
    runner = AutoMLRunner(
        platform_sdk=platform,
        skill_dir=skill_dir,
        workspace_dir=workspace_dir,
        platform_options=platform_options,
    )
    plan = runner.make_plan(
        algorithm,
        settings,
        spec_overrides,
        hyperparameters,
        custom_param_ranges,
        train_dataset_uri,
        eval_dataset_uri,
        base_checkpoint,
        None,
    )
    runner.algorithm = runner.build_algorithm(plan)
    return PlannedRun(runner=runner, algorithm=runner.algorithm)


def _warm_started(run: PlannedRun, baseline: dict[str, Any] | None) -> Algorithm:
    """A fresh algorithm told the baseline exactly as the runner tells it a given ``baseline_record``."""
    algo = run.fresh_algorithm()
    if (
        baseline
        and baseline.get("status") == "measured"
        and baseline.get("source", "default_config") == "default_config"
        and isinstance(baseline.get("metric_value"), int | float)
    ):
        algo.warm_start(run.defaults(), float(baseline["metric_value"]))
    return algo


def first_batch(run: PlannedRun, baseline: dict[str, Any] | None = None) -> list[Proposal]:
    """The exact first configurations the run will launch: same algorithm, seed, warm start and slot count."""
    if getattr(run.algorithm, "uses_llm", False):
        return []  # asking the model here would spend calls, and its answer would not repeat at launch
    algo = _warm_started(run, baseline)
    return algo.propose(min(run.plan.settings.automl_max_concurrent, run.total))


# ---- measuring a real job ---------------------------------------------------------------------------


def baseline_blockers(skill: Any, *, checkpoint: str | None, train_uri: str | None, eval_uri: str | None) -> list[str]:
    """Why a baseline cannot be measured before anything runs (empty when it can)."""
    blockers: list[str] = []
    actions = ["evaluate"] if checkpoint else ["train"]
    if checkpoint and (not skill.has_action("evaluate") or not skill.eval_checkpoint_key):
        blockers.append("the model skill has no evaluate action to measure the checkpoint")
        return blockers
    if not checkpoint and skill.has_action("evaluate") and skill.eval_checkpoint_key:
        actions.append("evaluate")
    given = {"train_datasets": train_uri, "eval_dataset": eval_uri}
    for action in actions:
        for key, src in (skill.info.data_sources.get(action) or {}).items():
            source = src.get("source") if isinstance(src, dict) else None
            if source in given and not given[source] and not (isinstance(src, dict) and src.get("optional")):
                what = "eval data" if source == "eval_dataset" else "training data"
                blockers.append(f"no {what}: the {action} action fills {key} from '{source}', and none was given")
    return blockers


def _wait(platform: Platform, job_id: str, results: Path, resolver: MetricResolver, poll: float) -> dict[str, Any]:
    """Poll a job to the end, noting when each epoch's metric first appeared (sub-second, unlike status.json)."""
    seen: dict[int, float] = {}
    while True:
        status = platform.status(job_id)
        now = time.monotonic()
        readings: list[tuple[int | None, float]] = []
        for path in results.rglob("status.json") if results.is_dir() else []:
            readings += resolver.from_status_json(path.read_text(encoding="utf-8", errors="replace"))
        if not readings:
            readings = resolver.epochs_from_logs(platform.logs(job_id))
        for epoch, _value in readings:
            if epoch is not None and epoch not in seen:
                seen[epoch] = now
        if status.state.terminal:
            return {"state": status.state, "message": status.message, "epochs_seen": seen, "end": now}
        time.sleep(poll)


def _timing_from(start: float, end: float, seen: dict[int, float], epochs: int | None) -> dict[str, Any]:
    """Split a job's wall time into start-up and per-epoch time from when its epochs appeared."""
    wall = max(end - start, 0.0)
    if len(seen) >= 2:
        first, last = min(seen), max(seen)
        per_epoch = max((seen[last] - seen[first]) / (last - first), 0.0)
        startup = max(seen[first] - start - per_epoch * first, 0.0) + max(end - seen[last], 0.0)
        how = f"epochs {first}..{last} timed as they appeared"
    else:
        n = max(epochs or (max(seen) if seen else 1), 1)
        per_epoch, startup = wall / n, 0.0
        how = "whole job divided by its epochs (start-up not separated)"
    return {"wall_s": wall, "per_epoch_s": per_epoch, "startup_s": startup, "epochs": epochs, "how": how}


def measure_default_config(
    skill_dir: str | Path,
    out_dir: str | Path,
    *,
    platform: Any = "local",
    platform_options: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    spec_overrides: dict[str, Any] | None = None,
    checkpoint: str | None = None,
    train_dataset_uri: str | None = None,
    eval_dataset_uri: str | None = None,
    evaluate: bool = True,
    probe_epochs: int | None = None,
    poll: float = 0.1,
) -> dict[str, Any]:
    """Measure the run's baseline (or a timing probe) with the runner's own plan, spec and launch code.

    Without ``checkpoint``: train the schema-default configuration at the run's budget (the runner's
    ``default_config`` baseline), then evaluate its final checkpoint with the evaluate action when
    the skill has one. With ``checkpoint``: evaluate it (``base_checkpoint_eval``). A probe sets
    ``probe_epochs`` and ``evaluate=False``: it only times the train action.

    Returns:
        The baseline record in the runner's format (``status`` measured | failure | metric_missing |
        unavailable, ``metric_value``, ``job_id``, ``checkpoint``, ``record_path``, ``eval_*``) plus
        ``timing`` (per-epoch and start-up seconds) for the estimate.
    """
    out = Path(out_dir).expanduser().resolve()
    overrides = dict(spec_overrides or {})
    run = plan_run(
        skill_dir,
        settings=settings,
        spec_overrides=overrides,
        train_dataset_uri=train_dataset_uri,
        eval_dataset_uri=eval_dataset_uri,
        base_checkpoint=checkpoint,
        platform=platform,
        platform_options=platform_options,
        workspace_dir=out,
    )
    runner, plan = run.runner, run.plan
    skill = plan.skill
    source = "base_checkpoint_eval" if checkpoint else "default_config"
    record: dict[str, Any] = {"enabled": True, "metric_name": plan.metric, "source": source, "status": "not_run"}
    blockers = baseline_blockers(skill, checkpoint=checkpoint, train_uri=train_dataset_uri, eval_uri=eval_dataset_uri)
    if blockers:
        return {**record, "status": "unavailable", "reason": "; ".join(blockers), "failure_class": "unavailable"}
    target = runner.job_platform_options(out)
    job_platform = as_platform(platform, **target)
    runner.platform = job_platform
    passthrough = runner.env_passthrough()  # the credential names the run's own jobs get, never values
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    timing: dict[str, Any] = {}
    ckpt = checkpoint
    if not checkpoint:
        spec = deep_merge(plan.base_spec, {})
        if probe_epochs is not None:
            epochs = min(probe_epochs, run.epochs or probe_epochs)
            spec = deep_merge(spec, _nested(skill.epochs_key, epochs))
        adjustments, invalid = runner.cap_batches(spec)
        if invalid:
            return {**record, "status": "failure", "reason": invalid, "failure_class": "invalid_configuration"}
        job_dir = out / ("probe" if probe_epochs else "baseline")
        name = f"{'probe' if probe_epochs else 'baseline'}-{stamp}-train-{os.getpid()}".lower()
        gpus = get_dotted(spec, skill.info.gpu_spec_key or "train.num_gpus")
        request = prepare_job(
            skill,
            plan.action,
            spec,
            job_dir,
            name,
            gpus=gpus if isinstance(gpus, int) else 0,
            env_passthrough=passthrough,
        )
        started = time.monotonic()
        job_id = job_platform.submit(request)
        record.update(job_id=job_id, record_path=str(job_dir), specs=flatten(spec), adjustments=adjustments)
        done = _wait(job_platform, job_id, job_dir / "results", runner_resolver(plan.metric), poll)
        epochs_run = get_dotted(spec, skill.epochs_key)
        timing = _timing_from(
            started, done["end"], done["epochs_seen"], epochs_run if isinstance(epochs_run, int) else None
        )
        if done["state"] is not JobState.COMPLETE:
            analysis = job_platform.failure_analysis(job_id)
            return {
                **record,
                "status": "failure",
                "reason": f"default-config training failed: {analysis.reason}",
                "failure_class": str(analysis.category),
                "timing": timing,
            }
        reading = runner_resolver(plan.metric).resolve(job_dir / "results", job_platform.logs(job_id))
        found = final_checkpoint(job_dir / "results", skill.info.automl.checkpoint_glob)
        ckpt = str(found) if found else None
        record["checkpoint"] = ckpt
        if reading is None:
            return {
                **record,
                "status": "metric_missing",
                "reason": f"default-config training reported no '{plan.metric}'",
                "failure_class": "metric_missing",
                "timing": timing,
            }
        record.update(status="measured", metric_value=reading.value, metric_source=reading.source, timing=timing)
    if not evaluate or not ckpt or not skill.has_action("evaluate") or not skill.eval_checkpoint_key:
        if not checkpoint and evaluate:
            record["eval_note"] = "no evaluate action or no checkpoint: the training metric is the baseline"
        return record
    eval_dir = out / "baseline_eval"
    name = f"baseline-{stamp}-evaluate-{os.getpid()}".lower()
    spec = runner.evaluations.eval_spec(ckpt)
    request = prepare_job(skill, "evaluate", spec, eval_dir, name, env_passthrough=passthrough)
    started = time.monotonic()
    eval_id = job_platform.submit(request)
    eval_metric = skill.info.automl.evaluate_metric or plan.metric
    done = _wait(job_platform, eval_id, eval_dir / "results", runner_resolver(eval_metric), poll)
    timing = {**timing, "eval_s": done["end"] - started}
    record.update(
        eval_job_id=eval_id, eval_record_path=str(eval_dir), timing=timing, eval_data=runner.evaluations.eval_data()
    )
    reading = None
    if done["state"] is JobState.COMPLETE:
        reading = runner_resolver(eval_metric).resolve(eval_dir / "results", job_platform.logs(eval_id))
    if checkpoint:  # the evaluate job is the whole baseline
        record["record_path"] = str(eval_dir)
        if reading is None:
            failed = done["state"] is not JobState.COMPLETE
            reason = job_platform.failure_analysis(eval_id).reason if failed else "evaluate job reported no metric"
            return {
                **record,
                "status": "failure" if failed else "metric_missing",
                "reason": f"evaluating {checkpoint} failed: {reason}",
                "failure_class": str(job_platform.failure_analysis(eval_id).category) if failed else "metric_missing",
            }
        return {**record, "status": "measured", "metric_value": reading.value, "eval_metric_value": reading.value}
    if reading is None:
        record["eval_error"] = f"evaluate of the baseline checkpoint gave no metric (job {eval_id})"
    else:
        record["eval_metric_value"] = reading.value
    return record


def runner_resolver(metric: str) -> MetricResolver:
    """The runner's metric resolution (result files, then logs) for ``metric``."""
    return MetricResolver(metric)


def _nested(dotted: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    node = out
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def timing_from_record(record: dict[str, Any], *, process_start_s: float = 0.0, source: str) -> Timing | None:
    """The :class:`Timing` a measurement record carries, or None when it timed no epoch."""
    raw = record.get("timing") or {}
    if raw.get("per_epoch_s") is None:
        return None
    return Timing(
        per_epoch_s=raw["per_epoch_s"],
        startup_s=raw.get("startup_s") or 0.0,
        eval_s=raw.get("eval_s"),
        process_start_s=max(process_start_s, 0.0),
        epochs_measured=raw.get("epochs"),
        source=f"{source}: {raw.get('how', 'measured')}",
    )


# ---- the schedule -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    start_epoch: int
    end_epoch: int

    @property
    def epochs(self) -> int:
        return max(self.end_epoch - self.start_epoch, 0)


def _uniform(run: PlannedRun, batch: Sequence[Proposal]) -> bool:
    if getattr(run.algorithm, "uses_llm", False):
        return True  # every LLM proposal trains the spec's own epochs; simulating would call the model
    return run.algorithm.planned_recommendations() is None and all(
        p.budget is None and p.resume_from is None for p in batch
    )


def _simulate(run: PlannedRun, baseline: dict[str, Any] | None, epochs: int, total: int) -> list[_Job]:
    """Launch order of a multi-fidelity schedule, by running the algorithm on a virtual clock.

    Each job lasts its epochs (plus one for start-up), metrics are random: a rung schedule depends on
    how many finish, not on which. Early stops are not simulated, so this is an upper bound.
    """
    algo = _warm_started(run, baseline)
    slots = run.plan.settings.automl_max_concurrent
    limit = run.plan.settings.automl_max_total_epochs
    rng = random.Random(run.plan.settings.automl_seed)
    clock, running, jobs, trained, committed = 0.0, [], [], {}, 0
    rec_id = 0
    while len(jobs) < total:
        while len(running) < slots and len(jobs) < total and not algo.done() and (limit is None or committed < limit):
            proposals = algo.propose(min(slots - len(running), total - len(jobs)))
            if not proposals:
                break
            for proposal in proposals:
                rec_id += 1
                budget = int(proposal.budget or epochs)
                start = trained.get(proposal.resume_from, 0) if proposal.resume_from is not None else 0
                algo.bind(rec_id, proposal)
                jobs.append(_Job(start, budget))
                committed += max(budget - start, 0)
                heapq.heappush(running, (clock + 1 + max(budget - start, 0), rec_id, budget))
        if not running:
            break
        clock, done_id, budget = heapq.heappop(running)
        trained[done_id] = budget
        algo.report(Feedback(done_id, RecStatus.SUCCESS, metric=rng.random(), epoch=budget))
    return jobs


def local_contention(slots: int, cores: int, background: float) -> float:
    """How much slower each of ``slots`` concurrent CPU-bound jobs runs than the one job that was timed alone.

    A runnable process gets ``min(1, cores / runnable)`` of a core: the timed job shared the machine with
    ``background`` others, each run job shares it with ``slots - 1`` siblings as well.
    """
    alone = min(1.0, cores / (1.0 + background))
    together = min(1.0, cores / (slots + background))
    return max(1.0, alone / together)


def _makespan(durations: Sequence[float], slots: int) -> float:
    """List scheduling in launch order: each job takes the first free slot (the runner's rule)."""
    free = [0.0] * max(min(slots, len(durations)), 1)
    end = 0.0
    for d in durations:
        start = heapq.heappop(free)
        heapq.heappush(free, start + d)
        end = max(end, start + d)
    return end


@dataclass
class _Model:
    """Inputs of the wall-time formula; :meth:`wall` is evaluated again for every cut."""

    timing: Timing
    slots: int
    poll: float
    contention: float
    baseline_job_s: float  # the run trains its own baseline first (0 when it reuses a measured one)
    final_eval_s: float
    propose_s: float = 0.0  # the controller's time to propose one recommendation (GP fitting is not free)

    def job_s(self, epochs: int, epoch_scale: float = 1.0) -> float:
        t = self.timing
        return (t.startup_s + epochs * t.per_epoch_s * epoch_scale) * self.contention + self.poll / 2 + self.propose_s

    def wall(self, jobs: Sequence[_Job], epoch_scale: float = 1.0) -> float:
        durations = [self.job_s(j.epochs, epoch_scale) for j in jobs]
        if self.baseline_job_s:
            durations = [self.baseline_job_s, *durations]
        return self.timing.process_start_s + _makespan(durations, self.slots) + self.final_eval_s


#: Per-proposal controller time on a 2-core machine (benchmarks/, "Overhead per suggestion"): the GP
#: refits its model for every proposal (tens of ms, up to ~0.1 s at 100 trials), TPE and the
#: schedulers take milliseconds.
PROPOSAL_SECONDS = {"gp": 0.1, "tpe": 0.01}


def proposal_seconds(run: PlannedRun) -> float:
    """Controller time per recommendation for the run's algorithm (0 for model-free ones)."""
    return PROPOSAL_SECONDS.get(getattr(run.algorithm, "sampler_name", ""), 0.0)


def estimate_run(
    run: PlannedRun,
    timing: Timing,
    *,
    baseline: dict[str, Any] | None = None,
    gpus_per_job: int = 0,
    poll_interval: float = 5.0,
    time_limit_s: float | None = None,
    price_per_gpu_hour: float | None = None,
    cpu_count: int | None = None,
    background_load: float | None = None,
) -> Estimate:
    """Wall time, job-hours, GPU-hours and cost of ``run``, and the cuts that fit ``time_limit_s``.

    Args:
        run: the planned run (:func:`plan_run`).
        timing: measured per-epoch and start-up time (:func:`timing_from_record`) or the user's figure.
        baseline: the record the run will reuse; None means the run trains its own baseline first.
        gpus_per_job: GPUs one job holds (GPUs per node x nodes), for GPU-hours and cost.
        poll_interval: the runner's poll interval; a finished job is noticed half of it later on average.
        cpu_count: cores of this machine, for contention between concurrent local jobs (local platform).
        background_load: runnable processes besides the run's jobs (default: the 1-minute load average less
            the one job just measured), for the same contention model.
    """
    settings = run.plan.settings
    slots = settings.automl_max_concurrent
    total = run.total
    if total > MAX_RECOMMENDATIONS:
        raise ConfigurationError(
            f"{total} recommendations is more than a launch review can estimate ({MAX_RECOMMENDATIONS})",
            field="automl_settings.automl_max_recommendations",
            hint="lower it, or bound the budget with automl_max_total_epochs",
        )
    epochs = run.epochs or settings.automl_max_epochs
    batch = first_batch(run, baseline)
    assumptions = [f"per-epoch {timing.per_epoch_s:.3g} s, start-up {timing.startup_s:.3g} s per job ({timing.source})"]
    if _uniform(run, batch):
        jobs = [_Job(0, epochs)] * total
        schedule = f"uniform: {total} recommendations x {epochs} epochs"
    else:
        jobs = _simulate(run, baseline, epochs, total)
        schedule = (
            f"{run.plan.algorithm} schedule simulated: {len(jobs)} jobs, budgets "
            f"{sorted({j.end_epoch for j in jobs})} epochs (no early stops assumed: an upper bound)"
        )
    contention = 1.0
    platform_name = getattr(run.runner.platform_sdk, "name", run.runner.platform_sdk)
    if platform_name == "local" and slots > 1:
        cores = cpu_count or os.cpu_count() or 1
        load = max(os.getloadavg()[0] - 1.0, 0.0) if background_load is None else background_load
        contention = local_contention(slots, cores, load)
        assumptions.append(
            f"{slots} concurrent local jobs on {cores} cores with background load {load:.1f}: x{contention:.2g} per "
            "job against the job timed alone"
        )
    reuse = bool(baseline) and (baseline or {}).get("status") not in (None, "not_run")
    eval_s = timing.eval_s if timing.eval_s is not None else timing.startup_s
    baseline_job_s = 0.0
    if not reuse and settings.automl_baseline:
        baseline_job_s = (timing.startup_s + epochs * timing.per_epoch_s) * contention + eval_s + poll_interval
        assumptions.append("the run trains and evaluates its own default-config baseline first (one slot)")
    final_eval_s = 0.0
    if settings.automl_final_eval and run.plan.skill.has_action("evaluate"):
        final_eval_s = eval_s + min(poll_interval, 2.0)
        assumptions.append(f"final evaluation of the best checkpoint: {eval_s:.3g} s")
    assumptions.append(f"poll interval {poll_interval:g} s (a finished job is noticed {poll_interval / 2:g} s later)")
    if timing.process_start_s:
        assumptions.append(f"runner process start {timing.process_start_s:.3g} s")
    if run.plan.algorithm in _LLM_ALGORITHMS:
        assumptions.append(
            "LLM calls are not timed (endpoint latency adds to every proposal); the LLM chooses every "
            "configuration at run time, so no first batch is shown"
        )
    model = _Model(timing, slots, poll_interval, contention, baseline_job_s, final_eval_s, proposal_seconds(run))
    wall = model.wall(jobs)
    job_seconds = sum(model.job_s(j.epochs) for j in jobs) + baseline_job_s + final_eval_s
    gpu_hours = job_seconds * gpus_per_job / 3600
    estimate = Estimate(
        wall_s=wall,
        wall_h=wall / 3600,
        recommendations=len(jobs),
        max_concurrent=slots,
        epochs_per_recommendation=epochs if _uniform(run, batch) else None,
        total_epochs=sum(j.epochs for j in jobs),
        schedule=schedule,
        job_s=model.job_s(epochs),
        job_hours=job_seconds / 3600,
        gpus_per_job=gpus_per_job,
        gpu_hours=gpu_hours,
        price_per_gpu_hour=price_per_gpu_hour,
        cost=gpu_hours * price_per_gpu_hour if price_per_gpu_hour is not None else None,
        time_limit_s=time_limit_s,
        fits=None if time_limit_s is None else wall <= time_limit_s,
        timing=timing,
        assumptions=assumptions,
    )
    if time_limit_s is not None and wall > time_limit_s:
        estimate.cuts = _cuts(run, model, jobs, epochs, time_limit_s, uniform=_uniform(run, batch))
    return estimate


# ---- cuts -----------------------------------------------------------------------------------------------


def _largest(candidates: Sequence[Any], fits: Callable[[Any], bool]) -> Any | None:
    """The largest candidate (sorted descending) that fits, or None; wall time grows with each knob, so bisect."""
    lo, hi = 0, len(candidates)  # candidates[:lo] do not fit; candidates[hi:] fit
    while lo < hi:
        mid = (lo + hi) // 2
        if fits(candidates[mid]):
            hi = mid
        else:
            lo = mid + 1
    return candidates[lo] if lo < len(candidates) else None


def _find_key(spec: dict[str, Any], *needles: str) -> str | None:
    flat = flatten(spec)
    return next((k for k in flat if any(k.rsplit(".", 1)[-1] == n for n in needles)), None)


def _cuts(run: PlannedRun, model: _Model, jobs: list[_Job], epochs: int, limit: float, *, uniform: bool) -> list[Cut]:
    """Each cut alone, at the largest size that still fits ``limit``."""
    cuts: list[Cut] = []
    n = len(jobs)
    spec = run.plan.base_spec
    epochs_key = run.plan.skill.epochs_key

    best_n = _largest(range(n - 1, 0, -1), lambda k: model.wall(jobs[:k]) <= limit)
    cuts.append(
        Cut(
            kind="fewer_recommendations",
            description=f"{best_n} recommendations instead of {n}"
            if best_n
            else "even one recommendation does not fit the limit",
            changes={"settings": {"automl_max_recommendations": best_n}} if best_n else {},
            wall_s=model.wall(jobs[:best_n]) if best_n else model.wall(jobs[:1]),
            fits=best_n is not None,
        )
    )

    def scaled(e: int) -> list[_Job]:
        f = e / epochs
        return [_Job(math.floor(j.start_epoch * f), max(1, math.ceil(j.end_epoch * f))) for j in jobs]

    best_e = _largest(range(epochs - 1, 0, -1), lambda e: model.wall(scaled(e)) <= limit)
    key_change = {"spec_overrides": {epochs_key: best_e}} if uniform else {"settings": {"automl_max_epochs": best_e}}
    cuts.append(
        Cut(
            kind="fewer_epochs",
            description=f"{best_e} epochs per recommendation instead of {epochs}"
            if best_e
            else "even one epoch per recommendation does not fit",
            changes=key_change if best_e else {},
            wall_s=model.wall(scaled(best_e or 1)),
            fits=best_e is not None,
        )
    )

    fractions = [round(f / 20, 2) for f in range(19, 0, -1)]
    best_f = _largest(fractions, lambda f: model.wall(jobs, epoch_scale=f) <= limit)
    frac_key = _find_key(spec, "train_fraction", "subset_fraction", "data_fraction")
    current = get_dotted(spec, frac_key) if frac_key else None
    changes: dict[str, Any] = {}
    if best_f and frac_key and isinstance(current, int | float):
        changes = {"spec_overrides": {frac_key: round(float(current) * best_f, 4)}}
    how = f"set {frac_key}" if frac_key else "subsample the training annotations"
    cuts.append(
        Cut(
            kind="smaller_dataset",
            description=f"train on {best_f:.0%} of the current training data ({how}); epochs get shorter"
            if best_f
            else "start-up time dominates: a smaller dataset alone cannot fit the limit",
            changes=changes,
            wall_s=model.wall(jobs, epoch_scale=best_f or 0.05),
            fits=best_f is not None,
        )
    )

    val_key = _find_key(spec, "validation_interval", "val_interval", "eval_interval", "validate_every")
    if val_key:
        wall = model.wall(jobs, epoch_scale=1 - VALIDATION_SHARE * (1 - 1 / max(epochs, 1)))
        cuts.append(
            Cut(
                kind="fewer_validations",
                description=f"validate only at the last epoch ({val_key}={epochs}); assumes validation is "
                f"{VALIDATION_SHARE:.0%} of an epoch. Intermediate metrics (early stopping) are lost",
                changes={"spec_overrides": {val_key: epochs}},
                wall_s=wall,
                fits=wall <= limit,
            )
        )
    else:
        cuts.append(
            Cut(
                kind="fewer_validations",
                description="the model skill has no validation-interval key; validation runs every epoch",
                fits=False,
            )
        )

    names = _by_importance([p.name for p in run.plan.space])
    d = len(names)
    narrow: Cut | None = None
    for k in range(d - 1, 0, -1):
        recs = max(1, math.ceil(n * k / d))
        wall = model.wall(jobs[:recs])
        if wall <= limit:
            narrow = Cut(
                kind="narrower_space",
                description=f"search only {', '.join(names[:k])} ({k} of {d} parameters) with {recs} "
                "recommendations: fewer dimensions need proportionally fewer trials",
                changes={"automl_hyperparameters": names[:k], "settings": {"automl_max_recommendations": recs}},
                wall_s=wall,
                fits=True,
            )
            break
    cuts.append(
        narrow
        or Cut(
            kind="narrower_space",
            description="no narrower space fits: even one parameter needs more time than the limit",
            fits=False,
        )
    )
    return cuts


def _by_importance(names: list[str]) -> list[str]:
    """Learning rate first, then batch size, then the schema's own order: what usually matters most."""

    def rank(name: str) -> int:
        last = name.rsplit(".", 1)[-1].lower()
        if last in ("lr", "learning_rate", "base_lr") or "lr" in last.split("_"):
            return 0
        if "batch" in last:
            return 1
        return 2

    return sorted(names, key=lambda n: (rank(n), names.index(n)))


# ---- detached measurement ---------------------------------------------------------------------------------


def _main(argv: list[str]) -> int:
    """``measure REQUEST.json OUT.json``: run :func:`measure_default_config`, write its record atomically."""
    if len(argv) != 3 or argv[0] != "measure":
        print("usage: python -m tao_automl.estimate measure REQUEST.json OUT.json", file=sys.stderr)
        return 2
    started = time.time()
    out = Path(argv[2])
    try:
        request = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        record = measure_default_config(**request)
    except AutoMLError as exc:
        record = {"status": "unavailable", "reason": str(exc), "failure_class": "configuration"}
    except Exception as exc:  # noqa: BLE001 - the record is the only channel back to the caller
        record = {"status": "failure", "reason": f"{type(exc).__name__}: {exc}", "failure_class": "internal"}
    record["process_started_at"] = started
    record["finished_at"] = time.time()
    atomic_write_json(out, record)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
