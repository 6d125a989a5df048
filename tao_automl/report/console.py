"""Human-readable summary of a run: baseline, every recommendation, best, final evaluation.

The same report model feeds the terminal table, ``report/summary.md`` and (later) HTML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tao_automl.results import build_result
from tao_automl.store import Store
from tao_automl.workspace import Workspace, atomic_write_json, atomic_write_text


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def load_result(workspace: str | Path) -> tuple[Workspace, dict[str, Any]]:
    ws = Workspace.open_existing(workspace)
    store = Store(ws.state_path, readonly=True)
    try:
        return ws, build_result(store)
    finally:
        store.close()


def headline(result: dict[str, Any]) -> str:
    """One sentence: baseline -> best -> final, with the delta in the metric's direction."""
    metric = result["metric"]["name"]
    base = result["baseline"]
    best = result["best"]
    final = result["final_evaluation"]
    parts = [f"{metric} ({result['metric']['direction']})"]
    parts.append(f"baseline {_fmt(base.get('metric_value'))} [{base.get('status')}]")
    parts.append(f"best {_fmt(best['metric_value']) if best else '-'}" + (f" (rec {best['rec_id']})" if best else ""))
    parts.append(f"final evaluation {_fmt(final.get('metric_value'))} [{final.get('status')}]")
    cmp_ = final.get("comparison_to_baseline") or base.get("comparison_to_best")
    if cmp_:
        verdict = "better" if cmp_["improved"] else "not better"
        parts.append(f"improvement over baseline {cmp_['delta']:+.4g} ({verdict})")
    return "; ".join(parts)


def _param_columns(result: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for h in result["history"]:
        for key in h["params"]:
            if key not in names:
                names.append(key)
    return names


def rich_table(result: dict[str, Any]) -> Table:
    """Baseline, every recommendation and the best, for the terminal."""
    params = _param_columns(result)
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
        _fmt(base.get("metric_value")),
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
        table.add_row(label, h["status"], _fmt(h["metric"]), *[_fmt(h["params"].get(p)) for p in params], note[:60])
    final = result["final_evaluation"]
    table.add_row(
        "final eval",
        str(final.get("status")),
        _fmt(final.get("metric_value")),
        *[""] * len(params),
        str(final.get("reason", ""))[:60],
    )
    return table


def markdown(result: dict[str, Any]) -> str:
    params = _param_columns(result)
    lines = ["# AutoML summary", "", headline(result), ""]
    best = result["best"]
    if best:
        lines += [f"Best recommendation: **{best['rec_id']}**, checkpoint `{best.get('checkpoint')}`", ""]
    header = ["rec", "status", result["metric"]["name"], *params, "budget", "failure", "adjustments"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    base = result["baseline"]
    lines.append(
        "| baseline | "
        + " | ".join(
            [
                str(base.get("status")),
                _fmt(base.get("metric_value")),
                *["default"] * len(params),
                "-",
                _fmt(base.get("reason")),
                "-",
            ]
        )
        + " |"
    )
    for h in result["history"]:
        adj = "; ".join(f"{a['key']} {a.get('from')}->{a.get('to')}" for a in h["adjustments"]) or "-"
        fail = f"{h['failure_class']}: {h['failure_reason']}" if h["failure_class"] else "-"
        lines.append(
            "| "
            + " | ".join(
                [
                    str(h["rec_id"]),
                    h["status"],
                    _fmt(h["metric"]),
                    *[_fmt(h["params"].get(p)) for p in params],
                    _fmt(h["budget"]),
                    fail.replace("|", "/"),
                    adj,
                ]
            )
            + " |"
        )
    final = result["final_evaluation"]
    lines += [
        "",
        f"Final evaluation: {final.get('status')} {_fmt(final.get('metric_value'))} ({final.get('reason', '')})",
        "",
    ]
    return "\n".join(lines)


def write_report(workspace: str | Path) -> Path:
    """Write ``report/summary.md`` and ``report/result.json``; returns the report directory."""
    ws, result = load_result(workspace)
    out = ws.run_dir / "report"
    atomic_write_text(out / "summary.md", markdown(result))
    atomic_write_json(out / "result.json", result)
    return out


def print_summary(result: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    console.print(rich_table(result))
    console.print(headline(result))
