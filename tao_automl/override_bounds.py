"""Spec override values checked against the train schema's validity bounds before any job starts.

A value the schema rules out (``train.num_epochs: 0`` where the schema says 1..100) would otherwise
pass every gate and fail, or silently misbehave, in each of the run's jobs. TAO schemas are not
plain JSON Schema (``float``/``collection`` types, ``math_cond`` strings), so jsonschema cannot
check them; the bounds come from :func:`tao_automl.space.validity_bounds`, which the search space
uses too.
"""

from __future__ import annotations

import math
from typing import Any

from tao_automl.errors import ConfigurationError
from tao_automl.space import find_leaf, interval_text, resolve_leaf, validity_bounds
from tao_automl.spec import expand_dotted, flatten

_NUMBER_TYPES = {"float", "number", "int", "integer"}
_INT_TYPES = {"int", "integer"}


def _number_problem(value: int | float, leaf: dict[str, Any], kind: str) -> str | None:
    if not math.isfinite(value):
        return f"must be finite, got {value!r}"
    if kind in _INT_TYPES and float(value) != int(value):
        return f"must be an integer, got {value!r}"
    bounds = validity_bounds(leaf)
    lo, hi, exclusive_low, exclusive_high = bounds
    below = value < lo or (exclusive_low and value == lo)
    above = value > hi or (exclusive_high and value == hi)
    if below or above:
        return f"{value!r} is outside the schema's range {interval_text(bounds)}"
    return None


def value_problem(value: Any, leaf: dict[str, Any]) -> str | None:
    """Why ``value`` is invalid for a scalar schema leaf, or None when it is valid (or not checkable)."""
    leaf = resolve_leaf(leaf)
    if value is None or isinstance(value, list | dict):
        return None  # lists and sections: their elements' rules are the skill's, not checked here
    kind = str(leaf.get("type", "")).lower()
    enum = leaf.get("enum")
    if isinstance(enum, list) and enum and kind not in ("list", "array"):
        if not any(type(value) is type(option) and value == option for option in enum) and not (
            kind in _NUMBER_TYPES and isinstance(value, int | float) and value in enum
        ):
            return f"{value!r} is not one of the schema's options {enum}"
        return None
    if kind in _NUMBER_TYPES and isinstance(value, int | float) and not isinstance(value, bool):
        return _number_problem(value, leaf, kind)
    return None  # other types (strings for numbers included): published schemas type too loosely to refuse


def check_override_values(overrides: dict[str, Any], schema: dict[str, Any], field: str = "spec_overrides") -> None:
    """Refuse the first override whose value its schema leaf rules out, naming the key and the valid range."""
    for dotted, value in flatten(expand_dotted(overrides)).items():
        leaf = find_leaf(schema, dotted)
        if leaf is None or (isinstance(leaf.get("properties"), dict) and leaf["properties"]):
            continue  # free-form or template-only keys: nothing declared to check against
        problem = value_problem(value, leaf)
        if problem:
            default = resolve_leaf(leaf).get("default")
            raise ConfigurationError(
                f"{dotted}: {problem}",
                field=f"{field}.{dotted}",
                hint=f"give {dotted} a value the train schema allows"
                + (f" (its default is {default!r})" if default is not None else ""),
            )
