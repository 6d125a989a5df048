"""Pydantic inputs and outputs of every MCP tool: the whole contract an agent sees.

Inputs forbid unknown keys (a misspelt budget key must not be silently ignored) and bound every
number, so a malformed call becomes a structured ``input`` error before any work starts. Outputs
carry a ``next_step`` sentence so an agent always knows which tool comes next.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tao_automl.estimate import Estimate
from tao_automl.report import ReportModel

_ID = r"^[A-Za-z0-9_.\-]{1,64}$"
_Text = Field(min_length=1, max_length=4096)


class Gate(StrEnum):
    """What a refusal is about. The launch gates are checked in this order."""

    INPUT = "input"
    REVIEW = "review"
    CONFIRMATION = "confirmation"
    PREFLIGHT = "preflight"
    IMAGE = "image"
    BASELINE = "baseline"
    PLAN_UNCHANGED = "plan_unchanged"
    ESTIMATE = "estimate"
    RUN = "run"
    INTERNAL = "internal"


class Refusal(BaseModel):
    """Why a tool refused: the gate, the reason, and how to satisfy it."""

    gate: Gate
    reason: str
    fix: str
    field: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResult(BaseModel):
    """Structured content of every refused or failed call (``isError`` is true)."""

    error: Refusal


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- preflight_check -------------------------------------------------------------------------------


class PreflightInput(_Input):
    model_skill: str = Field(
        min_length=1, max_length=4096, description="model skill: directory, name or network_arch (e.g. digits-cnn)"
    )
    platform: str = Field("local", min_length=1, max_length=64, description="platform skill name")
    platform_options: dict[str, Any] = Field(
        default_factory=dict, description="non-secret platform options (python, partition, ...); never credentials"
    )
    datasets: dict[str, str] = Field(
        default_factory=dict,
        description="label -> local path or s3:// URI; 'train' and 'eval' are passed to the run, all are checked",
    )
    results_root: str | None = Field(
        None, max_length=4096, description="where baselines, reviews and runs are written (default ~/tao-automl-runs)"
    )
    gpu_count: int = Field(0, ge=0, le=1024, description="GPUs per node for each job")
    num_nodes: int = Field(1, ge=1, le=1024, description="nodes per job")
    spec_overrides: dict[str, Any] = Field(
        default_factory=dict, description="dotted spec overrides of the run (e.g. train.num_epochs), checked here"
    )
    min_free_disk_gb: float = Field(1.0, ge=0, le=1e6)


class CheckOut(BaseModel):
    name: str
    status: Literal["pass", "fail", "warn", "skip"]
    evidence: str = ""
    fix: str | None = None
    field: str | None = None  # a failed check caused by one input: its dotted name (spec_overrides.train.num_epochs)
    failure_class: str | None = None  # data/credential failures: the job failure class they would cause


class ModelSummary(BaseModel):
    name: str
    skill_dir: str
    metric: str | None = None
    direction: str | None = None
    actions: list[str] = Field(default_factory=list)


class PreflightOutput(BaseModel):
    preflight_id: str
    passed: bool
    overall: Literal["pass", "fail", "warn", "skip"]
    checks: list[CheckOut]
    failed: list[str] = Field(default_factory=list)
    model: ModelSummary | None = None
    results_root: str
    next_step: str


# ---- resolve_image -----------------------------------------------------------------------------------


class ResolveImageInput(_Input):
    model_skill: str | None = Field(None, min_length=1, max_length=4096, description="omit when preflight_id is given")
    action: str = Field("train", min_length=1, max_length=64)
    preflight_id: str | None = Field(None, pattern=_ID, description="record the resolution for this plan's launch gate")


class ImageOutput(BaseModel):
    image: str | None
    source: str
    versions_key: str | None = None
    confirmation_required: bool
    model: str
    skill_dir: str
    action: str
    notes: list[str] = Field(default_factory=list)
    recorded_for: str | None = None
    next_step: str


# ---- run_baseline_eval -----------------------------------------------------------------------------


class BaselineInput(_Input):
    preflight_id: str = Field(pattern=_ID)
    checkpoint: str | None = Field(
        None, min_length=1, max_length=4096, description="evaluate this checkpoint (else train the defaults)"
    )
    spec_overrides: dict[str, Any] | None = Field(
        None, description="the run's spec overrides (its budget); default: the ones given to preflight_check"
    )
    settings: dict[str, Any] | None = Field(None, description="automl settings that change the baseline (metric, ...)")
    wait_seconds: float = Field(600.0, ge=0, le=3600, description="how long this call waits for the measurement")
    rerun: bool = Field(False, description="measure again even if a record for the same inputs exists")
    accept_proxy: bool = Field(False, description="knowingly accept a proxy baseline (needs reason)")
    proxy_metric_value: float | None = Field(None, allow_inf_nan=False, description="the proxy value, if not measured")
    declare_unavailable: bool = Field(False, description="knowingly launch without a baseline (needs reason)")
    reason: str | None = Field(None, min_length=3, max_length=2000, description="why the proxy/unavailable is accepted")


class TimingOut(BaseModel):
    per_epoch_s: float | None = None
    startup_s: float | None = None
    eval_s: float | None = None
    wall_s: float | None = None
    how: str | None = None


class BaselineOutput(BaseModel):
    preflight_id: str
    status: Literal["measured", "running", "declared_unavailable", "proxy_accepted"]
    gate_satisfied: bool
    metric_name: str | None = None
    metric_value: float | None = None
    eval_metric_value: float | None = None
    eval_data: dict[str, Any] | None = Field(None, description="which data the evaluation read (evaluate.split)")
    source: str | None = None
    train_job_id: str | None = None
    eval_job_id: str | None = None
    record_path: str | None = None
    checkpoint: str | None = None
    timing: TimingOut | None = None
    reason: str | None = None
    next_step: str


# ---- estimate_budget ---------------------------------------------------------------------------------


class EstimateInput(_Input):
    preflight_id: str = Field(pattern=_ID)
    algorithm: str = Field("bayesian", min_length=1, max_length=64)
    settings: dict[str, Any] = Field(default_factory=dict, description="automl_ settings (budget, concurrency, ...)")
    spec_overrides: dict[str, Any] | None = Field(None, description="default: the overrides the baseline used")
    custom_param_ranges: dict[str, dict[str, Any]] | None = None
    automl_hyperparameters: list[str] | None = Field(None, max_length=200)
    time_limit_hours: float | None = Field(None, gt=0, le=1e5, allow_inf_nan=False)
    price_per_gpu_hour: float | None = Field(None, ge=0, le=1e6, allow_inf_nan=False)
    per_epoch_seconds: float | None = Field(None, gt=0, le=1e7, allow_inf_nan=False, description="your own figure")
    startup_seconds: float | None = Field(None, ge=0, le=1e7, allow_inf_nan=False)
    probe: bool = Field(True, description="time a 1-2 epoch probe job when no baseline timing exists")
    poll_interval_seconds: float | None = Field(None, gt=0, le=3600, allow_inf_nan=False)
    wait_seconds: float = Field(600.0, ge=0, le=3600, description="how long a probe may take in this call")


class ParameterOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    type: str


class ProposalOut(BaseModel):
    params: dict[str, Any]
    budget: int | None = None
    resume_from: int | None = None
    note: str = ""


class GateStatus(BaseModel):
    gate: Gate
    satisfied: bool
    detail: str


class DatasetOut(BaseModel):
    label: str
    path: str
    spec_key: str | None = None
    samples: int | None = None
    counted: str | None = None


class ReviewOutput(BaseModel):
    review_id: str
    plan_hash: str
    preflight_id: str
    model: str
    skill_dir: str
    platform: str
    image: str | None
    image_source: str | None
    compute_shape: dict[str, int]
    datasets: list[DatasetOut]
    data_plan: list[str] = Field(
        default_factory=list,
        description="what happens to each dataset before the first job (staged once, reused, read in place, "
        "repeated-I/O risk) and the train sample count that caps batch sizes",
    )
    algorithm: str
    budget: dict[str, Any]
    metric: str
    direction: str
    parameters: list[ParameterOut]
    first_batch: list[ProposalOut]
    baseline: dict[str, Any]
    final_eval_plan: str
    estimate: Estimate
    gates: list[GateStatus]
    launchable: bool
    review_path: str
    markdown: str
    next_step: str


# ---- launch_automl -----------------------------------------------------------------------------------


class LaunchInput(_Input):
    review_id: str = Field(min_length=1, max_length=64)
    confirmed: bool = Field(False, description="true only after the user approved this exact review")


class LaunchOutput(BaseModel):
    run_id: str
    review_id: str
    workspace: str
    pid: int
    already_launched: bool
    log_path: str
    estimate_wall_s: float | None = None
    next_step: str


# ---- job_status / summarize_results ----------------------------------------------------------------


class RunInput(_Input):
    run_id: str = Field(min_length=1, max_length=64)


class RunningJobOut(BaseModel):
    """One running job. An evaluation job (role ``baseline_eval``/``final_eval``) reports its metric only
    when it ends, so ``current_metric`` and ``current_epoch`` stay null while it runs."""

    rec_id: int
    role: str
    job_id: str | None
    status: str = "running"
    description: str = ""
    metric_name: str | None = None
    current_metric: float | None = None
    current_epoch: int | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    checkpoint: str | None = None
    elapsed_s: float | None = None
    eta_s: float | None = None


class FailureOut(BaseModel):
    rec_id: int
    status: str
    failure_class: str | None = None
    failure_reason: str | None = None


class BrainHealth(BaseModel):
    applicable: bool
    healthy: bool | None = None
    detail: str


class StatusOutput(BaseModel):
    run_id: str
    state: str
    phase: Literal["starting", "baseline", "search", "final_evaluation", "done"] = "starting"
    process_alive: bool
    workspace: str
    run_dir: str | None = None
    algorithm: str | None = None
    metric: dict[str, Any] | None = None
    progress: dict[str, Any] = Field(default_factory=dict)
    running_jobs: list[RunningJobOut] = Field(default_factory=list)
    best: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    failures: list[FailureOut] = Field(default_factory=list)
    elapsed_s: float | None = None
    eta_s: float | None = None
    estimate_wall_s: float | None = None
    llm_brain: BrainHealth
    llm_health: dict[str, Any] | None = None
    log_tail: str | None = None
    poll_after_s: float | None = Field(
        None, description="seconds until a new job_status answer is worth asking for; null once the run is over"
    )
    next_step: str


class RecOut(BaseModel):
    rec_id: int
    status: str
    metric: float | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    budget: int | None = None
    failure_class: str | None = None
    failure_reason: str | None = None
    checkpoint: str | None = None


class SummaryOutput(BaseModel):
    run_id: str
    state: str | None
    metric: str | None
    direction: str | None
    headline: str
    baseline: dict[str, Any]
    recommendations: list[RecOut]
    best: dict[str, Any] | None
    best_checkpoint: str | None
    final_evaluation: dict[str, Any]
    improvement_over_baseline: dict[str, Any] | None = None
    failures: list[FailureOut] = Field(default_factory=list)
    report_path: str | None = None
    html_report_path: str | None = None
    report: ReportModel | None = Field(None, description="the report model the CLI and report.html render")
    next_steps: list[str]
