"""Render ``benchmarks/results/<plan>/`` into ``docs/benchmarks.md`` and regret-vs-cost PNGs under ``docs/benchmarks/``.

Runs in the bench environment (matplotlib). Every number in the document is computed here from the
raw JSONL; nothing is typed in by hand, so the page always matches the results next to it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import platform
import statistics
import subprocess
from collections import defaultdict
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.harness.measures import (
    incumbent_at,
    log_score,
    mean_ranks,
    normalised_auc,
    paired_wilcoxon,
    percentile,
    speedup_over_random,
)
from benchmarks.harness.problems import all_problems

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs"
PRODUCT_PACKAGES = ("tao-automl", "optuna", "numpy", "scipy", "scikit-learn", "torch", "openai", "llama_cpp_python")
BENCH_PACKAGES = (
    "optuna",
    "hyperopt",
    "dehb",
    "hpbandster",
    "smac",
    "syne-tune",
    "ConfigSpace",
    "numpy",
    "scipy",
    "scikit-learn",
    "torch",
    "matplotlib",
)
LEFT_OUT = {
    "Ray Tune": "too slow per trial for this harness (an actor per trial); left out by design",
}


def result_files(folder: Path) -> list[Path]:
    """A plan's raw results: ``*.jsonl`` while it runs, ``*.jsonl.gz`` once bench.py has compressed them."""
    return sorted([*folder.glob("*.jsonl"), *folder.glob("*.jsonl.gz")])


def load(plan: str) -> tuple[dict[tuple[str, str, int], list[dict[str, Any]]], list[dict[str, Any]]]:
    evals: dict[tuple[str, str, int], list[dict[str, Any]]] = defaultdict(list)
    runs: list[dict[str, Any]] = []
    for path in result_files(RESULTS / plan):
        with gzip.open(path, "rt") if path.suffix == ".gz" else path.open() as handle:
            text = handle.read()
        for line in text.splitlines():
            row = json.loads(line)
            if row["kind"] == "eval":
                evals[(row["optimizer"], row["problem"], row["seed"])].append(row)
            else:
                runs.append(row)
    return evals, runs


