"""Weights & Biases tracking: one W&B run per recommendation plus one ``automl_brain`` run.

Each recommendation's run is grouped by the experiment, holds its hyperparameters as config, its
per-epoch metric as history and its final metric and status in the summary. The ``automl_brain``
run holds the study's settings, a best-so-far curve and, at the end, the ``automl_experiments``
table (one row per recommendation). With no ``WANDB_API_KEY`` in the environment the mode is
``offline``: nothing leaves the machine and ``wandb sync <dir>`` uploads it later. Our code only
checks whether the key is present; wandb itself reads it from the environment.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
from typing import Any

from tao_automl.settings import AutoMLSettings
from tao_automl.tracking.base import Tracker

BRAIN_RUN = "automl_brain"
EXPERIMENTS_TABLE = "automl_experiments"


def resolved_mode(mode: str) -> str:
    """``auto`` is ``online`` only when an API key is present in the environment (presence, never value)."""
    if mode != "auto":
        return mode
    return "online" if "WANDB_API_KEY" in os.environ else "offline"


class WandbTracker(Tracker):
    """Feeds W&B from the runner's events (see :class:`Tracker` for the threading contract)."""

    name = "wandb"

    def __init__(self, settings: AutoMLSettings, run_dir: Path) -> None:
        if importlib.util.find_spec("wandb") is None:
            raise ImportError("the wandb client is not installed")
        self.wandb: Any = None
        self.settings = settings
        self.mode = resolved_mode(settings.wandb_mode)
        self.dir = Path(settings.wandb_dir) if settings.wandb_dir else run_dir / "tracking"
        self.group = settings.wandb_group or settings.experiment_id or run_dir.name
        self.metric = settings.metric or "metric"
        self.direction = settings.direction or "maximize"
        self.brain: Any = None
        self.runs: dict[int, Any] = {}
        self.rows: list[dict[str, Any]] = []
        self.best: float | None = None
        super().__init__()

    # ---------------------------------------------------------------- wandb calls (worker thread)
    def setup(self) -> None:
        # Importing wandb takes a second or two: here the runner's loop does not wait for it.
        self.wandb = importlib.import_module("wandb")
        # wandb's terminal messages (integration hints, sync instructions) follow the *global*
        # settings, not a run's; the user's terminal belongs to our progress output.
        self.wandb.setup(settings=self.wandb.Settings(silent=True))

    def _init(self, name: str, job_type: str, config: dict[str, Any]) -> Any:
        self.dir.mkdir(parents=True, exist_ok=True)
        return self.wandb.init(
            project=self.settings.wandb_project,
            entity=self.settings.wandb_entity,
            group=self.group,
            tags=list(self.settings.wandb_tags),
            name=name,
            job_type=job_type,
            config=config,
            dir=str(self.dir),
            mode=self.mode,
            reinit="create_new",  # concurrent recommendations are concurrent W&B runs
            settings=self.wandb.Settings(
                silent=True,
                console="off",
                x_disable_stats=True,
                x_disable_meta=True,
                disable_git=True,
                save_code=False,
                disable_job_creation=True,
            ),
        )

    def handle(self, event: str, data: dict[str, Any]) -> None:
        getattr(self, f"_on_{event}", lambda _data: None)(data)

    def _on_started(self, data: dict[str, Any]) -> None:
        self.metric, self.direction = data["metric"], data["direction"]
        config = {
            "algorithm": data["algorithm"],
            "platform": data["platform"],
            "metric": self.metric,
            "direction": self.direction,
            "search_space": {p["name"]: p for p in data.get("parameters", [])},
            "settings": self.settings.public_dict(),
        }
        self.brain = self._init(BRAIN_RUN, BRAIN_RUN, config)
        self.brain.define_metric("best_so_far", step_metric="recommendations_done")

    def _on_recommendation(self, data: dict[str, Any]) -> None:
        run = self._init(f"rec-{data['rec_id']:04d}", "recommendation", dict(data["params"]))
        run.define_metric(self.metric, step_metric="epoch")
        run.summary["rec_id"] = data["rec_id"]
        self.runs[data["rec_id"]] = run

    def _on_metric(self, data: dict[str, Any]) -> None:
        run = self.runs.get(data["rec_id"])
        if run is not None:  # the baseline's epochs have no recommendation run
            run.log({"epoch": data["epoch"], self.metric: data["value"]})

    def _on_retry(self, data: dict[str, Any]) -> None:
        run = self.runs.get(data["rec_id"])
        if run is not None:
            run.summary["retries"] = int(run.summary.get("retries", 0)) + 1

    def _on_result(self, data: dict[str, Any]) -> None:
        rec = data["rec"]
        summary = {
            self.metric: rec.get("metric"),
            "status": rec["status"],
            "failure_class": rec.get("failure_class"),
            "failure_reason": rec.get("failure_reason"),
            "budget": rec.get("budget"),
            "epochs_trained": rec.get("epochs_trained"),
            "early_stop_epoch": rec.get("early_stop_epoch"),
            "resume_from": rec.get("resume_from"),
            "duration_s": rec.get("duration_s"),
            "job_id": rec.get("job_id"),
        }
        run = self.runs.pop(rec["rec_id"], None)
        if run is not None:
            run.summary.update({k: v for k, v in summary.items() if v is not None})
            run.finish(exit_code=0 if rec["status"] == "success" else 1)
        metric = rec.get("metric")
        if (
            rec["status"] == "success"
            and metric is not None
            and (self.best is None or (metric > self.best if self.direction == "maximize" else metric < self.best))
        ):
            self.best = metric
        self.rows.append({"rec_id": rec["rec_id"], **summary, **rec.get("params", {})})
        if self.brain is not None:
            point = {"recommendations_done": len(self.rows), "best_so_far": self.best, self.metric: metric}
            self.brain.log({k: v for k, v in point.items() if v is not None})

    def _on_final_evaluation(self, data: dict[str, Any]) -> None:
        record = data.get("record") or {}
        if self.brain is not None:
            self.brain.summary.update(
                {f"final_evaluation/{k}": v for k, v in record.items() if isinstance(v, str | int | float | bool)}
            )

    def _on_finished(self, data: dict[str, Any]) -> None:
        result = data["result"]
        if self.brain is None:
            return
        best = result.get("best") or {}
        baseline = result.get("baseline") or {}
        self.brain.summary.update(
            {
                "best_rec_id": best.get("rec_id"),
                f"best_{self.metric}": best.get("metric_value"),
                f"baseline_{self.metric}": baseline.get("metric_value"),
                "baseline_status": baseline.get("status"),
                "completed": (result.get("progress") or {}).get("completed"),
            }
        )

    def close_backend(self) -> None:
        """Log the experiments table, finish every open run and stop wandb's service process."""
        try:
            if self.brain is not None:
                columns = list(dict.fromkeys(key for row in self.rows for key in row))
                data = [[_cell(row.get(c)) for c in columns] for row in self.rows]
                table = self.wandb.Table(columns=columns, data=data)
                self.brain.log({EXPERIMENTS_TABLE: table})
                self.brain.finish()
            for run in self.runs.values():  # recommendations still open when the run stopped
                run.finish(exit_code=1)
        finally:
            self.runs.clear()
            if self.wandb is not None:
                self.wandb.teardown()


def _cell(value: Any) -> Any:
    """Table cells are scalars; anything else is shown as text."""
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)
