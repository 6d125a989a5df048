"""Acceptance: the HTML report of a real demo run, opened in headless Debian Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from services.digits_demo import DemoRun

from tao_automl.report import ReportModel
from tao_automl.report.html import render_html

PLOTS = ("best_so_far", "learning_curves", "parameter_importance", "parallel_coordinates")


def test_report_html_shows_plots_and_table_without_errors(digits_demo_run: DemoRun, browser_context: Any) -> None:
    report = digits_demo_run.run_dir / "report" / "report.html"
    html = report.read_text()
    # self-contained: nothing is fetched (no scripts, stylesheets or images from anywhere)
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    assert "<script" not in html

    page = browser_context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"{msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on("request", lambda req: None if req.url.startswith("file:") else problems.append(f"request {req.url}"))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")

    for name in PLOTS:
        svg = page.locator(f"#plot-{name} svg")
        assert svg.count() == 1, name
        assert svg.is_visible(), name
        box = svg.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 150, (name, box)

    table = page.locator("table#recommendations")
    assert table.is_visible()
    rows = table.locator("tbody tr")
    history = digits_demo_run.result["history"]
    assert rows.count() == len(history) + 1  # the baseline row, then every recommendation
    assert rows.nth(0).inner_text().startswith("baseline")
    for i, h in enumerate(history, start=1):
        assert rows.nth(i).is_visible()
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert cells[0].split()[0] == str(h["rec_id"]) and cells[1] == h["status"]
    best = digits_demo_run.result["best"]
    assert page.locator("tr.best td").first.inner_text().startswith(str(best["rec_id"]))
    headline = page.locator("#headline").inner_text()
    assert "baseline" in headline and "final evaluation" in headline and f"rec {best['rec_id']}" in headline

    shot = digits_demo_run.run_dir / "report" / "screenshot.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    assert problems == []


def test_markdown_summary_links_the_png_plots(digits_demo_run: DemoRun) -> None:
    report = digits_demo_run.run_dir / "report"
    summary = (report / "summary.md").read_text()
    for name in PLOTS:
        assert f"](plots/{name}.png)" in summary
        assert (report / "plots" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    for h in digits_demo_run.result["history"]:
        assert re.search(rf"^\| {h['rec_id']} \| {h['status']} \|", summary, re.M)


def test_learning_curves_mark_the_promotion(digits_demo_run: DemoRun) -> None:
    """Hyperband promotes a 1-epoch configuration to 2 epochs by resuming its checkpoint; the report says so."""
    model = json.loads((digits_demo_run.run_dir / "report" / "report.json").read_text())
    promoted = [c for c in model["curves"] if c["resume_from"] is not None]
    assert promoted, "hyperband over 1-2 epochs promotes one configuration"
    parents = {c["rec_id"]: c for c in model["curves"]}
    for child in promoted:
        assert child["epochs"][0] > parents[child["resume_from"]]["epochs"][-1]
    assert Path(digits_demo_run.run_dir / "report" / "plots" / "learning_curves.png").is_file()


def test_text_from_jobs_is_escaped_not_markup(digits_demo_run: DemoRun) -> None:
    """Failure reasons come from job logs: the page shows them as text and never runs them."""
    model = ReportModel.model_validate_json((digits_demo_run.run_dir / "report" / "report.json").read_text())
    row = model.rows[0].model_copy(update={"failure_class": "crash", "failure_reason": "<script>alert(1)</script>"})
    html = render_html(model.model_copy(update={"rows": [row, *model.rows[1:]]}), [])
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert json.loads(model.model_dump_json())["headline"] == model.headline
