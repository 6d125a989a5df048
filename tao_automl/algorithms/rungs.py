"""Rung arithmetic shared by the successive-halving family (hyperband, asha, bohb, dehb).

Budgets are epochs. Hyperband (Li et al., 2018): with maximum budget R, minimum r0 and
reduction factor eta, ``s_max = floor(log_eta(R / r0))`` and bracket ``s`` starts
``n = ceil((s_max + 1) / (s + 1) * eta**s)`` configurations at ``R * eta**-s`` epochs, keeping the
best ``floor(n * eta**-i)`` at rung ``i``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Rung:
    """``n`` configurations trained to ``epochs`` total epochs."""

    n: int
    epochs: int


def s_max(max_epochs: int, eta: int, min_epochs: int = 1) -> int:
    """Largest ``s`` with ``min_epochs * eta**s <= max_epochs`` (integer loop: no float log error)."""
    s = 0
    while min_epochs * eta ** (s + 1) <= max_epochs:
        s += 1
    return s


def _epochs(max_epochs: int, eta: int, power: int) -> int:
    return max(1, round(max_epochs / eta**power))


def hyperband_brackets(max_epochs: int, eta: int, min_epochs: int = 1) -> list[list[Rung]]:
    """Every bracket's rungs, most aggressive bracket (largest ``s``) first.

    For ``R=27, eta=3``: ``[[27@1, 9@3, 3@9, 1@27], [12@3, 4@9, 1@27], [6@9, 2@27], [4@27]]``.
    """
    top = s_max(max_epochs, eta, min_epochs)
    brackets = []
    for s in range(top, -1, -1):
        n = math.ceil((top + 1) / (s + 1) * eta**s)
        brackets.append([Rung(n // eta**i, _epochs(max_epochs, eta, s - i)) for i in range(s + 1)])
    return brackets


def asha_rungs(max_epochs: int, eta: int, min_epochs: int = 1) -> list[int]:
    """ASHA rung budgets ``r0 * eta**k`` up to ``R`` (the last rung is always ``R``)."""
    rungs = [min_epochs * eta**k for k in range(s_max(max_epochs, eta, min_epochs) + 1)]
    if rungs[-1] != max_epochs:
        rungs.append(max_epochs)
    return rungs


def in_top_fraction(value: float, values: Sequence[float], fraction: float, direction: str) -> bool:
    """True when ``value`` is among the best ``max(1, floor(len * fraction))`` of ``values``."""
    k = max(1, math.floor(len(values) * fraction))
    ranked = sorted(values, reverse=direction == "maximize")
    threshold = ranked[k - 1]
    return value >= threshold if direction == "maximize" else value <= threshold
