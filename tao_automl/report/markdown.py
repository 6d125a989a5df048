"""``report/summary.md``: the headline, the table of every recommendation and links to the PNG plots."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tao_automl.report.model import ReportModel, fmt

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
        f"Final evaluation: {final.get('status')} {fmt(final.get('metric_value'))} ({final.get('reason', '')})",
        "",
    ]
    for plot in plots or []:
        lines += [f"## {plot.title}", "", f"![{plot.title}](plots/{plot.name}.png)", ""]
    if model.importance_note and not model.importance:
        lines += [f"Parameter importance: {model.importance_note}", ""]
    return "\n".join(lines)