def _versions_here(names: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _versions_product() -> dict[str, str]:
    python = ROOT / ".venv" / "bin" / "python"
    code = (
        "import json, importlib.metadata as m\n"
        f"print(json.dumps({{n: m.version(n) for n in {list(PRODUCT_PACKAGES)!r}}}))"
    )
    try:
        return json.loads(subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout)
    except (OSError, subprocess.CalledProcessError, json.JSONDecodeError):
        return dict.fromkeys(PRODUCT_PACKAGES, "unknown")


def _fmt(x: float | None, digits: int = 2) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


class Report:
    def __init__(self, plan: str) -> None:
        self.plan = plan
        self.evals, self.runs = load(plan)
        self.problems = all_problems()
        self.lines: list[str] = []
        self.targets: list[tuple[str, str, str]] = []
        self.cells: dict[str, dict[tuple[str, int], dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
        for run in self.runs:
            if run.get("workers", 1) != 1 or run["problem"] not in self.problems:
                continue
            block = self.problems[run["problem"]].block
            score = run.get("final_score")
            if score is not None:
                self.cells[block][(run["problem"], run["seed"])][run["optimizer"]] = log_score(score)

    # ------------------------------------------------------------------ helpers
    def optimizers(self, block: str) -> list[str]:
        names = {o for cell in self.cells[block].values() for o in cell}
        ranks = mean_ranks(self.cells[block])
        return sorted(names, key=lambda n: ranks.get(n, math.inf))

    def problems_of(self, block: str) -> list[str]:
        return sorted({p for p, _ in self.cells[block]}, key=list(self.problems).index)

    def seeds(self, problem: str) -> list[int]:
        return sorted({s for (_, p, s) in self.evals if p == problem})

    def worst_log(self, problem: str, seed: int) -> float:
        logs = [
            log_score(e["incumbent_score"])
            for (o, p, s), ev in self.evals.items()
            if p == problem and s == seed
            for e in ev
            if e["incumbent_score"] is not None and "@" not in o
        ]
        return max(logs) if logs else 0.0

    def out(self, *lines: str) -> None:
        self.lines.extend(lines)

    # ------------------------------------------------------------------ sections
    def block_table(self, block: str, title: str) -> None:
        problems = self.problems_of(block)
        if not problems:
            return
        ranks = mean_ranks(self.cells[block])
        self.out(f"### Block {block}: {title}", "")
        self.out(
            "Median over seeds of the final log10 "
            + ("regret" if block != "C" else "validation log-loss")
            + "; mean rank over (problem, seed) cells (1 = best); normalised AUC = mean log10 score over the"
            " budget; speed-up over random = FFE random needs for its final value / FFE the method"
            " needs to match it (median; 0 = never matched).",
            "",
        )
        header = "| optimizer | mean rank | " + " | ".join(problems) + " | AUC | speed-up | runs ok |"
        self.out(header, "|" + "---|" * (header.count("|") - 1))
        for name in self.optimizers(block):
            finals, aucs, speedups, ok, total = [], [], [], 0, 0
            for problem in problems:
                budget = self.problems[problem].budget
                values = [c[name] for (p, _), c in self.cells[block].items() if p == problem and name in c]
                finals.append(_fmt(_median(values)))
                for seed in self.seeds(problem):
                    ev = self.evals.get((name, problem, seed))
                    rnd = self.cells[block].get((problem, seed), {}).get("random")
                    if ev:
                        aucs.append(normalised_auc(ev, budget, self.worst_log(problem, seed)))
                        rnd_ev = self.evals.get(("random", problem, seed))
                        if rnd is not None and rnd_ev:
                            speedups.append(
                                speedup_over_random(
                                    ev,
                                    rnd_ev,
                                    min(e["incumbent_score"] for e in rnd_ev if e["incumbent_score"] is not None),
                                )
                            )
            for run in self.runs:
                if run["optimizer"] == name and run["problem"] in problems:
                    total += 1
                    ok += run.get("status") == "ok"
            row = [name, _fmt(ranks.get(name)), *finals, _fmt(_median(aucs)), _fmt(_median(speedups)), f"{ok}/{total}"]
            self.out("| " + " | ".join(row) + " |")
        self.out("")
        self.incumbent_table(block, problems)
        self.wilcoxon_table(block)

    def incumbent_table(self, block: str, problems: list[str]) -> None:
        self.out("Incumbent (median log10 score over problems and seeds) at 25 / 50 / 100 % of the budget:", "")
        self.out("| optimizer | 25 % | 50 % | 100 % |", "|---|---|---|---|")
        for name in self.optimizers(block):
            cols = []
            for frac in (0.25, 0.5, 1.0):
                vals = []
                for problem in problems:
                    for seed in self.seeds(problem):
                        ev = self.evals.get((name, problem, seed))
                        score = incumbent_at(ev, self.problems[problem].budget * frac) if ev else None
                        vals.append(self.worst_log(problem, seed) if score is None else log_score(score))
                cols.append(_fmt(_median(vals)))
            self.out(f"| {name} | " + " | ".join(cols) + " |")
        self.out("")

    def best_ours(self, block: str) -> str | None:
        ranks = mean_ranks(self.cells[block])
        ours = [n for n in ranks if n.startswith("ours_")]
        return min(ours, key=ranks.__getitem__) if ours else None

    def wilcoxon_table(self, block: str) -> None:
        best = self.best_ours(block)
        if best is None:
            return
        self.out(
            f"Paired Wilcoxon signed-rank tests, {best} against each peer over (problem, seed) cells "
            "(two-sided p; wins/losses of ours on final log10 score):",
            "",
        )
        self.out("| peer | cells | wins | losses | p |", "|---|---|---|---|---|")
        for name in self.optimizers(block):
            if name.startswith("ours_"):
                continue
            pairs = [(c[best], c[name]) for c in self.cells[block].values() if best in c and name in c]
            if not pairs:
                continue
            p, wins, losses = paired_wilcoxon([a for a, _ in pairs], [b for _, b in pairs])
            self.out(f"| {name} | {len(pairs)} | {wins} | {losses} | {_fmt(p, 3)} |")
        self.out("")

    def overhead_table(self) -> None:
        self.out("### Overhead per suggestion", "")
        self.out(
            "Real time between one evaluation finishing and the next starting: the optimizer's own work (for "
            "ours, through the runner: report, propose, spec file, submit). Milliseconds.",
            "",
        )
        self.out("| optimizer | block | median | p95 | suggestions |", "|---|---|---|---|---|")
        per: dict[tuple[str, str], list[float]] = defaultdict(list)
        for (name, problem, _), ev in self.evals.items():
            if "@" in name or problem not in self.problems:
                continue
            block = self.problems[problem].block
            per[(name, block)].extend(1000 * e["overhead_s"] for e in ev if e.get("overhead_s") is not None)
        for (name, block), values in sorted(per.items(), key=lambda kv: (kv[0][1], statistics.median(kv[1] or [0]))):
            if values:
                med, p95 = statistics.median(values), percentile(values, 0.95)
                self.out(f"| {name} | {block} | {med:.1f} | {p95:.1f} | {len(values)} |")
        self.out("")

    def controller_section(self) -> None:
        path = RESULTS / self.plan / "controller_overhead.json"
        if not path.exists():
            return
        rows = json.loads(path.read_text())["rows"]
        self.out("### Runner controller overhead", "")
        self.out(
            "Random search on the simulated platform with 4 slots: real seconds per recommendation spent by "
            "the runner itself (store, spec files, polling, bookkeeping).",
            "",
        )
        self.out("| recommendations | total s | ms per recommendation |", "|---|---|---|")
        for row in rows:
            self.out(f"| {row['recommendations']} | {row['seconds']:.1f} | {row['ms_per_recommendation']:.1f} |")
        self.out("")
        at_1000 = [r for r in rows if r["recommendations"] == 1000]
        if at_1000:
            ms = at_1000[0]["ms_per_recommendation"]
            self.targets.append(
                (
                    "controller overhead ≤ 20 ms per recommendation at 1,000",
                    f"{ms:.1f} ms",
                    "met" if ms <= 20 else "NOT met",
                )
            )

    def walltime_section(self) -> None:
        names = sorted({o for (o, _, _) in self.evals if "@" in o})
        if not names:
            return
        problem = next(p for (o, p, _) in self.evals if "@" in o)
        self.out(f"### Four simulated workers: regret against simulated wall-clock time ({problem})", "")
        self.out(
            "Our algorithms through the runner with `automl_max_concurrent: 4`; each epoch takes 60 simulated "
            "seconds. Median log10 regret of the incumbent at simulated hours:",
            "",
        )
        hours = (1, 2, 4, 8, 16)
        self.out("| optimizer | " + " | ".join(f"{h} h" for h in hours) + " |", "|---" * (len(hours) + 1) + "|")
        curves = {}
        for name in names:
            cols, series = [], []
            for seed in self.seeds(problem):
                ev = sorted(self.evals.get((name, problem, seed), []), key=lambda e: e["sim_time"] or 0)
                series.append(ev)
            for h in hours:
                vals = []
                for ev in series:
                    best = None
                    for e in ev:
                        if (e["sim_time"] or 0) <= h * 3600 and e["incumbent_score"] is not None:
                            best = e["incumbent_score"]
                    if best is not None:
                        vals.append(log_score(best))
                cols.append(_fmt(_median(vals)))
            curves[name] = series
            self.out(f"| {name} | " + " | ".join(cols) + " |")
        self.out("", f"![wall-time curves](benchmarks/{self.plan}_walltime.png)", "")
        self.plot_walltime(curves, problem)

    # ------------------------------------------------------------------ plots
    def plot_problem(self, problem: str) -> str:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        budget = self.problems[problem].budget
        grid = [budget * i / 60 for i in range(1, 61)]
        fig, ax = plt.subplots(figsize=(6, 4))
        names = sorted({o for (o, p, _) in self.evals if p == problem and "@" not in o})
        for name in names:
            med = []
            for c in grid:
                vals = [
                    log_score(s)
                    for seed in self.seeds(problem)
                    if (s := incumbent_at(self.evals.get((name, problem, seed), []), c)) is not None
                ]
                med.append(statistics.median(vals) if vals else math.nan)
            ax.plot(grid, med, label=name, linewidth=2.2 if name.startswith("ours_") else 1.0)
        ax.set_xlabel("cost (full-fidelity equivalents)")
        ax.set_ylabel("median log10 " + ("regret" if self.problems[problem].optimum is not None else "val loss"))
        ax.set_title(problem)
        ax.legend(fontsize=6, ncol=2)
        fig.tight_layout()
        rel = f"benchmarks/{self.plan}_{problem}.png"
        (DOCS / rel).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(DOCS / rel, dpi=90)
        plt.close(fig)
        return rel

    def plot_walltime(self, curves: dict[str, list[list[dict[str, Any]]]], problem: str) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        end = max((e["sim_time"] or 0) for series in curves.values() for ev in series for e in ev) or 1
        grid = [end * i / 80 for i in range(1, 81)]
        for name, series in curves.items():
            med = []
            for t in grid:
                vals = []
                for ev in series:
                    best = None
                    for e in ev:
                        if (e["sim_time"] or 0) <= t and e["incumbent_score"] is not None:
                            best = e["incumbent_score"]
                    if best is not None:
                        vals.append(log_score(best))
                med.append(statistics.median(vals) if vals else math.nan)
            ax.plot([t / 3600 for t in grid], med, label=name)
        ax.set_xlabel("simulated wall-clock hours (4 workers)")
        ax.set_ylabel("median log10 regret")
        ax.set_title(problem)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(DOCS / "benchmarks" / f"{self.plan}_walltime.png", dpi=90)
        plt.close(fig)

    # ------------------------------------------------------------------ targets
    def check_targets(self) -> None:
        a = mean_ranks(self.cells["A"])
        if "ours_bayesian" in a and "optuna_tpe" in a:
            self.targets.append(
                (
                    "ours_bayesian beats Optuna TPE in mean rank (block A)",
                    f"{a['ours_bayesian']:.2f} vs {a['optuna_tpe']:.2f}",
                    "met" if a["ours_bayesian"] < a["optuna_tpe"] else "NOT met",
                )
            )
        if "ours_bayesian" in a and "optuna_gp" in a:
            pairs = [
                (c["ours_bayesian"], c["optuna_gp"])
                for c in self.cells["A"].values()
                if "ours_bayesian" in c and "optuna_gp" in c
            ]
            p, wins, losses = paired_wilcoxon([x for x, _ in pairs], [y for _, y in pairs])
            matched = a["ours_bayesian"] <= a["optuna_gp"] or p is None or p >= 0.05
            self.targets.append(
                (
                    "ours_bayesian matches Optuna GP (block A: mean rank, paired Wilcoxon)",
                    f"rank {a['ours_bayesian']:.2f} vs {a['optuna_gp']:.2f}; {wins} wins / {losses} "
                    f"losses, p = {_fmt(p, 3)}",
                    "met" if matched else "NOT met",
                )
            )
        ours_ms = [
            1000 * e["overhead_s"]
            for (o, p, _), ev in self.evals.items()
            if o == "ours_bayesian" and self.problems[p].block == "A"
            for e in ev
            if e.get("overhead_s") is not None
        ]
        if ours_ms:
            med = statistics.median(ours_ms)
            self.targets.append(
                (
                    "ours_bayesian ≤ 50 ms per suggestion (median, through the runner)",
                    f"{med:.0f} ms (p95 {percentile(ours_ms, 0.95):.0f} ms)",
                    "met" if med <= 50 else "NOT met",
                )
            )
        for block in ("B", "C"):
            r = mean_ranks(self.cells[block])
            if not r:
                continue
            best = self.best_ours(block)
            if best is None:
                continue
            leader = min(r, key=r.__getitem__)
            named = [n for n in ("optuna_tpe_hyperband", "hpbandster_bohb") if n in r]
            rivals = ", ".join(f"{n} {r[n]:.2f}" for n in named)
            self.targets.append(
                (
                    f"our best multi-fidelity algorithm has the best mean rank on block {block}",
                    f"{best} {r[best]:.2f}; best overall {leader} {r[leader]:.2f}",
                    "met" if best == leader else "NOT met",
                )
            )
            if named:
                self.targets.append(
                    (
                        f"... and is ahead of Optuna TPE + Hyperband pruner and hpbandster BOHB on block {block}",
                        f"{best} {r[best]:.2f}; {rivals}",
                        "met" if all(r[best] < r[n] for n in named) else "NOT met",
                    )
                )

    def llm_section(self) -> None:
        """How the LLM-guided rows were served and how healthy their calls were (the product's own llm_health)."""
        rows = [r for r in self.runs if r.get("llm_health")]
        if not rows:
            return
        self.out(
            "### LLM-guided rows",
            "",
            "The `llm` algorithm through the same runner and ledger; every unusable answer fell back to a "
            "sampler proposal and is counted. Without `AUTOML_LLM_ENDPOINT` the harness serves SmolLM2-135M "
            "(llama.cpp, CPU, one thread): a 135M model measures the product's LLM path end to end, not what a "
            "large model would find.",
            "",
            "| optimizer | problem | seed | model | calls | LLM proposals | fallbacks | mean latency s | verdict |",
            "|---|---|---|---|---|---|---|---|---|",
        )
        for r in rows:
            h = r["llm_health"]
            self.out(
                f"| {r['optimizer']} | {r['problem']} | {r['seed']} | {r.get('llm_model') or '?'} | {h['calls']} | "
                f"{h['llm_proposals']} | {h['fallbacks']} | {_fmt(h.get('mean_latency_s'), 1)} | {h['status']} |"
            )
        self.out("")

    # ------------------------------------------------------------------ document
    def render(self) -> list[str]:
        wall = RESULTS / self.plan / "wall_time.json"
        wall_s = json.loads(wall.read_text()).get("wall_s") if wall.exists() else None
        seeds = sorted({r["seed"] for r in self.runs})
        self.out(f"## Plan `{self.plan}`", "")
        self.out(
            f"Seeds {seeds[0]}-{seeds[-1]}; wall time {_fmt(wall_s, 0)} s on {platform.machine()} "
            f"({len(self.runs)} runs, {sum(len(v) for v in self.evals.values())} evaluations). "
            f"Raw results: `benchmarks/results/{self.plan}/`.",
            "",
        )
        body_start = len(self.lines)
        self.block_table("A", "single fidelity (evaluations at full fidelity)")
        self.block_table("B", "multi-fidelity synthetic (fidelity 1-81, 50 FFE)")
        fidelities = sorted({f"{p.z_min}-{p.z_max}" for p in self.problems.values() if p.block == "C"})
        self.block_table("C", f"real training on digits (epochs / boosting rounds {', '.join(fidelities)})")
        self.llm_section()
        self.overhead_table()
        self.controller_section()
        self.walltime_section()
        plots = [self.plot_problem(p) for p in self.problems if any(k[1] == p for k in self.evals)]
        self.out("### Regret against cost", "", *(f"![{Path(p).stem}]({p})" for p in plots), "")
        failures = [r for r in self.runs if r.get("status") != "ok"]
        if failures:
            self.out("### Failed runs", "", "| optimizer | problem | seed | status | error |", "|---|---|---|---|---|")
            for r in failures:
                self.out(
                    f"| {r['optimizer']} | {r['problem']} | {r['seed']} | {r['status']} | "
                    f"{(r.get('error') or '').replace('|', '/')[:160]} |"
                )
            self.out("")
        self.check_targets()
        head = ["### Targets", "", "| target | measured | verdict |", "|---|---|---|"]
        head += [f"| {t} | {m} | {v} |" for t, m, v in self.targets] + [""]
        self.lines[body_start:body_start] = head
        return self.lines


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def published_runner_section() -> list[str]:
    """The side-by-side table of ``benchmarks/published_runner.py`` (empty until it has run)."""
    path = RESULTS / "published_runner.json"
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    lines = [
        "## Side by side with the published runner (`nvidia-tao-automl` 7.2.0)",
        "",
        "`make bench-published` (`benchmarks/published_runner.py`). The same skill, the same real",
        "`tao_sdk.VirtualEnvSDK` (jobs run by `.venv`'s interpreter), the same published calls and",
        f"settings (bayesian, no baseline, no final evaluation, poll every {data['poll_interval']} s,",
        f"`gpu_count=0`), seeds {', '.join(map(str, data['seeds']))}, one side after the other. Ours runs",
        f"{data['our_concurrency']} jobs at a time (one per core); the published runner runs one at a time.",
        "Medians over seeds; controller time is the orchestrator's own CPU seconds per recommendation.",
        "Target: our wall time at most 0.7x the peer's at an equal or better best metric.",
        "",
        "| skill | recs | runner | wall (s) | controller CPU / rec (s) | best metric | failed | wall ratio | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in data["cases"]:
        ours, peer = case["ours"], case["peer"]
        ratio = ours["wall_s"] / peer["wall_s"] if ours["wall_s"] and peer["wall_s"] else None
        met = (
            ratio is not None
            and ratio <= 0.7
            and ours["best"] is not None
            and peer["best"] is not None
            and ours["best"] >= peer["best"]
        )
        for side, label, row in (("peer", "nvidia-tao-automl 7.2.0", peer), ("ours", "tao-automl (ours)", ours)):
            tail = f"{_fmt(ratio, 2)} | {'met' if met else 'not met'}" if side == "ours" else " | "
            lines.append(
                f"| {case['name']} | {case['recommendations']} | {label} | {_fmt(row['wall_s'], 1)} | "
                f"{_fmt(row['controller_cpu_s_per_rec'], 3)} | {_fmt(row['best'], 4)} | {row['failed']} | {tail} |"
            )
        for side in ("peer", "ours"):
            for err in case[side]["errors"]:
                lines.append(f"| {case['name']} | | {side} error | {err.splitlines()[-1][:160]} | | | | | |")
    lines += _shipped_skills_lines(data.get("shipped_skills") or [])
    return [*lines, ""]


def _shipped_skills_lines(rows: list[dict]) -> list[str]:
    """Shipped model skills as the published runner's own validator sees them."""
    if not rows:
        return []
    lines = [
        "",
        "Every model skill this project ships, loaded and validated by the published runner",
        "(`tao_automl.runner.validate_skill_runtime`, train action). Only digits-cnn runs jobs here: the",
        "TAO skills need NVIDIA TAO container images and GPUs.",
        "",
        "| shipped skill | published validator | schema keys it reads |",
        "|---|---|---|",
    ]
    for row in rows:
        detail = row["detail"]
        count = detail.get("parameter_count", "—") if isinstance(detail, dict) else "—"
        verdict = "valid" if row["valid"] else f"refused: {str(detail).splitlines()[-1][:120]}"
        lines.append(f"| {row['skill']} | {verdict} | {count} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plan", default="ci", help="the plan just run; every plan with results is rendered")
    parser.parse_args()
    (DOCS / "benchmarks").mkdir(parents=True, exist_ok=True)
    plans = [p for p in ("full", "ci") if (RESULTS / p).is_dir() and result_files(RESULTS / p)]
    lines = [
        "# Benchmarks against peers",
        "",
        "Generated by `benchmarks/harness/render.py` from the raw results; do not edit by hand. Reproduce with",
        "`make bench` (full plan, 10 seeds) or `make bench-ci` (subset, 3 seeds).",
        "",
        "**Rules.** Our algorithms run through the real `AutoMLRunner` on the simulated platform (per-epoch",
        "metrics from the problem, durations on a simulated clock). Every optimizer is charged by one ledger in",
        "full-fidelity equivalents (FFE): continuing a configuration from fidelity z' to z costs z - z'. The",
        "incumbent is the best value seen at the highest fidelity, judged by the harness; synthetic regret is",
        "measured on the noiseless function. One neutral search space per problem, translated per library;",
        "library defaults except η = 3 and the fidelity range. Fixed seeds, `PYTHONHASHSEED=0`, one thread,",
        "fixed Optuna study names, one process per (optimizer, problem) with a timeout. Peers run in",
        "`.venv-bench` (`benchmarks/requirements-bench.txt`), never constraining the product's dependencies.",
        "",
    ]
    for plan in plans:
        lines += Report(plan).render()
    lines += published_runner_section()
    problems = all_problems()
    lines += [
        "## Problems",
        "",
        "| problem | block | dims | fidelity | budget (FFE) | optimum | credit |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in problems.values():
        lines.append(
            f"| {p.name} | {p.block} | {len(p.space)} | {p.z_min}-{p.z_max} | {p.budget:g} | "
            f"{'—' if p.optimum is None else f'{p.optimum:.6f}'} | {p.credit} |"
        )
    lines += ["", "## Not included", "", "| peer | why |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in LEFT_OUT.items()] + [""]
    product, bench = _versions_product(), _versions_here(BENCH_PACKAGES)
    lines += [
        "## Versions",
        "",
        f"Python {platform.python_version()}.",
        "",
        "| package | product `.venv` | `.venv-bench` |",
        "|---|---|---|",
    ]
    for name in sorted(set(product) | set(bench), key=str.lower):
        lines.append(f"| {name} | {product.get(name, '—')} | {bench.get(name, '—')} |")
    (DOCS / "benchmarks.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {DOCS / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
