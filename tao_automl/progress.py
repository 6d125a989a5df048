"""Progress of a long run for the CLI: recommendations done/total, jobs running, best so far, ETA.

One :class:`ProgressState` follows the runner's events; it is shown as a live rich table on a
terminal, as one plain line per event otherwise, or as JSON lines for scripts (``--json``).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table


def _describe_range(param: dict[str, Any]) -> str:
    if "choices" in param:
        return f"{param['type']} {list(param['choices'])}"
    scale = " log" if param.get("log") else ""
    step = f" step {param['step']}" if param.get("step") else ""
    return (
        f"{param['type']} [{param.get('low', 0):g}, {param.get('high', 0):g}]{scale}{step} (default {param['default']})"
    )


class ProgressState:
    """Counts kept from runner events; ``update`` is the runner-listener signature."""

    def __init__(self, total: int = 0, metric: str = "metric", direction: str = "maximize") -> None:
        self.total = total
        self.metric = metric
        self.direction = direction
        self.max_concurrent = 1
        self.done = 0
        self.running: set[int] = set()
        self.best: tuple[float, int] | None = None
        self.started = time.time()
        self.durations: list[float] = []

    def update(self, event: str, data: dict[str, Any]) -> None:
        if event == "started":
            self.total, self.metric, self.direction = data["total"], data["metric"], data["direction"]
            self.max_concurrent = max(1, int(data.get("max_concurrent") or 1))
            self.done = data.get("completed", 0)
        elif event == "submitted" and data.get("role") == "train":
            self.running.add(data["rec_id"])
        elif event == "result":
            rec = data["rec"]
            self.running.discard(rec["rec_id"])
            self.done += 1
            if rec.get("duration_s"):
                self.durations.append(rec["duration_s"])
            metric = rec.get("metric")
            if (
                metric is not None
                and rec.get("status") == "success"
                and (
                    self.best is None
                    or (metric > self.best[0] if self.direction == "maximize" else metric < self.best[0])
                )
            ):
                self.best = (metric, rec["rec_id"])

    def eta(self) -> float | None:
        """Seconds left: mean recommendation time x remaining, over the slots that run at once."""
        if not self.durations or self.done >= self.total:
            return None
        return sum(self.durations) / len(self.durations) * (self.total - self.done) / self.max_concurrent

    def elapsed(self) -> float:
        return time.time() - self.started

    def best_text(self) -> str:
        return "-" if self.best is None else f"{self.best[0]:.5g} (rec {self.best[1]})"


class ProgressDisplay(ProgressState):
    """A runner listener for people: a live table on a terminal, one plain line per event otherwise."""

    def __init__(
        self,
        total: int = 0,
        metric: str = "metric",
        direction: str = "maximize",
        *,
        stream: TextIO | None = None,
        live: bool | None = None,
    ) -> None:
        super().__init__(total, metric, direction)
        self.stream = stream or sys.stderr
        self.console = Console(file=self.stream)
        self.live_mode = self.console.is_terminal if live is None else live
        self._live: Live | None = None

    def __enter__(self) -> ProgressDisplay:
        if self.live_mode:
            self._live = Live(self._table(), console=self.console, refresh_per_second=2, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(*exc)

    def _table(self) -> Table:
        table = Table(title="AutoML progress", show_header=False)
        eta = self.eta()
        table.add_row("recommendations", f"{self.done}/{self.total}")
        table.add_row("running jobs", str(len(self.running)))
        table.add_row(f"best {self.metric} ({self.direction})", self.best_text())
        table.add_row("elapsed", f"{self.elapsed():.0f}s")
        table.add_row("ETA", "-" if eta is None else f"{eta:.0f}s")
        return table

    def _line(self, text: str) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.console.print(text, markup=False)
        else:
            print(text, file=self.stream, flush=True)

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        self.update(event, data)
        if event == "started":
            self._line(
                f"AutoML: {data['algorithm']} on {data['platform']}, {self.total} recommendations, "
                f"{data['max_concurrent']} at a time, {self.metric} ({self.direction}); "
                f"workspace {data['workspace']}"
            )
            for param in data.get("parameters", []):
                self._line(f"  search {param['name']}: {_describe_range(param)}")
        elif event == "submitted" and data.get("role") == "train":
            self._line(f"[{self.done}/{self.total}] started rec {data['rec_id']} (job {data['job_id']})")
        elif event == "submitted":
            self._line(f"started {data['role']} (job {data['job_id']})")
        elif event == "result":
            rec = data["rec"]
            metric = rec.get("metric")
            detail = (
                f"{self.metric}={metric:.5g}"
                if metric is not None
                else f"{rec['status']} ({rec.get('failure_class')}: {rec.get('failure_reason')})"
            )
            eta = self.eta()
            self._line(
                f"[{self.done}/{self.total}] rec {rec['rec_id']} {rec['status']}: {detail}; "
                f"best {self.best_text()}; running {len(self.running)}; ETA {'-' if eta is None else f'{eta:.0f}s'}"
            )
        elif event == "final_evaluation":
            record = data["record"]
            self._line(f"final evaluation: {record.get('status')} {record.get('metric_value')}")


class JsonProgress(ProgressState):
    """A runner listener for scripts: one JSON object per line (``{"event": ..., "done": ...}``).

    Only events that change progress are written (started, submitted, result, retry,
    final_evaluation, finished, aborted); per-epoch metrics would flood a pipe.
    """

    EVENTS = ("started", "submitted", "retry", "result", "final_evaluation", "finished", "aborted")

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.stream = stream or sys.stderr

    def __enter__(self) -> JsonProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        self.update(event, data)
        if event not in self.EVENTS:
            return
        line: dict[str, Any] = {
            "event": event,
            "done": self.done,
            "total": self.total,
            "running": len(self.running),
            "best": None if self.best is None else {"metric": self.best[0], "rec_id": self.best[1]},
            "elapsed_s": round(self.elapsed(), 3),
            "eta_s": self.eta(),
        }
        if event == "result":
            rec = data["rec"]
            line.update(rec_id=rec["rec_id"], status=rec["status"], metric=rec.get("metric"),
                        failure_class=rec.get("failure_class"))  # fmt: skip
        elif event in ("submitted", "retry"):
            line.update(rec_id=data.get("rec_id"), role=data.get("role", "train"), job_id=data.get("job_id"))
        elif event == "final_evaluation":
            record = data.get("record") or {}
            line.update(status=record.get("status"), metric=record.get("metric_value"))
        elif event == "aborted":
            line.update(state=data.get("state"), reason=data.get("reason"))
        print(json.dumps(line, default=str), file=self.stream, flush=True)


def progress_for(*, quiet: bool, json_lines: bool) -> ProgressDisplay | JsonProgress | None:
    """The CLI's progress listener: JSON lines on stderr for ``--json``, none for ``--quiet``."""
    if json_lines:
        return JsonProgress()
    if quiet:
        return None
    return ProgressDisplay()
