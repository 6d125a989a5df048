"""Load a model skill in the published format and apply the AutoML support gate.

Layout: ``references/skill_info.yaml``, ``schemas/<action>.schema.json`` (TAO dialect: bare
``Infinity`` tokens) and ``references/spec_template_<action>.yaml``. Files are read as shipped;
nothing here rewrites a skill.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from tao_automl.errors import SkillError


class Execution(BaseModel):
    """``execution:`` block of an action: run a script with a Python interpreter the platform picks.

    ``script_args`` is the published runner's older name of ``args``; ``config_format`` (json, yaml
    or toml) is how the spec file is written for SDKs that write it themselves.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: str = "python_script"
    script: str
    args: list[str] = Field(default_factory=lambda: ["--config", "{config_path}"], alias="script_args")
    cwd: str | None = None
    config_format: str | None = None


class ActionInfo(BaseModel):
    """One action of ``skill_info.yaml`` (train, evaluate, ...)."""

    model_config = ConfigDict(extra="allow")

    command: str | None = None
    execution: Execution | None = None
    container_image: str | None = None
    config_format: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    #: A mapping ``{spec key: {type: folder|file|model}}`` or a bare list of spec keys (both published).
    outputs: dict[str, Any] | list[str] = Field(default_factory=dict)
    upload_excludes: list[str] = Field(default_factory=list)

    @field_validator("inputs", "outputs", "upload_excludes", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return [] if info.field_name == "upload_excludes" else {}
        return value

    @property
    def output_keys(self) -> list[str]:
        return list(self.outputs)


class AutoMLHints(BaseModel):
    """Optional ``automl:`` block a skill may carry: its metric and checkpoint conventions."""

    model_config = ConfigDict(extra="allow")

    metric: str | None = None
    direction: str | None = None
    epochs_key: str | None = None
    checkpoint_glob: str | None = None
    evaluate_metric: str | None = None
    #: The skill's recommended ranges (``custom_param_ranges`` format), from its HPO notes.
    search_ranges: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: Evaluate-spec keys that say which data an evaluation read (``evaluate.split``), for the report.
    evaluate_data_keys: list[str] = Field(default_factory=list)


class SkillInfo(BaseModel):
    """``references/skill_info.yaml``. Unknown fields are kept: skills evolve faster than we do."""

    model_config = ConfigDict(extra="allow")

    name: str
    network_arch: str | None = None
    automl_enabled: bool | None = None
    container_image: str | None = None
    #: A ``container_image`` given as a mapping (e.g. ``{policy, runtime_input}``): the image is chosen
    #: at launch, so there is no fixed image; the mapping is kept here as written.
    container_image_policy: dict[str, Any] | None = None
    gpu_spec_key: str | None = None
    actions: dict[str, ActionInfo] = Field(default_factory=dict)
    data_sources: dict[str, Any] = Field(default_factory=dict)
    #: ``{action: {spec key: role}}``; a role is a launcher token (``output_dir``), a literal value
    #: (``MonoDataset``) or a mapping (``{link, destination_path}``): only string roles mean anything here.
    spec_params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    spec_templates: dict[str, str] = Field(default_factory=dict)
    spec_shorthand_keys: dict[str, str] = Field(default_factory=dict)
    automl: AutoMLHints = Field(default_factory=AutoMLHints)

    @model_validator(mode="before")
    @classmethod
    def _published_shapes(cls, data: Any) -> Any:
        """Accept every shape published skills use: null sections, image policies, string booleans."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key in ("actions", "data_sources", "spec_params", "spec_templates", "spec_shorthand_keys", "automl"):
            if data.get(key) is None:
                data.pop(key, None)
        if isinstance(data.get("spec_params"), dict):
            data["spec_params"] = {a: roles or {} for a, roles in data["spec_params"].items()}
        if isinstance(data.get("container_image"), dict):
            data["container_image_policy"] = data.pop("container_image")
        if isinstance(data.get("actions"), dict):
            data["actions"] = {a: spec or {} for a, spec in data["actions"].items()}
        if "automl_enabled" in data:
            data["automl_enabled"] = parse_flag(data["automl_enabled"])
        return data


def parse_flag(value: Any) -> bool | None:
    """A YAML/JSON flag as published: a bool, or the strings true/false (any case); None when absent."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    return None


def _reject_nan(token: str) -> float:
    if token == "NaN":
        raise ValueError("NaN is not a valid schema bound")
    return math.inf if token == "Infinity" else -math.inf


def load_tao_schema(path: Path) -> dict[str, Any]:
    """Parse a TAO-dialect schema: JSON plus bare ``Infinity``/``-Infinity`` tokens."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_nan)
    except (OSError, ValueError) as exc:
        raise SkillError(f"cannot parse: {exc}", field=str(path)) from None
    if not isinstance(data, dict):
        raise SkillError(f"schema must be a JSON object, got {type(data).__name__}", field=str(path))
    return data


class ModelSkill:
    """A loaded model skill directory. Use :meth:`load`, which applies the support gate."""

    def __init__(self, root: Path, info: SkillInfo) -> None:
        self.root = root
        self.info = info
        self._schemas: dict[str, dict[str, Any]] = {}

    @classmethod
    def load(cls, skill_dir: str | Path, *, require_automl: bool = True) -> ModelSkill:
        """Read ``skill_dir``; refuse it when AutoML is disabled or the train schema is unusable."""
        root = Path(skill_dir).expanduser().resolve()
        info_path = root / "references" / "skill_info.yaml"
        if not root.is_dir():
            raise SkillError("model skill directory does not exist", field=str(root))
        if not info_path.is_file():
            raise SkillError(
                "missing skill metadata", field=str(info_path), hint="a model skill needs references/skill_info.yaml"
            )
        try:
            raw = yaml.safe_load(info_path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SkillError(f"cannot parse: not valid YAML: {first}", field=str(info_path)) from None
        if not isinstance(raw, dict):
            raise SkillError(f"cannot parse: must be a mapping, got {type(raw).__name__}", field=str(info_path))
        if require_automl and parse_flag(raw.get("automl_enabled")) is False:
            # Refused for what it says, before any other field could fail to parse.
            raise SkillError(
                f"model '{raw.get('name') or root.name}' declares automl_enabled: false",
                field=str(info_path),
                hint="pick a model skill that supports AutoML, or train it without AutoML",
            )
        raw.setdefault("name", root.name)  # the published skill bank names some skills only by directory
        try:
            info = SkillInfo.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "skill_info"
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise SkillError(
                f"cannot parse: {where}: {err['msg']}{more}",
                field=str(info_path),
                hint="see the published skill_info.yaml format",
            ) from None
        skill = cls(root, info)
        if require_automl:
            skill.check_automl_support()
        return skill

    def check_automl_support(self) -> None:
        """The AutoML support gate: enabled in metadata, and a parseable train schema."""
        if self.info.automl_enabled is False:
            raise SkillError(
                f"model '{self.info.name}' declares automl_enabled: false",
                field=str(self.root / "references" / "skill_info.yaml"),
                hint="pick a model skill that supports AutoML, or train it without AutoML",
            )
        path = self.schema_path("train")
        if not path.is_file():
            raise SkillError(
                "missing train schema: AutoML has no search space without it",
                field=str(path),
                hint="package schemas/train.schema.json inside the model skill",
            )
        schema = self.schema("train")
        if not isinstance(schema.get("properties"), dict):
            raise SkillError("train schema has no 'properties'", field=str(path))

    @property
    def name(self) -> str:
        return self.info.name

    def schema_path(self, action: str) -> Path:
        return self.root / "schemas" / f"{action}.schema.json"

    def schema(self, action: str) -> dict[str, Any]:
        """The parsed TAO schema of ``action`` (cached)."""
        if action not in self._schemas:
            self._schemas[action] = load_tao_schema(self.schema_path(action))
        return self._schemas[action]

    def has_action(self, action: str) -> bool:
        return action in self.info.actions

    def action(self, action: str) -> ActionInfo:
        try:
            return self.info.actions[action]
        except KeyError:
            raise SkillError(
                f"model skill '{self.name}' has no action '{action}'",
                field="action",
                hint=f"actions: {', '.join(sorted(self.info.actions)) or 'none'}",
            ) from None

    def template_path(self, action: str) -> Path | None:
        """Where the spec template of ``action`` lives; None when the skill ships none."""
        candidates: list[Path] = []
        declared = self.info.spec_templates.get(action)
        if declared:
            candidates += [(self.root / "references" / declared).resolve(), (self.root / declared).resolve()]
        candidates.append(self.root / "references" / f"spec_template_{action}.yaml")
        return next((p for p in candidates if p.is_file()), None)

    def template(self, action: str) -> dict[str, Any]:
        """The nested default spec of ``action``: the template, else the schema's ``default``."""
        path = self.template_path(action)
        if path is not None:
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                raise SkillError(f"cannot parse spec template: {exc}", field=str(path)) from None
            if not isinstance(data, dict):
                raise SkillError("spec template is not a mapping", field=str(path))
            return data
        if self.schema_path(action).is_file():
            default = self.schema(action).get("default")
            if isinstance(default, dict):
                return default
        raise SkillError(
            f"no spec template for action '{action}'",
            field=str(self.root / "references" / f"spec_template_{action}.yaml"),
        )

    def override_action(
        self, action: str, *, image: str | None = None, execution: dict[str, Any] | None = None
    ) -> None:
        """For one run (``run(image=, execution=)``): the image of every action (the baseline and final
        evaluations run in it too), and the ``execution`` block of ``action``."""
        if image is not None:
            self.info.container_image = image
            for name, info in self.info.actions.items():
                self.info.actions[name] = info.model_copy(update={"container_image": image})
        if execution is None:
            return
        current = self.action(action)
        try:
            parsed = Execution.model_validate(execution)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise SkillError(err["msg"], field=f"execution.{where}" if where else "execution") from None
        self.info.actions[action] = current.model_copy(update={"execution": parsed})

    def image(self, action: str = "train") -> str | None:
        """Container image for ``action``: the action's own, else the skill's."""
        return self.action(action).container_image or self.info.container_image

    def spec_key_for(self, action: str, role: str) -> str | None:
        """Spec key the skill maps to a launcher role (``output_dir``, ``resume_model``, ``parent_model``)."""
        for key, value in self.info.spec_params.get(action, {}).items():
            if value == role:
                return key
        return None

    @property
    def results_dir_key(self) -> str:
        return self.spec_key_for("train", "output_dir") or "results_dir"

    @property
    def resume_key(self) -> str | None:
        return self.spec_key_for("train", "resume_model")

    @property
    def eval_checkpoint_key(self) -> str | None:
        return self.spec_key_for("evaluate", "parent_model")

    @property
    def epochs_key(self) -> str:
        return self.info.automl.epochs_key or self.info.spec_shorthand_keys.get("num_epochs", "train.num_epochs")
