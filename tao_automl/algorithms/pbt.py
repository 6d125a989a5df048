"""Population based training (Jaderberg et al., 2017), synchronous variant.

A population trains in intervals of ``automl_pbt_interval`` epochs. After every generation the
members are ranked; each member in the bottom quarter, and each member whose job failed, copies
a top-quarter member's exact checkpoint and hyperparameters (exploit) and perturbs them
(explore); the others continue from their own checkpoint. Generation ``g`` trains every member
to ``(g + 1) * interval`` epochs, so all metrics of one generation are comparable.

Each generation is planned once, when the previous one has fully reported, from an rng seeded by
``(seed, generation)``: replaying the history on resume rebuilds exactly the plan the
uninterrupted run had, whatever order the jobs finished in.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from typing import Any

from tao_automl.algorithms.base import Algorithm, Feedback, Proposal, RecStatus, fingerprint
from tao_automl.errors import ConfigurationError
from tao_automl.space import Param, ParamType

#: Fraction of the population that is replaced (bottom) and that donates (top).
QUANTILE = 0.25
#: Explore: numeric factors, and the chance a categorical/bool value is redrawn.
FACTORS = (0.8, 1.2)
RESAMPLE_PROBABILITY = 0.25
#: Explore attempts before falling back to a fresh draw (an explored config must be new).
_MAX_TRIES = 20


@dataclass(frozen=True)
class _Outcome:
    """One member's finished recommendation of the last generation."""

    rec_id: int
    proposal: Proposal
    feedback: Feedback

    @property
    def ok(self) -> bool:
        metric = self.feedback.metric
        return self.feedback.status is RecStatus.SUCCESS and metric is not None and math.isfinite(metric)


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _index(p: Param, value: Any) -> int | None:
    keys = [json.dumps(c, sort_keys=True) for c in p.choices]
    key = json.dumps(value, sort_keys=True)
    return keys.index(key) if key in keys else None


def perturb(p: Param, value: Any, factor: float) -> Any:
    """``value`` scaled by ``factor``, snapped back into ``p`` (ordered options move one index).

    An integer that rounding would leave unchanged moves one step in the factor's direction,
    otherwise small integers (2 * 1.2 -> 2) could never be explored.
    """
    if p.choices:
        index = _index(p, value)
        if index is None:
            return value
        index += 1 if factor > 1 else -1
        return p.choices[min(max(index, 0), len(p.choices) - 1)]
    scaled = float(value) * factor
    if p.type is ParamType.INT:
        step = p.step or 1
        low, high = int(p.low), int(p.high)
        new = low + round((scaled - low) / step) * step
        if new == value and scaled != value:
            new = int(value) + (step if scaled > value else -step)
        return int(min(max(new, low), high))
    return float(min(max(scaled, float(p.low)), float(p.high)))


