"""Preflight of what the jobs run with: the interpreter a platform starts ``python_script`` actions on.

The interpreter on ``PATH`` (what a shell finds) is often not the one the jobs use (the runner's
virtualenv, or ``platform_options.python``); a missing ``torch`` there fails every job of the run.
So the check asks the job interpreter itself whether it can import what each action's script
imports. The imports are read with :mod:`ast` (top-level names, stdlib and the script's own
modules excluded by the interpreter itself), because no library lists a script's dependencies
without running it.
"""

from __future__ import annotations

import ast
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tao_automl.errors import AutoMLError
from tao_automl.launch import script_location
from tao_automl.platforms import platform_class
from tao_automl.preflight import Check, CheckStatus
from tao_automl.skill import ModelSkill

#: Runs in the job interpreter: its version, and which of the named modules it cannot find. The
#: script's directory comes first on sys.path, as it does when the script runs.
_PROBE = """
import importlib.util, json, sys
sys.path.insert(0, sys.argv[1])
names = [n for n in sys.argv[2:] if n not in sys.stdlib_module_names]
missing = []
for name in names:
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        missing.append(name)
print(json.dumps({"version": sys.version.split()[0], "missing": missing}))
"""


def script_imports(script: Path) -> list[str]:
    """Top-level module names a script imports (``import a.b`` -> ``a``), relative imports excluded."""
    tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module.split(".")[0])
    local = {p.stem for p in script.parent.glob("*.py")} | {p.name for p in script.parent.iterdir() if p.is_dir()}
    return sorted({n for n in names if n not in local and n != "__future__"})


def _probe(python: str, script: Path, modules: list[str]) -> dict[str, Any]:
    proc = subprocess.run(
        [python, "-c", _PROBE, str(script.parent), *modules],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if proc.returncode != 0:
        raise OSError(f"`{python} -c ...` exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def interpreter_checks(skill: ModelSkill, platform: str, options: Mapping[str, Any]) -> list[Check]:
    """One ``runtime:python`` check per platform: can the jobs' interpreter import every script's imports?"""
    actions = {
        name: info for name, info in skill.info.actions.items() if info.execution is not None and not info.command
    }
    if not actions:
        return []
    try:
        python = platform_class(platform).job_interpreter(options)
    except AutoMLError as exc:
        field = "platform_options.python" if exc.field == "python" else exc.field
        return [Check(name="runtime:python", status=CheckStatus.FAIL, evidence=exc.message, fix=exc.hint, field=field)]
    if python is None:
        return []
    needed: dict[str, list[str]] = {}
    try:
        for name in actions:
            _, script = script_location(skill, name)
            probe = _probe(python, script, script_imports(script))
            for module in probe["missing"]:
                needed.setdefault(module, []).append(f"{name} ({script.name})")
    except (OSError, SyntaxError, subprocess.TimeoutExpired, ValueError) as exc:
        return [
            Check(
                name="runtime:python",
                status=CheckStatus.FAIL,
                evidence=f"cannot inspect the job interpreter {python}: {exc}",
                fix="set platform_options.python to a working interpreter (a virtualenv's bin/python)",
                field="platform_options.python",
            )
        ]
    where = f"{python} (Python {probe['version']}), the interpreter {platform} jobs run with"
    if needed:
        missing = ", ".join(f"{m} (for {', '.join(used)})" for m, used in sorted(needed.items()))
        return [
            Check(
                name="runtime:python",
                status=CheckStatus.FAIL,
                evidence=f"{where}, cannot import {missing}",
                fix=f"install them into that interpreter (`{python} -m pip install <package>`; see the model "
                "skill's SKILL.md for its requirements), or set platform_options.python to one that has them",
                field="platform_options.python",
            )
        ]
    return [
        Check(
            name="runtime:python",
            status=CheckStatus.PASS,
            evidence=f"{where}, imports every module the {' and '.join(sorted(actions))} script(s) import",
        )
    ]
