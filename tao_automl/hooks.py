"""Calling the caller's hooks (eval_fn, final_eval_fn, baseline_fn, observers) the way they were written.

Published hooks take different numbers of arguments and return a number or a dict; this is the one
place that adapts to both.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from tao_automl.metrics import as_metric


def call_hook(fn: Callable[..., Any] | None, *args: Any) -> Any:
    """Call a user hook with as many of ``args`` as its signature accepts."""
    if fn is None:
        return None
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return fn(*args)
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return fn(*args)
    n = sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    return fn(*args[:n])


def metric_from_hook(value: Any) -> tuple[float | None, dict[str, Any]]:
    """A hook may return a number or ``{"metric_value": ..., **metadata}``."""
    if isinstance(value, dict):
        meta = {k: v for k, v in value.items() if k != "metric_value"}
        return as_metric(value.get("metric_value")), meta
    return as_metric(value), {}
