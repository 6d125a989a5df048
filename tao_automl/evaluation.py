"""Baseline and final evaluation: the numbers a tuning run is judged by.

The baseline is measured before (or beside) the recommendations: the caller's ``baseline_fn``, a
record already measured (the MCP server's ``run_baseline_eval``), the evaluate action on a base
checkpoint, or the schema defaults trained at the same budget and then evaluated. The final
evaluation re-measures the selected best checkpoint with the same metric and data. Both write
``evaluations/{baseline,final}.json``. :class:`Evaluations` is a collaborator of the runner: it
reaches the run through the runner's public surface (:class:`EvaluationHost`), never its insides,
and this module does not import the runner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from tao_automl.algorithms import RecStatus
from tao_automl.checkpoints import final_checkpoint
from tao_automl.data.preparation import apply_staged
from tao_automl.errors import ConfigurationError
from tao_automl.hooks import call_hook, metric_from_hook
from tao_automl.metrics import as_metric
from tao_automl.platforms import JobState
from tao_automl.results import BASELINE_STATUSES, best_rec
from tao_automl.running_job import RunningJob
from tao_automl.spec import deep_merge, expand_dotted, flatten, get_dotted, set_dotted, validate_override_keys
from tao_automl.store import BASELINE_REC_ID
from tao_automl.workspace import atomic_write_json


class EvaluationHost(Protocol):
    """What the evaluations need from the run that hosts them (the runner's public surface)."""

    plan: Any  # the runner's RunPlan
    store: Any  # tao_automl.store.Store | None
    workspace: Any  # tao_automl.workspace.Workspace | None
    platform: Any  # tao_automl.platforms.Platform | None
    algorithm: Any  # tao_automl.algorithms.Algorithm
    resolver: Any  # metric resolver of the train action
    eval_resolver: Any  # metric resolver of the evaluate action
    running: dict[str, RunningJob]
    clock: Any
    action: str
    hooks: dict[str, Any]
    given_baseline: dict[str, Any] | None

    def submit_job(self, rec_id: int, role: str, action: str, spec: dict[str, Any], label: str) -> bool: ...
    def record_failure(self, rec_id: int, role: str, reason: str, failure_class: str) -> None: ...
    def public_rec(self, rec: dict[str, Any] | None) -> dict[str, Any]: ...
    def notify(self, event: str, **data: Any) -> None: ...
    def poll_seconds(self) -> float: ...
    def cap_batches(self, spec: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]: ...
    def dataset_keys(self, skill: Any, action: str, train_uri: str | None, eval_uri: str | None) -> dict[str, str]: ...


class Evaluations:
    """Baseline and final evaluation of one run, called by the runner (its ``host``).

    The host is the runner, through its public surface only (:class:`EvaluationHost`): the plan,
    the store and workspace, the platform and job submission, the metric resolvers, the hooks.
    """

    def __init__(self, host: EvaluationHost) -> None:
        self.host = host

    def set_baseline(self, **fields: Any) -> None:
        assert self.host.store is not None and self.host.workspace is not None
        record = dict(self.host.store.meta("baseline") or {})
        record.update(fields)
        record.setdefault("metric_name", self.host.plan.metric)
        self.host.store.set_meta(baseline=record)
        atomic_write_json(self.host.workspace.evaluations / "baseline.json", record)

    def start_baseline(self) -> None:
        """Baseline: hook value, else evaluate the base checkpoint, else train the defaults at the same budget."""
        settings, skill = self.host.plan.settings, self.host.plan.skill
        if not settings.automl_baseline:
            self.set_baseline(enabled=False, status="skipped", reason="automl_baseline is false")
            return
        if self.host.given_baseline is not None:
            self._use_baseline_record(self.host.given_baseline)
            return
        if settings.baseline_metric is not None:
            self.set_baseline(
                enabled=True,
                status="provided",
                metric_value=as_metric(settings.baseline_metric),
                source="automl_settings.baseline_metric",
                record_path=settings.baseline_record_path or _records_path(settings.evaluation_records_dir, "baseline"),
            )
            return
        hook = self.host.hooks["baseline_fn"]
        if hook is not None:
            try:
                value, meta = metric_from_hook(call_hook(hook, self.host.plan.base_spec))
            except Exception as exc:  # noqa: BLE001 - a user hook or platform error fails one job, never the run
                self.set_baseline(enabled=True, status="failure", reason=f"baseline_fn raised: {exc}")
                return
            status = "provided" if value is not None else "metric_missing"
            # metadata may reuse our key names ("status", "source"): ours win instead of a TypeError
            ours = {"enabled": True, "status": status, "metric_value": value, "source": "baseline_fn"}
            self.set_baseline(**{**meta, **ours})
            return
        base_checkpoint = self.host.plan.inputs.get("base_checkpoint")
        if base_checkpoint:
            if not skill.has_action("evaluate") or not skill.eval_checkpoint_key:
                self.set_baseline(
                    enabled=True,
                    status="unavailable",
                    reason="the model skill has no evaluate action to measure the base checkpoint",
                )
                return
            self.set_baseline(enabled=True, status="not_run", source="base_checkpoint_eval", checkpoint=base_checkpoint)
            self.host.store.add_rec(
                BASELINE_REC_ID, {"params": {}, "note": "baseline"}, kind="baseline", status=RecStatus.RUNNING
            )
            self.submit_eval(BASELINE_REC_ID, "baseline_eval", base_checkpoint, "baseline_eval")
            return
        spec = deep_merge(self.host.plan.base_spec, {})
        adjustments, invalid = self.host.cap_batches(spec)
        self.set_baseline(enabled=True, status="not_run", source="default_config", adjustments=adjustments)
        self.host.store.add_rec(
            BASELINE_REC_ID,
            {"params": {}, "note": "schema defaults"},
            kind="baseline",
            specs=flatten(spec),
            budget=get_dotted(spec, skill.epochs_key),
            status=RecStatus.INVALID_CONFIGURATION if invalid else RecStatus.PENDING,
            adjustments=adjustments,
            failure_reason=invalid,
            failure_class="invalid_configuration" if invalid else None,
        )
        if invalid:  # same rule as recommendations: a batch cap below 1 launches nothing
            self.set_baseline(status="failure", reason=invalid, failure_class="invalid_configuration")
            return
        self.host.submit_job(BASELINE_REC_ID, "baseline_train", self.host.action, spec, "baseline")

    def _use_baseline_record(self, record: dict[str, Any]) -> None:
        """Take a baseline measured before the run: status, metric and job ids kept, its origin noted."""
        fields = {k: v for k, v in record.items() if k not in ("enabled", "comparison_to_best", "timing")}
        status = fields.get("status") if fields.get("status") in BASELINE_STATUSES else "provided"
        if fields.get("metric_name") not in (None, self.host.plan.metric):
            status = "unavailable"
            fields["reason"] = f"the given baseline measured '{fields['metric_name']}', not '{self.host.plan.metric}'"
        fields.update(enabled=True, status=status, metric_name=self.host.plan.metric)
        fields.setdefault("provided_by", "baseline_record")
        self.set_baseline(**fields)
        value = as_metric(fields.get("metric_value"))
        if status == "measured" and value is not None and fields.get("source", "default_config") == "default_config":
            defaults = {p.name: get_dotted(self.host.plan.base_spec, p.name) for p in self.host.plan.space}
            self.host.algorithm.warm_start(defaults, value)

    def baseline_train_done(self, run: RunningJob, state: JobState) -> None:
        assert self.host.store is not None and self.host.platform is not None
        results = run.job_dir / "results"
        if state is not JobState.COMPLETE:
            analysis = self.host.platform.failure_analysis(run.job_id)
            self.host.record_failure(run.rec_id, "baseline_train", analysis.reason, str(analysis.category))
            return
        reading = self.host.resolver.resolve(results, self.host.platform.logs(run.job_id))
        checkpoint = final_checkpoint(results, self.host.plan.skill.info.automl.checkpoint_glob)
        extra = {"job_id": run.job_id, "checkpoint": str(checkpoint) if checkpoint else None}
        if reading is None:
            self.host.store.update_rec(
                run.rec_id, status=RecStatus.FAILURE, failure_class="metric_missing", extra=extra
            )
            self.set_baseline(
                status="metric_missing",
                job_id=run.job_id,
                reason=f"default-config training reported no '{self.host.plan.metric}'",
            )
            return
        self.host.store.update_rec(
            run.rec_id, status=RecStatus.SUCCESS, metric=reading.value, metric_source=reading.source, extra=extra
        )
        self.set_baseline(
            status="measured",
            metric_value=reading.value,
            job_id=run.job_id,
            checkpoint=extra["checkpoint"],
            record_path=str(run.job_dir),
        )
        defaults = {p.name: get_dotted(self.host.plan.base_spec, p.name) for p in self.host.plan.space}
        self.host.algorithm.warm_start(defaults, reading.value)
        if checkpoint and self.host.plan.skill.has_action("evaluate") and self.host.plan.skill.eval_checkpoint_key:
            self.submit_eval(run.rec_id, "baseline_eval", str(checkpoint), "baseline_eval")

    def baseline_eval_done(self, run: RunningJob, state: JobState) -> None:
        assert self.host.store is not None and self.host.platform is not None
        source = (self.host.store.meta("baseline") or {}).get("source")
        reading = None
        if state is JobState.COMPLETE:
            reading = self.host.eval_resolver.resolve(run.job_dir / "results", self.host.platform.logs(run.job_id))
        if source == "base_checkpoint_eval":
            if reading is None:
                reason = (
                    "evaluate job reported no metric"
                    if state is JobState.COMPLETE
                    else self.host.platform.failure_analysis(run.job_id).reason
                )
                status = "metric_missing" if state is JobState.COMPLETE else "failure"
                self.set_baseline(status=status, reason=reason, eval_job_id=run.job_id)
                self.host.store.update_rec(run.rec_id, status=RecStatus.FAILURE, failure_reason=reason)
            else:
                self.set_baseline(
                    status="measured",
                    metric_value=reading.value,
                    eval_metric_value=reading.value,
                    eval_job_id=run.job_id,
                    record_path=str(run.job_dir),
                    eval_data=self.eval_data(),
                )
                self.host.store.update_rec(
                    run.rec_id, status=RecStatus.SUCCESS, metric=reading.value, metric_source=reading.source
                )
            return
        if reading is not None:
            self.set_baseline(
                eval_metric_value=reading.value,
                eval_job_id=run.job_id,
                eval_record_path=str(run.job_dir),
                eval_data=self.eval_data(),
            )
        else:
            self.set_baseline(eval_error=f"evaluate of the baseline checkpoint gave no metric (job {run.job_id})")

    def eval_spec(self, checkpoint: str) -> dict[str, Any]:
        """Evaluate spec: template + the train overrides that also apply + eval overrides + checkpoint."""
        skill = self.host.plan.skill
        template = skill.template("evaluate")
        schema = skill.schema("evaluate") if skill.schema_path("evaluate").is_file() else {"properties": {}}
        shared = {}
        for key, value in flatten(expand_dotted(self.host.plan.inputs.get("spec_overrides") or {})).items():
            try:
                validate_override_keys({key: value}, schema, template)
            except ConfigurationError:
                continue
            shared[key] = value
        spec = deep_merge(template, expand_dotted(shared))
        spec = deep_merge(spec, expand_dotted(self.host.plan.eval_overrides))
        for key, value in self.host.dataset_keys(
            skill,
            "evaluate",
            self.host.plan.inputs.get("train_dataset_uri"),
            self.host.plan.inputs.get("eval_dataset_uri"),
        ).items():
            set_dotted(spec, key, value)
        if self.host.workspace is not None:  # data the trials read from a staged copy is evaluated from it too
            spec = apply_staged(spec, self.host.workspace.evaluations / "data_staging.json")
        set_dotted(spec, skill.eval_checkpoint_key or "evaluate.checkpoint", checkpoint)
        return spec

    def eval_data(self) -> dict[str, Any]:
        """Which data the evaluate action reads: its dataset keys and the keys the skill names
        (``automl.evaluate_data_keys``, e.g. ``evaluate.split``), so a report can say it."""
        skill = self.host.plan.skill
        inputs = self.host.plan.inputs
        keys = list(
            self.host.dataset_keys(skill, "evaluate", inputs.get("train_dataset_uri"), inputs.get("eval_dataset_uri"))
        )
        spec = self.eval_spec("")
        keys += [k for k in skill.info.automl.evaluate_data_keys if k not in keys]
        return {k: v for k in keys if (v := get_dotted(spec, k)) is not None}

    def submit_eval(self, rec_id: int, role: str, checkpoint: str, label: str) -> bool:
        return self.host.submit_job(rec_id, role, "evaluate", self.eval_spec(checkpoint), label)

    # ================================================================== final evaluation
    def final_evaluation(self) -> None:
        """Evaluate the selected best checkpoint with the same metric and data as the baseline."""
        assert self.host.store is not None and self.host.workspace is not None
        existing = self.host.store.meta("final_evaluation")
        if existing and existing.get("status") not in (None, "not_run"):
            return
        settings = self.host.plan.settings
        best = best_rec(self.host.store.recs("rec"), self.host.plan.direction)
        record: dict[str, Any] = {"enabled": settings.automl_final_eval, "metric_name": self.host.plan.metric}
        if not settings.automl_final_eval:
            record.update(status="skipped", reason="automl_final_eval is false")
        elif best is None:
            record.update(status="not_run", reason="no successful recommendation")
        else:
            record.update(
                rec_id=best["rec_id"],
                train_job_id=self.host.public_rec(best)["job_id"],
                checkpoint=best["extra"].get("checkpoint"),
            )
            record.update(self._final_measure(best))
        self.host.store.set_meta(final_evaluation=record)
        atomic_write_json(self.host.workspace.evaluations / "final.json", record)
        self.host.notify("final_evaluation", record=record)

    def _final_measure(self, best: dict[str, Any]) -> dict[str, Any]:
        """The final metric, by the published order: a given record, a given metric, final_eval_fn, a
        requested reuse of the best metric; else the skill's evaluate action on the best checkpoint."""
        skill, settings = self.host.plan.skill, self.host.plan.settings
        record_path = settings.final_evaluation_record_path or _records_path(settings.evaluation_records_dir, "final")
        given = settings.final_evaluation
        if given is not None:
            value = as_metric(given.get("metric_value"))
            status = given.get("status") or ("provided" if value is not None else "metric_missing")
            return {"record_path": record_path, **given, "status": status, "metric_value": value,
                    "source": given.get("source", "automl_settings.final_evaluation")}  # fmt: skip
        if settings.final_evaluation_metric is not None:
            return {
                "status": "provided",
                "metric_value": as_metric(settings.final_evaluation_metric),
                "source": "automl_settings.final_evaluation_metric",
                "record_path": record_path,
            }
        hook = self.host.hooks["final_eval_fn"]
        if hook is not None:
            try:
                public = self.host.public_rec(best)
                value, meta = metric_from_hook(call_hook(hook, public, public["job_id"]))
            except Exception as exc:  # noqa: BLE001 - a user hook or platform error fails one job, never the run
                return {"status": "callback_error", "reason": f"final_eval_fn raised {type(exc).__name__}: {exc}"}
            if value is None:
                return {"reason": "final_eval_fn returned no metric_value", **meta, "status": "metric_missing"}
            return {  # metadata may carry its own "reason", never our status/source
                "reason": "final_eval_fn measured the best checkpoint",
                **meta,
                "status": "measured",
                "metric_value": value,
                "source": "final_eval_fn",
            }
        if settings.reuse_best_metric_for_final_evaluation:
            return {"status": "reused_best", "metric_value": best["metric"], "source": "best_selection_metric",
                    "reason": "reuse_best_metric_for_final_evaluation is set"}  # fmt: skip
        checkpoint = best["extra"].get("checkpoint")
        if skill.has_action("evaluate") and skill.eval_checkpoint_key and checkpoint:
            return self._run_final_eval_job(best, checkpoint)
        reason = (
            "the model skill has no evaluate action"
            if not skill.has_action("evaluate")
            else "the best recommendation left no checkpoint to evaluate"
        )
        return {
            "status": "reused_best",
            "metric_value": best["metric"],
            "reason": f"{reason}; reusing the best recommendation's training metric",
        }

    def _run_final_eval_job(self, best: dict[str, Any], checkpoint: str) -> dict[str, Any]:
        assert self.host.store is not None and self.host.platform is not None
        label = "final_eval"
        if not self.submit_eval(best["rec_id"], "final_eval", checkpoint, label):
            return {"status": "unavailable", "reason": "submitting the evaluate job failed"}
        run = next(r for r in self.host.running.values() if r.role == "final_eval")
        while True:
            status = self.host.platform.status(run.job_id)
            if status.state.terminal:
                break
            self.host.clock.sleep(min(self.host.poll_seconds(), 2.0))
        del self.host.running[run.name]
        self.host.store.set_job_state(run.name, str(status.state))
        base = {"eval_job_id": run.job_id, "record_path": str(run.job_dir)}
        if status.state is not JobState.COMPLETE:
            analysis = self.host.platform.failure_analysis(run.job_id)
            return {"status": "unavailable", "reason": f"evaluate job failed: {analysis.reason}", **base}
        reading = self.host.eval_resolver.resolve(run.job_dir / "results", self.host.platform.logs(run.job_id))
        if reading is None:
            return {"status": "metric_missing", "reason": "evaluate job reported no metric", **base}
        return {
            "status": "measured",
            "metric_value": reading.value,
            "source": "evaluate_action",
            "reason": "evaluate action on the best checkpoint",
            "eval_data": self.eval_data(),
            "selection_metric_value": best["metric"],
            **base,
        }


def _records_path(records_dir: str | None, which: str) -> str | None:
    """Where the published runner says its evaluation records live under ``evaluation_records_dir``."""
    if not records_dir:
        return None
    return str(Path(records_dir) / ("ptm_baseline.json" if which == "baseline" else "best_automl.json"))
