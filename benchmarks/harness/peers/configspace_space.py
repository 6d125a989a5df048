"""The neutral space as a ConfigSpace (used by DEHB, hpbandster and SMAC)."""

from __future__ import annotations

from typing import Any

import ConfigSpace as CS

from benchmarks.harness.space import Space


def to_configspace(space: Space, seed: int, *, ordinal_as_index: bool = False) -> CS.ConfigurationSpace:
    """``ordinal_as_index``: an ordinal becomes an integer index into its choices (for hpbandster's BOHB,
    whose KDE refuses ordinal hyperparameters; an ordered integer keeps the same order)."""
    cs = CS.ConfigurationSpace(seed=seed)
    for d in space:
        if d.kind == "ordinal" and ordinal_as_index:
            cs.add(CS.UniformIntegerHyperparameter(d.name, 0, len(d.choices) - 1))
        elif d.kind == "ordinal":
            cs.add(CS.OrdinalHyperparameter(d.name, list(d.choices)))
        elif d.kind == "int":
            cs.add(CS.UniformIntegerHyperparameter(d.name, int(d.low), int(d.high), log=d.log))
        else:
            cs.add(CS.UniformFloatHyperparameter(d.name, d.low, d.high, log=d.log))
    return cs


def to_config(space: Space, configuration: Any, *, ordinal_as_index: bool = False) -> dict[str, Any]:
    values = dict(configuration)
    return {
        d.name: d.choices[int(values[d.name])] if d.kind == "ordinal" and ordinal_as_index else values[d.name]
        for d in space
    }
