"""Random search: the floor every other algorithm must beat."""

from __future__ import annotations

import random
from typing import Any

from tao_automl.algorithms.base import Algorithm, Feedback, Proposal, fingerprint


class RandomSearch(Algorithm):
    """Independent draws from the prior (log scales and option weights respected), no repeats."""

    name = "random"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rng = random.Random(self.seed)
        self._seen: set[str] = set()

    def propose(self, n: int) -> list[Proposal]:
        out = []
        for _ in range(n):
            params = self.space.sample(self._rng)
            for _retry in range(20):
                if fingerprint(params) not in self._seen:
                    break
                params = self.space.sample(self._rng)
            self._seen.add(fingerprint(params))
            out.append(Proposal(params=params, note="random draw"))
        return out

    def bind(self, rec_id: int, proposal: Proposal) -> None:
        self._seen.add(fingerprint(proposal.params))

    def report(self, feedback: Feedback) -> None:
        """Random search learns nothing from results."""

    def restore(self, history: list[tuple[Any, ...]]) -> None:
        super().restore(history)
        self._rng = random.Random(f"{self.seed}:{len(history)}")
