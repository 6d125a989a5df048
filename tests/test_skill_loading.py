"""Model-skill loading: the published upstream skills read unmodified, and the AutoML support gate."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tao_automl.errors import SkillError
from tao_automl.skill import ModelSkill, load_tao_schema
from tao_automl.space import find_leaf, iter_leaves

SkillWriter = Callable[..., Path]  # the tao_skill_writer fixture (tests/conftest.py)


def _digest_tree(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, keyed by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _error_text(exc: pytest.ExceptionInfo[SkillError]) -> str:
    return str(exc.value)


# --------------------------------------------------------------------------- upstream skills


def test_upstream_skill_loads_unmodified(upstream_skill_dir: Path) -> None:
    before = _digest_tree(upstream_skill_dir)
    skill = ModelSkill.load(upstream_skill_dir)
    skill.template("train")
    skill.schema("train")
    assert skill.name == upstream_skill_dir.name
    assert skill.info.automl_enabled is True
    assert skill.has_action("train") and skill.has_action("evaluate")
    assert skill.image("train") == "nvcr.io/nvidia/tao/tao-toolkit:7.1.0-pyt"
    assert skill.results_dir_key == "results_dir"
    assert skill.resume_key == "train.resume_training_checkpoint_path"
    assert skill.epochs_key == "train.num_epochs"
    assert _digest_tree(upstream_skill_dir) == before, "loading must not rewrite the shipped files"


def test_upstream_schema_with_bare_infinity_parses(upstream_skill_dir: Path) -> None:
    path = upstream_skill_dir / "schemas" / "train.schema.json"
    text = path.read_text(encoding="utf-8")
    assert '"maximum": Infinity' in text  # the fixture really uses the bare token
    schema = ModelSkill.load(upstream_skill_dir).schema("train")
    infinite = [n for n, leaf in iter_leaves(schema) if leaf.get("maximum") == math.inf]
    assert len(infinite) >= 3
    assert set(schema["properties"]) >= {"train", "dataset", "model"}
    assert schema["automl_default_parameters"], "upstream schemas list their default AutoML parameters"
    # evaluate schemas use the same dialect
    assert isinstance(load_tao_schema(upstream_skill_dir / "schemas" / "evaluate.schema.json")["properties"], dict)


def test_image_classification_lr_has_infinite_maximum(upstream_skills_dir: Path) -> None:
    schema = ModelSkill.load(upstream_skills_dir / "tao-train-image-classification").schema("train")
    lr = find_leaf(schema, "train.optim.lr")
    assert lr is not None
    assert lr["maximum"] == math.inf
    assert lr["default"] == pytest.approx(6e-05)
    assert find_leaf(schema, "dataset.batch_size")["maximum"] == math.inf  # type: ignore[index]


def test_upstream_templates_load(upstream_skill_dir: Path) -> None:
    skill = ModelSkill.load(upstream_skill_dir)
    path = skill.template_path("train")
    assert path is not None and path.name == "spec_template_train.yaml"
    template = skill.template("train")
    assert template == yaml.safe_load(path.read_text(encoding="utf-8"))
    assert {"results_dir", "train", "dataset", "model"} <= set(template)
    assert isinstance(template["train"]["num_epochs"], int)
    eval_template = skill.template("evaluate")
    assert "evaluate" in eval_template


def test_rtdetr_template_keeps_list_of_data_sources(upstream_skills_dir: Path) -> None:
    template = ModelSkill.load(upstream_skills_dir / "tao-train-rtdetr").template("train")
    assert template["dataset"]["train_data_sources"] == [{"image_dir": "", "json_file": ""}]
    assert template["model"]["num_queries"] == 300


def test_digits_skill_loads(digits_skill_dir: Path) -> None:
    skill = ModelSkill.load(digits_skill_dir)
    assert skill.name == "digits-cnn"
    assert skill.image() is None
    assert skill.action("train").execution is not None
    assert skill.action("train").execution.script == "scripts/train.py"  # type: ignore[union-attr]
    assert skill.template("train")["dataset"]["batch_size"] == 32
    assert skill.info.automl.metric == "val_accuracy"


def test_unknown_action_is_refused_with_the_known_ones(digits_skill_dir: Path) -> None:
    with pytest.raises(SkillError) as exc:
        ModelSkill.load(digits_skill_dir).action("export")
    assert "export" in _error_text(exc)
    assert "evaluate, train" in _error_text(exc)


# --------------------------------------------------------------------------- the support gate


def test_tiny_written_skill_loads(tao_skill_writer: SkillWriter) -> None:
    skill = ModelSkill.load(tao_skill_writer())
    assert skill.name == "tiny-net"
    lr = find_leaf(skill.schema("train"), "train.optim.lr")
    assert lr is not None and lr["maximum"] == math.inf
    assert skill.template("train")["dataset"]["batch_size"] == 16


def test_automl_disabled_is_refused_naming_skill_info(tao_skill_writer: SkillWriter) -> None:
    root = tao_skill_writer(automl_enabled=False)
    with pytest.raises(SkillError) as exc:
        ModelSkill.load(root)
    text = _error_text(exc)
    assert "skill_info.yaml" in text
    assert "automl_enabled" in text
    assert exc.value.field == str((root / "references" / "skill_info.yaml").resolve())


def test_automl_disabled_loads_when_not_required(tao_skill_writer: SkillWriter) -> None:
    skill = ModelSkill.load(tao_skill_writer(automl_enabled=False), require_automl=False)
    assert skill.info.automl_enabled is False
    with pytest.raises(SkillError, match="automl_enabled"):
        skill.check_automl_support()


def test_automl_enabled_absent_is_accepted(tao_skill_writer: SkillWriter) -> None:
    skill = ModelSkill.load(tao_skill_writer(automl_enabled=None))
    assert skill.info.automl_enabled is None
    assert "train" in skill.schema("train")["properties"]


def test_missing_train_schema_is_refused_naming_it(tao_skill_writer: SkillWriter) -> None:
    root = tao_skill_writer(write_schema=False)
    with pytest.raises(SkillError) as exc:
        ModelSkill.load(root)
    text = _error_text(exc)
    assert str(Path("schemas") / "train.schema.json") in text
    assert "missing train schema" in text
    assert exc.value.field == str(root.resolve() / "schemas" / "train.schema.json")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"properties": {"train": {"type": "collection", "properties": {}}', "unterminated"),
        ('{"properties": {"lr": {"maximum": NaN}}}', "NaN"),
        ("", "empty"),
    ],
)
def test_unparseable_schema_is_refused_naming_it(tao_skill_writer: SkillWriter, text: str, why: str) -> None:
    root = tao_skill_writer(schema=text)
    with pytest.raises(SkillError) as exc:
        ModelSkill.load(root)
    assert "cannot parse" in _error_text(exc), why
    assert str(Path("schemas") / "train.schema.json") in _error_text(exc), why


@pytest.mark.parametrize("text", ["[1, 2, 3]", '"just a string"', "null"])
def test_schema_that_is_not_an_object_is_refused_naming_it(tao_skill_writer: SkillWriter, text: str) -> None:
    root = tao_skill_writer(schema=text)
    with pytest.raises(SkillError) as exc:
        ModelSkill.load(root)
    assert "train.schema.json" in _error_text(exc)
    assert "JSON object" in _error_text(exc)


def test_schema_without_properties_is_refused(tao_skill_writer: SkillWriter) -> None:
    root = tao_skill_writer(schema={"type": "object", "default": {}})
    with pytest.raises(SkillError) as exc:
        ModelSkill.load(root)
    assert "no 'properties'" in _error_text(exc)
    assert "train.schema.json" in _error_text(exc)


def test_missing_skill_info_is_refused_naming_it(tao_skill_writer: SkillWriter) -> None:
    root = tao_skill_writer(write_info=False)
    with pytest.raises(SkillError) as exc:
        ModelSkill.load(root)
    assert str(Path("references") / "skill_info.yaml") in _error_text(exc)
    assert exc.value.field == str(root.resolve() / "references" / "skill_info.yaml")


@pytest.mark.parametrize(
    "content", ["name: [unclosed", "- just\n- a list\n", "actions: {train: {execution: {cwd: .}}}\n"]
)
def test_unparseable_skill_info_is_refused_naming_it(tao_skill_writer: SkillWriter, content: str) -> None:
    root = tao_skill_writer()
    (root / "references" / "skill_info.yaml").write_text(content)
    with pytest.raises(SkillError) as exc:
        ModelSkill.load(root)
    assert "skill_info.yaml" in _error_text(exc)
    assert "cannot parse" in _error_text(exc)


def test_missing_skill_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SkillError) as exc:
        ModelSkill.load(tmp_path / "no-such-skill")
    assert "no-such-skill" in _error_text(exc)
    assert "does not exist" in _error_text(exc)


def test_negative_infinity_parses(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"properties": {"x": {"type": "float", "minimum": -Infinity, "maximum": Infinity}}}')
    leaf: dict[str, Any] = load_tao_schema(path)["properties"]["x"]
    assert leaf["minimum"] == -math.inf
    assert leaf["maximum"] == math.inf


def test_template_falls_back_to_schema_default(tao_skill_writer: SkillWriter) -> None:
    root = tao_skill_writer()
    (root / "references" / "spec_template_train.yaml").unlink()
    skill = ModelSkill.load(root)
    assert skill.template_path("train") is None
    assert skill.template("train")["model"] == {"depth": 4, "use_bn": True}
