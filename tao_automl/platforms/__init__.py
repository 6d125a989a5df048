"""Execution platforms behind one contract, found by discovery: adding a platform is adding a file.

Every module of this package is imported once and each concrete ``Platform`` subclass defined
in it is registered under its ``name``; other packages add platforms through the entry-point
group ``tao_automl.platforms``.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
import pkgutil
from functools import cache
from importlib.metadata import entry_points

from tao_automl.errors import PlatformError
from tao_automl.platforms.base import JobRequest, JobState, JobStatus, Platform, PythonScript
from tao_automl.platforms.failures import FailureAnalysis, FailureCategory
from tao_automl.platforms.sdk_adapter import CREATE_METHODS, REQUIRED_METHODS, SdkPlatform

__all__ = [
    "ENTRY_POINT_GROUP",
    "FailureAnalysis",
    "FailureCategory",
    "JobRequest",
    "JobState",
    "JobStatus",
    "Platform",
    "PythonScript",
    "as_platform",
    "available_platforms",
    "get_platform",
    "platform_class",
]

ENTRY_POINT_GROUP = "tao_automl.platforms"
# Modules that hold no platform (the supervisor is a standalone script run as a file).
_NOT_PLATFORMS = frozenset({"base", "failures", "local_supervisor"})

logger = logging.getLogger(__name__)


def _subclasses(cls: type[Platform]) -> list[type[Platform]]:
    found: list[type[Platform]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _add(registry: dict[str, type[Platform]], name: str, cls: type[Platform], origin: str) -> None:
    if name in registry and registry[name] is not cls:
        logger.warning("platform %r from %s ignored: already provided by %s", name, origin, registry[name])
        return
    registry[name] = cls


@cache
def _registry() -> dict[str, type[Platform]]:
    """Name -> class for every platform in this package and in installed entry points."""
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name in _NOT_PLATFORMS:
            continue
        try:
            importlib.import_module(f"{__name__}.{info.name}")
        except Exception as exc:  # noqa: BLE001 - one broken or optional platform must not hide the others
            logger.warning("platform module %s.%s not loaded: %s", __name__, info.name, exc)
    registry: dict[str, type[Platform]] = {}
    for cls in _subclasses(Platform):
        name = cls.__dict__.get("name")
        if isinstance(name, str) and not inspect.isabstract(cls) and cls.__module__.startswith(f"{__name__}."):
            _add(registry, name, cls, cls.__module__)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin is logged and skipped, never fatal
            logger.warning("platform entry point %r not loaded: %s", ep.name, exc)
            continue
        if isinstance(cls, type) and issubclass(cls, Platform) and not inspect.isabstract(cls):
            _add(registry, ep.name, cls, f"entry point {ep.value}")
        else:
            logger.warning("platform entry point %r is not a concrete Platform subclass", ep.name)
    return registry


def available_platforms() -> list[str]:
    """Sorted names accepted by ``get_platform``."""
    return sorted(_registry())


def _construct(cls: type[Platform], options: dict[str, object]) -> Platform:
    """Instantiate ``cls``, naming any option it does not accept instead of a bare TypeError."""
    params = inspect.signature(cls.__init__).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        accepted = [n for n, p in params.items() if n != "self" and p.kind is not inspect.Parameter.VAR_POSITIONAL]
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise PlatformError(
                f"platform {getattr(cls, 'name', cls.__name__)!r} does not accept option(s) {', '.join(unknown)}",
                field="platform_options",
                hint=f"accepted options: {', '.join(accepted) or 'none'}",
            )
    return cls(**options)


def get_platform(name: str, **options: object) -> Platform:
    """A new platform instance by registered name.

    Raises:
        PlatformError: the name is unknown (with a "did you mean" hint) or an option is not accepted.
    """
    return _construct(platform_class(name), options)


def platform_class(name: str) -> type[Platform]:
    """The registered class of a platform name (what it would run, before any instance exists)."""
    registry = _registry()
    key = str(name).strip().lower()
    if key not in registry:
        names = sorted(registry)
        close = difflib.get_close_matches(key, names, n=1)
        raise PlatformError(
            f"unknown platform {name!r}; available: {', '.join(names)}",
            field="platform",
            hint=f"did you mean {close[0]!r}?" if close else f"use one of: {', '.join(names)}",
        )
    return registry[key]


def as_platform(obj: object, **options: object) -> Platform:
    """Whatever the caller handed the runner, as a Platform.

    Args:
        obj: A Platform instance (returned as is), a Platform subclass, a registered platform
            name, or a duck-typed SDK object with ``create_job``/``get_job_status``/
            ``get_job_logs``/``cancel_job`` (wrapped in ``SdkPlatform``).
        **options: Options for the platform being built; not allowed with an instance.
    """
    if isinstance(obj, Platform):
        if options:
            raise PlatformError(
                f"options {', '.join(sorted(options))} cannot be applied to an existing platform instance",
                field="platform_options",
            )
        return obj
    if isinstance(obj, type) and issubclass(obj, Platform):
        return _construct(obj, options)
    if isinstance(obj, str):
        return get_platform(obj, **options)
    if obj is not None and any(callable(getattr(obj, m, None)) for m in (*CREATE_METHODS, *REQUIRED_METHODS)):
        return SdkPlatform(obj, **options)  # type: ignore[arg-type]
    raise PlatformError(
        f"cannot use a {type(obj).__name__} as a platform",
        field="platform",
        hint=f"pass a Platform instance, a platform name ({', '.join(available_platforms())}), "
        f"or an SDK object with {' or '.join(CREATE_METHODS)}, {', '.join(REQUIRED_METHODS)} "
        "(a tao_sdk.platforms SDK)",
    )
