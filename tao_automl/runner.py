"""AutoMLRunner: the event loop that turns proposals into jobs and jobs into feedback.

The runner owns time (an injected clock) and state (the store); the algorithm only decides and
the platform only runs jobs. Each loop turn fills free slots, polls running jobs, records what
changed, and tells the algorithm. Every job is recorded as an intent before it is submitted, so
resuming after a crash re-attaches running jobs and never launches one twice.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tao_automl.algorithms import Algorithm, Feedback, Proposal, RecStatus, get_algorithm_class
from tao_automl.checkpoints import checkpoint_epoch, checkpoint_for_epoch, final_checkpoint, find_checkpoints
from tao_automl.clock import Clock, SystemClock
from tao_automl.data import DataPlan, prepare_data, require_inputs
from tao_automl.data.preparation import job_s3_credential_names
from tao_automl.errors import (
    AutoMLError,
    ConfigurationError,
    MetricMissingError,
    NoSuccessfulRecommendationError,
)
from tao_automl.evaluation import Evaluations
from tao_automl.hooks import call_hook, metric_from_hook
from tao_automl.launch import check_runnable, prepare_job
from tao_automl.llm.brain_log import append_records as append_brain_records
from tao_automl.llm.health import result_section
from tao_automl.metrics import MetricResolver
from tao_automl.override_bounds import check_override_values
from tao_automl.platforms import FailureCategory, JobState, Platform, as_platform
from tao_automl.preflight import load_platform_skill
from tao_automl.results import best_rec, build_result, history_entry, query_status
from tao_automl.running_job import RunningJob
from tao_automl.settings import AutoMLSettings
from tao_automl.skill import ModelSkill
from tao_automl.space import SearchSpace, build_search_space
from tao_automl.spec import (
    cap_batch_sizes,
    deep_merge,
    expand_dotted,
    flatten,
    get_dotted,
    set_dotted,
    validate_override_keys,
)
from tao_automl.store import Store
from tao_automl.tracking import start_trackers
from tao_automl.workspace import Workspace, atomic_write_json

__all__ = ["AutoMLRunner", "query_status"]

logger = logging.getLogger(__name__)

#: Failure classes that do not depend on the configuration: repeating them only wastes budget.
_SHARED_CAUSES = {"data_visibility", "image", "credential", "spec_schema", "infrastructure"}
#: Successful jobs in a row without a readable metric before the run aborts.
MAX_METRICLESS_SUCCESSES = 3
_DEFAULT_POLL = 5.0
#: ``run()`` platform keywords that shape every job on any platform (the rest go to the platform).
_JOB_SHAPE_KWARGS = ("gpu_count", "num_nodes")


@dataclass
class RunPlan:
    """A run's plan: everything validated before a workspace exists; persisted so resume rebuilds the
    same run. :meth:`AutoMLRunner.make_plan` builds it; ``run()`` starts from it, and the estimate and
    the launch review read the same object, so what they show is what runs."""

    skill: ModelSkill
    action: str
    settings: AutoMLSettings
    algorithm: str
    metric: str
    direction: str
    space: SearchSpace
    base_spec: dict[str, Any]
    eval_overrides: dict[str, Any]
    inputs: dict[str, Any] = field(default_factory=dict)


def _plain(value: Any) -> bool:
    """JSON-native data (no client objects), safe to persist and to pass again on resume."""
    if isinstance(value, str | int | float | bool) or value is None:
        return True
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


class AutoMLRunner:
    """Runs an AutoML study of one model skill on one platform.

    The published call spellings work::

        AutoMLRunner(skill_dir=..., platform_sdk=sdk, workspace_dir=...)
        AutoMLRunner(sdk=sdk, skill_dir=..., action="train", poll_interval=30)
        AutoMLRunner(sdk, skill_dir, "train", 30)

    ``platform_sdk`` (or ``sdk``) may be a :class:`Platform`, a platform name (``"local"``), or an
    SDK object: a ``tao_sdk.platforms`` SDK (``VirtualEnvSDK``, ``DockerSDK``, ...) or any object of
    that shape (see :mod:`tao_automl.platforms.sdk_adapter`).
    """

    def __init__(
        self,
        platform_sdk: Any = None,
        skill_dir: str | Path | None = None,
        action: str = "train",
        poll_interval: float | None = None,
        *,
        sdk: Any = None,
        workspace_dir: str | Path | None = None,
        platform_options: dict[str, Any] | None = None,
        clock: Clock | None = None,
        listeners: list[Callable[[str, dict[str, Any]], None]] | None = None,
    ) -> None:
        if skill_dir is None:
            raise ConfigurationError("required", field="skill_dir", hint="path to skills/models/<network>")
        if sdk is not None and platform_sdk is not None and sdk is not platform_sdk:
            raise ConfigurationError(
                "given twice, as platform_sdk and as sdk", field="sdk", hint="pass the platform once"
            )
        self.skill_dir = Path(skill_dir)
        platform_sdk = sdk if sdk is not None else platform_sdk
        self.platform_sdk = platform_sdk if platform_sdk is not None else "local"
        self.platform_options = platform_options or {}
        self._platform_kwargs: dict[str, Any] = {}
        self.workspace_dir = Path(workspace_dir) if workspace_dir else Path.cwd() / "automl_workspace"
        self.action = action
        self.poll_interval = poll_interval
        self.clock: Clock = clock or SystemClock()
        self.evaluations = Evaluations(self)
        self.given_baseline: dict[str, Any] | None = None
        self.listeners = list(listeners or [])
        self.platform: Platform | None = None
        self.workspace: Workspace | None = None
        self.store: Store | None = None
        self._data: DataPlan | None = None

    # ================================================================== public entry point
    def run(
        self,
        automl_algorithm: str | None = None,
        automl_settings: dict[str, Any] | None = None,
        spec_overrides: dict[str, Any] | None = None,
        automl_hyperparameters: list[str] | None = None,
        custom_param_ranges: dict[str, dict[str, Any]] | None = None,
        metric_extractor: Callable[[str, str], Any] | None = None,
        eval_fn: Callable[..., Any] | None = None,
        final_eval_fn: Callable[..., Any] | None = None,
        *,
        workspace_path: str | Path | None = None,
        resume: bool = False,
        baseline_fn: Callable[..., Any] | None = None,
        on_recommendation: Callable[..., Any] | None = None,
        on_result: Callable[..., Any] | None = None,
        train_dataset_uri: str | None = None,
        eval_dataset_uri: str | None = None,
        base_checkpoint: str | None = None,
        eval_spec_overrides: dict[str, Any] | None = None,
        baseline_record: dict[str, Any] | None = None,
        image: str | None = None,
        execution: dict[str, Any] | None = None,
        feedback_fn: Callable[..., Any] | None = None,
        workspace_id: str | None = None,
        run_name: str | None = None,
        **platform_kwargs: Any,
    ) -> dict[str, Any]:
        """Run (or resume) the study and return the result dict of DESIGN §2.

        All inputs are validated before anything is written, so a bad input leaves no workspace.
        ``baseline_record`` is a baseline already measured for this plan (the MCP server's
        ``run_baseline_eval``): it becomes the run's baseline as is instead of being measured again.
        ``image`` replaces the skill's container image, ``execution`` its ``execution`` block for this
        run; ``feedback_fn(rec, job_id)`` returns notes kept in each recommendation's ``feedback``.
        ``**platform_kwargs`` go to the platform as the published runner sends them: ``gpu_count``
        and ``num_nodes`` shape every job; the rest are given to every ``create_job``/
        ``create_python_job`` call of an SDK object, or are options of a platform given by name.
        ``workspace_id`` is accepted for the published signature; jobs here are named by run.
        ``run_name`` fixes the run directory (``<workspace>/<run_name>``) instead of a fresh
        ``run_<timestamp>``: a launcher's run id then names the directory status and reports read.
        """
        self.given_baseline = dict(baseline_record) if baseline_record else None
        self.hooks = {
            "metric_extractor": metric_extractor,
            "eval_fn": eval_fn,
            "final_eval_fn": final_eval_fn,
            "baseline_fn": baseline_fn,
            "on_recommendation": on_recommendation,
            "on_result": on_result,
            "feedback_fn": feedback_fn,
        }
        root = Path(workspace_path) if workspace_path else self.workspace_dir
        if resume:
            self.workspace = Workspace.open_existing(root)
            self.store = Store(self.workspace.state_path, now=self.clock.now)
            plan = self._plan_from_store()
            # Options the run was launched with (a partition, a namespace) hold on resume unless given again.
            self.platform_options = self.platform_options or dict(self.store.meta("platform_options") or {})
            self._platform_kwargs = platform_kwargs or dict(self.store.meta("platform_kwargs") or {})
            self.platform = as_platform(self.platform_sdk, **self.job_platform_options(self.workspace.run_dir.parent))
        else:
            self._platform_kwargs = dict(platform_kwargs)
            plan = self.make_plan(
                automl_algorithm,
                automl_settings,
                spec_overrides,
                automl_hyperparameters,
                custom_param_ranges,
                train_dataset_uri,
                eval_dataset_uri,
                base_checkpoint,
                eval_spec_overrides,
                image,
                execution,
            )
            self.algorithm = self.build_algorithm(plan)  # may refuse the plan: before anything is written
            self.platform = as_platform(self.platform_sdk, **self.job_platform_options(root))
            self._data = self._prepare_data(plan, root)  # staging and the sample count: before any workspace or job
            self.workspace = Workspace.create(root, run_name)
            self.store = Store(self.workspace.state_path, now=self.clock.now)
            self._persist_plan(plan)
        self.plan = plan
        self.resolver = MetricResolver(plan.metric, metric_extractor)
        self.eval_resolver = MetricResolver(plan.skill.info.automl.evaluate_metric or plan.metric, metric_extractor)
        if resume:
            self.algorithm = self.build_algorithm(plan)
        self.store.set_meta(total_recommendations=self.total_recommendations())
        self.running: dict[str, RunningJob] = {}
        self._metricless = 0
        self._failure_streak: list[tuple[str, str]] = []
        self._final_epochs: dict[int, int] = {}
        self.listeners += start_trackers(plan.settings, self.workspace.run_dir)
        self.notify(
            "started",
            algorithm=plan.algorithm,
            platform=getattr(self.platform, "name", "?"),
            total=plan.settings.automl_max_recommendations,
            max_concurrent=plan.settings.automl_max_concurrent,
            metric=plan.metric,
            direction=plan.direction,
            workspace=str(self.workspace.run_dir),
            completed=sum(1 for r in self.store.recs("rec") if r["status"].final),
            parameters=plan.space.describe(),
        )
        try:
            if resume:
                self._reconcile()
            else:
                self.evaluations.start_baseline()
            self.store.set_meta(run_state="running")
            self._loop()
            self.evaluations.final_evaluation()
            self.store.set_meta(run_state=self._finished_state())
        except KeyboardInterrupt:
            self.store.set_meta(run_state="interrupted")
            self.store.event("interrupted", running=[r.job_id for r in self.running.values()])
            self.notify("aborted", state="interrupted", reason="KeyboardInterrupt")
            raise
        except AutoMLError as exc:
            self.store.set_meta(run_state="failed", stop_reason=str(exc))
            self.notify("aborted", state="failed", reason=str(exc))
            raise
        except Exception as exc:  # a user hook or a bug: never leave the workspace saying "running"
            self.store.set_meta(run_state="failed", stop_reason=f"{type(exc).__name__}: {exc}")
            self.notify("aborted", state="failed", reason=f"{type(exc).__name__}: {exc}")
            raise
        result = build_result(self.store)
        atomic_write_json(self.workspace.result_path, result)
        self.notify("finished", result=result)
        if result["best"] is None:
            failed = [h["rec_id"] for h in result["history"]]
            reason = self.store.meta("stop_reason") or f"no recommendation succeeded: {failed}"
            blocked = self.store.meta("run_state") == "llm_blocked"  # the more telling state: keep it
            self.store.set_meta(run_state="llm_blocked" if blocked else "failed", stop_reason=reason)
            raise NoSuccessfulRecommendationError(
                f"no recommendation succeeded; failed recommendation ids: {failed}",
                field="history",
                hint=f"see {self.workspace.run_dir}/recs/<id>/ for specs and logs",
            )
        return result

    def job_platform_options(self, workspace_root: Path) -> dict[str, Any]:
        """Options for building the platform; local job state lives beside the runs it belongs to.

        Platform keywords of ``run()`` other than the job shape (``gpu_count``, ``num_nodes``) are
        the per-job keywords of an SDK object, or options of a platform given by name or class.
        """
        options = dict(self.platform_options)
        extra = {k: v for k, v in self._platform_kwargs.items() if k not in _JOB_SHAPE_KWARGS}
        if extra:
            if isinstance(self.platform_sdk, str | Platform | type):
                options.update(extra)
            else:
                options["job_kwargs"] = {**options.get("job_kwargs", {}), **extra}
        if self.platform_sdk == "local" and "state_root" not in options:
            options["state_root"] = Path(workspace_root).expanduser().resolve() / ".local-jobs"
        return options

    # ================================================================== planning and persistence
    def make_plan(
        self,
        algorithm: str | None,
        raw_settings: dict[str, Any] | None,
        overrides: dict[str, Any] | None,
        hyperparameters: list[str] | None,
        custom: dict[str, dict[str, Any]] | None,
        train_uri: str | None,
        eval_uri: str | None,
        base_checkpoint: str | None,
        eval_overrides: dict[str, Any] | None,
        image: str | None = None,
        execution: dict[str, Any] | None = None,
    ) -> RunPlan:
        """The plan of a run with these inputs, each validated as ``run()`` validates it; nothing is written.

        Raises:
            AutoMLError: any input the run would refuse (unknown setting, bad range, unknown key...).
        """
        settings = AutoMLSettings.parse(raw_settings)
        name = algorithm or settings.automl_algorithm or "bayesian"
        get_algorithm_class(name)
        skill = ModelSkill.load(self.skill_dir)
        skill.override_action(self.action, image=image, execution=execution)
        check_runnable(skill, self.action)
        metric = settings.metric or skill.info.automl.metric
        if not metric:
            raise ConfigurationError(
                "no metric given and the model skill declares none",
                field="automl_settings.metric",
                hint="set metric to the validation metric name",
            )
        direction = settings.direction or skill.info.automl.direction or settings.resolved_direction(metric)
        if direction not in ("maximize", "minimize"):
            raise ConfigurationError(f"invalid direction '{direction}'", field="automl_settings.direction")
        schema = skill.schema(self.action)
        space = build_search_space(schema, hyperparameters, custom, skill.info.automl.search_ranges)
        template = skill.template(self.action)
        overrides = dict(overrides or {})
        validate_override_keys(overrides, schema, template)
        check_override_values(overrides, schema)
        base_spec = deep_merge(template, expand_dotted(overrides))
        for key, value in self.dataset_keys(skill, self.action, train_uri, eval_uri).items():
            if get_dotted(expand_dotted(overrides), key) is None:
                set_dotted(base_spec, key, value)
        if base_checkpoint:
            # The whole model, not a backbone: TAO skills map both to ptm_if_no_resume_model.
            keys = [
                k for k, role in skill.info.spec_params.get(self.action, {}).items() if role == "ptm_if_no_resume_model"
            ]
            for key in [k for k in keys if "backbone" not in k] or keys[:1]:
                set_dotted(base_spec, key, base_checkpoint)
        require_inputs(skill, self.action, base_spec)  # an unset required dataset key is refused here, by name
        inputs = {
            "spec_overrides": overrides,
            "automl_hyperparameters": hyperparameters,
            "custom_param_ranges": custom,
            "train_dataset_uri": train_uri,
            "eval_dataset_uri": eval_uri,
            "base_checkpoint": base_checkpoint,
            "image": image,
            "execution": execution,
        }
        return RunPlan(
            skill, self.action, settings, name, metric, direction, space, base_spec, dict(eval_overrides or {}), inputs
        )

    @staticmethod
    def dataset_keys(skill: ModelSkill, action: str, train_uri: str | None, eval_uri: str | None) -> dict[str, str]:
        """Spec keys filled from dataset URIs through the skill's ``data_sources`` mapping."""
        uris = {"train_datasets": train_uri, "eval_dataset": eval_uri}
        out: dict[str, str] = {}
        for key, src in (skill.info.data_sources.get(action) or {}).items():
            uri = uris.get(src.get("source")) if isinstance(src, dict) else None
            if not uri:
                continue
            rel = str(src.get("path") or "")
            if src.get("runtime") == "extracted_folder":
                for ext in (".tar.gz", ".tgz", ".tar", ".zip"):
                    rel = rel.removesuffix(ext)
            out[key] = f"{uri.rstrip('/')}/{rel}" if rel else uri
        return out

    def _persist_plan(self, plan: RunPlan) -> None:
        assert self.store is not None
        self.store.set_meta(
            skill_dir=str(plan.skill.root),
            action=plan.action,
            algorithm=plan.algorithm,
            settings=plan.settings.public_dict(),
            settings_given=sorted(plan.settings.model_fields_set),
            platform_options={k: v for k, v in self.platform_options.items() if _plain(v)},
            platform_kwargs={k: v for k, v in self._platform_kwargs.items() if _plain(v)},
            settings_notes=plan.settings.settings_notes,
            metric=plan.metric,
            direction=plan.direction,
            base_spec=plan.base_spec,
            eval_overrides=plan.eval_overrides,
            inputs=plan.inputs,
            space=plan.space.describe(),
            excluded=plan.space.excluded,
            run_state="starting",
            total_recommendations=plan.settings.automl_max_recommendations,
            max_concurrent=plan.settings.automl_max_concurrent,
            started_at=self.clock.now(),
            platform=getattr(self.platform, "name", "unknown"),
        )
        atomic_write_json(self.workspace.run_dir / "launch_review.json", self._review(plan))
        if self._data is not None:
            atomic_write_json(self.workspace.evaluations / "data_staging.json", self._data.staging_record())

    def _prepare_data(self, plan: RunPlan, root: Path) -> DataPlan:
        """Stage data once under the results root, point the spec at the copies, count training samples."""
        data = prepare_data(
            plan.skill, plan.action, plan.base_spec, results_root=root, given_count=plan.settings.train_sample_count
        )
        for key, path in data.spec_updates.items():
            set_dotted(plan.base_spec, key, path)
        if plan.settings.train_sample_count is None and data.sample_count.count is not None:
            plan.settings.train_sample_count = data.sample_count.count  # persisted as given: resume caps alike
        return data

    def _review(self, plan: RunPlan) -> dict[str, Any]:
        """What is about to run, recorded before the first job (the MCP server adds estimates and gates)."""
        return {
            "model": plan.skill.name,
            "skill_dir": str(plan.skill.root),
            "platform": getattr(self.platform, "name", "unknown"),
            "image": plan.skill.image(plan.action),
            "algorithm": plan.algorithm,
            "budget": {
                "max_recommendations": plan.settings.automl_max_recommendations,
                "max_concurrent": plan.settings.automl_max_concurrent,
                "epochs": get_dotted(plan.base_spec, plan.skill.epochs_key),
            },
            "metric": plan.metric,
            "direction": plan.direction,
            "parameters": plan.space.describe(),
            "excluded_parameters": plan.space.excluded,
            "baseline_plan": "disabled"
            if not plan.settings.automl_baseline
            else ("evaluate base checkpoint" if plan.inputs.get("base_checkpoint") else "train schema defaults"),
            "final_eval_plan": "evaluate action on the best checkpoint"
            if plan.skill.has_action("evaluate")
            else "reuse the best training metric",
            "data": self._data.review() if self._data is not None else None,
        }

    def _plan_from_store(self) -> RunPlan:
        assert self.store is not None
        meta = self.store.all_meta()
        if "skill_dir" not in meta:
            raise ConfigurationError("workspace holds no AutoML plan", field="workspace")
        given = set(meta.get("settings_given") or meta["settings"])  # only what the user set: defaults stay defaults
        settings_raw = {k: v for k, v in meta["settings"].items() if k in given and v is not None}
        settings = AutoMLSettings.parse(settings_raw)
        skill = ModelSkill.load(meta["skill_dir"])
        inputs = meta.get("inputs") or {}
        skill.override_action(meta["action"], image=inputs.get("image"), execution=inputs.get("execution"))
        space = build_search_space(
            skill.schema(meta["action"]),
            inputs.get("automl_hyperparameters"),
            inputs.get("custom_param_ranges"),
            skill.info.automl.search_ranges,
        )
        self.action = meta["action"]
        return RunPlan(
            skill,
            meta["action"],
            settings,
            meta["algorithm"],
            meta["metric"],
            meta["direction"],
            space,
            meta["base_spec"],
            meta.get("eval_overrides") or {},
            inputs,
        )

    # ================================================================== the loop
    def poll_seconds(self) -> float:
        if self.poll_interval is not None:
            return self.poll_interval
        return _DEFAULT_POLL

    def _loop(self) -> None:
        assert self.store is not None
        while True:
            self._poll()
            self._fill_slots()  # right after polling, so a finished job's slot never idles a poll interval
            self._drain_brain()
            if not self.running:
                launched = len(self.store.recs("rec"))
                if launched >= self.total_recommendations() or not self._can_launch():
                    return
                # Nothing runs and the algorithm proposes nothing: waiting would never end.
                self.store.set_meta(stop_reason=f"{self.plan.algorithm} had nothing more to propose")
                return
            self.clock.sleep(self.poll_seconds())

    def _can_launch(self) -> bool:
        limit = self.plan.settings.automl_max_total_epochs
        if limit is not None and self._epochs_committed() >= limit:
            return False
        return self.store.meta("stop_reason") is None and not self.algorithm.done()

    def _epochs_committed(self) -> int:
        """Epochs spent or planned: finished recommendations count what they trained, others their plan."""
        total = 0
        for rec in self.store.rec_view("rec"):
            done = self._final_epochs.get(rec["rec_id"])
            if done is not None:
                total += done
                continue
            final = rec["status"].final
            trained = rec["extra"].get("epochs_trained")
            end = trained if final and trained is not None else (rec["budget"] or 0)
            start = rec["proposal"].get("start_epoch") or 0
            spent = 0 if rec["status"] is RecStatus.INVALID_CONFIGURATION else max(0, end - start)
            if final:  # a finished rec's epochs never change: counted once (long studies poll this often)
                self._final_epochs[rec["rec_id"]] = spent
            total += spent
        return total

    def _slots_free(self) -> int:
        return self.plan.settings.automl_max_concurrent - len(self.running)

    def _fill_slots(self) -> bool:
        """Ask the algorithm for as many proposals as slots are free; True when anything was launched."""
        assert self.store is not None
        launched = False
        while self._slots_free() > 0 and self._can_launch():
            remaining = self.total_recommendations() - len(self.store.recs("rec"))
            if remaining <= 0:
                return launched
            proposals = self.algorithm.propose(min(self._slots_free(), remaining))
            if not proposals:
                return launched
            for proposal in proposals:
                if not self._can_launch():  # an invalid rec of this batch hit the failure limit
                    return launched
                self._launch_recommendation(proposal)
                launched = True
        return launched

    def _launch_recommendation(self, proposal: Proposal) -> None:
        assert self.store is not None and self.workspace is not None
        rec_id = self.store.next_rec_id()
        spec = deep_merge(self.plan.base_spec, expand_dotted(dict(proposal.params)))
        if proposal.budget is not None:
            set_dotted(spec, self.plan.skill.epochs_key, int(proposal.budget))
        if proposal.resume_from is not None and self.plan.skill.resume_key:
            checkpoint = self._parent_checkpoint(proposal.resume_from)
            if checkpoint:
                set_dotted(spec, self.plan.skill.resume_key, checkpoint)
        adjustments, invalid = self.cap_batches(spec)
        budget = get_dotted(spec, self.plan.skill.epochs_key)
        status = RecStatus.INVALID_CONFIGURATION if invalid else RecStatus.PENDING
        start_epoch = 0  # promotions and PBT steps train only the epochs after their parent's
        if proposal.resume_from is not None:
            start_epoch = (self.store.rec(proposal.resume_from) or {}).get("extra", {}).get("epochs_trained") or 0
        self.store.add_rec(
            rec_id,
            {**proposal.to_dict(), "start_epoch": start_epoch},
            specs=flatten(spec),
            budget=budget,
            status=status,
            adjustments=adjustments,
            failure_reason=invalid,
            failure_class="invalid_configuration" if invalid else None,
        )
        self.algorithm.bind(rec_id, proposal)
        self.notify("recommendation", rec_id=rec_id, params=proposal.params, note=proposal.note)
        self._observer_hook("on_recommendation", {"rec_id": rec_id, "params": proposal.params, "specs": flatten(spec)})
        if invalid:
            self._finished(
                rec_id, Feedback(rec_id, RecStatus.INVALID_CONFIGURATION, failure_class="invalid_configuration")
            )
            return
        self.submit_job(rec_id, "train", self.action, spec, f"{rec_id:04d}")

    def build_algorithm(self, plan: RunPlan) -> Algorithm:
        self.plan = plan
        return get_algorithm_class(plan.algorithm)(
            plan.space,
            direction=plan.direction,
            settings=plan.settings,
            resumable=self._resumable(plan),
            metric=plan.metric,
        )

    def _resumable(self, plan: RunPlan) -> bool:
        """Whether rungs are climbed by promotion (resume the exact checkpoint) or by stopping."""
        mode = plan.settings.automl_rung_mode
        if mode == "promotion" and not plan.skill.resume_key:
            raise ConfigurationError(
                "promotion needs a resume key, and the model skill declares none",
                field="automl_settings.automl_rung_mode",
                hint="use 'stopping', or declare spec_params.train.<key>: resume_model in skill_info.yaml",
            )
        return mode == "promotion" or (mode == "auto" and plan.skill.resume_key is not None)

    def total_recommendations(self) -> int:
        """The user's explicit budget, else what the algorithm's schedule needs, else the default."""
        settings = self.plan.settings
        planned = self.algorithm.planned_recommendations()
        if "automl_max_recommendations" in settings.model_fields_set or planned is None:
            return settings.automl_max_recommendations
        return planned

    def _parent_checkpoint(self, parent_id: int) -> str | None:
        """The parent's exact checkpoint at the epoch it finished (never a ``latest`` file)."""
        parent = self.store.rec(parent_id) if self.store else None
        if parent is None:
            return None
        extra = parent["extra"]
        epoch = extra.get("epochs_trained")
        results = self.workspace.job_dir(f"{parent_id:04d}") / "results" if self.workspace else None
        if epoch and results is not None:
            exact = checkpoint_for_epoch(results, int(epoch), self.plan.skill.info.automl.checkpoint_glob)
            if exact is not None:
                return str(exact)
        return extra.get("checkpoint")

    def cap_batches(self, spec: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        count = self.plan.settings.train_sample_count
        if count is None or self.plan.settings.allow_unsafe_effective_batch:
            return [], None
        caps, invalid = cap_batch_sizes(spec, count, self._shards(spec))
        return [c.record() for c in caps], invalid

    def _shards(self, spec: dict[str, Any]) -> int:
        if self.plan.settings.automl_num_shards:
            return self.plan.settings.automl_num_shards
        gpus = get_dotted(spec, self.plan.skill.info.gpu_spec_key or "train.num_gpus")
        nodes = get_dotted(spec, "train.num_nodes")
        gpus = gpus if isinstance(gpus, int) and gpus > 0 else 1
        nodes = nodes if isinstance(nodes, int) and nodes > 0 else 1
        return gpus * nodes

    def submit_job(
        self, rec_id: int, role: str, action: str, spec: dict[str, Any], label: str, retry_of: str | None = None
    ) -> bool:
        """Record the intent, then submit. A submit error fails the recommendation, not the run.

        The attempt number comes from the job table, so a retry or a relaunch after a crash always
        gets a fresh, unique job name.
        """
        assert self.store is not None and self.workspace is not None and self.platform is not None
        attempt = len(self.store.jobs(rec_id, role=role)) + 1
        name = f"{self.workspace.run_dir.name}-{label}-{role}-a{attempt}".replace("_", "-").lower()
        job_dir = self.workspace.job_dir(label)
        gpus = self._platform_kwargs.get(
            "gpu_count", get_dotted(spec, self.plan.skill.info.gpu_spec_key or "train.num_gpus")
        )
        request = prepare_job(
            self.plan.skill,
            action,
            spec,
            job_dir,
            name,
            gpus=gpus if isinstance(gpus, int) else 0,
            num_nodes=int(self._platform_kwargs.get("num_nodes", 1)),
            env_passthrough=self.env_passthrough(),
        )
        self.store.add_job_intent(name, rec_id, action, role, retry_of)
        try:
            job_id = self.platform.submit(request)
        except Exception as exc:  # noqa: BLE001 - any platform error is recorded, never fatal to the run
            self.store.set_job_state(name, "submit_failed")
            logger.warning("submit of %s failed: %s", name, exc)
            self.record_failure(rec_id, role, f"submit failed: {exc}", "infrastructure")
            return False
        self.store.set_job_submitted(name, job_id)
        self.running[name] = RunningJob(rec_id, role, name, job_id, job_dir, self.clock.now())
        self._mark_running(rec_id)
        self.notify("submitted", rec_id=rec_id, role=role, job_id=job_id)
        return True

    def env_passthrough(self) -> list[str]:
        """Names (never values) of credentials a job may inherit: the setting, else the platform skill's."""
        if self.plan.settings.automl_env_passthrough is not None:
            return list(self.plan.settings.automl_env_passthrough)
        s3_names = job_s3_credential_names(self.plan.base_spec)  # data read in place from s3:// (not staged)
        try:
            info, _ = load_platform_skill(getattr(self.platform, "name", ""))
        except AutoMLError:
            return s3_names
        # Required credentials and groups reach the *platform* (kubeconfig, ssh host); only the optional
        # ones (W&B, HF, NGC keys) are meant for the job, and only those that are set are passed on.
        return [name for name in info.optional_credentials if os.environ.get(name)] + s3_names

    def _mark_running(self, rec_id: int) -> None:
        assert self.store is not None
        rec = self.store.rec(rec_id)
        if rec is not None and rec["status"] is RecStatus.PENDING:
            self.store.update_rec(rec_id, status=RecStatus.RUNNING, started_at=self.clock.now())

    def _poll(self) -> None:
        assert self.platform is not None
        timeout = self.plan.settings.automl_job_timeout
        for name, run in list(self.running.items()):
            status = self.platform.status(run.job_id)
            if run.role == "train" and not status.state.terminal:
                self._intermediate(run)
            if timeout and not status.state.terminal and self.clock.now() - run.started > timeout:
                run.stop_requested = "timeout"
                self.platform.cancel(run.job_id)
                status = self.platform.status(run.job_id)
            if not status.state.terminal:
                continue
            del self.running[name]
            self.store.set_job_state(name, str(status.state))
            self._job_done(run, status.state, status.message)

    def _intermediate(self, run: RunningJob) -> None:
        """Record per-epoch metrics once each and let the algorithm stop the job early.

        TAO's ``status.json`` is the primary source; models without one are read from the new log
        lines that carry both an epoch and the metric.
        """
        assert self.store is not None and self.platform is not None
        results = run.job_dir / "results"
        readings: list[tuple[int | None, float]] = []
        for path in results.rglob("status.json") if results.is_dir() else []:
            readings += self.resolver.from_status_json(path.read_text(encoding="utf-8", errors="replace"))
        new_text = self.platform.new_logs(run.job_id)
        if not readings:
            readings = self.resolver.epochs_from_logs(new_text)
        for epoch, value in readings:
            if epoch is None or not self.store.add_metric(run.rec_id, epoch, self.plan.metric, value):
                continue
            self.notify("metric", rec_id=run.rec_id, epoch=epoch, value=value)
            if run.role != "train" or run.stop_requested is not None:
                continue
            self.algorithm.report(Feedback(run.rec_id, RecStatus.RUNNING, value, epoch=epoch, intermediate=True))
            if self.algorithm.should_stop(run.rec_id, epoch, value):
                run.stop_requested, run.stop_epoch = "early_stop", epoch
                self.store.event("early_stop", run.rec_id, epoch=epoch, metric=value)
                self.platform.cancel(run.job_id)

    def _job_done(self, run: RunningJob, state: JobState, message: str) -> None:
        if run.role == "baseline_eval":
            self.evaluations.baseline_eval_done(run, state)
            return
        if run.role == "baseline_train":
            self.evaluations.baseline_train_done(run, state)
            return
        self._train_done(run, state, message)

    def _train_done(self, run: RunningJob, state: JobState, message: str) -> None:
        assert self.store is not None and self.platform is not None
        rec_id = run.rec_id
        results = run.job_dir / "results"
        self._intermediate_final(run)
        checkpoint = final_checkpoint(results, self.plan.skill.info.automl.checkpoint_glob) or next(
            iter(self.platform.checkpoints(run.job_id)[-1:]), None
        )  # results kept where the platform runs (an object store, a cluster's disk): its own list
        extra = dict(self.store.rec(rec_id)["extra"])
        if checkpoint:
            extra["checkpoint"] = str(checkpoint)
        self.store.update_rec(rec_id, extra=extra)
        if state is JobState.COMPLETE and run.stop_requested == "early_stop":
            run.stop_requested = run.stop_epoch = None  # it finished its budget before the cancel landed
        if state is JobState.COMPLETE or run.stop_requested == "early_stop":
            self._train_succeeded(run, extra)
            return
        preempted = state is JobState.CANCELED and run.stop_requested is None and "preempt" in message.lower()
        if state is JobState.CANCELED and run.stop_requested is None and not preempted:
            self.store.update_rec(
                rec_id, status=RecStatus.CANCELED, failure_reason=message or "canceled", failure_class="canceled"
            )
            self._finished(rec_id, Feedback(rec_id, RecStatus.CANCELED, failure_class="canceled"))
            return
        if run.stop_requested == "timeout":
            self.record_failure(
                rec_id, "train", f"exceeded automl_job_timeout ({self.plan.settings.automl_job_timeout:g}s)", "timeout"
            )
            return
        analysis = self.platform.failure_analysis(run.job_id)
        if (preempted or analysis.retryable) and self._retry(run, "preempted" if preempted else analysis.reason):
            return
        if preempted:
            # A preemption is the cluster's doing, not the configuration's: never a failed recommendation.
            self.store.update_rec(rec_id, status=RecStatus.CANCELED, failure_reason=message, failure_class="preempted")
            self._finished(rec_id, Feedback(rec_id, RecStatus.CANCELED, failure_class="preempted"))
            return
        self.record_failure(rec_id, "train", analysis.reason, str(analysis.category))

    def _retry(self, run: RunningJob, reason: str) -> bool:
        """Resubmit after an infrastructure failure or preemption, at most ``automl_max_retries`` times.

        The new job is linked to the one it replaces by ``retry_of``; the recommendation stays
        running and the algorithm is not told anything until a job of it really finishes.
        """
        assert self.store is not None
        rec = self.store.rec(run.rec_id)
        retries = sum(1 for j in self.store.jobs(run.rec_id, role=run.role) if j["retry_of"])
        if retries >= self.plan.settings.automl_max_retries:
            return False
        label = self._label(run.rec_id, run.role)
        self.store.event("retry", run.rec_id, job_id=run.job_id, reason=reason, retry=retries + 1)
        self.notify("retry", rec_id=run.rec_id, job_id=run.job_id, reason=reason)
        spec = expand_dotted(rec["specs"])
        return self.submit_job(run.rec_id, run.role, self.action, spec, label, retry_of=run.job_id)

    def _intermediate_final(self, run: RunningJob) -> None:
        if run.role == "train":
            self._intermediate(run)

    def _train_succeeded(self, run: RunningJob, extra: dict[str, Any]) -> None:
        assert self.store is not None and self.platform is not None
        rec_id = run.rec_id
        eval_fn = self.hooks["eval_fn"]
        rec = self.store.rec(rec_id)
        if eval_fn is not None:
            try:
                value, meta = metric_from_hook(call_hook(eval_fn, self.public_rec(rec), run.job_id))
            except Exception as exc:  # noqa: BLE001 - a user hook or platform error fails one job, never the run
                self.record_failure(rec_id, "train", f"eval_fn raised {type(exc).__name__}: {exc}", "eval_fn_error")
                return
            source = "eval_fn"
            if meta:
                extra["eval"] = meta
        else:
            try:
                reading = self.resolver.resolve(run.job_dir / "results", self.platform.logs(run.job_id))
            except Exception as exc:  # noqa: BLE001 - a failing metric_extractor fails this recommendation only
                reason = f"metric_extractor raised {type(exc).__name__}: {exc}"
                self.record_failure(rec_id, "train", reason, "metric_extractor_error")
                return
            value, source = (reading.value, reading.source) if reading else (None, None)
        if value is None:
            self._metricless += 1
            seen = self.resolver.seen_keys(run.job_dir / "results")
            reason = f"job succeeded but reported no '{self.plan.metric}'" + (f" (it reported {seen})" if seen else "")
            self.store.update_rec(
                rec_id, status=RecStatus.FAILURE, failure_reason=reason, failure_class="metric_missing", extra=extra
            )
            self._finished(rec_id, Feedback(rec_id, RecStatus.FAILURE, failure_class="metric_missing"))
            if self._metricless >= MAX_METRICLESS_SUCCESSES:
                self._abort_running()
                raise MetricMissingError(
                    f"{self._metricless} successful jobs in a row reported no '{self.plan.metric}'",
                    field="automl_settings.metric",
                    hint=(
                        "check the metric name"
                        + (f"; the jobs reported {seen}" if seen else "")
                        + ", or pass metric_extractor/eval_fn"
                    ),
                )
            return
        self._metricless = 0
        epochs = self._epochs_trained(run)
        if run.stop_requested == "early_stop" and run.stop_epoch is not None:
            metrics = self.store.metrics(rec_id, self.plan.metric)
            stopped_at = [m["value"] for m in metrics if m["step"] == run.stop_epoch]
            if stopped_at and eval_fn is None:
                value, source = stopped_at[0], f"intermediate epoch {run.stop_epoch}"
            extra["early_stop_epoch"] = epochs = run.stop_epoch
        extra["epochs_trained"] = epochs
        self._feedback(rec, run.job_id, extra)
        self.store.update_rec(rec_id, status=RecStatus.SUCCESS, metric=value, metric_source=source, extra=extra)
        self._finished(rec_id, Feedback(rec_id, RecStatus.SUCCESS, metric=value, epoch=epochs))

    def _feedback(self, rec: dict[str, Any], job_id: str, extra: dict[str, Any]) -> None:
        """``feedback_fn(rec, job_id)``: notes kept with the recommendation; an error is a note, not a failure."""
        hook = self.hooks.get("feedback_fn")
        if hook is None:
            return
        try:
            note = call_hook(hook, self.public_rec(rec), job_id)
        except Exception as exc:  # noqa: BLE001 - feedback only annotates; a successful job stays successful
            note = {"error": f"feedback_fn raised {type(exc).__name__}: {exc}"}
        extra["feedback"] = note if _plain(note) else str(note)

    def _epochs_trained(self, run: RunningJob) -> int | None:
        """The epoch the job's result belongs to: its last reported epoch, else its newest checkpoint's."""
        assert self.store is not None
        steps = [m["step"] for m in self.store.metrics(run.rec_id, self.plan.metric)]
        if steps:
            return max(steps)
        checkpoint = final_checkpoint(run.job_dir / "results", self.plan.skill.info.automl.checkpoint_glob)
        epoch = checkpoint_epoch(checkpoint) if checkpoint else None
        return epoch if epoch is not None else self.store.rec(run.rec_id)["budget"]

    def record_failure(self, rec_id: int, role: str, reason: str, failure_class: str) -> None:
        assert self.store is not None
        if role == "final_eval":
            return  # the final evaluation reports its own outcome; the recommendation it measures is final
        measured = (self.store.meta("baseline") or {}).get("source") == "default_config"
        if role == "baseline_eval" and measured:
            # the baseline's training metric stands; only the evaluate step of its checkpoint failed
            self.evaluations.set_baseline(eval_error=reason)
            return
        if role in ("baseline_train", "baseline_eval"):
            self.evaluations.set_baseline(status="failure", reason=reason, failure_class=failure_class)
            if role == "baseline_train":
                self.store.update_rec(
                    rec_id, status=RecStatus.FAILURE, failure_reason=reason, failure_class=failure_class
                )
            return
        status = (
            RecStatus.INVALID_CONFIGURATION
            if failure_class == FailureCategory.INVALID_CONFIGURATION
            else RecStatus.FAILURE
        )
        self.store.update_rec(rec_id, status=status, failure_reason=reason, failure_class=failure_class)
        self._finished(rec_id, Feedback(rec_id, status, failure_class=failure_class))

    def _finished(self, rec_id: int, feedback: Feedback) -> None:
        """A recommendation reached its final state: tell the algorithm, hooks and listeners."""
        assert self.store is not None
        self.algorithm.report(feedback)
        rec = self.store.rec(rec_id)
        if feedback.status is RecStatus.SUCCESS or feedback.failure_class == "preempted":
            self._failure_streak = []
        else:
            self._failure_streak.append((feedback.failure_class or str(feedback.status), rec["failure_reason"] or ""))
            reason = self._stop_reason(self._failure_streak)
            if reason and self.store.meta("stop_reason") is None:
                self.store.set_meta(stop_reason=reason)
        rec = self.store.rec(rec_id)
        self.store.event("rec_finished", rec_id, status=str(feedback.status), metric=feedback.metric)
        self._apply_retention()
        public = self.public_rec(rec)
        self.notify("result", rec=public)
        self._observer_hook("on_result", public, public.get("metric"), public.get("status"))

    def _apply_retention(self) -> None:
        """Delete checkpoints no promotion or PBT member can still need; the best one is always kept.

        Only algorithms that say which recommendations they may resume (``retained()``) prune;
        parents of recommendations that have not finished are kept whatever the algorithm says.
        """
        assert self.store is not None and self.workspace is not None
        settings = self.plan.settings
        keep = self.algorithm.retained()
        if settings.automl_delete_intermediate_ckpt is False:
            return
        if keep is None:
            if not settings.automl_delete_intermediate_ckpt:
                return
            keep = set()  # asked to delete: only the best (and what unfinished work needs) is kept
        recs = self.store.rec_view("rec")
        best = best_rec(recs, self.plan.direction)
        keep = set(keep) | {best["rec_id"]} if best else set(keep)
        keep |= {r["proposal"].get("resume_from") for r in recs if not r["status"].final}
        pattern = self.plan.skill.info.automl.checkpoint_glob
        for rec in recs:
            if rec["rec_id"] in keep or not rec["status"].final or rec["extra"].get("checkpoints_deleted"):
                continue
            if rec["status"] is not RecStatus.SUCCESS and settings.automl_retain_failed_artifacts:
                continue
            removed = 0
            for path in find_checkpoints(self.workspace.job_dir(f"{rec['rec_id']:04d}") / "results", pattern):
                path.unlink(missing_ok=True)
                removed += 1
            if not removed:  # nothing here: the platform keeps the job's artifacts itself
                jobs = [j["job_id"] for j in self.store.jobs(rec["rec_id"], role="train") if j["job_id"]]
                removed = sum(1 for job_id in jobs if self.platform.delete_artifacts(job_id))
            extra = dict(rec["extra"], checkpoints_deleted=removed)
            extra.pop("checkpoint", None)
            self.store.update_rec(rec["rec_id"], extra=extra)

    def _stop_reason(self, streak: list[tuple[str, str]]) -> str | None:
        """Why to stop launching, given the failures since the last success (None: keep going).

        Failures whose cause no hyperparameter can change (data, image, credentials, spec,
        infrastructure after retries) stop the run after three in a row with one shared cause;
        any other failures stop it at ``automl_max_consecutive_failures``.
        """
        limit = self.plan.settings.automl_max_consecutive_failures
        classes = {cls for cls, _ in streak}
        if len(streak) >= min(3, limit) and len(classes) == 1 and streak[0][0] in _SHARED_CAUSES:
            return (
                f"{len(streak)} recommendations in a row failed with the same cause ({streak[-1][0]}: "
                f"{streak[-1][1]}); no hyperparameter change fixes that, so no budget was spent on more. "
                "Fix the cause and resume."
            )
        if len(streak) >= limit:
            return (
                f"{limit} recommendations in a row failed ({', '.join(sorted(classes))}); stopped launching new "
                "ones (see failure_reason in history)"
            )
        return None

    def _observer_hook(self, name: str, payload: dict[str, Any], *more: Any) -> None:
        """``on_recommendation(rec)``/``on_result(rec, metric, status)`` only observe: their errors are
        recorded, never fatal, because losing a long sweep to a logging callback is worse than a
        missing log line."""
        try:
            call_hook(self.hooks[name], payload, *more)
        except Exception as exc:  # noqa: BLE001 - see docstring
            logger.warning("%s hook raised %s: %s", name, type(exc).__name__, exc)
            self.store.event("hook_error", payload.get("rec_id"), hook=name, error=f"{type(exc).__name__}: {exc}")

    def public_rec(self, rec: dict[str, Any] | None) -> dict[str, Any]:
        if not rec or not self.store:
            return {}
        return history_entry(rec, self.store.jobs(rec["rec_id"]), self.plan.metric)

    def _abort_running(self) -> None:
        assert self.platform is not None and self.store is not None
        for name, run in list(self.running.items()):
            self.platform.cancel(run.job_id)
            self.store.set_job_state(name, "CANCELED")
            if run.role == "train":
                self.store.update_rec(
                    run.rec_id, status=RecStatus.CANCELED, failure_reason="run aborted", failure_class="canceled"
                )
        self.running.clear()

    # ================================================================== resume
    def _reconcile(self) -> None:
        """Re-attach running jobs, relaunch never-submitted ones, and replay history into the algorithm."""
        assert self.store is not None and self.platform is not None and self.workspace is not None
        self.store.event("resumed")
        can_find = self.platform.can_find_jobs
        for job in self.store.jobs(open_only=True):
            job_id = job["job_id"]
            if job_id is None:
                job_id = self.platform.find_job(job["name"])
                if job_id is not None:
                    self.store.set_job_submitted(job["name"], job_id)
            label = self._label(job["rec_id"], job["role"])
            if job_id is not None and self.platform.reattach(job_id):
                self.running[job["name"]] = RunningJob(
                    job["rec_id"], job["role"], job["name"], job_id, self.workspace.job_dir(label), self.clock.now()
                )
                self._mark_running(job["rec_id"])  # a crash may have come between submit and this update
                continue
            self.store.set_job_state(job["name"], "lost")
            if job_id is None and can_find:
                self.store.event("relaunch", job["rec_id"], job=job["name"])
                self._relaunch(job)
            elif job["role"] == "train":
                self.store.update_rec(
                    job["rec_id"],
                    status=RecStatus.LOST,
                    failure_reason="job unknown to the platform after restart",
                    failure_class="infrastructure",
                )
        attached = {r.rec_id for r in self.running.values()}
        for rec in self.store.recs("rec"):
            never_submitted = not self.store.jobs(rec["rec_id"])
            if (
                rec["status"] in (RecStatus.PENDING, RecStatus.RUNNING)
                and rec["rec_id"] not in attached
                and never_submitted
            ):
                self.submit_job(
                    rec["rec_id"], "train", self.action, expand_dotted(rec["specs"]), f"{rec['rec_id']:04d}"
                )
        history = []
        for rec in self.store.recs("rec"):
            feedback = None
            if rec["status"].final:
                feedback = Feedback(rec["rec_id"], rec["status"], rec["metric"], rec["failure_class"])
            intermediates = [
                Feedback(rec["rec_id"], RecStatus.RUNNING, m["value"], epoch=m["step"], intermediate=True)
                for m in self.store.metrics(rec["rec_id"], self.plan.metric)
            ]
            if feedback is not None and feedback.status is RecStatus.SUCCESS:
                feedback = Feedback(
                    rec["rec_id"], feedback.status, feedback.metric, epoch=rec["extra"].get("epochs_trained")
                )
            history.append((rec["rec_id"], Proposal.from_dict(rec["proposal"]), feedback, intermediates))
        self.algorithm.restore(history)
        baseline = self.store.meta("baseline") or {}
        if baseline.get("status") == "measured" and baseline.get("source") == "default_config":
            defaults = {p.name: get_dotted(self.plan.base_spec, p.name) for p in self.plan.space}
            self.algorithm.warm_start(defaults, baseline["metric_value"])

    @staticmethod
    def _label(rec_id: int, role: str) -> str:
        return {"baseline_train": "baseline", "baseline_eval": "baseline_eval", "final_eval": "final_eval"}.get(
            role, f"{rec_id:04d}"
        )

    def _relaunch(self, job: dict[str, Any]) -> None:
        """Submit again a job whose intent was recorded but which the platform never received."""
        assert self.store is not None
        rec = self.store.rec(job["rec_id"])
        if rec is None or rec["status"].final or job["role"] not in ("train", "baseline_train"):
            return
        self.submit_job(rec["rec_id"], job["role"], self.action, expand_dotted(rec["specs"]), self._label(
            rec["rec_id"], job["role"]))  # fmt: skip

    # ================================================================== LLM brain log
    def _drain_brain(self) -> None:
        """LLM algorithms journal every call and decision; only the runner writes them (brain/brain_log.jsonl)."""
        records = self.algorithm.drain_journal()
        if records:
            append_brain_records(self.workspace.run_dir, records, self.store)

    def _finished_state(self) -> str:
        """``llm_blocked`` when an LLM algorithm did not really steer the run (see tao_automl.llm.health)."""
        health = result_section(self.workspace.run_dir, self.store.all_meta()).get("llm_health")
        if not health or health["status"] != "llm_blocked":
            return "complete"
        if self.store.meta("stop_reason") is None:
            self.store.set_meta(stop_reason=health["stopped"] or "; ".join(health["reasons"]))
        return "llm_blocked"

    # ================================================================== listeners
    def notify(self, event: str, **data: Any) -> None:
        for listener in self.listeners:
            try:
                listener(event, data)
            except Exception:
                logger.exception("listener failed on %s", event)
