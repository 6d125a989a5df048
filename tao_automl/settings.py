"""``automl_settings``: one pydantic model with the published keys, aliases and defaults.

Unknown keys are errors with a "did you mean" hint, because a misspelt budget key silently
falling back to a default is the most expensive kind of typo in HPO.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from tao_automl.errors import ConfigurationError

Direction = Literal["maximize", "minimize"]

#: Aliases accepted for published spellings -> canonical field name.
ALIASES: dict[str, str] = {
    "num_recommendations": "automl_max_recommendations",
    "max_recommendations": "automl_max_recommendations",
    "max_epochs": "automl_max_epochs",
    "reduction_factor": "automl_reduction_factor",
    "max_concurrent": "automl_max_concurrent",
    "population_size": "automl_population_size",
    "max_generations": "automl_max_generations",
    "max_experiments": "automl_max_experiments",
    "algorithm": "automl_algorithm",
    "seed": "automl_seed",
    "base_url": "llm_endpoint",
    "model": "llm_model",
    "api_key": "llm_api_key",
    # the published runner's spellings
    "run_baseline": "automl_baseline",
    "run_final_evaluation": "automl_final_eval",
    "automl_eval_interval": "automl_pbt_interval",
    "training_sample_count": "train_sample_count",
    "num_train_samples": "train_sample_count",
    "train_samples": "train_sample_count",
    "dataset_sample_count": "train_sample_count",
    "dataset_size": "train_sample_count",
    "samples_per_epoch": "train_sample_count",
}

#: Settings the published runner documents that steer its own brains' internals; accepted so its
#: scripts run unchanged, recorded in the result's ``settings_notes``, and without effect here
#: (references/automl-runner-configuration.md says why for each).
PUBLISHED_ONLY: dict[str, str] = {
    "epoch_multiplier": "budgets here are epochs as given (automl_max_epochs, automl_min_epochs)",
    "automl_perturbation_factor": "PBT here perturbs in the unit space of each parameter",
    "automl_mutation_factor": "DEHB here uses its own differential-evolution schedule",
    "automl_crossover_prob": "DEHB here uses its own differential-evolution schedule",
    "automl_early_stop_threshold": "early stopping here follows the ASHA/Hyperband rungs",
    "automl_min_early_stop_epochs": "early stopping here starts at automl_min_epochs",
    "automl_kde_samples": "BOHB here samples with Optuna's TPE",
    "automl_top_n_percent": "BOHB here keeps Falkner's top-15% rule inside TPE",
    "automl_min_points_in_model": "BOHB here builds its model once a budget has d+1 results",
    "automl_max_trials": "the budget is automl_max_recommendations",
    "automl_min_top_configs": "BOHB here keeps Falkner's top-15% rule inside TPE",
    "automl_checkpoint_retention_strategy": "no checkpoint keys are injected into the spec; retention deletes files",
    "automl_range_override": "a network-specific hook of the published runner (cosmos-rl)",
    "llm_analysis_interval": "the LLM algorithms here are asked at every proposal",
    "enable_llm_range_narrowing": "ranges here come from the schema and custom_param_ranges only",
    "hybrid_enable_llm_range_narrowing": "ranges here come from the schema and custom_param_ranges only",
    "research_program": "autoresearch here writes its own plan into the brain log",
    "evolvable_text_parameters": "string leaves are searched only over their enum",
    "latency_metric": "single-objective runner: there is no latency objective",
    "latency_direction": "single-objective runner: there is no latency objective",
    "latency_weight": "single-objective runner: there is no latency objective",
    "latency_scale": "single-objective runner: there is no latency objective",
}
#: Published switches that ask for more than one objective: refused, never silently dropped.
_MULTI_OBJECTIVE_SWITCHES = ("multi_objective", "latency_objective", "include_latency")

# Long words match anywhere in the name; abbreviations only as whole tokens (letters may not touch
# them), so "val_answer_accuracy" is not a word-error rate and "mean_confidence" is not an FID.
# ``\b`` is no use here: "_" is a word character, so "val_ap" or "top1_err_rate" have no boundary.
_MINIMIZE_WORDS = re.compile(
    r"loss|error|latency|time|cost|perplexity|regret|distance"
    r"|(?<![a-z])(?:err|mse|mae|rmse|wer|cer|ppl|fid|nll)(?![a-z])"
)
_MAXIMIZE_WORDS = re.compile(
    r"acc|map|iou|precision|recall|auc|score|bleu|psnr|ssim|dice|reward|kappa"
    r"|(?<![a-z])(?:ap|ap50|ap75|f1|r2|top1|top5)(?![a-z])"
)


def infer_direction(metric: str) -> Direction | None:
    """Direction implied by a metric's name, or None when the name says nothing."""
    name = metric.lower()
    if _MINIMIZE_WORDS.search(name):
        return "minimize"
    if _MAXIMIZE_WORDS.search(name):
        return "maximize"
    return None


