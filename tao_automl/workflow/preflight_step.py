"""Step 1, preflight: can this model be tuned on this platform, with these inputs? Records a plan."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from tao_automl.errors import AutoMLError
from tao_automl.estimate import (
    baseline_blockers,
    plan_run,
)
from tao_automl.images import find_model_skill
from tao_automl.job_runtime import interpreter_checks
from tao_automl.preflight import Check, CheckStatus, run_preflight
from tao_automl.skill import ModelSkill
from tao_automl.workflow.context import DEFAULT_RESULTS_ROOT, SINGLE_HOST, WorkflowContext, refuse_secrets
from tao_automl.workflow.models import (
    CheckOut,
    ModelSummary,
    PreflightInput,
    PreflightOutput,
)
from tao_automl.workflow.state import (
    PlanState,
    new_id,
)


def _worst(checks: list[CheckOut]) -> str:
    statuses = {c.status for c in checks}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"


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
        checks.append(
            Check(name="plan:train", status=CheckStatus.FAIL, evidence=exc.message, fix=exc.hint, field=exc.field)
        )
    else:
        epochs = (
            f"{run.epochs} epochs per recommendation"
            if run.epochs is not None
            else f"epochs per recommendation set by the algorithm ({run.plan.skill.epochs_key} is not a fixed count)"
        )
        checks.append(
            Check(
                name="plan:train",
                status=CheckStatus.PASS,
                evidence=f"the runner accepts the plan: {len(run.plan.space)} searchable parameters, metric "
                f"{run.plan.metric} ({run.plan.direction}), {epochs}",
            )
        )
    checks += interpreter_checks(skill, inp.platform, inp.platform_options)
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


def preflight_check(sc: WorkflowContext, inp: PreflightInput) -> PreflightOutput:
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
    # The disk measured is results_root's: a failure there names that argument.
    checks = [
        c.model_copy(update={"field": "results_root"}) if c.name == "disk:free" and c.status == CheckStatus.FAIL else c
        for c in result.checks
    ]
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
