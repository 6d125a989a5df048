"""Measures over recorded traces: incumbent curves, normalised AUC, ranks, speed-up, paired tests.

A run is the list of its evaluations (``cost`` in FFE, cumulative; ``incumbent_score`` judged by the
harness). Scores are regrets (known optimum) or validation losses; lower is better, compared in log10.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

FLOOR = 1e-12  # regrets below this count as solved: log10 stays finite


def log_score(score: float) -> float:
    return math.log10(max(score, FLOOR))


def incumbent_at(evals: Sequence[dict[str, Any]], cost: float) -> float | None:
    """Harness-judged incumbent score after spending ``cost`` FFE (None: nothing at full fidelity yet)."""
    best = None
    for e in evals:
        if e["cost"] > cost + 1e-9:
            break
        if e["incumbent_score"] is not None:
            best = e["incumbent_score"]
    return best


def normalised_auc(evals: Sequence[dict[str, Any]], budget: float, worst_log: float, points: int = 100) -> float:
    """Mean log10 score over ``points`` equally spaced costs in (0, budget]; before any incumbent, ``worst_log``."""
    total = 0.0
    for i in range(1, points + 1):
        score = incumbent_at(evals, budget * i / points)
        total += worst_log if score is None else log_score(score)
    return total / points


def cost_to_reach(evals: Sequence[dict[str, Any]], target: float) -> float | None:
    """FFE spent when the incumbent first scored <= ``target`` (None: never)."""
    for e in evals:
        if e["incumbent_score"] is not None and e["incumbent_score"] <= target:
            return e["cost"]
    return None


def speedup_over_random(
    evals: Sequence[dict[str, Any]], random_evals: Sequence[dict[str, Any]], random_final: float
) -> float:
    """FFE random needed to reach its final value / FFE the method needed to match it (0: never matched)."""
    needed = cost_to_reach(evals, random_final)
    random_needed = cost_to_reach(random_evals, random_final)
    if needed is None or random_needed is None:
        return 0.0
    return random_needed / max(needed, 1e-9)


def ranks(scores: dict[str, float]) -> dict[str, float]:
    """Rank 1 = lowest score; ties share the average rank."""
    ordered = sorted(scores.items(), key=lambda kv: kv[1])
    out: dict[str, float] = {}
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1][1] == ordered[i][1]:
            j += 1
        for k in range(i, j + 1):
            out[ordered[k][0]] = (i + j) / 2 + 1
        i = j + 1
    return out


def mean_ranks(finals: dict[tuple[str, int], dict[str, float]]) -> dict[str, float]:
    """Mean rank per optimizer over (problem, seed) cells, on the scale of all ``N`` optimizers.

    Expensive methods run fewer seeds, so some cells hold only ``n < N`` optimizers; a raw rank there
    would flatter whoever ran in the small cells. Each cell's rank is rescaled to
    ``1 + (r - 1) (N - 1) / (n - 1)`` (last place in any cell counts as rank N); with full coverage this
    is the plain mean rank.
    """
    total = len({name for cell in finals.values() for name in cell})
    collected: dict[str, list[float]] = defaultdict(list)
    for cell in finals.values():
        n = len(cell)
        for name, rank in ranks(cell).items():
            collected[name].append(1 + (rank - 1) * (total - 1) / (n - 1) if n > 1 else (1 + total) / 2)
    return {name: statistics.mean(values) for name, values in collected.items()}


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def paired_wilcoxon(ours: Sequence[float], theirs: Sequence[float]) -> tuple[float | None, int, int]:
    """Two-sided Wilcoxon signed-rank p-value over paired cells, with (wins, losses) of ``ours`` (lower wins)."""
    from scipy.stats import wilcoxon

    wins = sum(a < b for a, b in zip(ours, theirs, strict=True))
    losses = sum(a > b for a, b in zip(ours, theirs, strict=True))
    if wins + losses == 0:
        return None, 0, 0
    return float(wilcoxon(ours, theirs, zero_method="zsplit").pvalue), wins, losses
