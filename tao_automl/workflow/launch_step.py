"""Step 5, the confirmed launch: every gate re-checked, then the runner started detached for the exact review."""

from __future__ import annotations

import shutil
from pathlib import Path

from tao_automl.plan_file import PlanFile
from tao_automl.workflow.context import WorkflowContext, image_now
from tao_automl.workflow.launcher import run_argv, spawn_detached
from tao_automl.workflow.models import (
    Gate,
    LaunchInput,
    LaunchOutput,
)
from tao_automl.workflow.review_step import measured_timing
from tao_automl.workflow.state import (
    GATE_FIXES,
    GateRefusal,
    Launch,
    RunRecord,
    baseline_record,
    gate_statuses,
    new_id,
    review_hash,
)


def _launch_output(review_id: str, launch: Launch, estimate: float | None, again: bool) -> LaunchOutput:
    return LaunchOutput(
        run_id=launch.run_id,
        review_id=review_id,
        workspace=launch.workspace,
        pid=launch.pid,
        already_launched=again,
        log_path=launch.log_path,
        estimate_wall_s=estimate,
        next_step=f"call job_status(run_id='{launch.run_id}') to follow it",
    )


def launch_automl(sc: WorkflowContext, inp: LaunchInput) -> LaunchOutput:
    preflight_id = sc.store.plan_of_review(inp.review_id)
    if not inp.confirmed:
        raise GateRefusal(
            Gate.CONFIRMATION,
            "confirmed is not true",
            "show the review markdown to the user; call again with confirmed=true only after they "
            "approve this exact review",
            field="confirmed",
        )
    with sc.store.locked(preflight_id):
        plan = sc.store.load_plan(preflight_id)
        review = plan.reviews.get(inp.review_id)
        if review is None:
            raise GateRefusal(
                Gate.REVIEW,
                f"plan {preflight_id} has no review {inp.review_id}",
                "call estimate_budget again and launch the review_id it returns",
            )
        if inp.review_id in plan.launches:
            return _launch_output(inp.review_id, plan.launches[inp.review_id], review.estimate_wall_s, True)
        current_image = image_now(plan)
        key = (plan.launch_spec or {}).get("baseline_key")
        for status in gate_statuses(plan, sc.store, current_image, key):
            if not status.satisfied:
                raise GateRefusal(status.gate, status.detail, GATE_FIXES[status.gate])
        now = review_hash(plan, current_image, key)
        if plan.current_review != inp.review_id or now != review.hash:
            raise GateRefusal(
                Gate.PLAN_UNCHANGED,
                f"the plan changed since review {inp.review_id} was produced"
                + (f" (the current review is {plan.current_review})" if plan.current_review != inp.review_id else ""),
                "call estimate_budget again, show the new review to the user, and launch its review_id with "
                "confirmed=true",
                details={"review_hash": review.hash, "current_hash": now, "current_review": plan.current_review},
            )
        record, _ = baseline_record(plan, key)
        run_id = new_id("run")
        workspace = Path(plan.results_root) / run_id
        spec = {k: v for k, v in (plan.launch_spec or {}).items() if k != "baseline_key"}
        workspace.mkdir(parents=True, exist_ok=True)
        # The runner's run directory is this one, so the run id names what status and the report read.
        PlanFile(**spec, baseline_record=record, workspace=plan.results_root, run_name=run_id).write(
            workspace / "plan.json"
        )
        shutil.copyfile(review.path_md, workspace / "launch_review_mcp.md")
        spawned = spawn_detached(run_argv(workspace / "plan.json"), log_path=workspace / "runner.log", cwd=workspace)
        baseline_timing = measured_timing(plan.baseline) or measured_timing(plan.probe)
        sc.store.save_run(
            RunRecord(
                run_id=run_id,
                preflight_id=preflight_id,
                review_id=inp.review_id,
                workspace=str(workspace),
                pid=spawned.pid,
                proc_start=spawned.proc_start,
                log_path=str(spawned.log_path),
                launched_at=spawned.spawned_at,
                estimate_wall_s=review.estimate_wall_s,
                algorithm=spec.get("algorithm"),
                per_epoch_s=baseline_timing.per_epoch_s if baseline_timing else None,
                startup_s=baseline_timing.startup_s if baseline_timing else None,
                eval_s=baseline_timing.eval_s if baseline_timing else None,
            )
        )
        launch = Launch(
            run_id=run_id,
            workspace=str(workspace),
            pid=spawned.pid,
            log_path=str(spawned.log_path),
            launched_at=spawned.spawned_at,
        )
        plan.launches[inp.review_id] = launch
        sc.store.save_plan(plan)
    return _launch_output(inp.review_id, launch, review.estimate_wall_s, False)
