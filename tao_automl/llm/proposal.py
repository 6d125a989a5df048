"""Check an LLM's configuration against the search space: reject what cannot be meant, clamp the rest.

Unknown parameter names are rejected (a misspelt key silently dropped would train something the
model never proposed). A number outside its range is clamped to the nearest bound and the clamp
is reported, so the brain log shows how far off the model was. Options must be one of the listed
values (a case-insensitive string match is accepted). Missing parameters take the reference
configuration's value (the current best, else the defaults) and are reported as filled.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from tao_automl.space import Param, ParamType, SearchSpace


class ProposalError(ValueError):
    """The answer cannot be turned into a configuration; the message is sent back to the model."""


@dataclass
class Checked:
    """A configuration inside the space and what had to be changed to get there."""

    params: dict[str, Any]
    clamped: list[dict[str, Any]] = field(default_factory=list)
    filled: list[str] = field(default_factory=list)


def _number(p: Param, raw: Any) -> float:
    if isinstance(raw, bool):
        raise ProposalError(f"'{p.name}' must be a number, got {json.dumps(raw)}")
    if isinstance(raw, str):
        try:
            raw = float(raw.strip())
        except ValueError:
            raise ProposalError(f"'{p.name}' must be a number, got {json.dumps(raw)}") from None
    if not isinstance(raw, int | float) or not math.isfinite(raw):
        raise ProposalError(f"'{p.name}' must be a finite number, got {json.dumps(raw, default=str)}")
    return float(raw)


def _option(p: Param, raw: Any) -> Any:
    if p.contains(raw):
        return raw
    for choice in p.choices:
        if isinstance(choice, str) and isinstance(raw, str) and choice.lower() == raw.strip().lower():
            return choice
        if isinstance(choice, bool) and isinstance(raw, str) and raw.strip().lower() == str(choice).lower():
            return choice
        if isinstance(choice, int | float) and not isinstance(choice, bool) and isinstance(raw, int | float | str):
            try:
                if float(raw) == float(choice):
                    return choice
            except ValueError:
                continue
    options = ", ".join(json.dumps(c) for c in p.choices)
    raise ProposalError(f"'{p.name}' must be one of [{options}], got {json.dumps(raw, default=str)}")


def check_value(p: Param, raw: Any) -> tuple[Any, dict[str, Any] | None]:
    """``(value inside p, clamp record or None)``; raises ProposalError for unusable values."""
    if p.choices:
        return _option(p, raw), None
    x = _number(p, raw)
    low, high = float(p.low), float(p.high)
    clamp = None
    if x < low or x > high:
        bound = low if x < low else high
        clamp = {"param": p.name, "proposed": raw, "clamped_to": bound, "bound": "low" if x < low else "high"}
        x = bound
    if p.type is ParamType.INT:
        step = p.step or 1
        snapped = int(low) + round((x - low) / step) * step
        snapped = int(min(max(snapped, low), high))
        if clamp is None and snapped != x:
            clamp = {"param": p.name, "proposed": raw, "clamped_to": snapped, "bound": "step"}
        return snapped, clamp
    return x, clamp


def check_params(space: SearchSpace, raw: Any, reference: dict[str, Any], *, partial: bool = False) -> Checked:
    """Validate ``raw`` (name -> value) against ``space``.

    Args:
        reference: values for parameters the answer leaves out (and the base of a partial answer).
        partial: the answer is a set of modifications, not a whole configuration.
    """
    if not isinstance(raw, dict):
        raise ProposalError(f"expected an object of parameter values, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(space.names))
    if unknown:
        raise ProposalError(f"unknown parameter(s) {unknown}; the parameters are {space.names}")
    if partial and not raw:
        raise ProposalError("no modification given: change at least one parameter")
    out = dict(reference)
    checked = Checked(params=out)
    for p in space:
        if p.name in raw:
            value, clamp = check_value(p, raw[p.name])
            out[p.name] = value
            if clamp:
                checked.clamped.append(clamp)
        elif not partial:
            checked.filled.append(p.name)
    repaired = space.repair(out)
    for name, value in repaired.items():
        if out.get(name) != value:
            checked.clamped.append(
                {"param": name, "proposed": out.get(name), "clamped_to": value, "bound": "depends_on"}
            )
    checked.params = repaired
    return checked
