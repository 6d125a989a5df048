"""Step 2, the image: which container an action runs in and where that came from; shown to the user."""

from __future__ import annotations

from pathlib import Path

from tao_automl.errors import AutoMLError
from tao_automl.images import resolve_image
from tao_automl.workflow.context import WorkflowContext, refusal_from
from tao_automl.workflow.models import (
    Gate,
    ImageOutput,
    ResolveImageInput,
)
from tao_automl.workflow.state import (
    GATE_FIXES,
    GateRefusal,
    PlanState,
)


def resolve_image_step(sc: WorkflowContext, inp: ResolveImageInput) -> ImageOutput:
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
        raise refusal_from(exc) from None
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
