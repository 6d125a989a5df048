"""The launch review as markdown: what the user approves before anything expensive starts."""

from __future__ import annotations

from typing import Any

from tao_automl.workflow.models import ReviewOutput


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "/")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def render(review: ReviewOutput) -> str:
    """Markdown of the review; every number an agent shows the user is in here."""
    e = review.estimate
    shape = review.compute_shape
    knobs = ", ".join(f"`{k}` {_fmt(v)}" for k, v in (review.budget.get("settings") or {}).items())
    lines = [
        f"# Launch review `{review.review_id}`",
        "",
        f"- **Model**: {review.model} (`{review.skill_dir}`)",
        f"- **Platform**: {review.platform}; **image**: `{review.image or 'none (runs directly on the platform)'}` "
        f"(source: {review.image_source or '-'})",
        f"- **Compute shape**: {shape['gpus_per_node']} GPU(s) x {shape['num_nodes']} node(s) per job, "
        f"{shape['max_concurrent']} job(s) at once",
        f"- **Algorithm**: {review.algorithm}; **budget**: {review.budget['total_recommendations']} recommendations, "
        f"{_fmt(review.budget.get('epochs'))} epochs each, {review.budget['max_concurrent']} concurrent"
        + (f" ({knobs})" if knobs else ""),
        f"- **Metric**: `{review.metric}` ({review.direction})",
        f"- **Final evaluation**: {review.final_eval_plan}",
        "",
        "## Data",
    ]
    if review.datasets:
        lines += ["| label | path | spec key | samples |", "|---|---|---|---|"]
        for d in review.datasets:
            samples = f"{d.samples} ({d.counted})" if d.samples is not None else _fmt(d.counted)
            lines.append(f"| {d.label} | `{d.path}` | {_fmt(d.spec_key)} | {samples} |")
    else:
        lines.append("No dataset paths: the model skill brings its own data (see its SKILL.md).")
    if review.data_plan:
        lines += ["", "Before the first job:", *[f"- {line}" for line in review.data_plan]]
    lines += ["", "## Parameters searched", "| parameter | type | range / options | default |", "|---|---|---|---|"]
    for p in review.parameters:
        extra = p.model_dump()
        if extra.get("choices"):
            span = ", ".join(_fmt(c) for c in extra["choices"])
        else:
            span = f"{_fmt(extra.get('low'))} .. {_fmt(extra.get('high'))}" + (" (log)" if extra.get("log") else "")
        lines.append(f"| `{p.name}` | {p.type} | {span} | {_fmt(extra.get('default'))} |")
    lines += ["", f"## First batch ({len(review.first_batch)} configurations, exactly as they will launch)"]
    if not review.first_batch:
        lines.append("None shown: an LLM algorithm chooses every configuration at run time.")
    names = list(dict.fromkeys(k for b in review.first_batch for k in b.params))
    if names:
        lines += ["| # | " + " | ".join(f"`{n.rsplit('.', 1)[-1]}`" for n in names) + " | epochs |"]
        lines += ["|---|" + "---|" * len(names) + "---|"]
        for i, b in enumerate(review.first_batch, start=1):
            cells = " | ".join(_fmt(b.params.get(n)) for n in names)
            lines.append(f"| {i} | {cells} | {_fmt(b.budget or review.budget.get('epochs'))} |")
    base = review.baseline
    lines += [
        "",
        "## Baseline",
        f"{base.get('detail', '')}",
        "",
        "## Estimate",
        f"- **Wall time**: {_duration(e.wall_s)}" + (f" (limit {_duration(e.time_limit_s)})" if e.time_limit_s else ""),
        f"- **Schedule**: {e.schedule}; {e.total_epochs} epochs in total",
        f"- **Compute**: {e.job_hours:.3g} job-hours, {e.gpu_hours:.3g} GPU-hours"
        + (f", cost {e.cost:.2f} at {e.price_per_gpu_hour:g}/GPU-hour" if e.cost is not None else ""),
        "- **Assumptions**:",
        *[f"  - {a}" for a in e.assumptions],
    ]
    if e.cuts:
        lines += [
            "",
            "## Over the time limit: cuts that would fit",
            "| cut | change | estimate | fits |",
            "|---|---|---|---|",
        ]
        for c in e.cuts:
            lines.append(f"| {c.kind} | {c.description} | {_duration(c.wall_s)} | {'yes' if c.fits else 'no'} |")
    lines += ["", "## Gates"]
    for g in review.gates:
        lines.append(f"- [{'x' if g.satisfied else ' '}] **{g.gate}**: {g.detail}")
    lines += [
        "",
        f'Plan hash `{review.plan_hash}`. Launch with `launch_automl(review_id="{review.review_id}", '
        "confirmed=true)` only after the user approved this review.",
    ]
    return "\n".join(lines) + "\n"
