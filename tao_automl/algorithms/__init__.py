"""Search algorithms behind one ask/tell interface, found by name.

Adding an algorithm is adding one module to this package that defines an :class:`Algorithm`
subclass with a ``name``; third-party packages can register through the
``tao_automl.algorithms`` entry-point group.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from importlib.metadata import entry_points
from typing import Any

from tao_automl.algorithms.base import Algorithm, Feedback, Proposal, RecStatus, fingerprint
from tao_automl.errors import ConfigurationError

__all__ = [
    "Algorithm",
    "Feedback",
    "Proposal",
    "RecStatus",
    "available_algorithms",
    "fingerprint",
    "get_algorithm_class",
    "make_algorithm",
]


def _registry() -> dict[str, type[Algorithm]]:
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    found: dict[str, type[Algorithm]] = {}
    stack = list(Algorithm.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if getattr(cls, "name", None) and not getattr(cls, "__abstractmethods__", None):
            found[cls.name] = cls
    for ep in entry_points(group="tao_automl.algorithms"):
        found.setdefault(ep.name, ep.load())
    return found


def available_algorithms() -> list[str]:
    return sorted(_registry())


def get_algorithm_class(name: str) -> type[Algorithm]:
    """The class registered under ``name``; unknown names get a "did you mean" error."""
    registry = _registry()
    if name not in registry:
        close = difflib.get_close_matches(name, registry, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"available: {', '.join(sorted(registry))}"
        raise ConfigurationError(f"unknown algorithm '{name}'", field="automl_algorithm", hint=hint)
    return registry[name]


def make_algorithm(name: str, space: Any, **kwargs: Any) -> Algorithm:
    return get_algorithm_class(name)(space, **kwargs)
