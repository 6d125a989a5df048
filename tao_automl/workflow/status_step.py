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


_EVAL_ROLES = frozenset({"baseline_eval", "final_eval"})
_TERMINAL = frozenset({"complete", "failed", "crashed", "interrupted", "llm_blocked", "failed_to_start"})
#: Bounds of the suggested poll interval: not busier than a job's own progress, not so slow a failure waits.
_POLL_MIN_S, _POLL_MAX_S = 5.0, 600.0


def _eval_job(j: dict[str, Any], status: dict[str, Any], run: RunRecord, elapsed: float | None) -> RunningJobOut:
    """An evaluation job as itself: what it evaluates, its own metric name, no training epoch."""
    final = j["role"] == "final_eval"
    checkpoint = (
        (status.get("best") or {}).get("checkpoint") if final else (status.get("baseline") or {}).get("checkpoint")
    )
    eta = max(run.eval_s - elapsed, 0.0) if run.eval_s is not None and elapsed is not None else None
    what = f"rec {j['rec_id']}, the best recommendation" if final else "the default configuration (baseline)"
    return RunningJobOut(
        rec_id=j["rec_id"],
        role=j["role"],
        job_id=j["job_id"],
        description=f"evaluate action on the checkpoint of {what}",
        metric_name=(status.get("metric") or {}).get("name"),
        params=j.get("params") or {},
        checkpoint=checkpoint,
        elapsed_s=elapsed,
        eta_s=eta,
    )


def _running_jobs(status: dict[str, Any], run_dir: Path, run: RunRecord) -> list[RunningJobOut]:
    jobs = []
    metric = (status.get("metric") or {}).get("name")
    store = Store(Workspace(run_dir).state_path, readonly=True)
    try:
        for j in status["running_jobs"]:
            elapsed = time.time() - j["started_at"] if j.get("started_at") else None
            if j["role"] in _EVAL_ROLES:
                jobs.append(_eval_job(j, status, run, elapsed))
                continue
            rec = store.rec(j["rec_id"]) or {}
            readings = store.metrics(j["rec_id"], metric) if metric else []
            last = readings[-1] if readings else None
            budget = rec.get("budget")
            eta = None
            if last and elapsed is not None and budget and last["step"]:
                eta = max(elapsed / last["step"] * (budget - last["step"]), 0.0)
            elif elapsed is not None and budget and run.per_epoch_s is not None:
                eta = max((run.startup_s or 0.0) + budget * run.per_epoch_s - elapsed, 0.0)
            baseline = j["role"].startswith("baseline")
            jobs.append(
                RunningJobOut(
                    rec_id=j["rec_id"],
                    role=j["role"],
                    job_id=j["job_id"],
                    description="training the default configuration (baseline)"
                    if baseline
                    else f"training recommendation {j['rec_id']}" + (f" for {budget} epochs" if budget else ""),
                    metric_name=metric,
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


def _phase(state: str, jobs: list[RunningJobOut]) -> str:
    if state in _TERMINAL:
        return "done"
    roles = {j.role for j in jobs}
    if "final_eval" in roles:
        return "final_evaluation"
    if any(r.startswith("baseline") for r in roles):
        return "baseline"
    return "search" if state == "running" else "starting"


def poll_after(state: str, jobs: list[RunningJobOut], estimate_wall_s: float | None) -> float | None:
    """When to ask again: the soonest running job's ETA, else a twentieth of the estimate; None once over."""
    if state in _TERMINAL:
        return None
    etas = [j.eta_s for j in jobs if j.eta_s is not None and j.eta_s > 0]
    if etas:
        guess = min(etas)
    elif estimate_wall_s:
        guess = estimate_wall_s / 20
    else:
        guess = 30.0
    return round(min(max(guess, _POLL_MIN_S), _POLL_MAX_S), 1)


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
                state="starting",
                poll_after_s=_POLL_MIN_S,
                next_step=f"the runner is starting: call job_status again in {_POLL_MIN_S:g} s",
                **common,
            )
        return StatusOutput(
            state="failed_to_start",
            phase="done",
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
    }.get(state)
    common["llm_brain"] = _brain(run, status.get("llm_health"))
    common["llm_health"] = status.get("llm_health")
    jobs = _running_jobs(status, run_dir, run) if status["running_jobs"] else []
    phase = _phase(state, jobs)
    poll = poll_after(state, jobs, run.estimate_wall_s)
    eta = status["eta_s"]
    if phase == "final_evaluation":
        eta = next((j.eta_s for j in jobs if j.role == "final_eval"), None)
    if next_step is None:
        doing = "evaluating the best checkpoint" if phase == "final_evaluation" else "still running"
        next_step = f"{doing}: call job_status(run_id='{run.run_id}') again in about {poll:g} s"
    return StatusOutput(
        state=state,
        phase=phase,  # type: ignore[arg-type]
        run_dir=str(run_dir),
        metric=status["metric"],
        progress=status["progress"],
        running_jobs=jobs,
        best=status["best"],
        baseline={k: status["baseline"].get(k) for k in ("status", "metric_value", "source", "job_id", "reason")},
        failures=failures,
        elapsed_s=status["elapsed_s"],
        eta_s=eta,
        poll_after_s=poll,
        log_tail=log_tail(run.log_path) if state in ("crashed", "failed") else None,
        next_step=next_step,
        **common,
    )
