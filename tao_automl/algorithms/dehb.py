"""DEHB (Awad et al., 2021): Hyperband whose new configurations come from differential evolution.

Written here rather than taken from the ``dehb`` package: that package owns the optimisation loop
and its worker pool (and pins ``numpy<2``), while this project needs ask/tell proposals inside the
runner's own parallel slots. Mutation is DE/rand/1 with binomial crossover on the unit cube of the
search space; parents come from the configurations measured at the largest budget with enough of
them (the promoted, best-so-far subpopulation), so evolution is guided by high-fidelity results.
"""

from __future__ import annotations

from typing import Any

from tao_automl.algorithms.hyperband import Hyperband

MUTATION_FACTOR = 0.5
CROSSOVER_RATE = 0.5
MIN_PARENTS = 4


class DEHB(Hyperband):
    """Hyperband schedule + differential-evolution config generator."""

    name = "dehb"

    def new_config(self, epochs: int) -> tuple[dict[str, Any], str]:
        budget = next((b for b in sorted(self._obs, reverse=True) if len(self._obs[b]) >= MIN_PARENTS), None)
        if budget is None:
            return self.space.sample(self._rng), "random draw (population still forming)"
        population = [self._to_unit(p) for p, _ in self._obs[budget]]
        ranked = sorted(self._obs[budget], key=lambda o: o[1], reverse=self.direction == "maximize")
        target = self._to_unit(ranked[self._rng.randrange(max(1, len(ranked) // 2))][0])
        a, b, c = self._rng.sample(population, 3)
        mutant = [min(1.0, max(0.0, x + MUTATION_FACTOR * (y - z))) for x, y, z in zip(a, b, c, strict=True)]
        forced = self._rng.randrange(len(mutant))
        child = [m if (self._rng.random() < CROSSOVER_RATE or i == forced) else t
                 for i, (m, t) in enumerate(zip(mutant, target, strict=True))]  # fmt: skip
        params = self.space.repair({p.name: p.from_unit(u) for p, u in zip(self.space, child, strict=True)})
        return params, f"DE/rand/1/bin from {len(population)} results at {budget} epochs"

    def _to_unit(self, params: dict[str, Any]) -> list[float]:
        return [p.to_unit(params[p.name]) for p in self.space]
