"""What the model is told: the space, the goal, every result so far, what is running, the best.

Prompts are plain text with JSON snippets (small models follow that better than nested prose).
The number of finished results rendered into a prompt is returned with it: the brain log keeps
it per call, and that is what ``used_history`` is measured on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tao_automl.space import SearchSpace

#: Results beyond this many are summarised: the best few and the most recent ones are kept.
MAX_RESULTS_IN_PROMPT = 40
SYSTEM = (
    "You are an expert in hyperparameter optimization for deep learning. You choose the next "
    "configuration to train from the results so far. Reply with one JSON object and nothing else."
)


@dataclass
class Result:
    """A finished recommendation as the model sees it."""

    rec_id: int | str
    params: dict[str, Any]
    status: str
    metric: float | None = None
    failure_class: str | None = None


@dataclass
class Context:
    """Everything a prompt may show."""

    space: SearchSpace
    metric: str
    direction: str
    results: list[Result] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    best: Result | None = None


@dataclass
class Prompt:
    messages: list[dict[str, str]]
    history_in_prompt: int
    pending_in_prompt: int

    @property
    def chars(self) -> int:
        return sum(len(m["content"]) for m in self.messages)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return json.dumps(value)


def params_text(params: dict[str, Any]) -> str:
    return "{" + ", ".join(f'"{k}": {_fmt(v)}' for k, v in params.items()) + "}"


def space_text(space: SearchSpace) -> str:
    lines = []
    for p in space:
        if p.choices:
            kind = f"one of {json.dumps(list(p.choices))}"
        else:
            kind = f"{'integer' if p.type.value == 'int' else 'number'} in [{_fmt(p.low)}, {_fmt(p.high)}]"
            if p.log:
                kind += ", log scale"
            if p.step and p.step > 1:
                kind += f", multiple of {p.step} from {_fmt(p.low)}"
        lines.append(f'- "{p.name}": {kind}; default {_fmt(p.default)}')
    return "\n".join(lines)


def _result_line(r: Result, metric: str) -> str:
    outcome = f"{metric}={_fmt(r.metric)}" if r.metric is not None else f"FAILED ({r.failure_class or r.status})"
    return f"- #{r.rec_id} {params_text(r.params)} -> {outcome}"


def _select(results: list[Result], direction: str) -> list[Result]:
    if len(results) <= MAX_RESULTS_IN_PROMPT:
        return results
    scored = [r for r in results if r.metric is not None]
    top = sorted(scored, key=lambda r: r.metric, reverse=direction == "maximize")[:10]
    recent = results[-(MAX_RESULTS_IN_PROMPT - len(top)) :]
    keep = {id(r) for r in top} | {id(r) for r in recent}
    return [r for r in results if id(r) in keep]


def context_text(ctx: Context) -> tuple[str, int]:
    """The shared part of every prompt and how many finished results it shows."""
    goal = "as high as possible" if ctx.direction == "maximize" else "as low as possible"
    parts = [
        f"Objective: make the validation metric '{ctx.metric}' {goal} ({ctx.direction}).",
        "",
        "Search space (use exactly these parameter names):",
        space_text(ctx.space),
        "",
    ]
    shown = _select(ctx.results, ctx.direction)
    if shown:
        parts.append(f"Finished trials ({len(ctx.results)} so far, oldest first):")
        parts += [_result_line(r, ctx.metric) for r in shown]
    else:
        parts.append("Finished trials: none yet.")
    if ctx.best is not None:
        parts += [
            "",
            f"Best so far: #{ctx.best.rec_id} {ctx.metric}={_fmt(ctx.best.metric)} {params_text(ctx.best.params)}",
        ]
    if ctx.pending:
        parts += ["", "Running now (no result yet; do not propose these again):"]
        parts += [f"- {params_text(p)}" for p in ctx.pending]
    return "\n".join(parts), len(shown)


def build(ctx: Context, task: str) -> Prompt:
    """System + user messages for one decision; ``task`` says what to answer and in which JSON shape."""
    text, shown = context_text(ctx)
    return Prompt(
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"{text}\n\n{task}"}],
        history_in_prompt=shown,
        pending_in_prompt=len(ctx.pending),
    )


def value_schema(space: SearchSpace) -> dict[str, Any]:
    """JSON schema of a parameter object (for endpoints with a schema mode)."""
    props: dict[str, Any] = {}
    for p in space:
        if p.choices:
            props[p.name] = {"enum": list(p.choices)}
        elif p.type.value == "int":
            props[p.name] = {"type": "integer", "minimum": int(p.low), "maximum": int(p.high)}
        else:
            props[p.name] = {"type": "number", "minimum": float(p.low), "maximum": float(p.high)}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
