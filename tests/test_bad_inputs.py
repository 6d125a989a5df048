"""Bad inputs fail fast: one clear error naming the field, with a hint, and nothing written.

Every case runs the real runner on the quadratic test skill (or a broken copy of it) and checks
that the workspace directory was never created: validation happens before the first write.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import make_runner

from tao_automl.errors import AutoMLError, ConfigurationError, PlatformError, SkillError
from tao_automl.plan_file import PlanFile
from tao_automl.runner import AutoMLRunner


def broken_copy(
    quadratic_skill: Path, tmp_path: Path, *, disable_automl: bool = False, drop_schema: bool = False
) -> Path:
    skill = tmp_path / "skills" / "quadratic"
    shutil.copytree(quadratic_skill, skill)
    if disable_automl:
        info_path = skill / "references" / "skill_info.yaml"
        info = yaml.safe_load(info_path.read_text())
        info["automl_enabled"] = False
        info_path.write_text(yaml.safe_dump(info, sort_keys=False))
    if drop_schema:
        (skill / "schemas" / "train.schema.json").unlink()
    return skill


def run_expecting(runner: AutoMLRunner, error: type[AutoMLError], **run_kwargs: Any) -> AutoMLError:
    run_kwargs.setdefault("automl_algorithm", "random")
    run_kwargs["automl_settings"] = {"automl_max_recommendations": 2, **run_kwargs.get("automl_settings", {})}
    with pytest.raises(AutoMLError) as info:
        runner.run(**run_kwargs)
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    assert info.value.field, "the error must name the field at fault"
    assert info.value.hint, "the error must say how to fix it"
    text = str(info.value)
    assert info.value.field in text and f"(hint: {info.value.hint})" in text
    assert "\n" not in text
    return info.value


CASES: list[tuple[str, type[AutoMLError], dict[str, Any], str, str]] = [
    (
        "unknown-setting",
        ConfigurationError,
        {"automl_settings": {"automl_max_recomendations": 3}},
        "automl_settings.automl_max_recomendations",
        "did you mean 'automl_max_recommendations'?",
    ),
    (
        "misspelt-override",
        ConfigurationError,
        {"spec_overrides": {"train.optim.lrr": 0.01}},
        "spec_overrides.train.optim.lrr",
        "did you mean 'train.optim.lr'?",
    ),
    (
        "range-outside-schema",
        ConfigurationError,
        {"custom_param_ranges": {"train.x": {"valid_min": 0.0, "valid_max": 2.0}}},
        "custom_param_ranges.train.x",
        "allowed range: [-1, 1]",
    ),
    (
        "unknown-algorithm",
        ConfigurationError,
        {"automl_algorithm": "bayesain"},
        "automl_algorithm",
        "did you mean 'bayesian'?",
    ),
]


@pytest.mark.parametrize(("case", "error", "kwargs", "field", "hint"), CASES, ids=[c[0] for c in CASES])
def test_bad_run_input_is_one_clear_error_and_writes_nothing(
    quadratic_skill: Path,
    tmp_path: Path,
    case: str,
    error: type[AutoMLError],
    kwargs: dict[str, Any],
    field: str,
    hint: str,
) -> None:
    exc = run_expecting(make_runner(quadratic_skill, tmp_path), error, **kwargs)
    assert exc.field == field
    assert exc.hint == hint
    assert not (tmp_path / "ws").exists()
    assert not (tmp_path / "jobs").exists()


def test_model_with_automl_disabled_is_refused(quadratic_skill: Path, tmp_path: Path) -> None:
    skill = broken_copy(quadratic_skill, tmp_path, disable_automl=True)
    exc = run_expecting(make_runner(skill, tmp_path), SkillError)
    assert "automl_enabled: false" in exc.message
    assert exc.field == str(skill.resolve() / "references" / "skill_info.yaml")
    assert not (tmp_path / "ws").exists()


def test_model_without_train_schema_is_refused(quadratic_skill: Path, tmp_path: Path) -> None:
    skill = broken_copy(quadratic_skill, tmp_path, drop_schema=True)
    exc = run_expecting(make_runner(skill, tmp_path), SkillError)
    assert "missing train schema" in exc.message
    assert exc.field == str(skill.resolve() / "schemas" / "train.schema.json")
    assert "schemas/train.schema.json" in (exc.hint or "")
    assert not (tmp_path / "ws").exists()


def test_unknown_platform_is_refused_with_a_suggestion(quadratic_skill: Path, tmp_path: Path) -> None:
    runner = AutoMLRunner(skill_dir=quadratic_skill, platform_sdk="lokal", workspace_dir=tmp_path / "ws")
    exc = run_expecting(runner, PlatformError)
    assert exc.field == "platform"
    assert exc.hint == "did you mean 'local'?"
    assert "'lokal'" in exc.message
    assert not (tmp_path / "ws").exists()


def test_cli_unknown_setting_exits_2_with_one_error_line(quadratic_skill: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "cli_ws"
    proc = subprocess.run(
        [
            sys.executable, "-m", "tao_automl.cli", "run",
            "--skill", str(quadratic_skill),
            "--setting", "automl_max_recomendations=3",
            "--workspace", str(workspace),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: automl_settings.automl_max_recomendations: unknown setting")
    assert "did you mean 'automl_max_recommendations'?" in lines[0]
    assert proc.stdout == ""
    assert not workspace.exists()


@pytest.mark.parametrize(
    ("plan", "field", "hint"),
    [
        ({"skill": "SKILL", "algoritm": "asha"}, "--plan-file.algoritm: Extra inputs are not permitted", "known keys:"),
        ({"platform": "local"}, "--plan-file.skill: Field required", None),
        ({"skill": "SKILL", "poll_interval": -1}, "--plan-file.poll_interval: Input should be greater than 0", None),
    ],
)
def test_cli_bad_plan_file_exits_2_naming_the_key(
    quadratic_skill: Path, tmp_path: Path, plan: dict[str, Any], field: str, hint: str | None
) -> None:
    workspace = tmp_path / "plan_ws"
    plan_file = tmp_path / "plan.json"
    plan = {k: (str(quadratic_skill) if v == "SKILL" else v) for k, v in plan.items()}
    plan_file.write_text(json.dumps({**plan, "workspace": str(workspace)}))
    proc = subprocess.run(
        [sys.executable, "-m", "tao_automl.cli", "run", "--plan-file", str(plan_file)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: {field}"), line
    assert hint is None or hint in line
    assert not workspace.exists()


def test_plan_file_round_trip_and_nulls_mean_defaults(tmp_path: Path) -> None:
    plan = PlanFile.parse({"skill": "skills/models/x", "platform": None, "settings": None, "poll_interval": 2})
    assert plan.platform == "local" and plan.settings == {} and plan.poll_interval == 2.0
    plan.write(tmp_path / "plan.json")
    assert PlanFile.parse(json.loads((tmp_path / "plan.json").read_text())) == plan


def test_pbt_on_a_model_without_resume_is_refused_before_writing(quadratic_skill: Path, tmp_path: Path) -> None:
    skill = broken_copy(quadratic_skill, tmp_path)
    info_path = skill / "references" / "skill_info.yaml"
    info = yaml.safe_load(info_path.read_text())
    del info["spec_params"]["train"]["train.resume_training_checkpoint_path"]
    info_path.write_text(yaml.safe_dump(info, sort_keys=False))
    runner = AutoMLRunner(skill_dir=skill, platform_sdk="local", workspace_dir=tmp_path / "ws")
    error = run_expecting(runner, ConfigurationError, automl_algorithm="pbt")
    assert error.field == "automl_algorithm"
    assert not (tmp_path / "ws").exists()
