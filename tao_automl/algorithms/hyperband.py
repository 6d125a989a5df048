"""Hyperband: successive halving in several brackets that trade breadth for depth.

What to try (``new_config``) is separate from when to stop (the bracket schedule), so BOHB and
DEHB are this class with another config generator. Brackets run concurrently: a free slot takes
the next ready proposal of any bracket, so no slot waits while another bracket has work.

Two ways up a rung, chosen by whether the model can resume an exact epoch checkpoint:
*promotion* trains the survivors of rung ``i`` from their rung-``i`` checkpoint to rung ``i+1``
(only the extra epochs); *stopping* starts every configuration at the full budget and cancels it
at a rung boundary when it is not in the rung's top ``n_{i+1}/n_i`` fraction of what that rung
has seen so far (jobs cannot be paused, so stopping-mode rungs decide asynchronously).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from tao_automl.algorithms.base import Algorithm, Feedback, Proposal, RecStatus, fingerprint
from tao_automl.algorithms.rungs import Rung, hyperband_brackets, in_top_fraction

Observation = tuple[dict[str, Any], float]


@dataclass
class _Entry:
    params: dict[str, Any]
    rec_id: int | None = None
    parent: int | None = None
    metric: float | None = None
    done: bool = False

    @property
    def ok(self) -> bool:
        return self.done and self.metric is not None


@dataclass
class _Bracket:
    index: int
    rungs: list[Rung]
    entries: list[list[_Entry]] = field(default_factory=list)
    queue: list[Proposal] = field(default_factory=list)
    stop_obs: dict[int, list[float]] = field(default_factory=dict)

    @property
    def rung(self) -> int:
        return len(self.entries) - 1

    def complete(self, promotion: bool) -> bool:
        """Every rung that will ever run has finished (stopping mode has only rung 0)."""
        if not self.entries or self.queue or not all(e.done for e in self.entries[-1]):
            return False
        return not promotion or self.rung == len(self.rungs) - 1 or not any(e.ok for e in self.entries[-1])


class Hyperband(Algorithm):
    """Hyperband over epochs with ``automl_max_epochs`` (R) and ``automl_reduction_factor`` (eta)."""

    name = "hyperband"
    budget_settings = ("automl_max_epochs", "automl_min_epochs", "automl_reduction_factor", "automl_max_total_epochs")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        s = self.settings
        self.max_epochs, self.eta = s.automl_max_epochs, s.automl_reduction_factor
        self.schedule = hyperband_brackets(self.max_epochs, self.eta, s.automl_min_epochs)
        self.promotion = self.resumable and s.automl_rung_mode != "stopping"
        self._rng = random.Random(self.seed)
        self._reset()

    def _reset(self) -> None:
        self.brackets: list[_Bracket] = []
        self._add_iteration()
        self._where: dict[int, tuple[int, int, int]] = {}
        self._seen: set[str] = set()
        self._obs: dict[int, list[Observation]] = {}
        self._rung_epochs = {r.epochs for rungs in self.schedule for r in rungs}

    def _add_iteration(self) -> None:
        """One more Hyperband iteration: every bracket of the schedule again, with fresh configurations."""
        first = len(self.brackets)
        self.brackets += [_Bracket(first + i, rungs) for i, rungs in enumerate(self.schedule)]

    @property
    def _repeats(self) -> bool:
        """With an epoch budget, iterations repeat until the runner stops at that budget (Li et al. 2018)."""
        return self.settings.automl_max_total_epochs is not None

    # ---- what to try -------------------------------------------------------------------------
    def new_config(self, epochs: int) -> tuple[dict[str, Any], str]:
        """A fresh configuration for a rung-0 slot trained to ``epochs``; subclasses model it."""
        return self.space.sample(self._rng), "random draw"

    def observations(self, epochs: int) -> list[Observation]:
        """(params, metric) of every configuration measured at exactly ``epochs`` (for models)."""
        return list(self._obs.get(epochs, []))

    def _fresh(self, epochs: int) -> tuple[dict[str, Any], str]:
        params, note = self.new_config(epochs)
        for _ in range(20):
            if fingerprint(params) not in self._seen:
                break
            params, note = self.space.sample(self._rng), "random draw (model repeated a known configuration)"
        self._seen.add(fingerprint(params))
        return params, note

    # ---- when to stop ------------------------------------------------------------------------
    def planned_recommendations(self) -> int:
        if self.promotion:
            return sum(r.n for rungs in self.schedule for r in rungs)
        return sum(rungs[0].n for rungs in self.schedule)

    def propose(self, n: int) -> list[Proposal]:
        out: list[Proposal] = []
        if self._repeats and all(b.complete(self.promotion) for b in self.brackets):
            self._add_iteration()
        for bracket in self.brackets:
            if not bracket.entries:
                self._open(bracket)
            while bracket.queue and len(out) < n:
                out.append(self._materialise(bracket, bracket.queue.pop(0)))
            if len(out) >= n:
                break
        return out

    def _open(self, bracket: _Bracket) -> None:
        bracket.entries.append([])
        self._fill_first_rung(bracket)

    def _fill_first_rung(self, bracket: _Bracket) -> None:
        """Reserve rung-0 slots until rung 0 holds its ``n`` (also after a resume); see :meth:`_materialise`."""
        first = bracket.rungs[0]
        budget = first.epochs if self.promotion else self.max_epochs
        for k in range(len(bracket.entries[0]), first.n):
            bracket.entries[0].append(_Entry({}))
            bracket.queue.append(self._proposal(bracket, 0, k, {}, budget, None, "reserved"))

    def _materialise(self, bracket: _Bracket, proposal: Proposal) -> Proposal:
        """Draw a reserved rung-0 configuration only as its slot launches (lazy, as hpbandster's BOHB samples).

        Drawing a whole rung when the bracket opens would hide every result of that rung from the
        model: with lazy draws BOHB/DEHB already use the first finished results of the bracket.
        """
        if proposal.params:
            return proposal
        k = proposal.meta["slot"]
        params, note = self._fresh(bracket.rungs[0].epochs)
        bracket.entries[0][k] = _Entry(params)
        return self._proposal(bracket, 0, k, params, proposal.budget or self.max_epochs, None, note)

    def _proposal(
        self, bracket: _Bracket, rung: int, k: int, params: dict[str, Any], budget: int, parent: int | None, note: str
    ) -> Proposal:
        meta = {"bracket": bracket.index, "rung": rung, "slot": k, "parent": parent}
        where = f"bracket {bracket.index} rung {rung} ({budget} epochs)"
        return Proposal(params=params, budget=budget, resume_from=parent, note=f"{where}: {note}", meta=meta)

    def bind(self, rec_id: int, proposal: Proposal) -> None:
        b, r, k = proposal.meta["bracket"], proposal.meta["rung"], proposal.meta["slot"]
        while b >= len(self.brackets):  # on restore, later iterations are rebuilt as they are bound
            self._add_iteration()
        bracket = self.brackets[b]
        while len(bracket.entries) <= r:  # on restore, rungs are rebuilt from the bound history
            bracket.entries.append([])
        rung = bracket.entries[r]
        while len(rung) <= k:
            rung.append(_Entry(proposal.params))
        rung[k] = _Entry(proposal.params, rec_id, proposal.meta.get("parent"))
        bracket.queue = [q for q in bracket.queue if (q.meta["rung"], q.meta["slot"]) != (r, k)]
        self._where[rec_id] = (b, r, k)
        self._seen.add(fingerprint(proposal.params))

    def report(self, feedback: Feedback) -> None:
        if feedback.rec_id not in self._where:
            return
        b, r, k = self._where[feedback.rec_id]
        bracket = self.brackets[b]
        entry = bracket.entries[r][k]
        if feedback.intermediate:
            # Stopping mode: lower rungs are observed in flight; the full budget only by the final result (once).
            at_lower_rung = feedback.epoch in self._rung_epochs and feedback.epoch != self.max_epochs
            if not self.promotion and at_lower_rung and feedback.metric is not None:
                self._obs.setdefault(feedback.epoch, []).append((entry.params, feedback.metric))
            return
        entry.done = True
        entry.metric = feedback.metric if feedback.status is RecStatus.SUCCESS else None
        at_rung = feedback.epoch == (bracket.rungs[r].epochs if self.promotion else self.max_epochs)
        if entry.metric is not None and at_rung:
            self._obs.setdefault(feedback.epoch, []).append((entry.params, entry.metric))
        if self.promotion:
            self._promote(bracket)

    def _promote(self, bracket: _Bracket) -> None:
        """When a rung is finished, queue its best ``n_{i+1}`` for the next rung."""
        current = bracket.entries[-1]
        i = bracket.rung
        if i + 1 >= len(bracket.rungs) or not all(e.done for e in current):
            return
        if i == 0 and len(current) < bracket.rungs[0].n:
            return  # on restore rung 0 fills as its recommendations are replayed
        ranked = sorted((e for e in current if e.ok), key=lambda e: e.metric, reverse=self.direction == "maximize")
        survivors = ranked[: bracket.rungs[i + 1].n]
        if not survivors:
            return
        budget = bracket.rungs[i + 1].epochs
        bracket.entries.append([_Entry(e.params, parent=e.rec_id) for e in survivors])
        for k, e in enumerate(survivors):
            note = f"promote rec {e.rec_id} ({e.metric:.5g} at {bracket.rungs[i].epochs} epochs)"
            bracket.queue.append(self._proposal(bracket, i + 1, k, e.params, budget, e.rec_id, note))

    def should_stop(self, rec_id: int, epoch: int, metric: float) -> bool:
        if self.promotion or rec_id not in self._where:
            return False
        bracket = self.brackets[self._where[rec_id][0]]
        for i, rung in enumerate(bracket.rungs[:-1]):
            if rung.epochs == epoch:
                seen = bracket.stop_obs.setdefault(i, [])
                seen.append(metric)
                fraction = bracket.rungs[i + 1].n / rung.n
                if len(seen) < round(1 / fraction):
                    return False  # too few observations at this rung to judge
                return not in_top_fraction(metric, seen, fraction, self.direction)
        return False

    def done(self) -> bool:
        return not self._repeats and all(b.complete(self.promotion) for b in self.brackets)

    def retained(self) -> set[int] | None:
        """Only configurations that may still be promoted keep their checkpoints."""
        if not self.promotion:
            return set()
        keep: set[int] = set()
        for bracket in self.brackets:
            if bracket.entries and not bracket.complete(True):
                current = bracket.entries[-1]
                if bracket.rung < len(bracket.rungs) - 1:
                    keep |= {e.rec_id for e in current if e.rec_id is not None}
                keep |= {e.parent for e in current if e.parent is not None}  # promotions not launched yet
        return keep

    def restore(self, history: list[tuple[Any, ...]]) -> None:
        """Rebuild brackets from the proposals' meta, then replay results in launch order."""
        self._reset()
        self._rng = random.Random(f"{self.seed}:{len(history)}")
        super().restore(history)
        for bracket in self.brackets:
            if bracket.entries:
                self._fill_first_rung(bracket)
                if self.promotion:
                    self._promote(bracket)
