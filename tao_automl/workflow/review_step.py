"""Step 4, the launch review: the run's own plan, its first batch, the baseline and an estimate,
under a content hash.
"""

from __future__ import annotations

import time
from pathlib import Path

from tao_automl.algorithms import get_algorithm_class
from tao_automl.data.preparation import data_review_lines
from tao_automl.estimate import (
    PlannedRun,
    Timing,
    estimate_run,
    first_batch,
    timing_from_record,
)
from tao_automl.preflight import count_records
from tao_automl.workflow.baseline_step import (
    await_measurement,
    finish_measurement,
    spawn_measurement,
)
from tao_automl.workflow.context import WorkflowContext, image_now, planned_run, refuse_secrets, require_preflight
from tao_automl.workflow.launcher import is_alive
from tao_automl.workflow.models import (
    DatasetOut,
    EstimateInput,
    Gate,
    ParameterOut,
    ProposalOut,
    ReviewOutput,
)
from tao_automl.workflow.review_markdown import render
from tao_automl.workflow.state import (
    GateRefusal,
    Measurement,
    PlanState,
    Review,
    baseline_key,
    baseline_record,
    gate_statuses,
    review_hash,
)
from tao_automl.workspace import atomic_write_json, atomic_write_text


def measured_timing(m: Measurement | None, note: str = "") -> Timing | None:
    if m is None or m.record is None:
        return None
    started = m.record.get("process_started_at")
    process_start = (started - m.spawned_at) if isinstance(started, int | float) else 0.0
    what = f"{m.kind} job {m.record.get('job_id')}{note}"
    return timing_from_record(m.record, process_start_s=process_start, source=what)


def _timing(sc: WorkflowContext, plan: PlanState, inp: EstimateInput, key: str) -> Timing:
    """Per-epoch time: the user's figure > the baseline job > an earlier probe > a new probe."""
    if inp.per_epoch_seconds is not None:
        return Timing(per_epoch_s=inp.per_epoch_seconds, startup_s=inp.startup_seconds or 0.0, source="given")
    m = plan.baseline
    if m is not None and m.record is None and is_alive(m.pid, m.proc_start):
        record = await_measurement(m, inp.wait_seconds)
        if record is not None:
            finish_measurement(sc, plan.preflight_id, "baseline", m.key, record)
            m.record = record
    note = "" if m is None or m.key == key else " (measured with other overrides)"
    timing = measured_timing(m, note) or measured_timing(plan.probe)
    if timing is None and inp.probe:
        timing = _probe(sc, plan, inp, key)
    if timing is None:
        raise GateRefusal(
            Gate.ESTIMATE,
            "no per-epoch time: no baseline or probe job was timed",
            "measure the baseline (run_baseline_eval), allow the probe (probe=true), or pass "
            "per_epoch_seconds (and startup_seconds) from an earlier run",
            field="per_epoch_seconds",
        )
    if inp.startup_seconds is not None:
        timing.startup_s = inp.startup_seconds
    return timing


def _probe(sc: WorkflowContext, plan: PlanState, inp: EstimateInput, key: str) -> Timing | None:
    """A 1-2 epoch run of the defaults, only to time this model on this platform."""
    require_preflight(plan)
    with sc.store.locked(plan.preflight_id):
        fresh = sc.store.load_plan(plan.preflight_id)
        m = fresh.probe
        if m is None or (m.record is not None and m.record.get("status") != "measured"):
            inputs = {
                "settings": inp.settings,
                "spec_overrides": fresh.spec_overrides,
                "checkpoint": None,
                "train_dataset_uri": fresh.train_uri,
                "eval_dataset_uri": fresh.eval_uri,
                "evaluate": False,
                "probe_epochs": 2,
            }
            m = spawn_measurement(fresh, "probe", key, inputs)
            fresh.probe = m
            sc.store.save_plan(fresh)
    record = m.record or await_measurement(m, inp.wait_seconds)
    if record is None:
        raise GateRefusal(
            Gate.ESTIMATE,
            "the timing probe is still running",
            "call estimate_budget again to wait",
            details={"probe_dir": m.out_dir},
        )
    if m.record is None:
        finish_measurement(sc, plan.preflight_id, "probe", m.key, record)
        m.record = record
    plan.probe = m
    timing = measured_timing(m)
    if timing is None:
        raise GateRefusal(
            Gate.ESTIMATE,
            f"the timing probe failed: {record.get('reason')}",
            "fix the cause (preflight, data), or pass per_epoch_seconds",
            details={"probe_dir": m.out_dir},
        )
    return timing


def _datasets(plan: PlanState, run: PlannedRun) -> list[DatasetOut]:
    keys = run.dataset_keys()
    out = []
    for label, path in plan.datasets.items():
        spec_key = next((k for k, v in keys.items() if label in ("train", "eval") and str(v).startswith(path)), None)
        samples, counted = None, None
        local = Path(path.removeprefix("file://")).expanduser()
        if "://" not in path.removeprefix("file://") and local.exists():
            try:
                samples, counted = count_records(local)
            except (OSError, ValueError) as exc:
                counted = f"not counted: {exc}"[:200]
        else:
            counted = "remote: not counted"
        out.append(DatasetOut(label=label, path=path, spec_key=spec_key, samples=samples, counted=counted))
    count = run.plan.settings.train_sample_count
    if count is not None:
        out.append(DatasetOut(label="train_sample_count", path="-", samples=count, counted="automl setting"))
    return out


