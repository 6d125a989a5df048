"""The tao-automl MCP server (official ``mcp`` SDK 2.x, ``MCPServer``): thin adapters over the workflow.

Seven tools take an agent from intake to the final report. Each is one step of
``tao_automl.workflow`` (which enforces the gates: nothing expensive starts before preflight
passed, the image was shown, a baseline exists or was knowingly waived, and the user confirmed the
exact review), called through ``workflow.calls.call_step``: the step's pydantic input model
validates the arguments, so a malformed call is answered like a refusal, as an error result whose
text names the gate, the reason and the fix and carries them as JSON
(``{"error": {gate, reason, fix, field, details}}``). A successful call returns the step's output
model as structured content.

Run ``tao-automl-mcp`` (stdio) or ``tao-automl-mcp --http 127.0.0.1:PORT`` (streamable HTTP at
``/mcp``, loopback unless another host is named), or ``python -m server.app``. State lives in
``$TAO_AUTOML_MCP_STATE`` (default ``~/.cache/tao-automl/mcp``), so a restarted server keeps every
plan, review and run, and the command line's gated flow (``tao-automl preflight ...``) shares it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import ConfigDict

from tao_automl.workflow.calls import STEPS, Step, call_step, refusal_text
from tao_automl.workflow.context import WorkflowContext
from tao_automl.workflow.models import ErrorResult, Refusal
from tao_automl.workflow.state import StateStore, default_state_dir

logger = logging.getLogger(__name__)

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

INSTRUCTIONS = """AutoML / hyperparameter optimisation for NVIDIA TAO networks, with enforced gates.
Order: preflight_check -> resolve_image (show the image to the user) -> run_baseline_eval -> estimate_budget
(show the review markdown to the user) -> launch_automl(review_id, confirmed=true) only after the user approved
that review -> job_status until complete -> summarize_results. A refused call is an error result whose text says
"refused by gate '<gate>': <reason>. Fix: <fix>" and then gives {"error": {gate, reason, fix, field, details}} as
JSON: do what fix says. Credentials are never passed to tools; export them before starting the server."""


class _RawArguments(ArgModelBase):
    """Takes the call's arguments as they came: the tool's own input model validates them."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    def model_dump_one_level(self) -> dict[str, Any]:
        return {"arguments": dict(self.__pydantic_extra__ or {})}


def _error(refusal: Refusal) -> CallToolResult:
    """A refusal as an error result with no structured content.

    The MCP specification requires structured content to conform to the tool's declared
    ``outputSchema``, and validating clients (the official TypeScript SDK) check it on error
    results too, so a refusal shape there is rejected as a protocol error and the agent never sees
    the gate. Widening every output schema to a union with the refusal would instead blur the
    success contract that typed clients generate code from. So the refusal travels as text: a
    sentence for a person, then the same facts as JSON (``ErrorResult``) for a program.
    """
    text = refusal_text(refusal)
    payload = ErrorResult(error=refusal).model_dump_json()
    return CallToolResult(
        content=[TextContent(type="text", text=text), TextContent(type="text", text=payload)], is_error=True
    )


def _tool(step: Step, description: str) -> Tool:
    """An MCP tool over a workflow step: its input model's schema, its output model as structured content."""

    async def call(arguments: dict[str, Any], ctx: Context) -> CallToolResult:
        server_ctx: WorkflowContext = ctx.request_context.lifespan_context
        out = await anyio.to_thread.run_sync(call_step, step, server_ctx, arguments)
        if isinstance(out, Refusal):
            return _error(out)
        return CallToolResult(
            content=[TextContent(type="text", text=out.model_dump_json())],
            structured_content=out.model_dump(mode="json"),
        )

    return Tool(
        fn=call,
        name=step.name,
        title=step.name.replace("_", " "),
        description=description,
        parameters=step.input_model.model_json_schema(),
        fn_metadata=FuncMetadata(arg_model=_RawArguments, output_model=step.output_model),
        is_async=True,
        context_kwarg="ctx",
        annotations=ToolAnnotations(
            read_only_hint=step.read_only, destructive_hint=False, open_world_hint=not step.read_only
        ),
    )


