"""One adapter per MCP tool: validate, check the gates, call ``tao_automl``, shape the answer.

Nothing here decides how AutoML works: preflight checks, image resolution, baseline measurement,
planning, estimates, status and reports all come from the library. The adapters own only what
the library cannot know: which plan a call belongs to, which gates hold, and what to say next.
Every refusal raises :class:`GateRefusal`; ``app.py`` turns it into a structured error.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.gates import (
    GATE_FIXES,
    BaselineDecision,
    GateRefusal,
    Launch,
    Measurement,
    PlanState,
    Review,
    RunRecord,
    StateStore,
    baseline_key,
    baseline_record,
    gate_statuses,
    new_id,
    review_hash,
)
from server.launcher import is_alive, log_tail, measure_argv, run_argv, spawn_detached
from server.models import (
    BaselineInput,
    BaselineOutput,
    BrainHealth,
    CheckOut,
    DatasetOut,
    EstimateInput,
    FailureOut,
    Gate,
    ImageOutput,
    LaunchInput,
    LaunchOutput,
    ModelSummary,
    ParameterOut,
    PreflightInput,
    PreflightOutput,
    ProposalOut,
    RecOut,
    ResolveImageInput,
    ReviewOutput,
    RunInput,
    RunningJobOut,
    StatusOutput,
    SummaryOutput,
    TimingOut,
)
from server.review import render
from tao_automl.checkpoints import final_checkpoint
from tao_automl.data.preparation import data_review_lines
from tao_automl.errors import AutoMLError
from tao_automl.estimate import (
    PlannedRun,
    Timing,
    baseline_blockers,
    estimate_run,
    first_batch,
    plan_run,
    timing_from_record,
)
from tao_automl.images import find_model_skill, resolve_image
from tao_automl.plan_file import PlanFile
from tao_automl.preflight import Check, CheckStatus, count_records, run_preflight
from tao_automl.redaction import find_secrets, is_secret_name
from tao_automl.report import load_result, write_report_files
from tao_automl.results import query_status
from tao_automl.skill import ModelSkill
from tao_automl.store import Store
from tao_automl.workspace import Workspace, atomic_write_json, atomic_write_text

DEFAULT_RESULTS_ROOT = Path("~/tao-automl-runs")
#: Platforms that run a job on one host (multi-node jobs need a scheduler).
SINGLE_HOST = frozenset({"local", "docker", "brev"})
LLM_ALGORITHMS = frozenset({"llm", "hybrid", "autoresearch"})
_SECRET_FIX = (
    "export the credential as an environment variable in the shell that starts the MCP server; tools check "
    "credentials by name (SET/UNSET) and never take or return their values"
)


@dataclass
class ServerContext:
    """Shared by every tool call (the server's lifespan context)."""

    store: StateStore


# ---- small shared helpers ---------------------------------------------------------------------------


def refuse_secrets(value: Any, field: str) -> None:
    """Credentials never travel through a tool call: refuse a secret-named key or a secret-looking value."""
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{field}.{key}"
            if is_secret_name(str(key)):
                raise GateRefusal(Gate.INPUT, f"{name} names a credential", _SECRET_FIX, field=name)
            refuse_secrets(item, name)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            refuse_secrets(item, f"{field}[{i}]")
    elif isinstance(value, str) and find_secrets(value):
        raise GateRefusal(
            Gate.INPUT, f"{field} holds a value that looks like a secret (not echoed)", _SECRET_FIX, field=field
        )


def _from_library(exc: AutoMLError, gate: Gate = Gate.INPUT) -> GateRefusal:
    return GateRefusal(gate, exc.message, exc.hint or "correct the named input and call again", field=exc.field)


def _require_preflight(plan: PlanState) -> str:
    if not plan.preflight_passed or not plan.skill_dir:
        failed = ", ".join(plan.preflight_failed) or "the model skill"
        raise GateRefusal(
            Gate.PREFLIGHT,
            f"preflight {plan.preflight_id} failed ({failed})",
            GATE_FIXES[Gate.PREFLIGHT],
            details={"failed_checks": plan.preflight_failed},
        )
    return plan.skill_dir


def _plan_run(plan: PlanState, **kwargs: Any) -> PlannedRun:
    """The runner's own plan for this preflight's skill, platform and data (refusals name the input)."""
    if not plan.skill_dir:
        raise GateRefusal(Gate.PREFLIGHT, "the preflight found no usable model skill", GATE_FIXES[Gate.PREFLIGHT])
    try:
        return plan_run(
            plan.skill_dir,
            train_dataset_uri=plan.train_uri,
            eval_dataset_uri=plan.eval_uri,
            base_checkpoint=plan.checkpoint,
            platform=plan.platform,
            platform_options=plan.platform_options,
            workspace_dir=plan.results_root,
            **kwargs,
        )
    except AutoMLError as exc:
        raise _from_library(exc) from None


def _current_image(plan: PlanState) -> dict[str, Any] | None:
    if not plan.skill_dir:
        return None
    try:
        return resolve_image(plan.skill_dir, "train").model_dump(mode="json")
    except AutoMLError:
        return None


def _worst(checks: list[CheckOut]) -> str:
    statuses = {c.status for c in checks}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"


# ---- preflight_check -------------------------------------------------------------------------------------


def _plan_checks(inp: PreflightInput, skill: ModelSkill) -> list[Check]:
    """What only the whole plan can show: the runner accepts it, the compute shape fits, a baseline is possible."""
    checks: list[Check] = []
    try:
        run = plan_run(
            skill.root,
            spec_overrides=inp.spec_overrides,
            train_dataset_uri=inp.datasets.get("train"),
            eval_dataset_uri=inp.datasets.get("eval"),
            platform=inp.platform,
            platform_options=inp.platform_options,
        )
    except AutoMLError as exc:
        checks.append(Check(name="plan:train", status=CheckStatus.FAIL, evidence=exc.message, fix=exc.hint))
    else:
        checks.append(
            Check(
                name="plan:train",
                status=CheckStatus.PASS,
                evidence=f"the runner accepts the plan: {len(run.plan.space)} searchable parameters, metric "
                f"{run.plan.metric} ({run.plan.direction}), {run.epochs} epochs per recommendation",
            )
        )
    shape = f"{inp.gpu_count} GPU(s) per node x {inp.num_nodes} node(s) per job on {inp.platform}"
    if inp.num_nodes > 1 and inp.platform in SINGLE_HOST:
        checks.append(
            Check(
                name="compute:shape",
                status=CheckStatus.FAIL,
                evidence=f"{shape}: one host only",
                fix="use num_nodes=1, or a cluster platform (slurm, kubernetes) for multi-node jobs",
            )
        )
    elif inp.gpu_count > 0 and inp.platform == "local" and shutil.which("nvidia-smi") is None:
        checks.append(
            Check(
                name="compute:shape",
                status=CheckStatus.FAIL,
                evidence=f"{shape}: no nvidia-smi here",
                fix="gpu_count=0 for a CPU network, or a platform with GPUs",
            )
        )
    else:
        checks.append(Check(name="compute:shape", status=CheckStatus.PASS, evidence=shape))
    blockers = baseline_blockers(
        skill, checkpoint=None, train_uri=inp.datasets.get("train"), eval_uri=inp.datasets.get("eval")
    )
    checks.append(
        Check(
            name="data:baseline",
            status=CheckStatus.WARN,
            evidence="; ".join(blockers),
            fix="give the missing dataset (labels 'train'/'eval'), or decide on the baseline with the user",
        )
        if blockers
        else Check(
            name="data:baseline", status=CheckStatus.PASS, evidence="the default-config baseline can be measured"
        )
    )
    return checks


def preflight_check(sc: ServerContext, inp: PreflightInput) -> PreflightOutput:
    for field in ("platform_options", "datasets", "spec_overrides"):
        refuse_secrets(getattr(inp, field), field)
    root = (Path(inp.results_root) if inp.results_root else DEFAULT_RESULTS_ROOT).expanduser().resolve()
    result = run_preflight(
        platform=inp.platform,
        model=inp.model_skill,
        paths=dict(inp.datasets),
        min_free_disk_gb=inp.min_free_disk_gb,
        disk_path=root,
        platform_options=inp.platform_options,
        probe_dir=root,
    )
    checks = list(result.checks)
    skill: ModelSkill | None = None
    try:
        skill = ModelSkill.load(find_model_skill(inp.model_skill))
    except AutoMLError:
        skill = None
    if skill is not None:
        checks += _plan_checks(inp, skill)
    out_checks = [CheckOut.model_validate(c.model_dump(mode="json")) for c in checks]
    overall = _worst(out_checks)
    failed = [c.name for c in out_checks if c.status == "fail"]
    plan = PlanState(
        preflight_id=new_id("plan"),
        created_at=time.time(),
        model_skill=inp.model_skill,
        skill_dir=str(skill.root) if skill else None,
        platform=inp.platform,
        platform_options=inp.platform_options,
        datasets=dict(inp.datasets),
        results_root=str(root),
        gpu_count=inp.gpu_count,
        num_nodes=inp.num_nodes,
        spec_overrides=inp.spec_overrides,
        preflight_overall=overall,
        preflight_failed=failed,
    )
    sc.store.save_plan(plan)
    model = None
    if skill is not None:
        hints = skill.info.automl
        model = ModelSummary(
            name=skill.name,
            skill_dir=str(skill.root),
            metric=hints.metric,
            direction=hints.direction,
            actions=sorted(skill.info.actions),
        )
    next_step = (
        f"call resolve_image(preflight_id='{plan.preflight_id}') and confirm the image with the user, then "
        "run_baseline_eval"
        if overall != "fail"
        else "fix every failed check (see its fix), then call preflight_check again"
    )
    return PreflightOutput(
        preflight_id=plan.preflight_id,
        passed=overall != "fail",
        overall=overall,  # type: ignore[arg-type]
        checks=out_checks,
        failed=failed,
        model=model,
        results_root=str(root),
        next_step=next_step,
    )


# ---- resolve_image ----------------------------------------------------------------------------------------


def resolve_image_tool(sc: ServerContext, inp: ResolveImageInput) -> ImageOutput:
    plan: PlanState | None = None
    target = inp.model_skill
    if inp.preflight_id:
        plan = sc.store.load_plan(inp.preflight_id)
        if not plan.skill_dir:
            raise GateRefusal(Gate.PREFLIGHT, "the preflight found no usable model skill", GATE_FIXES[Gate.PREFLIGHT])
        target = target or plan.skill_dir
    if not target:
        raise GateRefusal(
            Gate.INPUT, "give model_skill or preflight_id", "pass the preflight_id of this plan", field="model_skill"
        )
    try:
        res = resolve_image(target, inp.action)
    except AutoMLError as exc:
        raise _from_library(exc) from None
    if plan is not None and Path(res.skill_dir).resolve() != Path(plan.skill_dir or "").resolve():
        raise GateRefusal(
            Gate.INPUT,
            f"{target} is not this plan's model skill ({plan.skill_dir})",
            "omit model_skill when passing preflight_id",
            field="model_skill",
        )
    data = res.model_dump(mode="json")
    sc.store.save_image(res.skill_dir, inp.action, data)
    next_step = "show the image and its source to the user"
    if plan is not None:
        with sc.store.locked(plan.preflight_id):
            plan = sc.store.load_plan(plan.preflight_id)
            plan.images[inp.action] = data
            sc.store.save_plan(plan)
        next_step += f"; then run_baseline_eval(preflight_id='{plan.preflight_id}')"
    fields = {k: v for k, v in data.items() if k in ImageOutput.model_fields}
    return ImageOutput(**fields, recorded_for=plan.preflight_id if plan else None, next_step=next_step)


# ---- measurements (baseline and probe) ---------------------------------------------------------------------


def _spawn_measurement(plan: PlanState, kind: str, key: str, inputs: dict[str, Any]) -> Measurement:
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


def _await(m: Measurement, wait_s: float) -> dict[str, Any] | None:
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


def _finish_measurement(sc: ServerContext, preflight_id: str, kind: str, key: str, record: dict[str, Any]) -> None:
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


_BASELINE_FIX = (
    "fix the cause and call run_baseline_eval(rerun=true); or, if the user agrees, call it with accept_proxy=true "
    "(and proxy_metric_value) or declare_unavailable=true, each with a reason"
)


def run_baseline_eval(sc: ServerContext, inp: BaselineInput) -> BaselineOutput:
    if inp.accept_proxy and inp.declare_unavailable:
        raise GateRefusal(
            Gate.INPUT, "accept_proxy and declare_unavailable exclude each other", "choose one", field="accept_proxy"
        )
    plan = sc.store.load_plan(inp.preflight_id)
    _require_preflight(plan)
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
        run = _plan_run(plan, settings=settings, spec_overrides=plan.spec_overrides)  # refuses bad inputs first
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
            m = _spawn_measurement(plan, "baseline", key, inputs)
            plan.baseline = m
        plan.decision = None  # an explicit measurement replaces an earlier decision
        sc.store.save_plan(plan)
    record = m.record or _await(m, inp.wait_seconds)
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
        _finish_measurement(sc, plan.preflight_id, "baseline", key, record)
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


def _decide_baseline(sc: ServerContext, inp: BaselineInput) -> BaselineOutput:
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


# ---- estimate_budget ---------------------------------------------------------------------------------------


def _measured_timing(m: Measurement | None, note: str = "") -> Timing | None:
    if m is None or m.record is None:
        return None
    started = m.record.get("process_started_at")
    process_start = (started - m.spawned_at) if isinstance(started, int | float) else 0.0
    what = f"{m.kind} job {m.record.get('job_id')}{note}"
    return timing_from_record(m.record, process_start_s=process_start, source=what)


def _timing(sc: ServerContext, plan: PlanState, inp: EstimateInput, key: str) -> Timing:
    """Per-epoch time: the user's figure > the baseline job > an earlier probe > a new probe."""
    if inp.per_epoch_seconds is not None:
        return Timing(per_epoch_s=inp.per_epoch_seconds, startup_s=inp.startup_seconds or 0.0, source="given")
    m = plan.baseline
    if m is not None and m.record is None and is_alive(m.pid, m.proc_start):
        record = _await(m, inp.wait_seconds)
        if record is not None:
            _finish_measurement(sc, plan.preflight_id, "baseline", m.key, record)
            m.record = record
    note = "" if m is None or m.key == key else " (measured with other overrides)"
    timing = _measured_timing(m, note) or _measured_timing(plan.probe)
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


def _probe(sc: ServerContext, plan: PlanState, inp: EstimateInput, key: str) -> Timing | None:
    """A 1-2 epoch run of the defaults, only to time this model on this platform."""
    _require_preflight(plan)
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
            m = _spawn_measurement(fresh, "probe", key, inputs)
            fresh.probe = m
            sc.store.save_plan(fresh)
    record = m.record or _await(m, inp.wait_seconds)
    if record is None:
        raise GateRefusal(
            Gate.ESTIMATE,
            "the timing probe is still running",
            "call estimate_budget again to wait",
            details={"probe_dir": m.out_dir},
        )
    if m.record is None:
        _finish_measurement(sc, plan.preflight_id, "probe", m.key, record)
        m.record = record
    plan.probe = m
    timing = _measured_timing(m)
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


def estimate_budget(sc: ServerContext, inp: EstimateInput) -> ReviewOutput:
    plan = sc.store.load_plan(inp.preflight_id)
    for name in ("settings", "spec_overrides", "custom_param_ranges"):
        refuse_secrets(getattr(inp, name), name)
    overrides = inp.spec_overrides if inp.spec_overrides is not None else plan.spec_overrides
    run = _plan_run(
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
    current_image = _current_image(plan)
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
                "max_recommendations": settings.automl_max_recommendations,
                "max_concurrent": settings.automl_max_concurrent,
                "epochs": run.epochs,
                "max_epochs": settings.automl_max_epochs,
                "max_total_epochs": settings.automl_max_total_epochs,
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


# ---- launch_automl --------------------------------------------------------------------------------------


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


def launch_automl(sc: ServerContext, inp: LaunchInput) -> LaunchOutput:
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
        current_image = _current_image(plan)
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
        PlanFile(**spec, baseline_record=record, workspace=str(workspace)).write(workspace / "plan.json")
        shutil.copyfile(review.path_md, workspace / "launch_review_mcp.md")
        spawned = spawn_detached(run_argv(workspace / "plan.json"), log_path=workspace / "runner.log", cwd=workspace)
        baseline_timing = _measured_timing(plan.baseline) or _measured_timing(plan.probe)
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


# ---- job_status -----------------------------------------------------------------------------------------


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


def job_status(sc: ServerContext, inp: RunInput) -> StatusOutput:
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


# ---- summarize_results --------------------------------------------------------------------------------------


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


def summarize_results(sc: ServerContext, inp: RunInput) -> SummaryOutput:
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
