"""Turn a model skill's action plus a spec into a platform JobRequest."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from tao_automl.errors import SkillError
from tao_automl.platforms import JobRequest, PythonScript
from tao_automl.skill import ModelSkill
from tao_automl.spec import set_dotted
from tao_automl.workspace import SPEC_FORMATS, write_spec


def _fill(text: str, values: dict[str, str]) -> str:
    """Replace ``{placeholder}`` tokens; other braces in a command are left alone (no str.format)."""
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def check_runnable(skill: ModelSkill, action: str) -> None:
    """Refuse an action no job could run: no ``command`` nor ``execution``, or a script that is not there.

    A missing script is refused here, before any job, because no retry or hyperparameter fixes it.
    """
    info = skill.action(action)
    if not info.command and not info.execution:
        raise SkillError(
            f"action '{action}' has neither 'command' nor 'execution'",
            field=f"actions.{action}",
            hint=f"add actions.{action}.command or actions.{action}.execution to references/skill_info.yaml",
        )
    if info.execution is not None:
        if info.execution.type != "python_script":
            raise SkillError(
                f"execution type {info.execution.type!r} is not supported",
                field=f"actions.{action}.execution.type",
                hint="use type: python_script, or a command",
            )
        cwd, script = script_location(skill, action)
        if not cwd.is_dir():
            raise SkillError(
                f"working directory {cwd} does not exist",
                field=f"actions.{action}.execution.cwd",
                hint="a relative cwd belongs to the skill directory ('.' is the skill itself)",
            )
        if not script.is_file():
            raise SkillError(
                f"script {script} does not exist",
                field=f"actions.{action}.execution.script",
                hint="a relative script path belongs to the action's cwd",
            )


def script_location(skill: ModelSkill, action: str) -> tuple[Path, Path]:
    """Absolute cwd and script of a ``python_script`` action.

    A relative ``cwd`` belongs to the skill directory and a relative ``script`` to that cwd, as the
    published runner resolves them; ``{skill_dir}`` is still accepted for skills written for us.
    """
    execution = skill.action(action).execution
    assert execution is not None
    values = {"skill_dir": str(skill.root)}
    cwd = Path(_fill(execution.cwd or ".", values)).expanduser()
    cwd = (cwd if cwd.is_absolute() else skill.root / cwd).resolve()
    script = Path(_fill(execution.script, values)).expanduser()
    return cwd, (script if script.is_absolute() else cwd / script).resolve()


def prepare_job(
    skill: ModelSkill,
    action: str,
    spec: dict[str, Any],
    job_dir: Path,
    name: str,
    *,
    env: dict[str, str] | None = None,
    env_passthrough: list[str] | None = None,
    gpus: int = 0,
    num_nodes: int = 1,
) -> JobRequest:
    """Write ``spec.<config_format>`` into ``job_dir`` (results dir key filled) and describe the job.

    The spec on disk is nested (never dotted) and points its results key at ``job_dir/results``.
    """
    check_runnable(skill, action)
    results_dir = job_dir / "results"
    results_key = skill.spec_key_for(action, "output_dir") or "results_dir"
    set_dotted(spec, results_key, str(results_dir))
    info = skill.action(action)
    config_format = (info.execution.config_format if info.execution else None) or info.config_format or "yaml"
    if config_format not in SPEC_FORMATS:
        raise SkillError(
            f"config_format {config_format!r} is not one of {', '.join(SPEC_FORMATS)}",
            field=f"actions.{action}.config_format",
        )
    spec_path = job_dir / f"spec.{config_format}"
    write_spec(spec_path, spec, config_format)
    values = {
        "config_path": str(spec_path),
        "spec_path": str(spec_path),
        "results_dir": str(results_dir),
        "output_dir": str(results_dir),
        "skill_dir": str(skill.root),
    }
    command: list[str] | None = None
    script: PythonScript | None = None
    if info.execution is not None:
        cwd, script_path = script_location(skill, action)
        script = PythonScript(
            script=str(script_path),
            args=[_fill(a, values) for a in info.execution.args],
            arg_template=[_fill(a, {"skill_dir": str(skill.root)}) for a in info.execution.args],
            cwd=str(cwd),
            config_format=config_format,
        )
    else:
        command = [_fill(tok, values) for tok in shlex.split(info.command or "")]
    return JobRequest(
        name=name,
        action=action,
        command=command,
        python_script=script,
        image=skill.image(action),
        workdir=job_dir,
        results_dir=results_dir,
        spec_path=spec_path,
        log_path=job_dir / f"{action}.log",
        env=env or {},
        env_passthrough=env_passthrough or [],
        gpus=gpus,
        num_nodes=num_nodes,
        network_arch=skill.info.network_arch or skill.name,
        inputs=info.inputs,
        outputs=info.outputs,
        upload_excludes=info.upload_excludes,
        results_key=results_key,
    )