class PopulationBasedTraining(Algorithm):
    """Synchronous PBT: exploit a top member's checkpoint and params, explore by x0.8/x1.2 or resampling."""

    name = "pbt"
    budget_settings = ("automl_population_size", "automl_max_generations", "automl_pbt_interval", "automl_max_epochs")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.resumable:
            raise ConfigurationError(
                "pbt continues and copies exact epoch checkpoints, and this model cannot resume from one",
                field="automl_algorithm",
                hint=(
                    "use asha or hyperband (they can stop jobs instead of resuming them), or declare "
                    "spec_params.train.<key>: resume_model in the model skill and leave automl_rung_mode at auto"
                ),
            )
        s = self.settings
        self.population = s.automl_population_size
        self.generations = s.automl_max_generations
        self.interval = s.automl_pbt_interval or max(1, s.automl_max_epochs // s.automl_max_generations)
        self._reset()

    def _reset(self) -> None:
        self.generation = 0
        self._last: dict[int, _Outcome] = {}  # member -> its outcome in the previous generation
        self._failed: set[str] = set()
        self._issued: set[int] = set()  # members of the current generation already proposed
        self._bound: dict[int, int] = {}  # rec id -> member, current generation
        self._results: dict[int, Feedback] = {}  # member -> final feedback, current generation
        self._plan = self._plan_generation(0)

    # ------------------------------------------------------------------ ask/tell
    def propose(self, n: int) -> list[Proposal]:
        """The current generation's members not yet proposed; none while a generation is finishing."""
        members = [i for i in range(self.population) if i not in self._issued][: max(0, n)]
        self._issued.update(members)
        return [self._plan[i] for i in members]

    def bind(self, rec_id: int, proposal: Proposal) -> None:
        """Attribute ``rec_id`` to the member named in the proposal's meta (history wins over the plan)."""
        member, generation = proposal.meta.get("member"), proposal.meta.get("generation")
        if generation != self.generation or not isinstance(member, int) or not 0 <= member < self.population:
            return
        self._plan[member] = proposal
        self._issued.add(member)
        self._bound[rec_id] = member

    def report(self, feedback: Feedback) -> None:
        """Record a member's final result; the generation's last one plans the next generation."""
        member = self._bound.get(feedback.rec_id)
        if feedback.intermediate or member is None:
            return
        self._results[member] = feedback
        outcome = _Outcome(feedback.rec_id, self._plan[member], feedback)
        if not outcome.ok:
            self._failed.add(fingerprint(outcome.proposal.params))
        if len(self._results) == self.population and self.generation + 1 < self.generations:
            by_member = {m: r for r, m in self._bound.items()}
            self._last = {
                m: _Outcome(by_member[m], self._plan[m], fb) for m, fb in self._results.items() if m in by_member
            }
            self.generation += 1
            self._issued, self._bound, self._results = set(), {}, {}
            self._plan = self._plan_generation(self.generation)

    def done(self) -> bool:
        return self.generation + 1 >= self.generations and len(self._results) >= self.population

    def restore(self, history: list[tuple[Any, ...]]) -> None:
        """Replay the history into a fresh state; generation plans are seeded, so they come out identical."""
        self._reset()
        super().restore(history)

    def planned_recommendations(self) -> int:
        return self.population * self.generations

    def retained(self) -> set[int]:
        """This generation's recommendations, and the checkpoints its unlaunched members will resume.

        Launched members' parents are kept by the runner until they finish; every other checkpoint
        (older generations, replaced members) can no longer be continued or copied.
        """
        launched = set(self._bound.values())
        parents = {p.resume_from for i, p in enumerate(self._plan) if i not in launched and p.resume_from is not None}
        return set(self._bound) | parents

    # ------------------------------------------------------------------ planning
    def _plan_generation(self, g: int) -> list[Proposal]:
        rng = random.Random(f"{self.seed}:pbt:{g}")
        budget = (g + 1) * self.interval
        if g == 0:
            taken: set[str] = set()
            note = "generation 0: draw from the prior"
            return [self._fresh(i, 0, budget, rng, taken, None, note) for i in range(self.population)]
        ok = [i for i in range(self.population) if i in self._last and self._last[i].ok]
        sign = 1.0 if self.direction == "minimize" else -1.0
        ranked = sorted(ok, key=lambda i: (sign * float(self._last[i].feedback.metric or 0.0), i))
        n_quantile = int(self.population * QUANTILE)
        top = ranked[: max(1, n_quantile)]
        # failed members rank last, so they fill the bottom quarter before any success does
        ranking = ranked + [i for i in range(self.population) if i not in ok]
        bottom = set(ranking[len(ranking) - n_quantile :]) - set(top) if n_quantile else set()
        plan: dict[int, Proposal] = {}
        for i in ranked:
            if i not in bottom:
                last = self._last[i]
                plan[i] = Proposal(
                    params=dict(last.proposal.params),
                    budget=budget,
                    resume_from=last.rec_id,
                    note=f"continue rec {last.rec_id} ({last.feedback.metric:.4g}) to epoch {budget}",
                    meta={"member": i, "generation": g, "exploit_from": None, "parent": last.rec_id},
                )
        taken = {fingerprint(p.params) for p in plan.values()}
        for i in range(self.population):
            if i in plan:
                continue
            last = self._last.get(i)
            parent = last.rec_id if last else None
            if last is None:
                why = "no previous rec"
            else:
                why = f"rec {last.rec_id} " + ("failed" if not last.ok else f"ranked low ({last.feedback.metric:.4g})")
            if not top:
                plan[i] = self._fresh(
                    i, g, budget, rng, taken, parent, f"{why}, no member to copy: fresh draw trained from scratch"
                )
                continue
            donor = self._last[rng.choice(top)]
            params, changes = self._explore(donor.proposal.params, rng, taken | self._failed)
            taken.add(fingerprint(params))
            described = ", ".join(f"{_short(k)} {v}" for k, v in changes.items()) or "no change"
            plan[i] = Proposal(
                params=params,
                budget=budget,
                resume_from=donor.rec_id,
                note=f"{why}; exploit rec {donor.rec_id} ({donor.feedback.metric:.4g}) -> explore {described}",
                meta={
                    "member": i,
                    "generation": g,
                    "exploit_from": donor.rec_id,
                    "parent": parent,
                    "explore": changes,
                },
            )
        return [plan[i] for i in range(self.population)]

    def _fresh(
        self, member: int, g: int, budget: int, rng: random.Random, taken: set[str], parent: int | None, note: str
    ) -> Proposal:
        params = self.space.sample(rng)
        for _ in range(_MAX_TRIES):
            if fingerprint(params) not in taken and fingerprint(params) not in self._failed:
                break
            params = self.space.sample(rng)
        taken.add(fingerprint(params))
        meta = {"member": member, "generation": g, "exploit_from": None, "parent": parent}
        return Proposal(params=params, budget=budget, note=note, meta=meta)

    def _explore(
        self, params: dict[str, Any], rng: random.Random, avoid: set[str]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Perturb ``params`` into a configuration not in ``avoid``.

        Returns the new params and what changed per parameter (``"x1.2"``, ``"32->64"``,
        ``"resampled adam->sgd"``), for the note and the proposal's meta.
        """
        for _ in range(_MAX_TRIES):
            out = dict(params)
            changes: dict[str, str] = {}
            for p in self.space:
                value = params.get(p.name, p.default)
                if p.type in (ParamType.CATEGORICAL, ParamType.BOOL):
                    if rng.random() < RESAMPLE_PROBABILITY:
                        out[p.name] = p.sample(rng)
                        if out[p.name] != value:
                            changes[p.name] = f"resampled {value}->{out[p.name]}"
                    continue
                factor = rng.choice(FACTORS)
                out[p.name] = perturb(p, value, factor)
                if not p.choices:
                    changes[p.name] = f"x{factor:g}"
                elif out[p.name] != value:
                    changes[p.name] = f"{value}->{out[p.name]}"
            out = self.space.repair(out)
            if fingerprint(out) not in avoid:
                return out, changes
        for _ in range(_MAX_TRIES):  # perturbations keep landing on known configs (clipped at bounds)
            out = self.space.sample(rng)
            if fingerprint(out) not in avoid:
                break
        return out, {p.name: "resampled" for p in self.space}
