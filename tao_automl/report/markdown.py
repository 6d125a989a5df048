"""``report/summary.md``: the headline, the table of every recommendation and links to the PNG plots."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tao_automl.report.model import ReportModel, data_text, fmt

if TYPE_CHECKING:
    from tao_automl.report.plots import Plot


def _cell(value: object) -> str:
    return fmt(value).replace("|", "/").replace("\n", " ")


def markdown(model: ReportModel, plots: list[Plot] | None = None) -> str:
    """Markdown summary; ``plots`` are linked as ``plots/<name>.png`` beside the file."""
    params = model.param_names
    lines = ["# AutoML summary", "", model.headline, ""]
    best = model.best
    if best:
        lines += [f"Best recommendation: **{best['rec_id']}**, checkpoint `{best.get('checkpoint')}`", ""]
    header = ["rec", "status", model.metric or "metric", *params, "budget", "failure", "adjustments"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    base = model.baseline
    cells = [base.get("status"), base.get("metric_value"), *["default"] * len(params), "-", base.get("reason"), "-"]
    lines.append("| baseline | " + " | ".join(_cell(c) for c in cells) + " |")
    for r in model.rows:
        fail = f"{r.failure_class}: {r.failure_reason}" if r.failure_class else None
        cells = [r.rec_id, r.status, r.metric, *[r.params.get(p) for p in params], r.budget, fail,
                 "; ".join(r.adjustments) or None]  # fmt: skip
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    final = model.final_evaluation
    lines += [
        "",
        f"Final evaluation: {final.get('status')} {fmt(final.get('metric_value'))}"
        f"{data_text(final.get('eval_data'))} ({final.get('reason', '')})",
        "",
    ]
    lines += llm_lines(model)
    for plot in plots or []:
        lines += [f"## {plot.title}", "", f"![{plot.title}](plots/{plot.name}.png)", ""]
    if model.importance_note and not model.importance:
        lines += [f"Parameter importance: {model.importance_note}", ""]
    return "\n".join(lines)


def llm_lines(model: ReportModel) -> list[str]:
    """How far the LLM really steered an LLM-guided run, so a silent fall-back can't pass for success."""
    health = model.llm_health
    if not health:
        return []
    if health.get("status") == "llm_blocked":
        verdict = "**LLM-BLOCKED**: " + "; ".join(health.get("reasons") or [])
    else:
        verdict = f"status {health.get('status')}"
    tokens = health.get("tokens") or {}
    cost = f", cost {health['cost']}" if health.get("cost") is not None else ""
    lines = [
        "## LLM health",
        "",
        verdict,
        "",
        f"{health.get('calls', 0)} calls ({health.get('succeeded', 0)} accepted, {health.get('failed', 0)} failed), "
        f"{health.get('llm_proposals', 0)} LLM proposals, {health.get('fallbacks', 0)} fallbacks, "
        f"{health.get('used_history', 0)} made with results in the prompt; {tokens.get('total', 0)} tokens{cost}.",
        "",
    ]
    if model.experiments:
        lines += ["| experiment | decision | metric | hypothesis |", "|---|---|---|---|"]
        lines += [
            f"| {_cell(e.get('experiment_id'))} | {_cell(e.get('decision'))} | {_cell(e.get('metric'))} "
            f"| {_cell(e.get('hypothesis'))} |"
            for e in model.experiments
        ]
        lines.append("")
    return lines
