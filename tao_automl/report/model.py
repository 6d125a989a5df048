"""The report model: everything the terminal, markdown, HTML and MCP ``summarize_results`` show.

Built from the store alone (so it works while a run is going, after a crash, from another
process), once, and rendered by each view; no view reads the store itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from tao_automl.algorithms.base import RecStatus
from tao_automl.report.importance import parameter_importance
from tao_automl.results import build_result, fidelity
from tao_automl.store import Store
from tao_automl.workspace import Workspace


def fmt(value: Any) -> str:
    """Short text of a cell: 4 significant digits for floats, '-' for nothing."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class RecRow(BaseModel):
    """One recommendation as a table row."""

    rec_id: int
    status: str
    metric: float | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    budget: int | None = None
    epochs_trained: int | None = None
    failure_class: str | None = None
    failure_reason: str | None = None
    adjustments: list[str] = Field(default_factory=list)
    resume_from: int | None = None
    early_stop_epoch: int | None = None
    retries: int = 0
    duration_s: float | None = None
    finished_s: float | None = Field(None, description="seconds from the run's start to this recommendation's end")
    is_best: bool = False


class Curve(BaseModel):
    """A recommendation's per-epoch metric; a promotion continues its parent's curve."""

    rec_id: int
    epochs: list[int]
    values: list[float]
    resume_from: int | None = None
    early_stop_epoch: int | None = None
    status: str


class BestPoint(BaseModel):
    """Best metric so far after the ``done``-th finished recommendation."""

    done: int
    elapsed_s: float | None
    value: float
    rec_id: int


class ReportModel(BaseModel):
    """What a report says about one run."""

    workspace: str
    metric: str | None
    direction: str
    algorithm: str | None = None
    state: str | None = None
    stop_reason: str | None = None
    headline: str
    baseline: dict[str, Any]
    best: dict[str, Any] | None
    final_evaluation: dict[str, Any]
    improvement_over_baseline: dict[str, Any] | None = None
    completed: int = 0
    total: int = 0
    param_names: list[str] = Field(default_factory=list)
    search_space: list[dict[str, Any]] = Field(default_factory=list)
    rows: list[RecRow] = Field(default_factory=list)
    curves: list[Curve] = Field(default_factory=list)
    best_so_far: list[BestPoint] = Field(default_factory=list)
    importance: dict[str, float] = Field(default_factory=dict)
    importance_note: str = ""
    llm_health: dict[str, Any] | None = Field(
        None, description="LLM-guided runs only: calls, fallbacks, history use, tokens, cost and the verdict"
    )
    experiments: list[dict[str, Any]] = Field(default_factory=list, description="autoresearch's experiment records")


def headline(result: dict[str, Any]) -> str:
    """One sentence: baseline -> best -> final, with the delta in the metric's direction."""
    metric = result["metric"]["name"]
    base = result["baseline"]
    best = result["best"]
    final = result["final_evaluation"]
    parts = [f"{metric} ({result['metric']['direction']})"]
    baseline = f"baseline {fmt(base.get('metric_value'))} [{base.get('status')}]"
    if base.get("eval_metric_value") is not None and base.get("source") != "base_checkpoint_eval":
        baseline += f", evaluated {fmt(base['eval_metric_value'])}{data_text(base.get('eval_data'))}"
    parts.append(baseline)
    parts.append(f"best {fmt(best['metric_value']) if best else '-'}" + (f" (rec {best['rec_id']})" if best else ""))
    parts.append(
        f"final evaluation {fmt(final.get('metric_value'))}{data_text(final.get('eval_data'))} [{final.get('status')}]"
    )
    cmp_ = improvement(result)
    if cmp_:
        verdict = "better" if cmp_["improved"] else "not better"
        parts.append(f"improvement over baseline {cmp_['delta']:+.4g} ({verdict})")
    return "; ".join(parts)


def data_text(data: dict[str, Any] | None) -> str:
    """`` on evaluate.split=test``: which data an evaluation read, when the run recorded it."""
    if not data:
        return ""
    return " on " + ", ".join(f"{k}={v}" for k, v in data.items())


def improvement(result: dict[str, Any]) -> dict[str, Any] | None:
    """Final evaluation vs baseline when both exist, else best vs baseline (delta > 0 is better)."""
    return (result["final_evaluation"] or {}).get("comparison_to_baseline") or result["baseline"].get(
        "comparison_to_best"
    )


