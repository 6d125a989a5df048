"""One run's inputs as a file: what the MCP server's ``launch_automl`` writes and ``tao-automl run
--plan-file`` reads, so a launcher hands every input to a detached runner without a shell command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tao_automl.errors import ConfigurationError
from tao_automl.workspace import atomic_write_json

_FLAG = "--plan-file"


class PlanFile(BaseModel):
    """The runner's inputs; unknown keys are refused so a typo is not silently ignored."""

    model_config = ConfigDict(extra="forbid")

    skill: str = Field(min_length=1, description="model skill directory")
    platform: str = Field(default="local", min_length=1)
    platform_options: dict[str, Any] = Field(default_factory=dict)
    algorithm: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    spec_overrides: dict[str, Any] = Field(default_factory=dict)
    custom_param_ranges: dict[str, dict[str, Any]] | None = None
    automl_hyperparameters: list[str] | None = None
    baseline_record: dict[str, Any] | None = Field(default=None, description="a baseline already measured")
    workspace: str | None = Field(default=None, description="results directory (else --workspace)")
    run_name: str | None = Field(
        default=None, min_length=1, description="the run directory's name under workspace (else run_<timestamp>)"
    )
    poll_interval: float | None = Field(default=None, gt=0)
    train_dataset_uri: str | None = None
    eval_dataset_uri: str | None = None
    base_checkpoint: str | None = None

    @field_validator("platform", "platform_options", "settings", "spec_overrides", mode="before")
    @classmethod
    def _null_is_default(cls, value: Any, info: Any) -> Any:
        """A null (the launcher had nothing to say) means the default, as an absent key does."""
        if value is not None:
            return value
        return "local" if info.field_name == "platform" else {}

    @classmethod
    def parse(cls, data: dict[str, Any]) -> PlanFile:
        """Validate; a problem is a ConfigurationError naming the key (``--plan-file.<key>``)."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            hint = f"known keys: {', '.join(sorted(cls.model_fields))}" if first["type"] == "extra_forbidden" else None
            raise ConfigurationError(first["msg"], field=f"{_FLAG}.{loc}" if loc else _FLAG, hint=hint) from None

    def write(self, path: Path) -> None:
        """Atomically: the detached runner never reads a half-written plan."""
        atomic_write_json(path, self.model_dump(mode="json"))
