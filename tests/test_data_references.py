"""Dataset references from the published skill format, and required inputs refused before launch by spec key."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PROJECT_ROOT

from tao_automl.data import dataset_references, parse_location
from tao_automl.data.preparation import job_s3_credential_names
from tao_automl.errors import ConfigurationError
from tao_automl.estimate import plan_run
from tao_automl.skill import ModelSkill


def test_rtdetr_references_keep_list_indexes_and_skip_checkpoints(upstream_skills_dir: Path) -> None:
    skill = ModelSkill.load(upstream_skills_dir / "tao-train-rtdetr")
    spec = skill.template("train")
    spec["dataset"]["train_data_sources"][0]["json_file"] = "s3://tao-data/coco/annotations.json"
    refs = {r.spec_key: r for r in dataset_references(skill, "train", spec)}
    assert set(refs) == {
        "dataset.train_data_sources[0].image_dir",
        "dataset.train_data_sources[0].json_file",
        "dataset.val_data_sources.image_dir",
        "dataset.val_data_sources.json_file",
    }
    ann = refs["dataset.train_data_sources[0].json_file"]
    assert (ann.kind, ann.role, ann.path_in_source, ann.location) == (
        "file",
        "train_datasets",
        "annotations.json",
        "s3://tao-data/coco/annotations.json",
    )
    assert ann.is_train and not refs["dataset.val_data_sources.json_file"].is_train
    assert refs["dataset.train_data_sources[0].image_dir"].runtime == "extracted_folder"
    assert refs["dataset.val_data_sources.image_dir"].location is None


def test_aws_scheme_is_an_alias_of_s3() -> None:
    loc = parse_location("aws://tao-data/coco/train.json")
    assert (loc.kind, loc.uri, loc.bucket, loc.key) == (
        "s3",
        "s3://tao-data/coco/train.json",
        "tao-data",
        "coco/train.json",
    )
    assert parse_location("file:///data/x").path == Path("/data/x")


MODELS = PROJECT_ROOT / "skills" / "models"


def test_missing_required_input_is_refused_naming_the_spec_key(tmp_path: Path) -> None:
    skill_dir = MODELS / "tao-train-rtdetr"
    with pytest.raises(ConfigurationError) as info:
        plan_run(skill_dir, train_dataset_uri=str(tmp_path / "train"), workspace_dir=tmp_path)
    assert info.value.field == "dataset.val_data_sources.image_dir"
    assert "eval_dataset_uri" in (info.value.hint or "")
    assert "dataset.val_data_sources.json_file" in info.value.message
    run = plan_run(
        skill_dir,
        train_dataset_uri=str(tmp_path / "train"),
        eval_dataset_uri="aws://tao-data/val",
        workspace_dir=tmp_path,
    )
    assert run.dataset_keys()["dataset.val_data_sources.json_file"] == "aws://tao-data/val/annotations.json"


def test_spec_override_with_a_list_index_fills_a_required_input(tmp_path: Path) -> None:
    skill_dir = MODELS / "tao-train-segformer"
    with pytest.raises(ConfigurationError) as info:
        plan_run(skill_dir, workspace_dir=tmp_path)
    assert info.value.field == "dataset.segment.root_dir"  # the template's `???` counts as unset
    plan_run(skill_dir, spec_overrides={"dataset.segment.root_dir": str(tmp_path)}, workspace_dir=tmp_path)
    rtdetr = MODELS / "tao-train-rtdetr"
    overrides = {
        "dataset.train_data_sources[0].image_dir": "/data/train/images",
        "dataset.train_data_sources[0].json_file": "/data/train/annotations.json",
        "dataset.val_data_sources.image_dir": "/data/val/images",
        "dataset.val_data_sources.json_file": "/data/val/annotations.json",
    }
    plan_run(rtdetr, spec_overrides=overrides, workspace_dir=tmp_path)


def test_jobs_inherit_s3_credential_names_only_while_a_spec_reads_s3() -> None:
    env = {"ACCESS_KEY": "a", "SECRET_KEY": "b", "S3_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": "eu-west-1"}
    reads_s3 = {"dataset": {"train_data_sources": [{"json_file": "aws://tao-data/train.json"}]}}
    assert job_s3_credential_names(reads_s3, env) == ["ACCESS_KEY", "SECRET_KEY", "AWS_REGION", "S3_ENDPOINT_URL"]
    assert job_s3_credential_names({"dataset": {"json_file": "/staged/train.json"}}, env) == []
