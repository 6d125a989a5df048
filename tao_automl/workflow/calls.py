"""One way to call a workflow step, for every face: raw arguments in, the output model or a Refusal out.

The MCP server and the command line both call steps through :func:`call_step`, so they validate
the same inputs and refuse the same things with the same words: a gate's refusal, a library error
(its field and hint), a bad path or value, and as a last resort an internal error that never takes
the caller down. :func:`refusal_text` is the one sentence both show.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from tao_automl.errors import AutoMLError
from tao_automl.redaction import redact, redact_obj
from tao_automl.workflow.baseline_step import run_baseline_eval
from tao_automl.workflow.context import WorkflowContext, refuse_secrets
from tao_automl.workflow.image_step import resolve_image_step
from tao_automl.workflow.launch_step import launch_automl
from tao_automl.workflow.models import (
    BaselineInput,
    BaselineOutput,
    EstimateInput,
    Gate,
    ImageOutput,
    LaunchInput,
    LaunchOutput,
    PreflightInput,
    PreflightOutput,
    Refusal,
    ResolveImageInput,
    ReviewOutput,
    RunInput,
    StatusOutput,
    SummaryOutput,
)
from tao_automl.workflow.preflight_step import preflight_check
from tao_automl.workflow.review_step import estimate_budget
from tao_automl.workflow.state import GateRefusal
from tao_automl.workflow.status_step import job_status
from tao_automl.workflow.summary_step import summarize_results

logger = logging.getLogger(__name__)

#: Longest argument name echoed in a refusal: a caller's key can be megabytes (or a pasted secret).
MAX_NAME = 80


@dataclass(frozen=True)
class Step:
    """One step of the flow: its name (the MCP tool's), its input and output models, and the function."""

    name: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    run: Callable[[WorkflowContext, Any], BaseModel]
    read_only: bool = False


STEPS: dict[str, Step] = {
    s.name: s
    for s in (
        Step("preflight_check", PreflightInput, PreflightOutput, preflight_check),
        Step("resolve_image", ResolveImageInput, ImageOutput, resolve_image_step),
        Step("run_baseline_eval", BaselineInput, BaselineOutput, run_baseline_eval),
        Step("estimate_budget", EstimateInput, ReviewOutput, estimate_budget),
        Step("launch_automl", LaunchInput, LaunchOutput, launch_automl),
        Step("job_status", RunInput, StatusOutput, job_status, read_only=True),
        Step("summarize_results", RunInput, SummaryOutput, summarize_results),
    )
}


def location(loc: tuple[Any, ...]) -> str:
    """An error location fit to echo: redacted (a key can be a pasted secret) and bounded in length."""
    text = redact(".".join(str(p) for p in loc))
    return text if len(text) <= MAX_NAME else text[:MAX_NAME] + "..."


def input_refusal(exc: ValidationError) -> Refusal:
    """A pydantic error as a refusal; only locations and messages, never the rejected values."""
    problems = [f"{location(e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()[:10]]
    first = exc.errors()[0] if exc.errors() else {"loc": ()}
    return Refusal(
        gate=Gate.INPUT,
        reason="; ".join(problems),
        fix="correct the named argument(s); the tool's input schema lists every argument, its type and bounds",
        field=location(first["loc"]) or None,
        details={"errors": len(exc.errors())},
    )


def call_step(step: Step, ctx: WorkflowContext, arguments: dict[str, Any]) -> BaseModel | Refusal:
    """Validate ``arguments`` with the step's input model and run it; every failure becomes a Refusal."""
    try:
        inp = step.input_model.model_validate(arguments)
    except ValidationError as exc:
        return input_refusal(exc)
    try:
        # Every argument, not only the ones a step passes on: a secret pasted anywhere (a model_skill, a
        # reason) would otherwise be stored in the plan's state file.
        for name in type(inp).model_fields:
            refuse_secrets(getattr(inp, name), name)
        out = step.run(ctx, inp)
    except GateRefusal as r:
        return Refusal(gate=r.gate, reason=redact(r.reason), fix=r.fix, field=r.field, details=r.details)
    except AutoMLError as exc:
        return Refusal(
            gate=Gate.INPUT, reason=redact(exc.message), fix=exc.hint or "correct the input", field=exc.field
        )
    except (OSError, ValueError, TypeError) as exc:
        return Refusal(
            gate=Gate.INPUT,
            reason=redact(f"{type(exc).__name__}: {exc}")[:2000],
            fix="check the paths and values given",
        )
    except Exception as exc:  # a step must answer, never take its caller down
        logger.exception("step %s failed", step.name)
        return Refusal(
            gate=Gate.INTERNAL,
            reason=f"{type(exc).__name__} in {step.name}",
            fix="this is a bug: report it with the log; retrying may not help",
        )
    # An answer can quote its inputs (a model name in a check's evidence): nothing secret-looking goes back.
    return type(out).model_validate(redact_obj(out.model_dump(mode="json")))


def refusal_text(refusal: Refusal) -> str:
    """The sentence every face shows for a refusal."""
    return f"refused by gate '{refusal.gate}': {refusal.reason}. Fix: {refusal.fix}"
