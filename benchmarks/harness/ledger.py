"""The one budget, cache and cost model every optimizer is charged with.

Continuing a configuration from fidelity ``z'`` to ``z`` costs ``z - z'`` (a promotion resumes the
checkpoint); asking again for a fidelity already trained costs nothing. Costs are counted in
full-fidelity equivalents (FFE): ``z_max`` units of fidelity make one FFE. The incumbent is the
best value the harness has seen at the highest fidelity, scored on the noiseless function.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks.harness.problems import Problem


class BudgetExhausted(Exception):
    """Raised to the optimizer when it asks for an evaluation after the budget is spent."""


@dataclass
class Observation:
    """One evaluation as the harness saw it (one JSONL line)."""

    index: int
    cost: float  # cumulative FFE after this evaluation
    fidelity: int
    value: float
    config: dict[str, Any]
    incumbent_score: float | None  # harness-judged score of the incumbent after this evaluation
    overhead_s: float | None = None  # optimizer time since the previous evaluation finished
    sim_time: float | None = None  # simulated wall-clock seconds at which the evaluation finished

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def config_key(config: dict[str, Any]) -> str:
    def norm(v: Any) -> Any:
        return float(f"{v:.10g}") if isinstance(v, float) else v

    return json.dumps({k: norm(v) for k, v in sorted(config.items())}, sort_keys=True, default=str)


class Ledger:
    """Charges evaluations against the budget and records the trace.

    Args:
        problem: what is evaluated.
        seed: the benchmark seed (the observation noise depends on it).
        budget: FFE available; defaults to the problem's.
    """

    def __init__(self, problem: Problem, seed: int, budget: float | None = None) -> None:
        self.problem = problem
        self.seed = seed
        self.budget = problem.budget if budget is None else budget
        self.spent = 0.0
        self.trained: dict[str, int] = {}
        self.trace: list[Observation] = []
        self._incumbent: tuple[float, dict[str, Any]] | None = None
        self._last_end: float | None = None

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.budget - 1e-9

    def charge(self, config: dict[str, Any], z: int) -> float:
        """FFE that evaluating ``config`` at fidelity ``z`` costs now (without recording it)."""
        done = self.trained.get(config_key(config), 0)
        return max(0, z - done) / self.problem.z_max

    def evaluate(
        self, config: dict[str, Any], z: int, *, overhead_s: float | None = None, sim_time: float | None = None
    ) -> float:
        """Observe ``config`` at fidelity ``z``; raises :class:`BudgetExhausted` once the budget is spent.

        An evaluation that starts within the budget completes even if it crosses it (as a training job
        would); ``overhead_s`` overrides the measured gap since the previous evaluation (for optimizers
        that run out of process, like ours through the runner).
        """
        if self.exhausted:
            raise BudgetExhausted(f"{self.budget:g} FFE spent")
        z = max(self.problem.z_min, min(int(z), self.problem.z_max))
        start = time.perf_counter()
        gap = overhead_s if overhead_s is not None else (None if self._last_end is None else start - self._last_end)
        key = config_key(config)
        self.spent += self.charge(config, z)
        self.trained[key] = max(self.trained.get(key, 0), z)
        value = self.problem.value(config, z, self.seed)
        if z == self.problem.z_max:
            best = self._incumbent
            if best is None or value < best[0]:
                self._incumbent = (value, dict(config))
        score = self.problem.score(self._incumbent[1]) if self._incumbent else None
        obs = Observation(len(self.trace), self.spent, z, value, dict(config), score, gap, sim_time)
        self.trace.append(obs)
        self._last_end = time.perf_counter()
        return value

    @property
    def incumbent(self) -> dict[str, Any] | None:
        return dict(self._incumbent[1]) if self._incumbent else None

    def final_score(self) -> float | None:
        return self.problem.score(self._incumbent[1]) if self._incumbent else None
