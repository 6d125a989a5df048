"""Search spaces built from TAO train schemas: ranges, math_cond, dependencies, sampling, custom ranges."""

from __future__ import annotations

import copy
import math
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tao_automl.errors import ConfigurationError, SkillError
from tao_automl.skill import ModelSkill
from tao_automl.space import (
    Param,
    ParamType,
    SearchSpace,
    build_search_space,
    find_leaf,
    param_from_leaf,
    parse_math_cond,
)

UPSTREAM_SKILLS_DIR = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "upstream-skills"
UPSTREAM_SKILL_NAMES = ("tao-train-image-classification", "tao-train-rtdetr", "tao-train-segformer")
N_SAMPLES = 500


@pytest.fixture(scope="module")
def upstream_schemas() -> dict[str, dict[str, Any]]:
    """Train schemas of the three upstream skills, parsed once per module."""
    assert UPSTREAM_SKILLS_DIR.is_dir(), f"upstream skill fixtures not found at {UPSTREAM_SKILLS_DIR}"
    return {name: ModelSkill.load(UPSTREAM_SKILLS_DIR / name).schema("train") for name in UPSTREAM_SKILL_NAMES}


@pytest.fixture(scope="module")
def digits_schema() -> dict[str, Any]:
    root = Path(__file__).resolve().parents[1] / "skills" / "models" / "digits-cnn"
    return ModelSkill.load(root).schema("train")


def _space(schemas: dict[str, dict[str, Any]], name: str) -> SearchSpace:
    return build_search_space(schemas[name])


