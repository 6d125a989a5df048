"""Metric resolution: where a job's metric comes from, in order of trust.

1. ``eval_fn(rec, train_job_id)`` (the caller's own evaluator) - handled by the runner;
2. ``metric_extractor(logs, metric_name)`` (the caller's own log parser);
3. result files under the job's results dir: TAO's ``status.json`` (JSON lines with ``kpi``),
   ``metrics.json``, ``best_score.json``;
4. the latest ``<metric>[:=]<number>`` in the logs.

NaN, infinities and booleans are never accepted as metric values.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RESULT_FILES = ("metrics.json", "best_score.json")
_EPOCH_RE = re.compile(r"\bepoch\s*[:=]?\s*(\d+)", re.IGNORECASE)


def as_metric(value: Any) -> float | None:
    """A finite float, or None for anything that is not a usable metric (bool, NaN, inf, text)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class MetricReading:
    value: float
    source: str
    epoch: int | None = None


def comparison(
    value: float | None, reference: float | None, direction: Literal["maximize", "minimize"]
) -> dict[str, Any] | None:
    """``{delta, improved, direction}`` where delta > 0 always means better in ``direction``."""
    if value is None or reference is None:
        return None
    delta = value - reference if direction == "maximize" else reference - value
    return {"delta": delta, "improved": delta > 0, "direction": direction}


class MetricResolver:
    """Reads one named metric from a finished (or running) job's results and logs."""

    def __init__(self, metric: str, extractor: Callable[[str, str], Any] | None = None) -> None:
        self.metric = metric
        self.extractor = extractor
        self._log_re = re.compile(rf"(?<![\w.]){re.escape(metric)}\s*[:=]\s*({_NUMBER})")

    def from_status_json(self, text: str) -> list[tuple[int | None, float]]:
        """``(epoch, value)`` for every status.json line whose ``kpi`` holds the metric."""
        out: list[tuple[int | None, float]] = []
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not isinstance(entry, dict):
                continue
            kpi = entry.get("kpi")
            if isinstance(kpi, dict) and (value := as_metric(kpi.get(self.metric))) is not None:
                epoch = entry.get("epoch")
                out.append((epoch if isinstance(epoch, int) else None, value))
        return out

    def from_results_dir(self, results_dir: Path) -> MetricReading | None:
        """Newest reading from result files under ``results_dir`` (searched recursively)."""
        if not results_dir.is_dir():
            return None
        status_files = sorted(results_dir.rglob("status.json"), key=lambda p: p.stat().st_mtime)
        for path in reversed(status_files):
            readings = self.from_status_json(path.read_text(encoding="utf-8", errors="replace"))
            if readings:
                epoch, value = readings[-1]
                return MetricReading(value, f"status.json:{path.relative_to(results_dir)}", epoch)
        for name in _RESULT_FILES:
            for path in sorted(results_dir.rglob(name), key=lambda p: p.stat().st_mtime, reverse=True):
                try:
                    data = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if not isinstance(data, dict):
                    continue
                value = as_metric(data.get(self.metric))
                if value is None and name == "best_score.json":
                    value = as_metric(data.get("best_score"))
                if value is not None:
                    epoch = data.get("epoch")
                    return MetricReading(
                        value, f"{name}:{path.relative_to(results_dir)}", epoch if isinstance(epoch, int) else None
                    )
        return None

    def from_logs(self, logs: str) -> MetricReading | None:
        """The latest ``<metric>=<number>`` / ``<metric>: <number>`` in the log text."""
        for match in reversed(list(self._log_re.finditer(logs))):
            value = as_metric(match.group(1))
            if value is not None:
                return MetricReading(value, "log")
        return None

    def epochs_from_logs(self, logs: str) -> list[tuple[int | None, float]]:
        """``(epoch, value)`` from log lines that name an epoch and the metric (``epoch 3/10 ... acc=0.9``)."""
        out: list[tuple[int | None, float]] = []
        for line in logs.splitlines():
            epoch = _EPOCH_RE.search(line)
            match = self._log_re.search(line)
            if epoch and match and (value := as_metric(match.group(1))) is not None:
                out.append((int(epoch.group(1)), value))
        return out

    def resolve(self, results_dir: Path | None, logs: str) -> MetricReading | None:
        """Extractor > result files > log lines; None when no usable value exists."""
        if self.extractor is not None:
            value = as_metric(self.extractor(logs, self.metric))
            if value is not None:
                return MetricReading(value, "metric_extractor")
        if results_dir is not None and (reading := self.from_results_dir(results_dir)):
            return reading
        return self.from_logs(logs)

    def seen_keys(self, results_dir: Path | None) -> list[str]:
        """Metric names the job did report, for a helpful error when ours is missing."""
        keys: set[str] = set()
        if results_dir is not None and results_dir.is_dir():
            for path in results_dir.rglob("status.json"):
                for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]:
                    try:
                        kpi = json.loads(line).get("kpi")
                    except (ValueError, AttributeError):
                        continue
                    if isinstance(kpi, dict):
                        keys.update(kpi)
        return sorted(keys)
