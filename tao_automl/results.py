"""The result dict (DESIGN §2) and live status, both built from the store alone.

Because everything is derived from ``state.db``, ``query_status`` gives the same answer from
another process while the runner is still writing, and after a crash.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tao_automl.algorithms.base import RecStatus
from tao_automl.llm.health import result_section
from tao_automl.metrics import comparison
from tao_automl.store import Store
from tao_automl.workspace import Workspace

BASELINE_STATUSES = ("not_run", "provided", "measured", "failure", "metric_missing", "unavailable", "skipped")
FINAL_STATUSES = (
    "measured",
    "provided",
    "reused_best",
    "metric_missing",
    "callback_error",
    "unavailable",
    "skipped",
    "not_run",
)


def fidelity(rec: dict[str, Any]) -> int:
    """Epochs the recommendation's metric belongs to (its budget unless it stopped early)."""
    trained = (rec.get("extra") or {}).get("epochs_trained")
    return int(trained if trained is not None else rec.get("budget") or 0)


def best_rec(recs: list[dict[str, Any]], direction: str) -> dict[str, Any] | None:
    """The best successful recommendation among those trained at the largest observed budget.

    A 1-epoch metric and a 27-epoch metric are not comparable, so multi-fidelity runs pick the
    winner only among the recommendations that reached the highest fidelity (earliest wins ties).
    """
    done = [r for r in recs if r["status"] is RecStatus.SUCCESS and r["metric"] is not None]
    if not done:
        return None
    top = max(fidelity(r) for r in done)
    done = [r for r in done if fidelity(r) == top]
    pick = max if direction == "maximize" else min
    return pick(
        done, key=lambda r: (r["metric"], -r["rec_id"]) if direction == "maximize" else (r["metric"], r["rec_id"])
    )


def history_entry(
    rec: dict[str, Any], jobs: list[dict[str, Any]] | None = None, metric_name: str | None = None
) -> dict[str, Any]:
    """One recommendation as published; ``jobs`` are its rows of the store's job table.

    The published keys keep their meaning (``objective_score`` is the metric: one objective here);
    ``specs`` is the whole spec the job ran, dotted, so the searched keys are in it too.
    """
    extra = rec.get("extra") or {}
    train_jobs = [j for j in jobs or [] if j["role"] in ("train", "baseline_train") and j["job_id"]]
    return {
        "rec_id": rec["rec_id"],
        "specs": rec["specs"] or {},
        "params": (rec["proposal"] or {}).get("params", {}),
        "metric": rec["metric"],
        "objective_score": rec["metric"],
        "objective_values": {metric_name: rec["metric"]} if metric_name and rec["metric"] is not None else {},
        "feedback": extra.get("feedback"),
        "metric_source": rec["metric_source"],
        "status": str(rec["status"]),
        "failure_reason": rec["failure_reason"],
        "failure_class": rec["failure_class"],
        "adjustments": rec["adjustments"],
        "job_id": train_jobs[-1]["job_id"] if train_jobs else extra.get("job_id"),
        "budget": rec["budget"],
        "resume_from": (rec["proposal"] or {}).get("resume_from"),
        "checkpoint": extra.get("checkpoint"),
        "note": (rec["proposal"] or {}).get("note", ""),
        "retries": sum(1 for j in train_jobs if j["retry_of"]),
        "jobs": [{"job_id": j["job_id"], "role": j["role"], "retry_of": j["retry_of"]} for j in jobs or []],
        "epochs_trained": extra.get("epochs_trained"),
        "early_stop_epoch": extra.get("early_stop_epoch"),
        "checkpoints_deleted": bool(extra.get("checkpoints_deleted")),
        "started_at": rec["started_at"],
        "finished_at": rec["finished_at"],
        "duration_s": (rec["finished_at"] - rec["started_at"]) if rec["finished_at"] and rec["started_at"] else None,
    }