def _leaf_schema(leaves: dict[str, dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A minimal TAO schema with the given dotted leaves (one collection level) listed as defaults."""
    props: dict[str, Any] = {}
    for dotted, leaf in leaves.items():
        group, key = dotted.split(".")
        props.setdefault(group, {"type": "collection", "properties": {}})["properties"][key] = leaf
    return {"type": "object", "properties": props, "automl_default_parameters": list(leaves), **extra}


def _single(leaf: dict[str, Any], name: str = "model.x") -> Param:
    built = param_from_leaf(name, leaf)
    assert isinstance(built, Param), f"expected a parameter, got the exclusion reason {built!r}"
    return built


def _assert_valid(space: SearchSpace, config: dict[str, Any]) -> None:
    assert set(config) == set(space.names)
    for p in space:
        value = config[p.name]
        assert p.contains(value), f"{p.name}={value!r} outside {p.describe()}"
        assert p.distribution()._contains(float(p.encode(value))), f"{p.name}={value!r} not in its distribution"


# --------------------------------------------------------------------------- upstream spaces


@pytest.mark.parametrize("skill", UPSTREAM_SKILL_NAMES)
def test_upstream_space_ranges_are_sensible(upstream_schemas: dict[str, dict[str, Any]], skill: str) -> None:
    schema = upstream_schemas[skill]
    space = _space(upstream_schemas, skill)
    assert len(space) >= 10
    for p in space:
        leaf = find_leaf(schema, p.name)
        assert leaf is not None
        if p.choices:
            assert len(p.choices) >= 2, p.name
            continue
        assert math.isfinite(p.low) and math.isfinite(p.high), p.name
        assert p.low < p.high, p.name
        if p.log:
            assert p.low > 0, p.name
        open_ended = not math.isfinite(float(leaf.get("maximum") or math.inf))
        default = leaf.get("default")
        if open_ended and isinstance(default, int | float) and default > 0:
            assert (p.low, p.high) != (0, default), f"{p.name} collapsed to [0, default]"
            assert p.low <= default < p.high, f"{p.name}: open-ended range {p.low}..{p.high} vs default {default}"
            assert p.low > 0, p.name


def test_image_classification_lr_is_log_scale_around_default(upstream_schemas: dict[str, dict[str, Any]]) -> None:
    lr = _space(upstream_schemas, "tao-train-image-classification")["train.optim.lr"]
    assert find_leaf(upstream_schemas["tao-train-image-classification"], "train.optim.lr")["maximum"] == math.inf  # type: ignore[index]
    assert lr.type is ParamType.FLOAT
    assert lr.log is True
    assert lr.low == pytest.approx(6e-06)
    assert lr.high == pytest.approx(6e-04)
    assert lr.low > 0
    assert lr.contains(6e-05)
    assert not lr.contains(0.0)


@pytest.mark.parametrize(
    ("skill", "explicit", "name", "expected"),
    [
        ("tao-train-image-classification", None, "dataset.batch_size", (2, 32)),
        ("tao-train-rtdetr", None, "dataset.batch_size", (1, 16)),
        ("tao-train-segformer", ["dataset.segment.batch_size"], "dataset.segment.batch_size", (2, 32)),
    ],
)
def test_batch_size_has_finite_maximum(
    upstream_schemas: dict[str, dict[str, Any]],
    skill: str,
    explicit: list[str] | None,
    name: str,
    expected: tuple[int, int],
) -> None:
    schema = upstream_schemas[skill]
    assert find_leaf(schema, name)["maximum"] == math.inf  # type: ignore[index]
    p = build_search_space(schema, explicit)[name]
    assert p.type is ParamType.INT
    assert (p.low, p.high) == expected
    assert p.log is True
    rng = random.Random(3)
    values = {p.sample(rng) for _ in range(300)}
    assert min(values) >= expected[0] and max(values) <= expected[1]
    assert all(isinstance(v, int) for v in values)


def test_rtdetr_num_select_depends_on_num_queries(upstream_schemas: dict[str, dict[str, Any]]) -> None:
    space = _space(upstream_schemas, "tao-train-rtdetr")
    sel = space["model.num_select"]
    assert sel.depends_on == "model.num_queries"
    assert sel.relation == "le"
    assert space.names.index("model.num_queries") < space.names.index("model.num_select")
    rng = random.Random(7)
    clamped = 0
    for _ in range(N_SAMPLES):
        cfg = space.sample(rng)
        assert cfg["model.num_select"] <= cfg["model.num_queries"]
        clamped += cfg["model.num_select"] == cfg["model.num_queries"]
    assert clamped > 0  # the repair really ran (num_select's own range reaches 1000)
    assert space.repair({"model.num_queries": 200, "model.num_select": 900}) == {
        "model.num_queries": 200,
        "model.num_select": 200,
    }
    assert space.repair({"model.num_queries": 200, "model.num_select": 50})["model.num_select"] == 50


def test_bools_become_two_choices(upstream_schemas: dict[str, dict[str, Any]]) -> None:
    space = _space(upstream_schemas, "tao-train-image-classification")
    bools = [p for p in space if p.type is ParamType.BOOL]
    assert len(bools) >= 5
    for p in bools:
        assert p.choices == (True, False)
        assert p.encode(False) == 1 and p.decode(1) is False
    assert space["model.backbone.freeze_backbone"].default is False


@pytest.mark.parametrize("skill", ["tao-train-image-classification", "tao-train-rtdetr"])
def test_workers_excluded_with_reason(upstream_schemas: dict[str, dict[str, Any]], skill: str) -> None:
    space = _space(upstream_schemas, skill)
    assert "dataset.workers" not in space.names
    assert "speed or bookkeeping" in space.excluded["dataset.workers"]
    # named explicitly, it is searched
    explicit = build_search_space(upstream_schemas[skill], ["dataset.workers", "train.optim.lr"])
    assert explicit.names == ["dataset.workers", "train.optim.lr"]
    assert explicit.excluded == {}


def test_list_betas_searched_element_by_element(upstream_schemas: dict[str, dict[str, Any]]) -> None:
    space = _space(upstream_schemas, "tao-train-image-classification")
    assert "train.optim.betas" not in space.names
    beta1, beta2 = space["train.optim.betas[0]"], space["train.optim.betas[1]"]
    assert beta1.type is ParamType.FLOAT and beta1.low < 0.9 < beta1.high <= 1.0
    assert beta2.low < 0.999 < beta2.high <= 1.0
    explicit = build_search_space(upstream_schemas["tao-train-image-classification"], ["train.optim.betas"])
    assert explicit.names == ["train.optim.betas[0]", "train.optim.betas[1]"]
    searched = build_search_space(
        upstream_schemas["tao-train-image-classification"],
        [],
        {"train.optim.betas": {"valid_options": [[0.9, 0.999], [0.95, 0.999]]}},
    )
    assert searched["train.optim.betas"].choices == ([0.9, 0.999], [0.95, 0.999])
    assert searched["train.optim.betas"].encode([0.95, 0.999]) == 1


def test_disabled_and_system_defaults_are_reported(tiny_schema: dict[str, Any]) -> None:
    space = build_search_space(tiny_schema)
    assert space.names == [
        "train.optim.lr",
        "train.optim.optimizer",
        "dataset.batch_size",
        "model.depth",
        "model.use_bn",
    ]
    assert space.excluded == {
        "dataset.workers": "changes speed or bookkeeping, not the model (name it explicitly to search it)",
        "train.num_epochs": "listed in automl_disabled_parameters",
    }


def test_schema_without_default_parameters_is_refused(tiny_schema: dict[str, Any]) -> None:
    schema = tiny_schema
    schema["automl_default_parameters"] = []
    with pytest.raises(ConfigurationError, match="automl_default_parameters") as exc:
        build_search_space(schema)
    assert exc.value.field == "automl_hyperparameters"
    assert build_search_space(schema, ["model.depth"]).names == ["model.depth"]


# --------------------------------------------------------------------------- digits demo skill


def test_digits_space(digits_schema: dict[str, Any]) -> None:
    space = build_search_space(digits_schema)
    bs = space["dataset.batch_size"]
    assert bs.type is ParamType.ORDERED
    assert bs.choices == (16, 32, 64, 128)
    width = space["model.width"]
    assert (width.type, width.low, width.high, width.step) == (ParamType.INT, 8, 48, 8)
    rng = random.Random(0)
    widths = {width.sample(rng) for _ in range(300)}
    assert widths == {8, 16, 24, 32, 40, 48}
    opt = space["train.optim.optimizer"]
    assert opt.type is ParamType.CATEGORICAL
    assert opt.choices == ("adam", "adamw", "sgd")
    assert opt.weights == (0.4, 0.4, 0.2)
    lr = space["train.optim.lr"]
    assert lr.log is True
    assert (lr.low, lr.high) == pytest.approx((1e-4, 1e-2))
    assert space.excluded == {}


# --------------------------------------------------------------------------- math_cond


@pytest.mark.parametrize(
    ("cond", "parsed"),
    [
        ("> 0.0", [(">", "0.0")]),
        (">0", [(">", "0")]),
        (">=0", [(">=", "0")]),
        ("> 0.0 <= 1.0", [(">", "0.0"), ("<=", "1.0")]),
        ("/ 8", [("/", "8")]),
        ("^ 2", [("^", "2")]),
        ("> depends_on", [(">", "depends_on")]),
        ("<1e-2", [("<", "1e-2")]),
        (None, []),
    ],
)
def test_parse_math_cond(cond: str | None, parsed: list[tuple[str, str]]) -> None:
    assert parse_math_cond(cond) == parsed


def test_math_cond_strict_float_lower_bound() -> None:
    p = _single({"type": "float", "default": 0.5, "minimum": 0.0, "maximum": 1.0, "math_cond": "> 0.0"})
    assert 0 < p.low <= 0.001
    assert p.high == 1.0
    assert not p.contains(0.0)


def test_math_cond_strict_int_lower_bound() -> None:
    p = _single({"type": "int", "default": 3, "minimum": 0, "maximum": 10, "math_cond": ">0"})
    assert (p.low, p.high) == (1, 10)
    assert not p.contains(0)


def test_math_cond_inclusive_int_lower_bound() -> None:
    p = _single({"type": "int", "default": 3, "minimum": 0, "maximum": 10, "math_cond": ">=0"})
    assert (p.low, p.high) == (0, 10)
    assert p.contains(0)


def test_math_cond_two_sided_without_schema_bounds() -> None:
    p = _single({"type": "float", "default": 0.5, "math_cond": "> 0.0 <= 1.0"})
    assert 0 < p.low <= 0.001
    assert p.high == 1.0
    assert p.log is False


def test_math_cond_strict_int_upper_bound() -> None:
    p = _single({"type": "int", "default": 3, "minimum": 1, "maximum": 100, "math_cond": "< 10"})
    assert (p.low, p.high) == (1, 9)


def test_math_cond_strict_lower_bound_with_open_maximum_and_zero_default() -> None:
    p = _single({"type": "float", "default": 0.0, "minimum": 0.0, "maximum": math.inf, "math_cond": "> 0.0"})
    assert p.low > 0
    assert p.high == pytest.approx(1.0)


def test_math_cond_multiple_of() -> None:
    p = _single({"type": "int", "default": 16, "minimum": 0, "maximum": 64, "math_cond": "/ 8"})
    assert (p.low, p.high, p.step) == (8, 64, 8)
    rng = random.Random(1)
    values = {p.sample(rng) for _ in range(400)}
    assert values == {8, 16, 24, 32, 40, 48, 56, 64}
    assert not p.contains(12)


def test_math_cond_power_of() -> None:
    p = _single({"type": "int", "default": 32, "minimum": 1, "maximum": 256, "math_cond": "^ 2"})
    assert p.type is ParamType.ORDERED
    assert p.choices == (1, 2, 4, 8, 16, 32, 64, 128, 256)
    q = _single({"type": "int", "default": 9, "minimum": 2, "maximum": 100, "math_cond": "^ 3"})
    assert q.choices == (3, 9, 27, 81)


def test_math_cond_greater_than_parent() -> None:
    schema = _leaf_schema(
        {
            "model.min_size": {"type": "int", "default": 32, "minimum": 8, "maximum": 64},
            "model.max_size": {
                "type": "int",
                "default": 64,
                "minimum": 16,
                "maximum": 128,
                "math_cond": "> depends_on",
                "depends_on": "model.min_size",
            },
        }
    )
    # list the child first: the space must still order parent before child
    schema["automl_default_parameters"].reverse()
    space = build_search_space(schema)
    assert space.names == ["model.min_size", "model.max_size"]
    child = space["model.max_size"]
    assert (child.depends_on, child.relation) == ("model.min_size", "gt")
    rng = random.Random(5)
    for _ in range(N_SAMPLES):
        cfg = space.sample(rng)
        assert cfg["model.max_size"] > cfg["model.min_size"]
        _assert_valid(space, cfg)
    assert space.repair({"model.min_size": 40, "model.max_size": 20})["model.max_size"] == 41


def test_math_cond_less_than_parent_is_not_read_as_greater() -> None:
    schema = _leaf_schema(
        {
            "model.parent": {"type": "int", "default": 10, "minimum": 1, "maximum": 20},
            "model.child": {
                "type": "int",
                "default": 5,
                "minimum": 1,
                "maximum": 20,
                "math_cond": "< depends_on",
                "depends_on": "model.parent",
            },
        }
    )
    space = build_search_space(schema)
    assert space["model.child"].relation == "lt"
    assert space.repair({"model.parent": 7, "model.child": 15})["model.child"] == 6
    # both at their minimum: the child cannot go lower, so the parent moves up
    assert space.repair({"model.parent": 1, "model.child": 5}) == {"model.parent": 2, "model.child": 1}
    rng = random.Random(2)
    assert all(c["model.child"] < c["model.parent"] for c in (space.sample(rng) for _ in range(200)))


def test_dependency_on_parameter_outside_space_is_dropped() -> None:
    schema = _leaf_schema(
        {
            "model.parent": {"type": "int", "default": 10, "minimum": 1, "maximum": 20},
            "model.child": {"type": "int", "default": 5, "minimum": 1, "maximum": 20, "depends_on": "model.parent"},
        }
    )
    p = build_search_space(schema, ["model.child"])["model.child"]
    assert (p.depends_on, p.relation) == (None, None)


def test_dependency_cycle_is_refused() -> None:
    schema = _leaf_schema(
        {
            "model.a": {"type": "int", "default": 2, "minimum": 1, "maximum": 9, "depends_on": "model.b"},
            "model.b": {"type": "int", "default": 2, "minimum": 1, "maximum": 9, "depends_on": "model.a"},
        }
    )
    with pytest.raises(SkillError, match="cycle"):
        build_search_space(schema)


# --------------------------------------------------------------------------- sampling


@pytest.mark.parametrize("skill", [*UPSTREAM_SKILL_NAMES, "digits-cnn", "tiny"])
def test_samples_are_valid(
    upstream_schemas: dict[str, dict[str, Any]], digits_schema: dict[str, Any], tiny_schema: dict[str, Any], skill: str
) -> None:
    schema = {"digits-cnn": digits_schema, "tiny": tiny_schema}.get(skill) or upstream_schemas[skill]
    space = build_search_space(schema)
    rng = random.Random(11)
    seen: dict[str, set[Any]] = {p.name: set() for p in space}
    for _ in range(N_SAMPLES):
        cfg = space.sample(rng)
        _assert_valid(space, cfg)
        for name, value in cfg.items():
            seen[name].add(repr(value))
    # every parameter really varies
    assert all(len(values) >= 2 for values in seen.values()), {k: v for k, v in seen.items() if len(v) < 2}


def test_schema_option_weights_are_honoured(tiny_schema: dict[str, Any]) -> None:
    space = build_search_space(tiny_schema)
    assert space["train.optim.optimizer"].weights == (0.8, 0.2)
    rng = random.Random(4)
    counts = Counter(space.sample(rng)["train.optim.optimizer"] for _ in range(1000))
    assert counts["adam"] / 1000 > 0.6
    assert counts["sgd"] > 0


def test_custom_option_weights_are_honoured(digits_schema: dict[str, Any]) -> None:
    custom = {"train.optim.optimizer": {"option_weights": [0.1, 0.1, 0.8]}}
    p = build_search_space(digits_schema, custom_ranges=custom)["train.optim.optimizer"]
    rng = random.Random(9)
    counts = Counter(p.sample(rng) for _ in range(1000))
    assert counts["sgd"] / 1000 > 0.6
    assert counts["adam"] < 300


def test_ordered_option_weights_follow_values(digits_schema: dict[str, Any]) -> None:
    custom = {"dataset.batch_size": {"valid_options": [128, 16], "option_weights": [0.8, 0.2]}}
    p = build_search_space(digits_schema, custom_ranges=custom)["dataset.batch_size"]
    assert p.choices == (16, 128)
    assert p.weights == (0.2, 0.8)
    rng = random.Random(6)
    assert sum(p.sample(rng) == 128 for _ in range(1000)) > 600


def test_option_weights_follow_schema_enum_order_for_unsorted_ordered_enum() -> None:
    schema = _leaf_schema({"model.size": {"type": "ordered_int", "default": 64, "enum": [64, 16, 32]}})
    p = build_search_space(schema, custom_ranges={"model.size": {"option_weights": [0.8, 0.1, 0.1]}})["model.size"]
    assert p.choices == (16, 32, 64)
    assert p.weights == (0.1, 0.1, 0.8)


# --------------------------------------------------------------------------- custom_param_ranges


def test_custom_range_narrows(upstream_schemas: dict[str, dict[str, Any]]) -> None:
    schema = upstream_schemas["tao-train-image-classification"]
    before = copy.deepcopy(schema)
    custom = {"train.optim.lr": {"valid_min": 1e-5, "valid_max": 1e-4}, "dataset.batch_size": {"valid_max": 16}}
    space = build_search_space(schema, custom_ranges=custom)
    lr = space["train.optim.lr"]
    assert (lr.low, lr.high, lr.log, lr.source) == (1e-5, 1e-4, True, "custom")
    bs = space["dataset.batch_size"]
    assert (bs.low, bs.high) == (2, 16)
    rng = random.Random(8)
    for _ in range(200):
        cfg = space.sample(rng)
        assert 1e-5 <= cfg["train.optim.lr"] <= 1e-4
        assert 2 <= cfg["dataset.batch_size"] <= 16
    assert schema == before, "build_search_space must not mutate the schema"


def test_custom_min_above_derived_range_searches_up_from_it(digits_schema: dict[str, Any]) -> None:
    lr = build_search_space(digits_schema, custom_ranges={"train.optim.lr": {"valid_min": 0.05}})["train.optim.lr"]
    assert lr.low == 0.05
    assert lr.high > lr.low
    assert lr.log is True
    lr = build_search_space(digits_schema, custom_ranges={"train.optim.lr": {"valid_max": 5e-5}})["train.optim.lr"]
    assert lr.high == 5e-5
    assert 0 < lr.low < lr.high
    assert lr.log is True


def test_custom_ordered_narrowing(digits_schema: dict[str, Any]) -> None:
    custom = {"dataset.batch_size": {"valid_min": 32, "valid_max": 64}}
    bs = build_search_space(digits_schema, custom_ranges=custom)["dataset.batch_size"]
    assert bs.choices == (32, 64)


def test_custom_step_narrowing(digits_schema: dict[str, Any]) -> None:
    width = build_search_space(digits_schema, custom_ranges={"model.width": {"valid_min": 10, "valid_max": 44}})
    p = width["model.width"]
    assert (p.low, p.high, p.step) == (16, 40, 8)
    with pytest.raises(ConfigurationError, match="empty range"):
        build_search_space(digits_schema, custom_ranges={"model.width": {"valid_min": 9, "valid_max": 15}})


def test_custom_min_below_schema_minimum(upstream_schemas: dict[str, dict[str, Any]]) -> None:
    schema = upstream_schemas["tao-train-image-classification"]
    with pytest.raises(ConfigurationError) as exc:
        build_search_space(schema, custom_ranges={"dataset.batch_size": {"valid_min": 0}})
    assert exc.value.field == "custom_param_ranges.dataset.batch_size"
    assert "custom_param_ranges.dataset.batch_size" in str(exc.value)
    assert "allowed range: [1, inf]" in str(exc.value)


def test_custom_min_on_strict_bound_is_refused(digits_schema: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as exc:
        build_search_space(digits_schema, custom_ranges={"train.optim.lr": {"valid_min": 0.0}})
    assert exc.value.field == "custom_param_ranges.train.optim.lr"
    assert "allowed range: (0, 0.1]" in str(exc.value)


def test_custom_max_above_schema_maximum(digits_schema: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as exc:
        build_search_space(digits_schema, custom_ranges={"model.dropout": {"valid_max": 0.9}})
    assert "custom_param_ranges.model.dropout" in str(exc.value)
    assert "allowed range: [0, 0.6]" in str(exc.value)


def test_custom_options_outside_enum(digits_schema: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as exc:
        build_search_space(digits_schema, custom_ranges={"train.optim.optimizer": {"valid_options": ["adam", "lion"]}})
    assert exc.value.field == "custom_param_ranges.train.optim.optimizer"
    assert "['lion']" in str(exc.value)
    assert "allowed options: ['adam', 'adamw', 'sgd']" in str(exc.value)


def test_custom_bool_options_must_be_booleans(upstream_schemas: dict[str, dict[str, Any]]) -> None:
    with pytest.raises(ConfigurationError, match="not booleans"):
        build_search_space(
            upstream_schemas["tao-train-image-classification"],
            custom_ranges={"model.backbone.freeze_backbone": {"valid_options": [1, 0]}},
        )


def test_custom_unknown_key_suggests_the_right_one(digits_schema: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as exc:
        build_search_space(digits_schema, custom_ranges={"train.optim.lr": {"valid_mn": 1e-4}})
    assert exc.value.field == "custom_param_ranges.train.optim.lr"
    assert "did you mean 'valid_min'" in str(exc.value)


def test_custom_unknown_param_suggests_the_right_one(upstream_schemas: dict[str, dict[str, Any]]) -> None:
    with pytest.raises(ConfigurationError) as exc:
        build_search_space(upstream_schemas["tao-train-rtdetr"], custom_ranges={"model.num_queris": {"valid_max": 400}})
    assert exc.value.field == "custom_param_ranges.model.num_queris"
    assert "did you mean 'model.num_queries'" in str(exc.value)


@pytest.mark.parametrize(
    "custom",
    [
        {"valid_options": ["adam", "sgd"], "option_weights": [1.0]},
        {"option_weights": [0.5, 0.5]},
        {"option_weights": "0.5,0.5,0"},
        {"valid_options": ["adam", "sgd"], "option_weights": [0, 0]},
        {"valid_options": ["adam", "sgd"], "option_weights": [-1, 2]},
        {"valid_options": ["adam", "sgd"], "option_weights": "ab"},
    ],
)
def test_custom_option_weights_must_match_options(digits_schema: dict[str, Any], custom: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as exc:
        build_search_space(digits_schema, custom_ranges={"train.optim.optimizer": custom})
    assert exc.value.field == "custom_param_ranges.train.optim.optimizer"
    assert "option_weights" in str(exc.value)


def test_custom_range_adds_a_parameter_outside_the_defaults(digits_schema: dict[str, Any]) -> None:
    space = build_search_space(digits_schema, custom_ranges={"train.optim.momentum": {"valid_min": 0.8}})
    assert "train.optim.momentum" in space.names
    p = space["train.optim.momentum"]
    assert p.low == 0.8 and p.high <= 1.0


def test_automl_hyperparameters_misspelt(digits_schema: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as exc:
        build_search_space(digits_schema, ["train.optim.lr", "model.dropuot"])
    assert exc.value.field == "automl_hyperparameters"
    assert "did you mean 'model.dropout'" in str(exc.value)


def test_automl_hyperparameters_explicit_list_is_the_space(digits_schema: dict[str, Any]) -> None:
    space = build_search_space(digits_schema, ["model.dropout", "train.optim.lr", "model.dropout"])
    assert space.names == ["model.dropout", "train.optim.lr"]
