"""A job in flight, as the runner tracks it between submit and its terminal state.

Its own module so the runner and the baseline/final-evaluation code share it without importing
each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class RunningJob:
    """A job in flight. ``role``: train | baseline_train | baseline_eval."""

    rec_id: int
    role: str
    name: str
    job_id: str
    job_dir: Path
    started: float
    stop_requested: str | None = None
    stop_epoch: int | None = None
