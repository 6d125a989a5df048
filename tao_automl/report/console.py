"""The results table and headline on a terminal (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from tao_automl.report.model import data_text, fmt, headline, param_names


def rich_table(result: dict[str, Any]) -> Table:
    """Baseline, every recommendation and the best, for the terminal."""
    params = param_names(result)
    table = Table(title=f"AutoML results: {result['metric']['name']} ({result['metric']['direction']})")
    table.add_column("rec")
    table.add_column("status")
    table.add_column(result["metric"]["name"], justify="right")
    for p in params:
        table.add_column(p.rsplit(".", 1)[-1], justify="right")
    table.add_column("note")
    base = result["baseline"]
    table.add_row(
        "baseline",
        str(base.get("status")),
        fmt(base.get("metric_value")),
        *["default"] * len(params),
        str(base.get("source", "")),
    )
    best_id = result["best"]["rec_id"] if result["best"] else None
    for h in result["history"]:
        note = h["failure_reason"] or ""
        if h["adjustments"]:
            note = (
                note
                + " "
                + "; ".join(f"{a['type']} {a.get('key')} {a.get('from')}->{a.get('to')}" for a in h["adjustments"])
            ).strip()
        label = f"{h['rec_id']}{' *' if h['rec_id'] == best_id else ''}"
        table.add_row(label, h["status"], fmt(h["metric"]), *[fmt(h["params"].get(p)) for p in params], note[:60])
    final = result["final_evaluation"]
    table.add_row(
        "final eval",
        str(final.get("status")),
        fmt(final.get("metric_value")),
        *[""] * len(params),
        (str(final.get("reason", "")) + data_text(final.get("eval_data")))[:80],
    )
    return table


def print_summary(result: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    console.print(rich_table(result))
    console.print(headline(result), markup=False)  # "[measured]" is text, not rich markup
