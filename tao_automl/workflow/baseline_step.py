"""Step 3, the baseline: measured detached (it outlives the caller) or knowingly waived, once per
plan and budget.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tao_automl.estimate import (
    baseline_blockers,
)
from tao_automl.workflow.context import WorkflowContext, planned_run, refuse_secrets, require_preflight
from tao_automl.workflow.launcher import is_alive, log_tail, measure_argv, spawn_detached
from tao_automl.workflow.models import (
    BaselineInput,
    BaselineOutput,
    Gate,
    TimingOut,
)
from tao_automl.workflow.state import (
    BaselineDecision,
    GateRefusal,
    Measurement,
    PlanState,
    baseline_key,
)
from tao_automl.workspace import atomic_write_json

_BASELINE_FIX = (
    "fix the cause and call run_baseline_eval(rerun=true); or, if the user agrees, call it with accept_proxy=true "
    "(and proxy_metric_value) or declare_unavailable=true, each with a reason"
)


def spawn_measurement(plan: PlanState, kind: str, key: str, inputs: dict[str, Any]) -> Measurement:
    out_dir = Path(plan.results_root) / f"{kind}s" / f"{plan.preflight_id}-{key[:8]}-{time.strftime('%H%M%S')}"
    out_dir.mkdir(parents=True, exist_ok=True)
    request = {
        "skill_dir": plan.skill_dir,
        "out_dir": str(out_dir),
        "platform": plan.platform,
        "platform_options": plan.platform_options,
        **inputs,
    }
    request_file, record_file = out_dir / "request.json", out_dir / "record.json"
    atomic_write_json(request_file, request)
    spawned = spawn_detached(measure_argv(request_file, record_file), log_path=out_dir / "measure.log", cwd=out_dir)
    return Measurement(
        kind=kind,
        key=key,
        inputs=inputs,
        out_dir=str(out_dir),
        record_file=str(record_file),
        log_file=str(spawned.log_path),
        pid=spawned.pid,
        proc_start=spawned.proc_start,
        spawned_at=spawned.spawned_at,
    )


def _read_record(m: Measurement) -> dict[str, Any] | None:
    try:
        return json.loads(Path(m.record_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def await_measurement(m: Measurement, wait_s: float) -> dict[str, Any] | None:
    """The measurement's record, waiting up to ``wait_s``; a dead process without one is a failure record."""
    deadline = time.monotonic() + wait_s
    while True:
        record = _read_record(m)
        if record is not None:
            return record
        if not is_alive(m.pid, m.proc_start):
            return _read_record(m) or {
                "status": "failure",
                "reason": "the measurement process exited without writing its record",
                "failure_class": "infrastructure",
                "log_tail": log_tail(m.log_file),
            }
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.2)


def finish_measurement(sc: WorkflowContext, preflight_id: str, kind: str, key: str, record: dict[str, Any]) -> None:
    with sc.store.locked(preflight_id):
        plan = sc.store.load_plan(preflight_id)
        m = getattr(plan, kind)
        if m is not None and m.key == key and m.record is None:
            m.record = record
            sc.store.save_plan(plan)


def _timing_out(record: dict[str, Any]) -> TimingOut | None:
    raw = record.get("timing")
    if not raw:
        return None
    return TimingOut(
        per_epoch_s=raw.get("per_epoch_s"),
        startup_s=raw.get("startup_s"),
        eval_s=raw.get("eval_s"),
        wall_s=raw.get("wall_s"),
        how=raw.get("how"),
    )


