"""The report's plots with matplotlib (Agg, no display): PNG files for markdown, SVG text for HTML.

SVG keeps text as paths, so the HTML report needs no fonts, scripts or network to show them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # no display on servers and in CI; must precede pyplot
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tao_automl.report.importance import params_from_space
from tao_automl.report.model import ReportModel

#: Text as paths (no font needed to view), a fixed id salt (same data, same SVG).
RC = {"svg.fonttype": "path", "svg.hashsalt": "tao-automl", "figure.dpi": 100}


@dataclass
class Plot:
    """One rendered plot: ``name`` is its file stem (``plots/<name>.png``)."""

    name: str
    title: str
    png: bytes
    svg: str


def _best_so_far(model: ReportModel) -> Figure | None:
    if not model.best_so_far:
        return None
    fig, (by_rec, by_time) = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    xs = [p.done for p in model.best_so_far]
    ys = [p.value for p in model.best_so_far]
    by_rec.step(xs, ys, where="post", color="tab:blue", marker="o", label="best so far")
    timed = [(p.elapsed_s, p.value) for p in model.best_so_far if p.elapsed_s is not None]
    if timed:
        by_time.step([t for t, _ in timed], [v for _, v in timed], where="post", color="tab:blue", marker="o")
    base = model.baseline.get("metric_value")
    for ax in (by_rec, by_time):
        if base is not None:
            ax.axhline(base, color="tab:gray", linestyle="--", label="baseline")
        ax.grid(alpha=0.3)
    final = model.final_evaluation.get("metric_value")
    if final is not None:
        by_rec.scatter([xs[-1]], [final], color="tab:green", marker="*", s=140, zorder=3, label="final evaluation")
    by_rec.set(xlabel="recommendations finished", ylabel=f"{model.metric} ({model.direction})")
    by_rec.xaxis.set_major_locator(MaxNLocator(integer=True))
    by_time.set(xlabel="wall time since start (s)")
    by_rec.legend(loc="best", fontsize="small")
    fig.tight_layout()
    return fig


def _learning_curves(model: ReportModel) -> Figure | None:
    if not model.curves:
        return None
    fig, ax = plt.subplots(figsize=(10, 4.2))
    ends = {c.rec_id: (c.epochs[-1], c.values[-1]) for c in model.curves if c.epochs}
    cmap = plt.get_cmap("tab10")
    labelled: set[str] = set()

    def once(label: str) -> str:
        if label in labelled:
            return "_nolegend_"
        labelled.add(label)
        return label

    for i, c in enumerate(model.curves):
        color = cmap(i % 10)
        xs, ys = list(c.epochs), list(c.values)
        if c.resume_from in ends:  # a promotion continues from its parent's last epoch
            px, py = ends[c.resume_from]
            ax.plot([px, xs[0]], [py, ys[0]], color=color, linewidth=1.2)
            ax.scatter([px], [py], marker="^", s=70, color=color, zorder=3, label=once("promoted (resumed)"))
        ax.plot(xs, ys, color=color, marker=".", linewidth=1.2, label=f"rec {c.rec_id}" if len(model.curves) <= 12
                else "_nolegend_")  # fmt: skip
        if c.early_stop_epoch is not None:
            stop = max((k for k, e in enumerate(xs) if e <= c.early_stop_epoch), default=len(xs) - 1)
            ax.scatter([xs[stop]], [ys[stop]], marker="X", s=80, color="tab:red", zorder=4, label=once("early stop"))
        elif c.status not in ("success", "running"):
            ax.scatter([xs[-1]], [ys[-1]], marker="x", s=60, color="black", zorder=4, label=once(c.status))
    ax.set(xlabel="epoch", ylabel=model.metric or "metric", title="learning curves")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    fig.tight_layout()
    return fig


def _importance(model: ReportModel) -> Figure | None:
    if not model.importance:
        return None
    items = sorted(model.importance.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.45 * len(items)))
    ax.barh([k for k, _ in items], [v for _, v in items], color="tab:purple")
    ax.set(xlabel="importance", xlim=(0, 1), title=f"parameter importance ({model.importance_note})")
    ax.title.set_fontsize("small")
    fig.tight_layout()
    return fig


def _parallel_coordinates(model: ReportModel) -> Figure | None:
    params = params_from_space(model.search_space)
    names = [n for n in model.param_names if n in params]
    rows = [r for r in model.rows if r.metric is not None and all(n in r.params for n in names)]
    if not names or not rows:
        return None
    metrics = [r.metric for r in rows]
    lo, hi = min(metrics), max(metrics)
    fig, ax = plt.subplots(figsize=(10, 4.2))
    cmap = plt.get_cmap("viridis" if model.direction == "maximize" else "viridis_r")
    axes = [*names, model.metric or "metric"]
    for r in sorted(rows, key=lambda r: r.is_best):
        ys = [params[n].to_unit(r.params[n]) for n in names]
        ys.append((r.metric - lo) / (hi - lo) if hi > lo else 0.5)
        shade = cmap(ys[-1] if model.direction == "maximize" else 1 - ys[-1])
        ax.plot(range(len(axes)), ys, color="tab:red" if r.is_best else shade,
                linewidth=2.5 if r.is_best else 1.2, alpha=0.9, marker="o", markersize=3)  # fmt: skip
    for x, n in enumerate(names):
        p = params[n]
        low, high = (p.choices[0], p.choices[-1]) if p.choices else (f"{p.low:.3g}", f"{p.high:.3g}")
        ax.annotate(str(low), (x, 0), textcoords="offset points", xytext=(3, -12), fontsize=7)
        ax.annotate(str(high), (x, 1), textcoords="offset points", xytext=(3, 4), fontsize=7)
    ax.annotate(f"{lo:.4g}", (len(names), 0), textcoords="offset points", xytext=(3, -12), fontsize=7)
    ax.annotate(f"{hi:.4g}", (len(names), 1), textcoords="offset points", xytext=(3, 4), fontsize=7)
    for x in range(len(axes)):
        ax.axvline(x, color="gray", linewidth=0.8)
    ax.set_xticks(range(len(axes)), [a.rsplit(".", 1)[-1] for a in axes], rotation=15)
    ax.set_yticks([])
    ax.set(ylim=(-0.08, 1.08), title="parallel coordinates (best in red)")
    fig.tight_layout()
    return fig


TITLES = {
    "best_so_far": "Best so far vs recommendations and wall time",
    "learning_curves": "Learning curves (early stops and promotions marked)",
    "parameter_importance": "Parameter importance",
    "parallel_coordinates": "Parallel coordinates",
}


def render_plots(model: ReportModel) -> list[Plot]:
    """Every plot the run has data for, rendered to PNG and SVG."""
    with plt.rc_context(RC):
        figures = {
            "best_so_far": _best_so_far(model),
            "learning_curves": _learning_curves(model),
            "parameter_importance": _importance(model),
            "parallel_coordinates": _parallel_coordinates(model),
        }
        plots: list[Plot] = []
        for name, fig in figures.items():
            if fig is None:
                continue
            png, svg = io.BytesIO(), io.StringIO()
            fig.savefig(png, format="png", bbox_inches="tight")
            fig.savefig(svg, format="svg", bbox_inches="tight")
            plt.close(fig)
            text = svg.getvalue()
            plots.append(Plot(name, TITLES[name], png.getvalue(), text[text.index("<svg") :]))
    return plots
