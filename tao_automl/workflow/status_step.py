"""Step 6, status: a run's live state read from its workspace, from any process."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tao_automl.errors import AutoMLError
from tao_automl.results import query_status
from tao_automl.store import Store
from tao_automl.workflow.context import LLM_ALGORITHMS, WorkflowContext
from tao_automl.workflow.launcher import is_alive, log_tail
from tao_automl.workflow.models import (
    BrainHealth,
    FailureOut,
    RunInput,
    RunningJobOut,
    StatusOutput,
)
from tao_automl.workflow.state import (
    RunRecord,
)
from tao_automl.workspace import Workspace


def _brain(run: RunRecord, health: dict[str, Any] | None) -> BrainHealth:
    """The LLM's health in one line, from the counts the brain log gives (``llm_health``)."""
    if run.algorithm not in LLM_ALGORITHMS:
        return BrainHealth(applicable=False, detail=f"{run.algorithm} is not an LLM algorithm")
    if not health or not health["calls"]:
        return BrainHealth(applicable=True, healthy=None, detail="no LLM call yet")
    counts = (
        f"{health['calls']} calls ({health['failed']} failed), {health['llm_proposals']} LLM proposals, "
        f"{health['fallbacks']} fallbacks, {health['used_history']} used the history"
    )
    if health["status"] == "llm_blocked":
        return BrainHealth(applicable=True, healthy=False, detail=f"llm_blocked: {'; '.join(health['reasons'])}")
    return BrainHealth(applicable=True, healthy=True, detail=counts)


def _running_jobs(status: dict[str, Any], run_dir: Path, run: RunRecord) -> list[RunningJobOut]:
    jobs = []
    metric = (status.get("metric") or {}).get("name")
    store = Store(Workspace(run_dir).state_path, readonly=True)
    try:
        for j in status["running_jobs"]:
            rec = store.rec(j["rec_id"]) or {}
            readings = store.metrics(j["rec_id"], metric) if metric else []
            last = readings[-1] if readings else None
            elapsed = time.time() - j["started_at"] if j.get("started_at") else None
            budget = rec.get("budget")
            eta = None
            if last and elapsed is not None and budget and last["step"]:
                eta = max(elapsed / last["step"] * (budget - last["step"]), 0.0)
            elif elapsed is not None and budget and run.per_epoch_s is not None:
                eta = max((run.startup_s or 0.0) + budget * run.per_epoch_s - elapsed, 0.0)
            jobs.append(
                RunningJobOut(
                    rec_id=j["rec_id"],
                    role=j["role"],
                    job_id=j["job_id"],
                    current_metric=last["value"] if last else None,
                    current_epoch=last["step"] if last else None,
                    params=j.get("params") or {},
                    elapsed_s=elapsed,
                    eta_s=eta,
                )
            )
    finally:
        store.close()
    return jobs


def job_status(sc: WorkflowContext, inp: RunInput) -> StatusOutput:
    run = sc.store.load_run(inp.run_id)
    alive = is_alive(run.pid, run.proc_start)
    common = {
        "run_id": run.run_id,
        "process_alive": alive,
        "workspace": run.workspace,
        "algorithm": run.algorithm,
        "estimate_wall_s": run.estimate_wall_s,
        "llm_brain": _brain(run, None),
    }
    try:
        status = query_status(run.workspace)
    except AutoMLError:
        if alive:
            return StatusOutput(
                state="starting", next_step="the runner is starting: call job_status again shortly", **common
            )
        return StatusOutput(
            state="failed_to_start",
            log_tail=log_tail(run.log_path),
            next_step="read log_tail, fix the cause, then estimate_budget and launch again",
            **common,
        )
    run_dir = Path(status["workspace"])
    state = status["state"] or "starting"
    if state in ("starting", "running") and not alive:
        state = "crashed"
    failures = [FailureOut.model_validate(f) for f in status["failures"]]
    next_step = {
        "complete": f"call summarize_results(run_id='{run.run_id}')",
        "failed": f"read progress.stop_reason and failures; summarize_results(run_id='{run.run_id}') has the details",
        "crashed": f"the runner process died: resume it with `tao-automl resume {run_dir}` (running jobs are "
        "re-attached, none is launched twice)",
        "interrupted": f"resume with `tao-automl resume {run_dir}`",
        "llm_blocked": "not a valid LLM-guided run: read llm_health.reasons and the brain log "
        f"({run_dir}/brain/brain_log.jsonl); fix the endpoint or model, or use bayesian",
    }.get(state, "still running: call job_status again in a little while")
    common["llm_brain"] = _brain(run, status.get("llm_health"))
    common["llm_health"] = status.get("llm_health")
    return StatusOutput(
        state=state,
        run_dir=str(run_dir),
        metric=status["metric"],
        progress=status["progress"],
        running_jobs=_running_jobs(status, run_dir, run) if status["running_jobs"] else [],
        best=status["best"],
        baseline={k: status["baseline"].get(k) for k in ("status", "metric_value", "source", "job_id", "reason")},
        failures=failures,
        elapsed_s=status["elapsed_s"],
        eta_s=status["eta_s"],
        log_tail=log_tail(run.log_path) if state in ("crashed", "failed") else None,
        next_step=next_step,
        **common,
    )
