"""Step 7, the summary: baseline vs every recommendation vs best, the exact best checkpoint, what to do next."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tao_automl.checkpoints import final_checkpoint
from tao_automl.errors import AutoMLError
from tao_automl.report import load_result, write_report_files
from tao_automl.skill import ModelSkill
from tao_automl.workflow.context import WorkflowContext
from tao_automl.workflow.models import (
    FailureOut,
    Gate,
    RecOut,
    RunInput,
    SummaryOutput,
)
from tao_automl.workflow.state import (
    GateRefusal,
    PlanState,
)
from tao_automl.workspace import Workspace


def _exact_checkpoint(result: dict[str, Any], ws: Workspace, plan: PlanState | None) -> str | None:
    """The best recommendation's own checkpoint file (an epoch checkpoint, never a ``latest`` link)."""
    best = result.get("best")
    if not best:
        return None
    path = best.get("checkpoint")
    if path and Path(path).is_file() and "latest" not in Path(path).name.lower() and not Path(path).is_symlink():
        return str(Path(path).resolve())
    pattern = None
    if plan is not None and plan.skill_dir:
        pattern = ModelSkill.load(plan.skill_dir, require_automl=False).info.automl.checkpoint_glob
    found = final_checkpoint(ws.job_dir(f"{best['rec_id']:04d}") / "results", pattern)
    return str(found.resolve()) if found else None


def _next_steps(result: dict[str, Any], checkpoint: str | None, state: str | None) -> list[str]:
    steps: list[str] = []
    if state not in ("complete", "stopped"):
        steps.append(f"the run is {state}: follow it with job_status and summarize again when it is complete")
    best = result.get("best")
    cmp_ = (result["final_evaluation"] or {}).get("comparison_to_baseline") or result["baseline"].get(
        "comparison_to_best"
    )
    if best and checkpoint:
        steps.append(
            f"use the best checkpoint {checkpoint} (recommendation {best['rec_id']}) for evaluation, export "
            "or fine-tuning"
        )
    if best and cmp_ and cmp_.get("improved"):
        params = ", ".join(f"{k}={v}" for k, v in best.get("params", {}).items())
        steps.append(
            f"the search beat the baseline by {cmp_['delta']:+.4g}; retrain with {params} at the full "
            "production budget if the search used a reduced one"
        )
    elif best and cmp_:
        steps.append(
            "the defaults were not beaten: widen the ranges (custom_param_ranges), add recommendations, or "
            "use hyperband/asha to try more configurations in the same time"
        )
    elif best:
        steps.append("no baseline to compare with: measure one (run_baseline_eval) before claiming an improvement")
    classes = {h["failure_class"] for h in result["history"] if h.get("failure_class")}
    advice = {
        "invalid_configuration": "some configurations were invalid (e.g. batch size above the sample count): narrow "
        "the range or set train_sample_count",
        "out_of_memory": "some configurations ran out of memory: lower the batch-size maximum in custom_param_ranges",
        "metric_missing": "some jobs reported no metric: check the metric name against the model skill",
        "data_visibility": "jobs could not read the data: fix the paths/credentials on the platform and rerun "
        "preflight_check",
        "image": "the image could not be pulled/started: check it with resolve_image and the registry credentials",
        "timeout": "some jobs hit automl_job_timeout: raise it or lower the epochs",
    }
    steps += [advice[c] for c in sorted(classes) if c in advice]
    if not best:
        steps.append("no recommendation succeeded: read failures, fix the shared cause, and launch a new review")
    return steps


def summarize_results(sc: WorkflowContext, inp: RunInput) -> SummaryOutput:
    run = sc.store.load_run(inp.run_id)
    try:
        ws, result = load_result(run.workspace)
    except AutoMLError:
        raise GateRefusal(
            Gate.RUN,
            f"run {run.run_id} has not written any results yet",
            f"call job_status(run_id='{run.run_id}') until it is running or complete",
        ) from None
    try:
        plan: PlanState | None = sc.store.load_plan(run.preflight_id)
    except GateRefusal:
        plan = None
    report_dir, report = write_report_files(ws.run_dir)
    checkpoint = _exact_checkpoint(result, ws, plan)
    state = result["progress"].get("state")
    final = result["final_evaluation"]
    improvement = final.get("comparison_to_baseline") or result["baseline"].get("comparison_to_best")
    recs = [
        RecOut(
            rec_id=h["rec_id"],
            status=h["status"],
            metric=h["metric"],
            params=h["params"],
            budget=h["budget"],
            failure_class=h["failure_class"],
            failure_reason=h["failure_reason"],
            checkpoint=h["checkpoint"],
        )
        for h in result["history"]
    ]
    best = dict(result["best"], checkpoint=checkpoint) if result["best"] else None
    return SummaryOutput(
        run_id=run.run_id,
        state=state,
        metric=result["metric"]["name"],
        direction=result["metric"]["direction"],
        headline=report.headline,
        baseline={k: v for k, v in result["baseline"].items() if k != "specs"},
        recommendations=recs,
        best=best,
        best_checkpoint=checkpoint,
        final_evaluation=final,
        improvement_over_baseline=improvement,
        failures=[
            FailureOut(rec_id=r.rec_id, status=r.status, failure_class=r.failure_class, failure_reason=r.failure_reason)
            for r in recs
            if r.failure_class
        ],
        report_path=str(report_dir / "summary.md"),
        html_report_path=str(report_dir / "report.html"),
        report=report,
        next_steps=_next_steps(result, checkpoint, state),
    )