class AutoMLSettings(BaseModel):
    """Validated ``automl_settings``. Defaults follow the published runner (DESIGN §2)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    automl_algorithm: str | None = None
    automl_max_recommendations: int = Field(20, ge=1)
    automl_max_epochs: int = Field(27, ge=1)
    automl_reduction_factor: int = Field(3, ge=2)
    automl_max_concurrent: int = Field(4, ge=1)
    automl_population_size: int = Field(10, ge=2)
    automl_max_generations: int = Field(20, ge=1)
    automl_max_experiments: int = Field(50, ge=1)
    automl_seed: int = 42
    automl_sampler: Literal["auto", "gp", "tpe", "random"] = "auto"
    automl_n_startup_trials: int | None = Field(None, ge=1)
    automl_baseline: bool = True
    automl_final_eval: bool = True
    automl_job_timeout: float | None = Field(None, gt=0, description="seconds before a job is canceled")
    automl_max_consecutive_failures: int = Field(5, ge=1)
    automl_env_passthrough: list[str] | None = Field(
        None, description="env var NAMES jobs may inherit (default: the platform skill's credential names)"
    )
    automl_max_total_epochs: int | None = Field(
        None, ge=1, description="epoch budget over all recommendations (promotions count only their extra epochs)"
    )
    automl_rung_mode: Literal["auto", "promotion", "stopping"] = "auto"
    automl_min_epochs: int = Field(1, ge=1, description="smallest rung (r0) of multi-fidelity algorithms")
    automl_pbt_interval: int | None = Field(None, ge=1, description="epochs per PBT generation")
    automl_max_retries: int = Field(2, ge=0, description="resubmissions after infrastructure failures/preemption")
    automl_num_shards: int | None = Field(None, ge=1, description="data-parallel shards for batch capping")
    metric: str | None = None
    direction: Direction | None = None
    objectives: list[Any] | None = Field(None, description="published spelling; exactly one objective here")
    metric_weight: float = Field(1.0, gt=0, description="published; one objective, so it changes no ranking")
    metric_scale: float = Field(1.0, gt=0, description="published; one objective, so it changes no ranking")
    automl_delete_intermediate_ckpt: bool | None = Field(
        None, description="True: delete non-best checkpoints; False: keep all; default: what the algorithm frees"
    )
    automl_retain_failed_artifacts: bool = Field(True, description="keep a failed recommendation's files")
    allow_unsafe_effective_batch: bool = Field(False, description="do not cap batch sizes at train_sample_count")
    baseline_metric: float | None = Field(None, description="a baseline measured elsewhere (status 'provided')")
    baseline_record_path: str | None = None
    final_evaluation: dict[str, Any] | None = Field(None, description="a final evaluation made elsewhere")
    final_evaluation_metric: float | None = Field(None, description="a final metric measured elsewhere")
    final_evaluation_record_path: str | None = None
    reuse_best_metric_for_final_evaluation: bool = False
    evaluation_records_dir: str | None = None
    published_only: dict[str, Any] = Field({}, description="see PUBLISHED_ONLY")
    train_sample_count: int | None = Field(None, ge=0)
    session_id: str | None = None
    experiment_id: str | None = None
    llm_endpoint: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_temperature: float = Field(0.2, ge=0)
    llm_max_tokens: int = Field(1024, ge=1)
    llm_timeout: float = Field(60.0, gt=0)
    llm_retries: int = Field(2, ge=0)
    llm_allow_fallback: bool = False
    llm_json_mode: Literal["json_object", "json_schema", "json_object_schema", "off"] = Field(
        "json_object",
        description="how JSON is asked for: OpenAI json_object/json_schema, or json_object with a schema (llama-cpp)",
    )
    llm_hybrid_candidates: int = Field(4, ge=2, description="sampler candidates the LLM chooses among (hybrid)")
    llm_price_per_1m_input_tokens: float | None = Field(None, ge=0, description="prompt price, for the result's cost")
    llm_price_per_1m_output_tokens: float | None = Field(None, ge=0, description="completion price, for the cost")
    automl_tracking: list[Literal["wandb"]] = Field(
        [], description="experiment trackers fed by the runner (tao_automl.tracking)"
    )
    wandb_project: str = "tao-automl"
    wandb_entity: str | None = None
    wandb_group: str | None = Field(None, description="default: experiment_id, else the run directory's name")
    wandb_tags: list[str] = []
    wandb_mode: Literal["auto", "online", "offline"] = Field(
        "auto", description="auto: online when WANDB_API_KEY is set, else offline (nothing leaves the machine)"
    )
    wandb_dir: str | None = Field(None, description="where wandb writes its run files (default: <run>/tracking)")

    @model_validator(mode="before")
    @classmethod
    def _canonical_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ConfigurationError(f"must be a mapping, got {type(data).__name__}", field="automl_settings")
        out: dict[str, Any] = {}
        known = list(cls.model_fields) + list(ALIASES) + list(PUBLISHED_ONLY)
        for key, value in data.items():
            if key in PUBLISHED_ONLY:
                out.setdefault("published_only", {})[key] = value
                continue
            if key in _MULTI_OBJECTIVE_SWITCHES:
                if value:
                    raise ConfigurationError(
                        "more than one objective is not supported",
                        field=f"automl_settings.{key}",
                        hint="tune one metric (metric, direction); measure latency in eval_fn's metadata",
                    )
                continue
            canonical = ALIASES.get(key, key)
            if canonical not in cls.model_fields:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(sorted(cls.model_fields))}"
                raise ConfigurationError(f"unknown setting '{key}'", field=f"automl_settings.{key}", hint=hint)
            if canonical in out and out[canonical] != value:
                raise ConfigurationError(
                    f"given twice (as '{key}' and its alias) with different values",
                    field=f"automl_settings.{canonical}",
                )
            out[canonical] = value
        return out

    @model_validator(mode="after")
    def _one_objective(self) -> AutoMLSettings:
        """The published ``objectives`` list, when it names exactly one, is ``metric`` and ``direction``."""
        if self.objectives is None:
            return self
        if len(self.objectives) != 1:
            raise ConfigurationError(
                f"{len(self.objectives)} objectives given; exactly one is supported",
                field="automl_settings.objectives",
                hint="give one objective, or set metric and direction",
            )
        only = self.objectives[0]
        name = only if isinstance(only, str) else (only or {}).get("metric") or (only or {}).get("name")
        if not isinstance(name, str) or not name:
            raise ConfigurationError("an objective needs a metric name", field="automl_settings.objectives[0]")
        if self.metric not in (None, name):
            raise ConfigurationError(
                f"objectives names '{name}' but metric is '{self.metric}'", field="automl_settings.objectives"
            )
        direction = only.get("direction") if isinstance(only, dict) else None
        object.__setattr__(self, "metric", name)
        if direction:
            object.__setattr__(self, "direction", direction)
        return self

    @property
    def settings_notes(self) -> dict[str, str]:
        """What each accepted published-only key does here (nothing), for the result and the review."""
        return {
            k: f"accepted for the published runner's scripts; not used: {PUBLISHED_ONLY[k]}"
            for k in self.published_only
        }

    @classmethod
    def parse(cls, data: dict[str, Any] | None) -> AutoMLSettings:
        """Validate a raw settings dict; pydantic errors become one ConfigurationError naming the key."""
        try:
            return cls.model_validate(data or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"]) or "automl_settings"
            raise ConfigurationError(first["msg"], field=f"automl_settings.{loc}") from None

    def resolved_direction(self, metric: str) -> Direction:
        """The explicit direction, else the one the metric name implies, else an error."""
        if self.direction:
            return self.direction
        inferred = infer_direction(metric)
        if inferred is None:
            raise ConfigurationError(
                f"cannot infer whether '{metric}' should be maximized or minimized",
                field="automl_settings.direction",
                hint="set direction to 'maximize' or 'minimize'",
            )
        return inferred

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to persist and show: secrets reduced to whether they are set."""
        data = self.model_dump(mode="json", exclude={"llm_api_key"})
        data["llm_api_key_set"] = self.llm_api_key is not None
        return data
