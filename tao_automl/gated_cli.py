"""The gated workflow on the command line: ``tao-automl preflight | image | baseline | estimate | launch | follow |
summarize``, one command per step of :mod:`tao_automl.workflow`.

Each command's flags are its step's input model, field by field (``--spec-overrides`` takes JSON or
YAML), and the call goes through :func:`tao_automl.workflow.calls.call_step`, as the MCP server's
tools do: a person at a terminal meets the same gates, refused with the same words (on stderr, exit
code 3). Plans, reviews and runs live in the same state directory as the MCP server's
(``$TAO_AUTOML_MCP_STATE``), so either face can continue what the other started.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from tao_automl.workflow.calls import STEPS, Step, call_step, refusal_text
from tao_automl.workflow.context import WorkflowContext
from tao_automl.workflow.models import Refusal
from tao_automl.workflow.state import StateStore, default_state_dir

#: Command -> (step, help). The order is the flow's.
COMMANDS: dict[str, tuple[str, str]] = {
    "preflight": ("preflight_check", "step 1: check that a model can be tuned on a platform; prints a preflight_id"),
    "image": ("resolve_image", "step 2: the container image an action runs in (show it to whoever approves)"),
    "baseline": ("run_baseline_eval", "step 3: measure the baseline (or knowingly waive it, with a reason)"),
    "estimate": ("estimate_budget", "step 4: the launch review (plan, first batch, estimate); prints a review_id"),
    "launch": ("launch_automl", "step 5: launch an approved review: --review <id> --confirm"),
    "follow": ("job_status", "step 6: live status of a launched run"),
    "summarize": ("summarize_results", "step 7: baseline vs recommendations vs best, the exact best checkpoint"),
}
#: Shorter spellings of a few fields (the field's own flag works too).
ALIASES = {"model_skill": "--skill", "review_id": "--review", "confirmed": "--confirm", "preflight_id": "--preflight"}
#: Exit code of a refused step (2 is argparse's usage error).
REFUSED = 3


def _scalar(annotation: Any) -> type | None:
    """``str``/``int``/``float``/``bool`` when the field takes one of them (optional or not), else None."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    return annotation if annotation in (str, int, float, bool) else None


def _structured(text: str) -> Any:
    """A JSON/YAML flag value (``{"train.num_epochs": 2}`` or ``train.num_epochs: 2``)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise argparse.ArgumentTypeError(f"not JSON or YAML: {exc}") from None


def _add_field(parser: argparse.ArgumentParser, name: str, info: FieldInfo) -> None:
    flags = [f"--{name.replace('_', '-')}", *([ALIASES[name]] if name in ALIASES else [])]
    kind = _scalar(info.annotation)
    help_text = info.description or ""
    if kind is bool:
        parser.add_argument(*flags, dest=name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
    elif kind is not None:
        parser.add_argument(*flags, dest=name, default=None, help=help_text)  # pydantic converts and checks
    else:
        parser.add_argument(*flags, dest=name, type=_structured, default=None, help=f"{help_text} (JSON or YAML)")


def add_commands(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    """One subcommand per workflow step (``add_parser`` of the command's subparsers), its flags generated from
    the step's input model."""
    for command, (step_name, help_text) in COMMANDS.items():
        parser = add_parser(command, help=help_text, description=help_text)
        for name, info in STEPS[step_name].input_model.model_fields.items():
            _add_field(parser, name, info)
        parser.add_argument("--state-dir", help="plans, reviews and runs (default $TAO_AUTOML_MCP_STATE, shared with "
                            "the MCP server)")  # fmt: skip
        parser.add_argument("--json", action="store_true", help="print the step's output as JSON")


def _show(out: BaseModel) -> str:
    """A person's view of a step's output: its markdown if it has one, then its plain fields."""
    data = out.model_dump(mode="json")
    lines = [data.pop("markdown")] if isinstance(data.get("markdown"), str) else []
    for check in data.pop("checks", None) or []:
        lines.append(f"  [{check['status']}] {check['name']}: {check['evidence']}" + (
            f" (fix: {check['fix']})" if check.get("fix") and check["status"] != "pass" else ""))  # fmt: skip
    for key, value in data.items():
        if value is None or (isinstance(value, dict | list) and key != "failed"):
            continue
        lines.append(f"{key}: {value}")
    return "\n".join(lines)


def run_command(args: argparse.Namespace) -> int:
    """Run the step of ``args.command``; 0 on success, :data:`REFUSED` on a refusal."""
    step: Step = STEPS[COMMANDS[args.command][0]]
    arguments = {name: getattr(args, name) for name in step.input_model.model_fields if getattr(args, name) is not None}
    root = Path(args.state_dir).expanduser() if args.state_dir else default_state_dir()
    out = call_step(step, WorkflowContext(store=StateStore(root)), arguments)
    if isinstance(out, Refusal):
        print(refusal_text(out), file=sys.stderr)
        if args.json:
            print(json.dumps({"error": out.model_dump(mode="json")}, indent=2))
        return REFUSED
    print(out.model_dump_json(indent=2) if args.json else _show(out))
    return 0
