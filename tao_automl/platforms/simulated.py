"""A simulated platform on a simulated clock, for schedule tests and optimizer benchmarks.

Jobs are not processes: a job's per-epoch metrics come from a learning-curve function and its
duration runs on :class:`SimClock`, so hours of training pass in milliseconds while the runner,
the store and the algorithm run for real (Syne Tune's simulator backend is the model). The
platform still writes what real jobs write - log lines with the epoch and the metric, and one
checkpoint file per epoch - so promotions resume from real checkpoint paths.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tao_automl.platforms.base import JobRequest, JobState, JobStatus, Platform

Curve = Callable[[dict[str, Any], int], float]
_EPOCH_RE = re.compile(r"epoch[_=\-]?(\d+)", re.IGNORECASE)


class SimClock:
    """Simulated time: ``sleep`` advances it instantly."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


def default_curve(params: dict[str, Any], epoch: int) -> float:
    """A deterministic, saturating accuracy curve whose ceiling depends on the configuration."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).digest()
    ceiling = 0.5 + 0.5 * int.from_bytes(digest[:4], "big") / 2**32
    speed = 1.0 + 4.0 * digest[4] / 255
    return ceiling * (1.0 - math.exp(-epoch / speed))


def _flatten(spec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@dataclass
class _SimJob:
    request: JobRequest
    params: dict[str, Any]
    start_epoch: int
    epochs: int
    begin: float
    epoch_seconds: float
    failure: str | None = None
    canceled_at: float | None = None
    eval_value: float | None = None
    written: set[int] = field(default_factory=set)

    def epochs_done(self, now: float) -> int:
        until = now if self.canceled_at is None else min(now, self.canceled_at)
        done = self.start_epoch + int(max(0.0, until - self.begin) // self.epoch_seconds)
        return min(done, self.epochs)

    @property
    def end(self) -> float:
        return self.begin + (self.epochs - self.start_epoch) * self.epoch_seconds


class SimulatedPlatform(Platform):
    """Jobs whose metrics follow ``curve(params, epoch)`` and whose time runs on ``clock``.

    Args:
        curve: metric after ``epoch`` epochs for the job's flattened spec (dotted keys).
        clock: the shared simulated clock (give the same one to the runner).
        metric: metric name written in the log lines.
        epoch_seconds: simulated seconds per epoch, a number or a function of the params.
        startup_seconds: simulated seconds before the first epoch starts (image pull, data loading).
        epochs_key / resume_key: spec keys for the epoch budget and the checkpoint to resume.
        fail: optional ``fail(params) -> message | None``; a message makes the job fail after startup.
    """

    name = "simulated"

    def __init__(
        self,
        curve: Curve | None = None,
        clock: SimClock | None = None,
        metric: str = "metric",
        epoch_seconds: float | Callable[[dict[str, Any]], float] = 60.0,
        startup_seconds: float = 30.0,
        epochs_key: str = "train.num_epochs",
        resume_key: str = "train.resume_training_checkpoint_path",
        fail: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> None:
        super().__init__()
        self.curve = curve or default_curve
        self.clock = clock or SimClock()
        self.metric = metric
        self.epoch_seconds = epoch_seconds
        self.startup_seconds = startup_seconds
        self.epochs_key = epochs_key
        self.resume_key = resume_key
        self.fail = fail
        self.jobs: dict[str, _SimJob] = {}
        self.epochs_trained = 0

    def _submit(self, job: JobRequest) -> str:
        spec = yaml.safe_load(job.spec_path.read_text()) if job.spec_path else {}
        flat = _flatten(spec or {})
        resume = flat.get(self.resume_key) or ""
        match = _EPOCH_RE.search(Path(str(resume)).name) if resume else None
        start_epoch = int(match.group(1)) if match else 0
        epochs = int(flat.get(self.epochs_key) or 1)
        seconds = self.epoch_seconds(flat) if callable(self.epoch_seconds) else self.epoch_seconds
        sim = _SimJob(job, flat, start_epoch, epochs, self.clock.now() + self.startup_seconds, float(seconds))
        if job.action != "train":
            sim = self._evaluation(job, flat)
        else:
            sim.failure = self.fail(flat) if self.fail else None
        self.jobs[job.name] = sim
        return job.name

    def _evaluation(self, job: JobRequest, flat: dict[str, Any]) -> _SimJob:
        """An evaluate job re-measures the checkpoint it is given: the curve at the checkpoint's epoch."""
        checkpoint = next(
            (Path(str(v)) for v in flat.values() if str(v).endswith(".pth") and Path(str(v)).is_file()), None
        )
        sim = _SimJob(job, flat, 0, 0, self.clock.now() + self.startup_seconds, 1.0)
        if checkpoint is None:
            sim.failure = "FileNotFoundError: no checkpoint to evaluate"
            return sim
        saved = json.loads(checkpoint.read_text())
        sim.eval_value = self.curve(saved["params"], int(saved["epoch"]))
        return sim

    def _status(self, job_id: str) -> JobStatus:
        sim = self.jobs.get(job_id)
        if sim is None:
            return JobStatus(state=JobState.UNKNOWN)
        now = self.clock.now()
        self._write_checkpoints(sim, now)
        if sim.canceled_at is not None:
            return JobStatus(state=JobState.CANCELED, message="canceled")
        if now < sim.begin:
            return JobStatus(state=JobState.PENDING)
        if sim.failure:
            return JobStatus(state=JobState.ERROR, exit_code=1, message=sim.failure)
        if now >= sim.end:
            return JobStatus(state=JobState.COMPLETE, exit_code=0)
        return JobStatus(state=JobState.RUNNING)

    def _write_checkpoints(self, sim: _SimJob, now: float) -> None:
        """Materialise checkpoint files for the epochs finished so far (tiny text files)."""
        if sim.failure:
            return
        for epoch in range(sim.start_epoch + 1, sim.epochs_done(now) + 1):
            if epoch not in sim.written:
                sim.request.results_dir.mkdir(parents=True, exist_ok=True)
                path = sim.request.results_dir / f"model_epoch_{epoch:03d}.pth"
                path.write_text(json.dumps({"epoch": epoch, "params": sim.params}, default=str))
                sim.written.add(epoch)
                self.epochs_trained += 1

    def _read_logs(self, job_id: str) -> str:
        sim = self.jobs.get(job_id)
        if sim is None:
            return ""
        now = self.clock.now()
        if sim.failure and now >= sim.begin:
            return f"Traceback (most recent call last):\n{sim.failure}\n"
        if sim.eval_value is not None:
            return f"{self.metric}={sim.eval_value:.6f}\n" if now >= sim.end else ""
        lines = [f"resumed from epoch {sim.start_epoch}"] if sim.start_epoch else []
        for epoch in range(sim.start_epoch + 1, sim.epochs_done(now) + 1):
            value = self.curve(sim.params, epoch)
            lines.append(f"epoch {epoch}/{sim.epochs} {self.metric}={value:.6f}")
        return "".join(line + "\n" for line in lines)

    def _cancel(self, job_id: str) -> None:
        sim = self.jobs.get(job_id)
        if sim is None or sim.canceled_at is not None:
            return
        now = self.clock.now()
        if now < sim.end or sim.failure:
            self._write_checkpoints(sim, now)
            sim.canceled_at = now
