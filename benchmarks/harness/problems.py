"""Benchmark problems with known optima, written in plain Python/NumPy (no downloads).

Block A (single fidelity): Branin, Hartmann-3, Hartmann-6, Ackley-5 - the formulas and optima of the
Virtual Library of Simulation Experiments (Surjanovic & Bingham).
Block B (multi-fidelity): Hartmann with a fidelity-dependent bias and noise, after Kandasamy et al.
2017 ("Multi-fidelity Bayesian optimisation with continuous approximations") as parametrised in
mf-prior-bench (``mfpbench/synthetic/hartmann/generators.py``, checked against its source): with
``s = log(z / z_min) / log(z_max / z_min)`` in [0, 1], the weights become ``alpha_i - bias * (1 - s)``
and half-normal noise ``noise * (1 - s) * |N(0, 1)|`` is added (always upwards: low fidelities look
worse, never better), so the highest fidelity is the exact, noiseless Hartmann function.
"bad" = (bias 3.5, noise 4.0) is mf-prior-bench's "bad" preset; our "good" = (0.5, 0.1) is the
issue's choice, milder than mf-prior-bench's "good" (2.5, 2.0), so the pair spans an easy and a hard
low-fidelity signal. The noise draw is keyed by (problem, seed, x, z) instead of Python's ``hash``.
Block C (real training) lives in :mod:`benchmarks.harness.training` and
:mod:`benchmarks.harness.demo_network` (the demo network).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.harness.space import Dim, Space

_H3_A = ((3.0, 10.0, 30.0), (0.1, 10.0, 35.0), (3.0, 10.0, 30.0), (0.1, 10.0, 35.0))
_H3_P = (
    (0.3689, 0.1170, 0.2673),
    (0.4699, 0.4387, 0.7470),
    (0.1091, 0.8732, 0.5547),
    (0.0381, 0.5743, 0.8828),
)
_H6_A = (
    (10.0, 3.0, 17.0, 3.5, 1.7, 8.0),
    (0.05, 10.0, 17.0, 0.1, 8.0, 14.0),
    (3.0, 3.5, 1.7, 10.0, 17.0, 8.0),
    (17.0, 8.0, 0.05, 10.0, 0.1, 14.0),
)
_H6_P = (
    (0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886),
    (0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991),
    (0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650),
    (0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381),
)
_H_ALPHA = (1.0, 1.2, 3.0, 3.2)


def branin(x: list[float]) -> float:
    x1, x2 = x
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def hartmann(x: list[float], bias: float = 0.0) -> float:
    """Hartmann-3 or -6 (by ``len(x)``); ``bias`` lowers every weight alpha_i (the low-fidelity shift)."""
    a, p = (_H3_A, _H3_P) if len(x) == 3 else (_H6_A, _H6_P)
    total = 0.0
    for alpha, row_a, row_p in zip(_H_ALPHA, a, p, strict=True):
        inner = sum(aij * (xj - pij) ** 2 for aij, xj, pij in zip(row_a, x, row_p, strict=True))
        total += (alpha - bias) * math.exp(-inner)
    return -total


def ackley(x: list[float]) -> float:
    n = len(x)
    sq = math.sqrt(sum(v * v for v in x) / n)
    cs = sum(math.cos(2 * math.pi * v) for v in x) / n
    return -20 * math.exp(-0.2 * sq) - math.exp(cs) + 20 + math.e


def unit_normal(*key: Any) -> float:
    """A standard normal draw that depends only on ``key``: the same query always sees the same noise."""
    digest = hashlib.sha256(json.dumps(key, default=repr).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big")).gauss(0.0, 1.0)


@dataclass
class Problem:
    """A benchmark problem: ``value(config, z, seed)`` is what an optimizer observes at fidelity ``z``.

    ``score(config)`` is what the harness judges: the regret of the noiseless function at the highest
    fidelity when the optimum is known, else the observed highest-fidelity value (validation loss).
    """

    name: str
    block: str
    space: Space
    budget: float  # in full-fidelity equivalents (FFE)
    z_min: int = 1
    z_max: int = 1
    optimum: float | None = None
    fn: Callable[[list[float]], float] | None = None
    bias: float = 0.0
    noise: float = 0.0
    credit: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def multi_fidelity(self) -> bool:
        return self.z_max > self.z_min

    def _x(self, config: dict[str, Any]) -> list[float]:
        return [float(config[d.name]) for d in self.space]

    def fidelity_position(self, z: int) -> float:
        if not self.multi_fidelity:
            return 1.0
        return math.log(z / self.z_min) / math.log(self.z_max / self.z_min)

    def value(self, config: dict[str, Any], z: int, seed: int) -> float:
        assert self.fn is not None
        x = self._x(config)
        s = self.fidelity_position(z)
        if self.bias == 0.0 and self.noise == 0.0:
            return self.fn(x)
        clean = hartmann(x, bias=self.bias * (1 - s))
        if s >= 1.0 or self.noise == 0.0:
            return clean
        return clean + self.noise * (1 - s) * abs(unit_normal(self.name, seed, [round(v, 12) for v in x], z))

    def noiseless(self, config: dict[str, Any]) -> float:
        return self.value(config, self.z_max, seed=0) if self.fn is None else self.fn(self._x(config))

    def score(self, config: dict[str, Any]) -> float:
        v = self.noiseless(config)
        return v - self.optimum if self.optimum is not None else v


def box(n: int, low: float, high: float) -> Space:
    return tuple(Dim(f"x{i}", "float", low, high) for i in range(n))


def synthetic_problems() -> dict[str, Problem]:
    vlse = "Surjanovic & Bingham, Virtual Library of Simulation Experiments"
    mf = "Kandasamy et al. 2017; bias/noise presets of mf-prior-bench"
    return {
        p.name: p
        for p in (
            Problem(
                "branin",
                "A",
                (Dim("x0", "float", -5, 10), Dim("x1", "float", 0, 15)),
                40,
                optimum=0.397887357729739,
                fn=branin,
                credit=vlse,
            ),
            Problem("hartmann3", "A", box(3, 0, 1), 50, optimum=-3.86278214782076, fn=hartmann, credit=vlse),
            Problem("hartmann6", "A", box(6, 0, 1), 100, optimum=-3.32236801141551, fn=hartmann, credit=vlse),
            Problem("ackley5", "A", box(5, -32.768, 32.768), 100, optimum=0.0, fn=ackley, credit=vlse),
            Problem("mfh6_good", "B", box(6, 0, 1), 50, 1, 81, -3.32236801141551, hartmann, 0.5, 0.1, credit=mf),
            Problem("mfh6_bad", "B", box(6, 0, 1), 50, 1, 81, -3.32236801141551, hartmann, 3.5, 4.0, credit=mf),
            Problem("mfh3_good", "B", box(3, 0, 1), 50, 1, 81, -3.86278214782076, hartmann, 0.5, 0.1, credit=mf),
        )
    }


def all_problems() -> dict[str, Problem]:
    from benchmarks.harness.demo_network import demo_network_problems
    from benchmarks.harness.training import training_problems

    return {**synthetic_problems(), **training_problems(), **demo_network_problems()}


def get_problem(name: str) -> Problem:
    problems = all_problems()
    if name not in problems:
        raise KeyError(f"unknown problem '{name}'; available: {', '.join(problems)}")
    return problems[name]
