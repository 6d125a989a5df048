"""One neutral search-space description, translated by each peer adapter for its own library."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Dim:
    """One hyperparameter: ``float``/``int`` in [low, high] (optionally log scale) or ``ordinal`` choices."""

    name: str
    kind: Literal["float", "int", "ordinal"]
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple[Any, ...] = ()

    def sample(self, rng: random.Random) -> Any:
        if self.kind == "ordinal":
            return rng.choice(self.choices)
        u = rng.random()
        return self.from_unit(u)

    def from_unit(self, u: float) -> Any:
        """Value at position ``u`` in [0, 1] (log-aware; ordinal by index)."""
        u = min(max(u, 0.0), 1.0)
        if self.kind == "ordinal":
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        if self.log:
            x = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            x = self.low + u * (self.high - self.low)
        return round(min(max(x, self.low), self.high)) if self.kind == "int" else float(x)

    def default(self) -> Any:
        """The centre of the range (geometric for log scales): the value a skill schema shows as default."""
        return self.from_unit(0.5)


Space = tuple[Dim, ...]


def sample_config(space: Space, rng: random.Random) -> dict[str, Any]:
    return {d.name: d.sample(rng) for d in space}