def build_result(store: Store) -> dict[str, Any]:
    """The published result dict, from the store."""
    meta = store.all_meta()
    direction = meta.get("direction", "maximize")
    metric = meta.get("metric")
    recs = store.recs("rec")
    best = best_rec(recs, direction)
    jobs: dict[int, list[dict[str, Any]]] = {}
    for job in store.jobs():
        jobs.setdefault(job["rec_id"], []).append(job)
    history = [history_entry(r, jobs.get(r["rec_id"]), metric) for r in recs]
    best_entry = next((h for h in history if best and h["rec_id"] == best["rec_id"]), None)
    finished = [r for r in recs if r["status"].final]
    total = meta.get("total_recommendations") or len(recs)
    if meta.get("run_state") in ("complete", "stopped") and len(finished) == len(recs):
        total = len(recs)
    baseline = dict(meta.get("baseline") or {"enabled": False, "status": "not_run"})
    baseline.setdefault("metric_name", metric)
    baseline.setdefault("metric_value", None)
    baseline["comparison_to_best"] = comparison(
        best["metric"] if best else None, baseline.get("metric_value"), direction
    )
    final = dict(meta.get("final_evaluation") or {"enabled": True, "status": "not_run", "reason": "run not finished"})
    final.setdefault("metric_name", metric)
    final.setdefault("metric_value", None)
    reference = baseline.get("eval_metric_value")
    if reference is None or final.get("status") == "reused_best":
        reference = baseline.get("metric_value")
    final["comparison_to_baseline"] = comparison(final.get("metric_value"), reference, direction)
    return {
        "best": None
        if best is None
        else {
            "rec_id": best["rec_id"],
            "specs": best["specs"],
            "params": best["proposal"].get("params", {}),
            "metric_value": best["metric"],
            "objective_score": best["metric"],
            "objective_values": {metric: best["metric"]} if metric else {},
            "adjustments": best["adjustments"],
            "feedback": (best["extra"] or {}).get("feedback"),
            "job_id": best_entry["job_id"] if best_entry else None,
            "checkpoint": best["extra"].get("checkpoint"),
        },
        "progress": {
            "completed": len(finished),
            "total": total,
            "best_metric": best["metric"] if best else None,
            "best_objective_score": best["metric"] if best else None,
            "best_rec_id": best["rec_id"] if best else None,
            "algorithm": meta.get("algorithm"),
            "objectives": {
                "primary_metric": metric,
                "objectives": [{"metric": metric, "direction": direction, "weight": 1.0, "scale": 1.0}],
                "score_direction": direction,
            },
            "pareto_front_size": 1 if best else 0,
            "running": sum(1 for r in recs if r["status"] is RecStatus.RUNNING),
            "state": meta.get("run_state"),
            "stop_reason": meta.get("stop_reason"),
        },
        "baseline": baseline,
        "final_evaluation": final,
        "history": history,
        "algorithm_state": {
            "algorithm": meta.get("algorithm"),
            "observations": [
                {"rec_id": h["rec_id"], "params": h["params"], "metric": h["metric"], "budget": h["budget"]}
                for h in history
                if h["status"] == "success"
            ],
        },
        "settings_notes": meta.get("settings_notes") or {},
        "metric": {"name": metric, "direction": direction},
        "workspace": str(store.path.parent),
        **result_section(store.path.parent, meta),
    }


def query_status(workspace: str | Path) -> dict[str, Any]:
    """Live status of a run, safe to call from any process while the runner works."""
    ws = Workspace.open_existing(workspace)
    store = Store(ws.state_path, readonly=True)
    try:
        result = build_result(store)
        started = store.meta("started_at")
        recs = store.recs("rec")
        params = {r["rec_id"]: r["proposal"].get("params", {}) for r in recs}
        running = [
            {
                "rec_id": j["rec_id"],
                "role": j["role"],
                "job_id": j["job_id"],
                "started_at": j["submitted_at"],
                "params": params.get(j["rec_id"], {}),
            }
            for j in store.jobs(open_only=True)
            if j["job_id"] is not None
        ]
        durations = [
            r["finished_at"] - r["started_at"]
            for r in recs
            if r["status"].final and r["started_at"] and r["finished_at"]
        ]
        progress = result["progress"]
        remaining = max(0, progress["total"] - progress["completed"])
        slots = max(1, int(store.meta("max_concurrent", 1)))
        eta = (sum(durations) / len(durations)) * remaining / slots if durations and remaining else None
        return {
            "workspace": str(ws.run_dir),
            "state": store.meta("run_state"),
            "algorithm": store.meta("algorithm"),
            "metric": result["metric"],
            "progress": progress,
            "running_jobs": running,
            "best": result["best"],
            "baseline": result["baseline"],
            "final_evaluation": result["final_evaluation"],
            "llm_health": result.get("llm_health"),
            "elapsed_s": time.time() - started if started else None,
            "eta_s": eta,
            "failures": [
                {
                    "rec_id": h["rec_id"],
                    "status": h["status"],
                    "failure_class": h["failure_class"],
                    "failure_reason": h["failure_reason"],
                }
                for h in result["history"]
                if h["status"] in ("failure", "invalid_configuration", "lost")
            ],
        }
    finally:
        store.close()