#: What each tool says to an agent (the MCP face's words; the steps themselves are tao_automl.workflow's).
DESCRIPTIONS = {
    "preflight_check": (
        "Step 1. Check that a model can be tuned on a platform before anything runs: model support gate (AutoML "
        "enabled, train schema), spec template, container image, the runner accepting the plan (spec_overrides), "
        "data visibility for every datasets path ('train'/'eval' labels feed the run), credential presence by "
        "name (SET/UNSET, never values), platform reachability, compute shape and free disk. Returns every check "
        "with pass/fail/evidence/fix and a preflight_id that the following tools need."
    ),
    "resolve_image": (
        "Step 2. Which container image an action runs in and where that came from (action, model, versions.yaml "
        "key). confirmation_required is always true: show the image to the user. Pass preflight_id so the launch "
        "gate records that the train image was resolved."
    ),
    "run_baseline_eval": (
        "Step 3. Measure the baseline the run is compared against: without a checkpoint, train the schema-default"
        " configuration at the run's budget (spec_overrides) and evaluate its checkpoint; with a checkpoint, "
        "evaluate it. Runs detached and waits up to wait_seconds; call again to keep waiting. Returns the metric,"
        " job ids, record path and timing, or a 'baseline' error with the reason (no evaluate action, no eval "
        "data, job failed). Only with the user's agreement: accept_proxy=true (proxy_metric_value) or "
        "declare_unavailable=true, each with a reason, passes the gate without a measurement."
    ),
    "estimate_budget": (
        "Step 4. The launch review: model, platform, image, compute shape, datasets and sample counts, algorithm,"
        " budget, concurrency, metric and direction, parameters and ranges, the exact first batch of "
        "configurations, the baseline, the final-evaluation plan, and an estimate (wall time, GPU-hours, cost "
        "with price_per_gpu_hour; per-epoch time from the baseline job or a short probe). Over time_limit_hours "
        "it lists the cuts that would fit. Returns review_id and the review markdown (also written under "
        "results_root). Show the markdown to the user before launching."
    ),
    "launch_automl": (
        "Step 5. Start the AutoML run of an approved review, detached (it survives this server). Refuses unless "
        "preflight passed, the image was resolved, a baseline was measured or knowingly waived, the review "
        "exists, confirmed is true, and nothing in the plan changed since the review (content hash). A review "
        "that was launched returns that same run when launched again (already_launched, no new job); one never "
        "launched must be its plan's newest review (else gate plan_unchanged). Returns run_id, workspace (the "
        "run directory job_status and the report read) and pid."
    ),
    "job_status": (
        "Step 6. Live status of a run from its workspace: state, phase (baseline, search, final_evaluation), "
        "progress, running jobs (what each does, its metric, epoch, hyperparameters and ETA; evaluation jobs "
        "report their metric when they end), best so far, baseline, failures with their class, LLM brain health "
        "for LLM algorithms, the runner log tail if it crashed, and poll_after_s: when to ask again."
    ),
    "summarize_results": (
        "Step 7. Baseline vs every recommendation vs best, the final evaluation, the exact best checkpoint file "
        "(never a 'latest' link), failures and what to do next. Also writes report/summary.md in the run."
    ),
}


def build_server(state_dir: str | Path | None = None) -> MCPServer[WorkflowContext]:
    """The MCP server with every tool; its state (plans, reviews, runs) lives under ``state_dir``."""
    root = Path(state_dir).expanduser() if state_dir else default_state_dir()

    @asynccontextmanager
    async def lifespan(_: MCPServer[WorkflowContext]) -> AsyncIterator[WorkflowContext]:
        yield WorkflowContext(store=StateStore(root))

    tools = [_tool(STEPS[name], text) for name, text in DESCRIPTIONS.items()]
    return MCPServer("tao-automl", instructions=INSTRUCTIONS, lifespan=lifespan, tools=tools, log_level="WARNING")


def parse_http_address(value: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``PORT`` (loopback) for ``--http``."""
    host, _, port = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"--http: expected HOST:PORT or PORT (1-65535), got {value!r}")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    """``tao-automl-mcp``: serve over stdio, or over streamable HTTP with ``--http``."""
    parser = argparse.ArgumentParser(prog="tao-automl-mcp", description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", help="plans, reviews and runs (default $TAO_AUTOML_MCP_STATE or ~/.cache/...)")
    parser.add_argument(
        "--http",
        metavar="[HOST:]PORT",
        type=parse_http_address,
        help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio (HOST defaults to 127.0.0.1; the "
        "server checks Host/Origin headers against loopback names when bound to loopback)",
    )
    args = parser.parse_args(argv)
    server = build_server(args.state_dir)
    if args.http is None:
        server.run("stdio")
        return 0
    host, port = args.http
    if host not in LOOPBACK:
        logger.warning("serving MCP on %s: reachable from other machines; the tools start jobs", host)
    print(f"tao-automl-mcp: streamable HTTP on http://{host}:{port}/mcp", file=sys.stderr, flush=True)
    server.run("streamable-http", host=host, port=port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
