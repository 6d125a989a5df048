"""Write a run's ``report/`` directory: summary.md, report.html, plots/*.png, report.json, result.json."""

from __future__ import annotations

from pathlib import Path

from tao_automl.report.html import render_html
from tao_automl.report.markdown import markdown
from tao_automl.report.model import ReportModel, build_report, load_result
from tao_automl.workspace import atomic_write_json, atomic_write_text


def write_report(workspace: str | Path) -> Path:
    """Render every report file of a run (safe while it is running); returns the report directory."""
    return write_report_files(workspace)[0]


def write_report_files(workspace: str | Path) -> tuple[Path, ReportModel]:
    """:func:`write_report` that also returns the model it rendered (for callers that show it too)."""
    from tao_automl.report.plots import render_plots  # matplotlib costs seconds: only commands that plot pay

    ws, model = build_report(workspace)
    _, result = load_result(ws.run_dir)
    out = ws.run_dir / "report"
    plots = render_plots(model)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    for plot in plots:
        tmp = out / "plots" / f".{plot.name}.png.tmp"
        tmp.write_bytes(plot.png)
        tmp.replace(out / "plots" / f"{plot.name}.png")
    atomic_write_text(out / "summary.md", markdown(model, plots))
    atomic_write_text(out / "report.html", render_html(model, plots))
    atomic_write_json(out / "report.json", model.model_dump(mode="json"))
    atomic_write_json(out / "result.json", result)
    return out, model
