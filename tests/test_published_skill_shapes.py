"""Every skill shape the public TAO skill bank ships loads, or is refused in one line naming the field.

The fixtures under ``tests/fixtures/skill_shapes/`` are our own skills, one per shape found in the
published bank (no ``name``, mapping-valued ``spec_params``, image policies, disabled skills with
other faults, list-typed AutoML defaults, TAO list types, plain JSON Schema, no actions).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tao_automl.errors import AutoMLError, ConfigurationError, SkillError
from tao_automl.runner import AutoMLRunner
from tao_automl.skill import ModelSkill
from tao_automl.space import ParamType, build_search_space

SHAPES = Path(__file__).resolve().parent / "fixtures" / "skill_shapes"


def _one_line(exc: pytest.ExceptionInfo[AutoMLError]) -> str:
    text = str(exc.value)
    assert "\n" not in text, f"not one line: {text!r}"
    assert "validation error" not in text.lower(), f"raw pydantic dump: {text}"
    return text


def _refused_before_any_job(tmp_path: Path, skill: Path, **run: object) -> pytest.ExceptionInfo[AutoMLError]:
    runner = AutoMLRunner(skill_dir=skill, platform_sdk="local", workspace_dir=tmp_path / "ws")
    with pytest.raises(AutoMLError) as exc:
        runner.run(automl_settings={"metric": "val_accuracy"}, **run)  # type: ignore[arg-type]
    assert not (tmp_path / "ws").exists(), "a refused plan must leave no workspace"
    return exc


def test_skill_without_name_is_named_by_its_directory_and_keeps_its_odd_fields() -> None:
    skill = ModelSkill.load(SHAPES / "unnamed-mapped")
    assert skill.name == "unnamed-mapped"
    assert skill.info.network_arch == "shape_unnamed"
    # mapping roles and literal values are kept as written; only string roles act as launcher roles
    roles = skill.info.spec_params["train"]
    assert roles["model.pretrained"] == {
        "link": "https://example.invalid/backbone.pth",
        "destination_path": "/ptm/backbone.pth",
    }
    assert roles["dataset.kind"] == "MonoDataset"
    assert skill.results_dir_key == "results_dir"
    # an image policy is not an image: no fixed image, the policy kept
    assert skill.image("train") is None
    assert skill.info.container_image_policy == {"policy": "repository_derived", "runtime_input": "image_tag"}
    extra = skill.info.model_extra or {}
    assert extra["huggingface_model_ids"] == ["org/shape-backbone"]
    assert extra["key_defaults"] == {"model.hidden_dims": [64, 64, 64]}
    assert skill.action("train").upload_excludes == []
    space = build_search_space(skill.schema("train"))
    assert space.names == ["train.optim.lr", "model.width"]  # properties.automl_disabled_parameters is skipped
    assert space["model.width"].choices == (8, 16, 32, 64, 128)  # "^ 2": powers of two


def test_disabled_skill_is_refused_for_being_disabled_not_for_its_other_faults(tmp_path: Path) -> None:
    with pytest.raises(SkillError) as exc:
        ModelSkill.load(SHAPES / "disabled-malformed")
    text = _one_line(exc)
    assert "automl_enabled: false" in text and "shape-disabled" in text
    assert exc.value.field is not None and exc.value.field.endswith("skill_info.yaml")
    exc2 = _refused_before_any_job(tmp_path, SHAPES / "disabled-malformed")
    assert "automl_enabled: false" in _one_line(exc2)


def test_malformed_skill_info_is_one_line_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(SkillError) as exc:
        ModelSkill.load(SHAPES / "disabled-malformed", require_automl=False)
    text = _one_line(exc)
    assert "actions" in text and "skill_info.yaml" in text


def test_only_default_parameter_a_list_is_searched_element_by_element() -> None:
    skill = ModelSkill.load(SHAPES / "list-only-defaults")
    space = build_search_space(skill.schema("train"))
    assert space.names == ["train.optim.lr_steps[0]", "train.optim.lr_steps[1]"]
    assert all(p.type is ParamType.INT for p in space)
    rng = random.Random(3)
    configs = [space.sample(rng) for _ in range(20)]
    assert len({tuple(c.values()) for c in configs}) > 10, "proposals must differ"
    for c in configs:
        assert c["train.optim.lr_steps[0]"] <= c["train.optim.lr_steps[1]"], "milestones stay ascending"


def test_empty_search_space_is_refused_before_any_job_naming_field_and_fix(tmp_path: Path) -> None:
    exc = _refused_before_any_job(tmp_path, SHAPES / "nothing-searchable")
    text = _one_line(exc)
    assert isinstance(exc.value, ConfigurationError)
    assert exc.value.field == "automl_hyperparameters"
    assert "dataset.classes" in text and "train.num_gpus" in text
    assert exc.value.hint and "custom_param_ranges" in exc.value.hint


def test_tao_list_types_and_anyof_leaves_are_searchable() -> None:
    skill = ModelSkill.load(SHAPES / "list-types")  # automl_enabled: "True" (a string) counts as true
    assert skill.image("train") is None and skill.action("train").output_keys == ["results_dir"]
    space = build_search_space(skill.schema("train"))  # no automl_default_parameters: the flagged leaves
    names = set(space.names)
    assert "policy.lora.dropout" not in names  # automl_enabled: false
    assert {"policy.lora.target_modules", "policy.lora.modules_to_save", "model.frozen_stages"} <= names
    assert {"model.img_size[0]", "model.img_size[1]", "train.optm_betas[0]", "train.optm_betas[1]"} <= names
    assert {"train.optm_lr", "train.optm_decay_type"} <= names
    subsets = space["policy.lora.target_modules"].choices
    assert [] in subsets and ["q_proj", "v_proj"] in subsets and len(subsets) == 16
    assert space["policy.lora.modules_to_save"].choices == (None, ["visual"])
    runs = space["model.frozen_stages"].choices
    assert [-1] in runs and [0, 1, 2, 3] in runs and all(r == list(range(r[0], r[-1] + 1)) for r in runs)
    beta1, beta2 = space["train.optm_betas[0]"], space["train.optm_betas[1]"]
    assert beta1.low >= 0.8 and beta1.high <= 0.95 and beta2.low >= 0.9 and beta2.high <= 0.999  # per-element bounds
    lr = space["train.optm_lr"]
    assert lr.type is ParamType.FLOAT and lr.log and lr.low > 0
    assert space["train.optm_decay_type"].weights == (0.1, 0.1, 0.4, 0.4)
    rng = random.Random(0)
    for _ in range(20):
        c = space.sample(rng)
        assert c["model.img_size[0]"] == c["model.img_size[1]"], "a square size stays square"
        assert all(space[n].contains(v) for n, v in c.items())


def test_plain_json_schema_dialect_is_searched_when_asked_by_name(tmp_path: Path) -> None:
    skill = ModelSkill.load(SHAPES / "json-schema-dialect")
    with pytest.raises(ConfigurationError) as exc:
        build_search_space(skill.schema("train"))  # no AutoML lists nor flags: nothing to search by default
    assert exc.value.field == "automl_hyperparameters"
    space = build_search_space(skill.schema("train"), ["train.learning_rate", "train.use_ema", "model.name"])
    lr = space["train.learning_rate"]
    assert lr.low > 0 and lr.high <= 1.0  # exclusiveMinimum: 0 keeps it off zero
    assert space["model.name"].choices == ("base", "large")  # an enum with no type is categorical
    assert space["train.use_ema"].type is ParamType.BOOL


def test_skill_without_actions_loads_and_a_run_is_refused_naming_the_action(tmp_path: Path) -> None:
    skill = ModelSkill.load(SHAPES / "no-actions", require_automl=False)
    assert skill.name == "shape-no-actions" and skill.info.actions == {}
    exc = _refused_before_any_job(tmp_path, SHAPES / "no-actions")
    text = _one_line(exc)
    assert exc.value.field in ("action", str(SHAPES / "no-actions" / "schemas" / "train.schema.json"))
    assert "train" in text


def test_action_without_command_or_execution_is_refused_naming_it(tmp_path: Path) -> None:
    root = tmp_path / "skill"
    (root / "references").mkdir(parents=True)
    (root / "schemas").mkdir()
    (root / "references" / "skill_info.yaml").write_text(
        "network_arch: x\nautoml_enabled: true\n"
        "actions:\n  train: {inputs: {}, outputs: {results_dir: {type: folder}}}\n"
    )
    (root / "schemas" / "train.schema.json").write_text(
        '{"properties": {"lr": {"type": "float", "default": 0.1, "minimum": 0.01, "maximum": 1.0}},'
        ' "automl_default_parameters": ["lr"]}'
    )
    exc = _refused_before_any_job(tmp_path / "run", root)
    assert exc.value.field == "actions.train"
    assert "command" in _one_line(exc)


@pytest.mark.parametrize(
    ("execution", "field"),
    [
        ("{type: python_script, script: scripts/missing.py, cwd: .}", "actions.train.execution.script"),
        ("{type: python_script, script: train.py, cwd: no-such-dir}", "actions.train.execution.cwd"),
        ("{type: shell, script: train.py}", "actions.train.execution.type"),
    ],
)
def test_python_script_that_cannot_run_is_refused_before_any_job(tmp_path: Path, execution: str, field: str) -> None:
    root = tmp_path / "skill"
    (root / "references").mkdir(parents=True)
    (root / "schemas").mkdir()
    (root / "train.py").write_text("print('accuracy: 1')\n")
    (root / "references" / "skill_info.yaml").write_text(
        f"network_arch: x\nactions:\n  train:\n    execution: {execution}\n"
    )
    (root / "schemas" / "train.schema.json").write_text(
        '{"properties": {"lr": {"type": "float", "default": 0.1, "minimum": 0.01, "maximum": 1.0,'
        ' "automl_enabled": true}}}'
    )
    exc = _refused_before_any_job(tmp_path / "run", root)
    assert exc.value.field == field
    _one_line(exc)