def estimate_budget(sc: WorkflowContext, inp: EstimateInput) -> ReviewOutput:
    plan = sc.store.load_plan(inp.preflight_id)
    for name in ("settings", "spec_overrides", "custom_param_ranges"):
        refuse_secrets(getattr(inp, name), name)
    overrides = inp.spec_overrides if inp.spec_overrides is not None else plan.spec_overrides
    run = planned_run(
        plan,
        algorithm=inp.algorithm,
        settings=inp.settings,
        spec_overrides=overrides,
        hyperparameters=inp.automl_hyperparameters,
        custom_param_ranges=inp.custom_param_ranges,
    )
    key = baseline_key(overrides, plan.checkpoint, inp.settings, plan)
    timing = _timing(sc, plan, inp, key)
    plan = sc.store.load_plan(inp.preflight_id)  # measurements may have landed meanwhile
    record, base_detail = baseline_record(plan, key)
    poll = inp.poll_interval_seconds or (1.0 if plan.platform == "local" else 30.0)
    estimate = estimate_run(
        run,
        timing,
        baseline=record,
        gpus_per_job=plan.gpu_count * plan.num_nodes,
        poll_interval=poll,
        time_limit_s=inp.time_limit_hours * 3600 if inp.time_limit_hours else None,
        price_per_gpu_hour=inp.price_per_gpu_hour,
    )
    batch = first_batch(run, record)
    current_image = image_now(plan)
    launch_spec = {
        "skill": plan.skill_dir,
        "platform": plan.platform,
        "platform_options": plan.platform_options,
        "algorithm": run.plan.algorithm,
        "settings": inp.settings,
        "spec_overrides": overrides,
        "custom_param_ranges": inp.custom_param_ranges,
        "automl_hyperparameters": inp.automl_hyperparameters,
        "poll_interval": poll,
        "train_dataset_uri": plan.train_uri,
        "eval_dataset_uri": plan.eval_uri,
        "base_checkpoint": plan.checkpoint,
        "baseline_key": key,
    }
    skill = run.plan.skill
    settings = run.plan.settings
    with sc.store.locked(plan.preflight_id):
        plan = sc.store.load_plan(inp.preflight_id)
        plan.launch_spec = launch_spec
        plan_hash = review_hash(plan, current_image, key)
        review_id = f"rv-{plan_hash[:16]}"
        gates = gate_statuses(plan, sc.store, current_image, key)
        out_dir = Path(plan.results_root) / "reviews"
        review = ReviewOutput(
            review_id=review_id,
            plan_hash=plan_hash,
            preflight_id=plan.preflight_id,
            model=skill.name,
            skill_dir=str(skill.root),
            platform=plan.platform,
            image=(current_image or {}).get("image"),
            image_source=(current_image or {}).get("source"),
            compute_shape={
                "gpus_per_node": plan.gpu_count,
                "num_nodes": plan.num_nodes,
                "max_concurrent": settings.automl_max_concurrent,
            },
            datasets=_datasets(plan, run),
            data_plan=data_review_lines(run.plan, plan.results_root),
            algorithm=run.plan.algorithm,
            budget={
                "total_recommendations": run.total,
                "max_concurrent": settings.automl_max_concurrent,
                "epochs": run.epochs,
                "settings": {k: getattr(settings, k) for k in get_algorithm_class(run.plan.algorithm).budget_settings},
            },
            metric=run.plan.metric,
            direction=run.plan.direction,
            parameters=[ParameterOut.model_validate(p) for p in run.plan.space.describe()],
            first_batch=[
                ProposalOut(params=p.params, budget=p.budget, resume_from=p.resume_from, note=p.note) for p in batch
            ],
            baseline={"satisfied": record is not None, "detail": base_detail, "record": record},
            final_eval_plan="evaluate action on the best checkpoint (same data and metric as the baseline)"
            if settings.automl_final_eval and skill.has_action("evaluate")
            else "reuse the best recommendation's training metric",
            estimate=estimate,
            gates=gates,
            launchable=all(g.satisfied for g in gates),
            review_path=str(out_dir / f"{review_id}.md"),
            markdown="",
            next_step=f"show this review to the user; after their approval call launch_automl(review_id='{review_id}', "
            "confirmed=true)"
            if all(g.satisfied for g in gates)
            else "satisfy the open gates (see gates), then call estimate_budget again",
        )
        review.markdown = render(review)
        atomic_write_text(out_dir / f"{review_id}.md", review.markdown)
        atomic_write_json(out_dir / f"{review_id}.json", review.model_dump(mode="json"))
        plan.reviews[review_id] = Review(
            review_id=review_id,
            hash=plan_hash,
            created_at=time.time(),
            path_md=str(out_dir / f"{review_id}.md"),
            path_json=str(out_dir / f"{review_id}.json"),
            estimate_wall_s=estimate.wall_s,
        )
        plan.current_review = review_id
        sc.store.save_plan(plan)
        sc.store.index_review(review_id, plan.preflight_id)
    return review
