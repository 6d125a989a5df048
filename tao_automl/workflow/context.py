"""What every step of the gated workflow shares: the state it runs in, refusals from library errors,
the plan a call belongs to, and the rule that secrets never travel through the workflow's inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tao_automl.errors import AutoMLError
from tao_automl.estimate import (
    PlannedRun,
    plan_run,
)
from tao_automl.images import resolve_image
from tao_automl.redaction import find_secrets, is_secret_name
from tao_automl.workflow.models import (
    Gate,
)
from tao_automl.workflow.state import (
    GATE_FIXES,
    GateRefusal,
    PlanState,
    StateStore,
)

DEFAULT_RESULTS_ROOT = Path("~/tao-automl-runs")
#: Platforms that run a job on one host (multi-node jobs need a scheduler).
SINGLE_HOST = frozenset({"local", "docker", "brev"})
LLM_ALGORITHMS = frozenset({"llm", "hybrid", "autoresearch"})
SECRET_FIX = (
    "export the credential as an environment variable in the shell that starts the MCP server; tools check "
    "credentials by name (SET/UNSET) and never take or return their values"
)


@dataclass
class WorkflowContext:
    """Shared by every tool call (the server's lifespan context)."""

    store: StateStore


def refuse_secrets(value: Any, field: str) -> None:
    """Credentials never travel through a tool call: refuse a secret-named key or a secret-looking value."""
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{field}.{key}"
            if is_secret_name(str(key)):
                raise GateRefusal(Gate.INPUT, f"{name} names a credential", SECRET_FIX, field=name)
            refuse_secrets(item, name)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            refuse_secrets(item, f"{field}[{i}]")
    elif isinstance(value, str) and find_secrets(value):
        raise GateRefusal(
            Gate.INPUT, f"{field} holds a value that looks like a secret (not echoed)", SECRET_FIX, field=field
        )


def refusal_from(exc: AutoMLError, gate: Gate = Gate.INPUT) -> GateRefusal:
    return GateRefusal(gate, exc.message, exc.hint or "correct the named input and call again", field=exc.field)


def require_preflight(plan: PlanState) -> str:
    if not plan.preflight_passed or not plan.skill_dir:
        failed = ", ".join(plan.preflight_failed) or "the model skill"
        raise GateRefusal(
            Gate.PREFLIGHT,
            f"preflight {plan.preflight_id} failed ({failed})",
            GATE_FIXES[Gate.PREFLIGHT],
            details={"failed_checks": plan.preflight_failed},
        )
    return plan.skill_dir


def planned_run(plan: PlanState, **kwargs: Any) -> PlannedRun:
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
        raise refusal_from(exc) from None


def image_now(plan: PlanState) -> dict[str, Any] | None:
    if not plan.skill_dir:
        return None
    try:
        return resolve_image(plan.skill_dir, "train").model_dump(mode="json")
    except AutoMLError:
        return None
