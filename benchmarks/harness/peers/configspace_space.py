"""The neutral space as a ConfigSpace (used by DEHB, hpbandster and SMAC)."""

from __future__ import annotations

from typing import Any

import ConfigSpace as CS

from benchmarks.harness.space import Space


def to_configspace(space: Space, seed: int) -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace(seed=seed)
    for d in space:
        if d.kind == "ordinal":
            cs.add(CS.OrdinalHyperparameter(d.name, list(d.choices)))
        elif d.kind == "int":
            cs.add(CS.UniformIntegerHyperparameter(d.name, int(d.low), int(d.high), log=d.log))
        else:
            cs.add(CS.UniformFloatHyperparameter(d.name, d.low, d.high, log=d.log))
    return cs


def to_config(space: Space, configuration: Any) -> dict[str, Any]:
    values = dict(configuration)
    return {d.name: values[d.name] for d in space}
