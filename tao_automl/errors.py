"""Errors the user sees: each names the field at fault and how to fix it."""

from __future__ import annotations


class AutoMLError(Exception):
    """Base error. ``field`` names the offending input; ``hint`` says how to fix it."""

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        self.message = message
        self.field = field
        self.hint = hint
        text = message if field is None else f"{field}: {message}"
        if hint:
            text = f"{text} (hint: {hint})"
        super().__init__(text)

    def to_dict(self) -> dict[str, str | None]:
        return {"error": type(self).__name__, "message": self.message, "field": self.field, "hint": self.hint}


class ConfigurationError(AutoMLError):
    """Bad settings, overrides, ranges or arguments given by the caller."""


class SkillError(AutoMLError):
    """A model or platform skill is missing, unparseable or does not support AutoML."""


class PlatformError(AutoMLError):
    """A platform could not be found, reached, or could not run a job."""


class NoSuccessfulRecommendationError(AutoMLError):
    """Every recommendation failed: no best configuration exists."""


class MetricMissingError(AutoMLError):
    """Too many successful jobs in a row reported no metric: the metric name or extractor is wrong."""
