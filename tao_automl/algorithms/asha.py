"""ASHA: asynchronous successive halving (Li et al., 2020).

Rungs ``r0 * eta**k`` up to R. Whenever a slot is free, the most advanced promotable
configuration is promoted (it is in the top ``1/eta`` of its rung and has not been promoted yet);
otherwise a new configuration starts at the bottom rung. No slot ever waits for a rung to fill.
Without resumable checkpoints (*stopping* mode) every configuration starts at R and is cancelled
at a rung boundary when it is not in the top ``1/eta`` of what that rung has seen.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tao_automl.algorithms.base import Algorithm, Feedback, Proposal, RecStatus, fingerprint
from tao_automl.algorithms.rungs import asha_rungs, in_top_fraction


@dataclass
class _Result:
    rec_id: int
    params: dict[str, Any]
    rung: int
    metric: float | None = None
    done: bool = False
    promoted: bool = False


class ASHA(Algorithm):
    """Asynchronous successive halving over epochs (``automl_max_epochs``, ``automl_reduction_factor``)."""

    name = "asha"
    budget_settings = (
        "automl_max_recommendations",
        "automl_max_epochs",
        "automl_min_epochs",
        "automl_reduction_factor",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        s = self.settings
        self.eta = s.automl_reduction_factor
        self.rungs = asha_rungs(s.automl_max_epochs, self.eta, s.automl_min_epochs)
        self.promotion = self.resumable and s.automl_rung_mode != "stopping"
        self._rng = random.Random(self.seed)
        self._reset()

    def _reset(self) -> None:
        self.results: dict[int, _Result] = {}
        self.stop_obs: dict[int, list[float]] = {}
        self._seen: set[str] = set()

    def _finished(self, rung: int) -> list[_Result]:
        return [r for r in self.results.values() if r.rung == rung and r.done and r.metric is not None]

    def _promotable(self) -> _Result | None:
        """The best not-yet-promoted result in the top 1/eta of the highest rung that has one."""
        for rung in range(len(self.rungs) - 2, -1, -1):
            finished = self._finished(rung)
            k = len(finished) // self.eta
            ranked = sorted(finished, key=lambda r: r.metric, reverse=self.direction == "maximize")[:k]
            for result in ranked:
                if not result.promoted:
                    return result
        return None

    def propose(self, n: int) -> list[Proposal]:
        out = []
        for _ in range(n):
            parent = self._promotable() if self.promotion else None
            if parent is not None:
                parent.promoted = True
                rung = parent.rung + 1
                note = f"promote rec {parent.rec_id} ({parent.metric:.5g} at {self.rungs[parent.rung]} epochs)"
                out.append(self._proposal(parent.params, rung, parent.rec_id, note))
                continue
            params = self.space.sample(self._rng)
            for _retry in range(20):
                if fingerprint(params) not in self._seen:
                    break
                params = self.space.sample(self._rng)
            self._seen.add(fingerprint(params))
            out.append(self._proposal(params, 0, None, "new configuration"))
        return out

    def _proposal(self, params: dict[str, Any], rung: int, parent: int | None, note: str) -> Proposal:
        budget = self.rungs[rung] if self.promotion else self.rungs[-1]
        return Proposal(
            params=params,
            budget=budget,
            resume_from=parent,
            note=f"rung {rung} ({budget} epochs): {note}",
            meta={"rung": rung, "parent": parent},
        )

    def bind(self, rec_id: int, proposal: Proposal) -> None:
        self.results[rec_id] = _Result(rec_id, proposal.params, proposal.meta.get("rung", 0))
        parent = proposal.meta.get("parent")
        if parent in self.results:
            self.results[parent].promoted = True
        self._seen.add(fingerprint(proposal.params))

    def report(self, feedback: Feedback) -> None:
        result = self.results.get(feedback.rec_id)
        if result is None or feedback.intermediate:
            return
        result.done = True
        result.metric = feedback.metric if feedback.status is RecStatus.SUCCESS else None

    def should_stop(self, rec_id: int, epoch: int, metric: float) -> bool:
        if self.promotion or epoch not in self.rungs[:-1]:
            return False
        seen = self.stop_obs.setdefault(epoch, [])
        seen.append(metric)
        if len(seen) < self.eta:
            return False  # too few observations at this rung to judge
        return not in_top_fraction(metric, seen, 1 / self.eta, self.direction)

    def retained(self) -> set[int] | None:
        """Finished results that could still be promoted keep their checkpoints; nothing else does."""
        if not self.promotion:
            return set()
        return {r.rec_id for r in self.results.values() if r.rung < len(self.rungs) - 1 and not r.promoted}

    def restore(self, history: list[tuple[Any, ...]]) -> None:
        self._reset()
        self._rng = random.Random(f"{self.seed}:{len(history)}")
        super().restore(history)
        if not self.promotion:
            for _rec_id, _proposal, _final, *rest in history:
                for item in rest[0] if rest else ():
                    if item.epoch in self.rungs[:-1] and item.metric is not None:
                        self.stop_obs.setdefault(item.epoch, []).append(item.metric)