def run_baseline_eval(sc: WorkflowContext, inp: BaselineInput) -> BaselineOutput:
    if inp.accept_proxy and inp.declare_unavailable:
        raise GateRefusal(
            Gate.INPUT, "accept_proxy and declare_unavailable exclude each other", "choose one", field="accept_proxy"
        )
    plan = sc.store.load_plan(inp.preflight_id)
    require_preflight(plan)
    if inp.accept_proxy or inp.declare_unavailable:
        return _decide_baseline(sc, inp)
    for name in ("spec_overrides", "settings"):
        refuse_secrets(getattr(inp, name), name)
    with sc.store.locked(plan.preflight_id):
        plan = sc.store.load_plan(inp.preflight_id)
        if inp.spec_overrides is not None:
            plan.spec_overrides = inp.spec_overrides
        if inp.checkpoint is not None:
            plan.checkpoint = inp.checkpoint
        settings = inp.settings or {}
        run = planned_run(plan, settings=settings, spec_overrides=plan.spec_overrides)  # refuses bad inputs first
        key = baseline_key(plan.spec_overrides, plan.checkpoint, settings, plan)
        blockers = baseline_blockers(
            run.plan.skill, checkpoint=plan.checkpoint, train_uri=plan.train_uri, eval_uri=plan.eval_uri
        )
        if blockers:
            sc.store.save_plan(plan)
            raise GateRefusal(Gate.BASELINE, "; ".join(blockers), _BASELINE_FIX, details={"status": "unavailable"})
        m = plan.baseline
        running = m is not None and m.record is None and is_alive(m.pid, m.proc_start)
        if m is None or m.key != key or (inp.rerun and not running):
            inputs = {
                "settings": settings,
                "spec_overrides": plan.spec_overrides,
                "checkpoint": plan.checkpoint,
                "train_dataset_uri": plan.train_uri,
                "eval_dataset_uri": plan.eval_uri,
                "evaluate": True,
            }
            m = spawn_measurement(plan, "baseline", key, inputs)
            plan.baseline = m
        plan.decision = None  # an explicit measurement replaces an earlier decision
        sc.store.save_plan(plan)
    record = m.record or await_measurement(m, inp.wait_seconds)
    if record is None:
        return BaselineOutput(
            preflight_id=plan.preflight_id,
            status="running",
            gate_satisfied=False,
            record_path=m.out_dir,
            next_step="the baseline is still running: call run_baseline_eval "
            "again with the same preflight_id to keep waiting",
        )
    if m.record is None:
        finish_measurement(sc, plan.preflight_id, "baseline", key, record)
    if record.get("status") != "measured":
        job_log = Path(record.get("record_path") or m.out_dir) / "train.log"
        raise GateRefusal(
            Gate.BASELINE,
            f"baseline {record.get('status')}: {record.get('reason')}",
            _BASELINE_FIX,
            details={
                "status": record.get("status"),
                "failure_class": record.get("failure_class"),
                "train_job_id": record.get("job_id"),
                "eval_job_id": record.get("eval_job_id"),
                "record_path": record.get("record_path") or m.out_dir,
                "log_tail": record.get("log_tail") or log_tail(job_log) or log_tail(m.log_file),
            },
        )
    return BaselineOutput(
        preflight_id=plan.preflight_id,
        status="measured",
        gate_satisfied=True,
        metric_name=record.get("metric_name"),
        metric_value=record.get("metric_value"),
        eval_metric_value=record.get("eval_metric_value"),
        eval_data=record.get("eval_data"),
        source=record.get("source"),
        train_job_id=record.get("job_id"),
        eval_job_id=record.get("eval_job_id"),
        record_path=record.get("record_path"),
        checkpoint=record.get("checkpoint"),
        timing=_timing_out(record),
        reason=record.get("eval_error") or record.get("eval_note"),
        next_step=f"call estimate_budget(preflight_id='{plan.preflight_id}', algorithm=..., settings=...) for the "
        "launch review",
    )


def _decide_baseline(sc: WorkflowContext, inp: BaselineInput) -> BaselineOutput:
    """Pass the baseline gate knowingly: declared unavailable, or a proxy value accepted with a reason."""
    if not inp.reason:
        raise GateRefusal(
            Gate.INPUT,
            "a reason is required to pass the baseline gate without a measurement",
            "pass reason='...' stating what the user agreed to",
            field="reason",
        )
    with sc.store.locked(inp.preflight_id):
        plan = sc.store.load_plan(inp.preflight_id)
        value = inp.proxy_metric_value
        measured = (plan.baseline.record or {}) if plan.baseline else {}
        if inp.accept_proxy and value is None:
            value = next(
                (measured[k] for k in ("eval_metric_value", "metric_value") if measured.get(k) is not None), None
            )
        if inp.accept_proxy and value is None:
            raise GateRefusal(
                Gate.BASELINE,
                "nothing was measured to accept as a proxy",
                "pass proxy_metric_value (e.g. a published or earlier result) with a reason, or "
                "declare_unavailable=true",
                field="proxy_metric_value",
            )
        kind = "proxy_accepted" if inp.accept_proxy else "declared_unavailable"
        plan.decision = BaselineDecision(kind=kind, reason=inp.reason, metric_value=value, at=time.time())
        sc.store.save_plan(plan)
    return BaselineOutput(
        preflight_id=plan.preflight_id,
        status=kind,
        gate_satisfied=True,  # type: ignore[arg-type]
        metric_value=value,
        reason=inp.reason,
        source="proxy" if inp.accept_proxy else None,
        next_step="call estimate_budget for the launch review; it states this baseline decision",
    )
