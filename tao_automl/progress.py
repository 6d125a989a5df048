"""Live progress for long runs: a rich table on a terminal, one plain line per event otherwise."""

from __future__ import annotations

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


class ProgressDisplay:
    """A runner listener showing recommendations done/total, running jobs, best so far and ETA."""

    def __init__(
        self,
        total: int = 0,
        metric: str = "metric",
        direction: str = "maximize",
        *,
        stream: TextIO | None = None,
        live: bool | None = None,
    ) -> None:
        self.total = total
        self.metric = metric
        self.direction = direction
        self.stream = stream or sys.stderr
        self.console = Console(file=self.stream)
        self.live_mode = self.console.is_terminal if live is None else live
        self.done = 0
        self.running: set[int] = set()
        self.best: tuple[float, int] | None = None
        self.started = time.time()
        self.durations: list[float] = []
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

    def eta(self) -> float | None:
        if not self.durations or self.done >= self.total:
            return None
        slots = max(1, len(self.running))
        return sum(self.durations) / len(self.durations) * (self.total - self.done) / slots

    def _best_text(self) -> str:
        return "-" if self.best is None else f"{self.best[0]:.5g} (rec {self.best[1]})"

    def _table(self) -> Table:
        table = Table(title="AutoML progress", show_header=False)
        eta = self.eta()
        table.add_row("recommendations", f"{self.done}/{self.total}")
        table.add_row("running jobs", str(len(self.running)))
        table.add_row(f"best {self.metric} ({self.direction})", self._best_text())
        table.add_row("elapsed", f"{time.time() - self.started:.0f}s")
        table.add_row("ETA", "-" if eta is None else f"{eta:.0f}s")
        return table

    def _line(self, text: str) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.console.print(text)
        else:
            print(text, file=self.stream, flush=True)

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        if event == "started":
            self.total, self.metric, self.direction = data["total"], data["metric"], data["direction"]
            self.done = data.get("completed", 0)
            self._line(
                f"AutoML: {data['algorithm']} on {data['platform']}, {self.total} recommendations, "
                f"{data['max_concurrent']} at a time, {self.metric} ({self.direction}); "
                f"workspace {data['workspace']}"
            )
            for param in data.get("parameters", []):
                self._line(f"  search {param['name']}: {_describe_range(param)}")
        elif event == "submitted" and data.get("role") == "train":
            self.running.add(data["rec_id"])
            self._line(f"[{self.done}/{self.total}] started rec {data['rec_id']} (job {data['job_id']})")
        elif event == "submitted":
            self._line(f"started {data['role']} (job {data['job_id']})")
        elif event == "result":
            rec = data["rec"]
            self.running.discard(rec["rec_id"])
            self.done += 1
            if rec.get("duration_s"):
                self.durations.append(rec["duration_s"])
            metric = rec.get("metric")
            if metric is not None and (
                self.best is None or (metric > self.best[0] if self.direction == "maximize" else metric < self.best[0])
            ):
                self.best = (metric, rec["rec_id"])
            detail = (
                f"{self.metric}={metric:.5g}"
                if metric is not None
                else f"{rec['status']} ({rec.get('failure_class')}: {rec.get('failure_reason')})"
            )
            self._line(
                f"[{self.done}/{self.total}] rec {rec['rec_id']} {rec['status']}: {detail}; "
                f"best {self._best_text()}; running {len(self.running)}"
            )
        elif event == "final_evaluation":
            record = data["record"]
            self._line(f"final evaluation: {record.get('status')} {record.get('metric_value')}")
