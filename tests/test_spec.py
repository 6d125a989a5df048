"""Nested specs: dotted-key expansion, merging, flattening, override validation and batch capping."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from tao_automl.errors import ConfigurationError
from tao_automl.skill import ModelSkill
from tao_automl.spec import (
    batch_keys,
    cap_batch_sizes,
    deep_merge,
    expand_dotted,
    flatten,
    get_dotted,
    set_dotted,
    validate_override_keys,
)

RTDETR_DIR = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "upstream-skills" / "tao-train-rtdetr"


@pytest.fixture(scope="module")
def rtdetr() -> tuple[dict[str, Any], dict[str, Any]]:
    """(train schema, train template) of the upstream RT-DETR skill."""
    skill = ModelSkill.load(RTDETR_DIR)
    return skill.schema("train"), skill.template("train")


def _has_dotted_key(data: Any) -> bool:
    if isinstance(data, dict):
        return any("." in k or "[" in k or _has_dotted_key(v) for k, v in data.items())
    if isinstance(data, list):
        return any(_has_dotted_key(v) for v in data)
    return False


# --------------------------------------------------------------------------- dotted keys


def test_expand_dotted_with_list_indexes() -> None:
    overrides = {
        "train.optim.lr": 0.1,
        "dataset.train_data_sources[0].json_file": "a.json",
        "dataset.train_data_sources[0].image_dir": "imgs/a",
        "dataset.train_data_sources[1].json_file": "b.json",
        "results_dir": "/out",
    }
    assert expand_dotted(overrides) == {
        "train": {"optim": {"lr": 0.1}},
        "dataset": {"train_data_sources": [{"json_file": "a.json", "image_dir": "imgs/a"}, {"json_file": "b.json"}]},
        "results_dir": "/out",
    }


def test_expand_dotted_at_depth_and_mixed_with_nested() -> None:
    data = {"train": {"optim.lr": 0.1, "optim": {"momentum": 0.9}}, "train.num_epochs": 3}
    out = expand_dotted(data)
    assert out == {"train": {"optim": {"lr": 0.1, "momentum": 0.9}, "num_epochs": 3}}
    assert not _has_dotted_key(out)
    # order does not matter: nested first, dotted later merges into it
    assert expand_dotted({"train.num_epochs": 3, "train": {"optim": {"lr": 0.1}}}) == {
        "train": {"num_epochs": 3, "optim": {"lr": 0.1}}
    }


def test_expand_dotted_does_not_mutate_input() -> None:
    data = {
        "dataset": {"train_data_sources": [{"json_file": "a.json"}]},
        "dataset.train_data_sources[0].image_dir": "imgs",
        "model": {"feat_strides": [8, 16]},
    }
    before = copy.deepcopy(data)
    out = expand_dotted(data)
    assert out["dataset"]["train_data_sources"] == [{"json_file": "a.json", "image_dir": "imgs"}]
    assert data == before
    out["model"]["feat_strides"].append(32)
    assert data["model"]["feat_strides"] == [8, 16]


@pytest.mark.parametrize("key", ["a..b", "a.b[x]", "a.[0]", ".a", "a.b]"])
def test_malformed_dotted_key_is_refused(key: str) -> None:
    with pytest.raises(ConfigurationError) as exc:
        expand_dotted({key: 1})
    assert exc.value.field == key
    assert "malformed" in str(exc.value)


def test_set_and_get_dotted() -> None:
    spec: dict[str, Any] = {"a": {"b": [{"c": 1}]}}
    set_dotted(spec, "a.b[0].d", 2)
    set_dotted(spec, "a.b[2].c", 5)
    set_dotted(spec, "x.y", [1, 2])
    assert spec == {"a": {"b": [{"c": 1, "d": 2}, {}, {"c": 5}]}, "x": {"y": [1, 2]}}
    assert get_dotted(spec, "a.b[2].c") == 5
    assert get_dotted(spec, "a.b[7].c", "missing") == "missing"
    assert get_dotted(spec, "a.nope", None) is None
    value = [1]
    set_dotted(spec, "z", value)
    value.append(2)
    assert spec["z"] == [1], "set_dotted stores a copy"


def test_deep_merge_does_not_mutate_inputs() -> None:
    base = {"train": {"optim": {"lr": 0.1, "betas": [0.9, 0.99]}, "num_epochs": 10}, "keep": {"x": 1}}
    update = {"train": {"optim": {"lr": 0.01}, "extra": {"k": [1]}}, "new": 1}
    base_before, update_before = copy.deepcopy(base), copy.deepcopy(update)
    out = deep_merge(base, update)
    assert out == {
        "train": {"optim": {"lr": 0.01, "betas": [0.9, 0.99]}, "num_epochs": 10, "extra": {"k": [1]}},
        "keep": {"x": 1},
        "new": 1,
    }
    out["train"]["optim"]["betas"].append(1.0)
    out["train"]["extra"]["k"].append(2)
    out["keep"]["x"] = 2
    assert base == base_before
    assert update == update_before


def test_deep_merge_replaces_non_dicts() -> None:
    assert deep_merge({"a": {"b": 1}}, {"a": 5}) == {"a": 5}
    assert deep_merge({"a": 5}, {"a": {"b": 1}}) == {"a": {"b": 1}}
    assert deep_merge({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}


def test_flatten_round_trip(rtdetr: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _, template = rtdetr
    flat = flatten(template)
    assert flat["train.optim.lr"] == pytest.approx(1e-4)
    assert flat["dataset.train_data_sources"] == [{"image_dir": "", "json_file": ""}]  # lists are leaves
    assert all(not isinstance(v, dict) or v == {} for v in flat.values())
    assert expand_dotted(flat) == template


def test_flatten_small_spec() -> None:
    spec = {"a": {"b": 1, "c": {"d": [1, 2]}, "e": {}}, "f": None}
    assert flatten(spec) == {"a.b": 1, "a.c.d": [1, 2], "a.e": {}, "f": None}
    assert expand_dotted(flatten(spec)) == spec


# --------------------------------------------------------------------------- override keys


def test_validate_override_keys_accepts_valid_rtdetr_keys(rtdetr: tuple[dict[str, Any], dict[str, Any]]) -> None:
    schema, template = rtdetr
    overrides = {
        "train.optim.lr": 2e-4,
        "train.num_epochs": 3,
        "dataset.batch_size": 8,
        "model.num_queries": 100,
        "dataset.train_data_sources[0].json_file": "/data/train.json",
        "dataset.train_data_sources[0].image_dir": "/data/train",
        "dataset.val_data_sources.json_file": "/data/val.json",
        "results_dir": "/results",
        "model": {"num_select": 100},
    }
    assert validate_override_keys(overrides, schema, template) is None


@pytest.mark.parametrize(
    ("overrides", "bad", "suggestion"),
    [
        ({"train.optim.lrr": 1e-3}, "train.optim.lrr", "train.optim.lr"),
        ({"train": {"optim": {"lrr": 1e-3}}}, "train.optim.lrr", "train.optim.lr"),
        ({"trian.num_epochs": 3}, "trian.num_epochs", "train.num_epochs"),
        ({"model.num_querys": 100}, "model.num_querys", "model.num_queries"),
    ],
)
def test_validate_override_keys_refuses_typos(
    rtdetr: tuple[dict[str, Any], dict[str, Any]], overrides: dict[str, Any], bad: str, suggestion: str
) -> None:
    schema, template = rtdetr
    with pytest.raises(ConfigurationError) as exc:
        validate_override_keys(overrides, schema, template)
    assert exc.value.field == f"spec_overrides.{bad}"
    assert f"did you mean '{suggestion}'" in str(exc.value)


@pytest.mark.parametrize("overrides", [{"train.optim.lr.value": 1e-3}, {"train": {"optim": {"lr": {"value": 1}}}}])
def test_validate_override_keys_refuses_keys_below_a_scalar(
    rtdetr: tuple[dict[str, Any], dict[str, Any]], overrides: dict[str, Any]
) -> None:
    schema, template = rtdetr
    with pytest.raises(ConfigurationError) as exc:
        validate_override_keys(overrides, schema, template, field="automl_settings_overrides")
    assert exc.value.field == "automl_settings_overrides.train.optim.lr.value"


def test_validate_override_keys_template_only_key_is_accepted() -> None:
    schema = {"properties": {"train": {"type": "collection", "properties": {"lr": {"type": "float"}}}}}
    template = {"train": {"lr": 0.1, "legacy_knob": 3}}
    assert validate_override_keys({"train.legacy_knob": 4}, schema, template) is None
    with pytest.raises(ConfigurationError, match=re.escape("did you mean 'train.legacy_knob'")):
        validate_override_keys({"train.legacy_knb": 4}, schema, template)


# --------------------------------------------------------------------------- batch capping


def test_batch_keys(rtdetr: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _, template = rtdetr
    assert batch_keys(template) == ["dataset.batch_size"]
    spec = {"train": {"batch_size": 8}, "dataset": {"batch_size": True}, "evaluate": {"batch_size": 8}}
    assert batch_keys(spec) == ["train.batch_size"]


def test_batch_cap_record() -> None:
    spec = {"dataset": {"batch_size": 64}, "train": {"batch_size": 16}, "evaluate": {"batch_size": 64}}
    caps, invalid = cap_batch_sizes(spec, sample_count=100, shards=4)
    assert invalid is None
    assert len(caps) == 1
    record = caps[0].record()
    assert set(record) == {"type", "key", "from", "to", "sample_count", "shards", "reason"}
    assert {k: v for k, v in record.items() if k != "reason"} == {
        "type": "effective_batch_cap",
        "key": "dataset.batch_size",
        "from": 64,
        "to": 25,
        "sample_count": 100,
        "shards": 4,
    }
    assert "64" in record["reason"] and "100" in record["reason"]
    assert spec == {"dataset": {"batch_size": 25}, "train": {"batch_size": 16}, "evaluate": {"batch_size": 64}}


def test_batch_within_cap_is_untouched() -> None:
    spec = {"dataset": {"batch_size": 25}}
    caps, invalid = cap_batch_sizes(spec, sample_count=100, shards=4)
    assert (caps, invalid) == ([], None)
    assert spec == {"dataset": {"batch_size": 25}}


def test_batch_cap_below_one_is_invalid_and_changes_nothing() -> None:
    spec = {"dataset": {"batch_size": 64}, "train": {"batch_size": 2}}
    before = copy.deepcopy(spec)
    caps, invalid = cap_batch_sizes(spec, sample_count=3, shards=4)
    assert caps == []
    assert invalid is not None and invalid.startswith("invalid_configuration")
    assert "3 training samples" in invalid and "4 shard(s)" in invalid
    assert spec == before


def test_batch_cap_with_non_positive_shards_uses_one() -> None:
    spec = {"dataset": {"batch_size": 64}}
    caps, _ = cap_batch_sizes(spec, sample_count=10, shards=0)
    assert caps[0].record()["shards"] == 1
    assert spec["dataset"]["batch_size"] == 10
