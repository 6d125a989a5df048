"""``automl_settings``: published defaults, aliases, typo detection, direction inference, secrets."""

from __future__ import annotations

import json

import pytest

from tao_automl.errors import ConfigurationError
from tao_automl.settings import AutoMLSettings, infer_direction

API_KEY = "sk-test-123"


def test_defaults_match_design() -> None:
    s = AutoMLSettings.parse(None)
    assert (
        s.automl_max_recommendations,
        s.automl_max_epochs,
        s.automl_reduction_factor,
        s.automl_max_concurrent,
        s.automl_population_size,
        s.automl_max_generations,
        s.automl_max_experiments,
    ) == (20, 27, 3, 4, 10, 20, 50)
    assert s.metric is None and s.direction is None and s.train_sample_count is None
    assert AutoMLSettings.parse({}) == s


def test_aliases_map_to_canonical_keys() -> None:
    s = AutoMLSettings.parse({"num_recommendations": 7, "algorithm": "hyperband", "max_epochs": 9})
    assert s.automl_max_recommendations == 7
    assert s.automl_algorithm == "hyperband"
    assert s.automl_max_epochs == 9
    assert "num_recommendations" not in s.model_dump()


def test_alias_and_canonical_with_same_value_are_fine() -> None:
    s = AutoMLSettings.parse({"num_recommendations": 5, "automl_max_recommendations": 5})
    assert s.automl_max_recommendations == 5


@pytest.mark.parametrize(
    "data",
    [
        {"num_recommendations": 5, "automl_max_recommendations": 6},
        {"automl_max_recommendations": 6, "num_recommendations": 5},
        {"algorithm": "bayesian", "automl_algorithm": "hyperband"},
    ],
)
def test_alias_and_canonical_conflict(data: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError) as exc:
        AutoMLSettings.parse(data)
    canonical = next(k for k in data if k.startswith("automl_"))
    assert exc.value.field == f"automl_settings.{canonical}"
    assert "different values" in str(exc.value)


def test_unknown_key_suggests_the_right_one() -> None:
    with pytest.raises(ConfigurationError) as exc:
        AutoMLSettings.parse({"automl_max_recomendations": 10})
    assert exc.value.field == "automl_settings.automl_max_recomendations"
    assert "did you mean 'automl_max_recommendations'" in str(exc.value)


def test_unknown_key_without_close_match_lists_known_keys() -> None:
    with pytest.raises(ConfigurationError) as exc:
        AutoMLSettings.parse({"zzz": 1})
    assert "known keys:" in str(exc.value)
    assert "automl_max_epochs" in str(exc.value)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"automl_max_recommendations": 0}, "automl_settings.automl_max_recommendations"),
        ({"num_recommendations": "many"}, "automl_settings.automl_max_recommendations"),
        ({"automl_reduction_factor": 1}, "automl_settings.automl_reduction_factor"),
        ({"direction": "up"}, "automl_settings.direction"),
        ({"train_sample_count": -1}, "automl_settings.train_sample_count"),
    ],
)
def test_invalid_values_name_the_key(data: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError) as exc:
        AutoMLSettings.parse(data)
    assert exc.value.field == field


def test_settings_must_be_a_mapping() -> None:
    with pytest.raises(ConfigurationError) as exc:
        AutoMLSettings.parse(["automl_max_epochs"])  # type: ignore[arg-type]
    assert exc.value.field == "automl_settings"


@pytest.mark.parametrize(
    ("metric", "direction"),
    [
        ("val_loss", "minimize"),
        ("loss", "minimize"),
        ("top1_err_rate", "minimize"),
        ("val_wer", "minimize"),
        ("latency_ms", "minimize"),
        ("mAP", "maximize"),
        ("val_accuracy", "maximize"),
        ("val_answer_accuracy", "maximize"),
        ("val_ap", "maximize"),
        ("AP50", "maximize"),
        ("miou", "maximize"),
        ("f1_score", "maximize"),
    ],
)
def test_direction_inference(metric: str, direction: str) -> None:
    assert infer_direction(metric) == direction
    assert AutoMLSettings.parse({}).resolved_direction(metric) == direction


@pytest.mark.parametrize("metric", ["foo", "mean_confidence", "throughput"])
def test_direction_cannot_be_inferred(metric: str) -> None:
    assert infer_direction(metric) is None
    with pytest.raises(ConfigurationError) as exc:
        AutoMLSettings.parse({}).resolved_direction(metric)
    assert exc.value.field == "automl_settings.direction"
    assert "automl_settings.direction" in str(exc.value)
    assert metric in str(exc.value)


def test_explicit_direction_wins() -> None:
    s = AutoMLSettings.parse({"metric": "val_loss", "direction": "maximize"})
    assert s.resolved_direction("val_loss") == "maximize"
    assert AutoMLSettings.parse({"direction": "minimize"}).resolved_direction("foo") == "minimize"


@pytest.mark.parametrize("key", ["llm_api_key", "api_key"])
def test_public_dict_never_holds_the_api_key(key: str) -> None:
    s = AutoMLSettings.parse({key: API_KEY, "llm_endpoint": "https://llm.example/v1", "num_recommendations": 3})
    assert s.llm_api_key is not None and s.llm_api_key.get_secret_value() == API_KEY
    public = s.public_dict()
    assert API_KEY not in json.dumps(public)
    assert API_KEY not in repr(public)
    assert API_KEY not in repr(s)
    assert public["llm_api_key_set"] is True
    assert "llm_api_key" not in public
    assert public["automl_max_recommendations"] == 3
    assert public["llm_endpoint"] == "https://llm.example/v1"


def test_public_dict_without_key() -> None:
    public = AutoMLSettings.parse({}).public_dict()
    assert public["llm_api_key_set"] is False
    assert public["automl_max_epochs"] == 27
    assert json.loads(json.dumps(public)) == public