def param_names(result: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for h in result["history"]:
        names += [k for k in h["params"] if k not in names]
    return names


def adjustment_text(adjustment: dict[str, Any]) -> str:
    return f"{adjustment.get('key')} {adjustment.get('from')}->{adjustment.get('to')} ({adjustment.get('type')})"


def load_result(workspace: str | Path) -> tuple[Workspace, dict[str, Any]]:
    """The published result dict of a run (a run directory or a workspace holding runs)."""
    ws = Workspace.open_existing(workspace)
    store = Store(ws.state_path, readonly=True)
    try:
        return ws, build_result(store)
    finally:
        store.close()


def build_report(workspace: str | Path) -> tuple[Workspace, ReportModel]:
    """The report model of a run, from its store."""
    ws = Workspace.open_existing(workspace)
    store = Store(ws.state_path, readonly=True)
    try:
        result = build_result(store)
        started = store.meta("started_at")
        space = store.meta("space") or []
        per_epoch = {h["rec_id"]: store.metrics(h["rec_id"], result["metric"]["name"]) for h in result["history"]}
    finally:
        store.close()
    return ws, report_from(result, per_epoch, started, space)


def report_from(
    result: dict[str, Any], per_epoch: dict[int, list[dict[str, Any]]], started: float | None, space: list[dict]
) -> ReportModel:
    """Assemble the model from the result dict, each recommendation's metric rows and the search space."""
    direction = result["metric"]["direction"]
    best_id = result["best"]["rec_id"] if result["best"] else None
    rows = [
        RecRow(
            rec_id=h["rec_id"],
            status=h["status"],
            metric=h["metric"],
            params=h["params"],
            budget=h["budget"],
            epochs_trained=h["epochs_trained"],
            failure_class=h["failure_class"],
            failure_reason=h["failure_reason"],
            adjustments=[adjustment_text(a) for a in h["adjustments"]],
            resume_from=h["resume_from"],
            early_stop_epoch=h["early_stop_epoch"],
            retries=h["retries"],
            duration_s=h["duration_s"],
            finished_s=(h["finished_at"] - started) if started and h["finished_at"] else None,
            is_best=h["rec_id"] == best_id,
        )
        for h in result["history"]
    ]
    curves = [
        Curve(
            rec_id=r.rec_id,
            epochs=[int(m["step"]) for m in per_epoch.get(r.rec_id, [])],
            values=[float(m["value"]) for m in per_epoch.get(r.rec_id, [])],
            resume_from=r.resume_from,
            early_stop_epoch=r.early_stop_epoch,
            status=r.status,
        )
        for r in rows
        if per_epoch.get(r.rec_id)
    ]
    importance, note = parameter_importance(result["history"], space, direction, fidelity)
    progress = result["progress"]
    return ReportModel(
        workspace=result["workspace"],
        metric=result["metric"]["name"],
        direction=direction,
        algorithm=progress.get("algorithm"),
        state=progress.get("state"),
        stop_reason=progress.get("stop_reason"),
        headline=headline(result),
        baseline={k: v for k, v in result["baseline"].items() if k != "specs"},
        best=result["best"],
        final_evaluation=result["final_evaluation"],
        improvement_over_baseline=improvement(result),
        completed=progress.get("completed", 0),
        total=progress.get("total", 0),
        param_names=param_names(result),
        search_space=space,
        rows=rows,
        curves=curves,
        best_so_far=best_so_far(rows, direction),
        importance=importance,
        importance_note=note,
        llm_health=result.get("llm_health"),
        experiments=result.get("experiments") or [],
    )


def best_so_far(rows: list[RecRow], direction: str) -> list[BestPoint]:
    """The running best over successful recommendations, in the order they finished."""
    done = sorted((r for r in rows if RecStatus(r.status).final),
                  key=lambda r: (r.finished_s is None, r.finished_s or 0.0, r.rec_id))  # fmt: skip
    sign = 1.0 if direction == "maximize" else -1.0
    points: list[BestPoint] = []
    best: tuple[float, int] | None = None
    for i, row in enumerate(done, start=1):
        if row.status == "success" and row.metric is not None and (best is None or sign * row.metric > sign * best[0]):
            best = (row.metric, row.rec_id)
        if best is not None:
            points.append(BestPoint(done=i, elapsed_s=row.finished_s, value=best[0], rec_id=best[1]))
    return points
