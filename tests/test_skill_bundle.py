"""The agent-facing skill bundle cannot drift from the code (STYLE 13).

Every tool, setting (with its default), script (with its flags), algorithm, platform, CLI
subcommand, hook, failure class and preflight check named in ``SKILL.md`` and ``references/`` must
exist in the code; the Claude Code plugin manifests must point at files that exist; the Python
examples must run; and the TAO model skills must load, search and name metrics their jobs report.

Tool names, arguments and result fields come from the server itself once ``server/app.py`` exists
(it is built and its tools listed: every tool must be documented, nothing else may be named as
one, and every documented argument must be real), else from the fixed list of issue 5.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import io
import json
import math
import re
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from conftest import write_tao_skill

from tao_automl.algorithms import available_algorithms
from tao_automl.algorithms.rungs import asha_rungs, hyperband_brackets
from tao_automl.cli import build_parser
from tao_automl.images import find_model_skill, resolve_image
from tao_automl.platforms import FailureCategory, available_platforms
from tao_automl.platforms.sdk_adapter import CREATE_METHODS, REQUIRED_METHODS
from tao_automl.results import BASELINE_STATUSES, FINAL_STATUSES
from tao_automl.runner import AutoMLRunner
from tao_automl.settings import ALIASES, PUBLISHED_ONLY, AutoMLSettings, infer_direction
from tao_automl.skill import ModelSkill, SkillInfo, load_tao_schema
from tao_automl.space import build_search_space
from tao_automl.spec import get_dotted
from tao_automl.versions import ENV_VAR, resolve

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SKILL_MD = PROJECT_ROOT / "SKILL.md"
REFERENCES = PROJECT_ROOT / "references"
BUNDLE_DOCS = [SKILL_MD, *sorted(REFERENCES.glob("*.md"))]
SERVER_DIR = PROJECT_ROOT / "server"
PLUGIN_JSON = PROJECT_ROOT / ".claude-plugin" / "plugin.json"
MARKETPLACE_JSON = PROJECT_ROOT / ".claude-plugin" / "marketplace.json"

#: The MCP tools of issue 5, in workflow order.
ISSUE_TOOLS = (
    "preflight_check",
    "resolve_image",
    "run_baseline_eval",
    "estimate_budget",
    "launch_automl",
    "job_status",
    "summarize_results",
)
ISSUE_GATES = {"review", "confirmation", "preflight", "image", "baseline", "plan_unchanged"}
#: Model skills written for this project: directory -> (network_arch, train metric, evaluate metric).
MODEL_SKILLS = {
    "tao-train-image-classification": ("classification_pyt", "val_acc_1", "val_acc_1"),
    "tao-train-rtdetr": ("rtdetr", "val_mAP", "test_mAP"),
    "tao-train-segformer": ("segformer", "val_miou", "test_miou"),
}
#: Algorithm names the bundle may mention only as not available.
FOREIGN_ALGORITHMS = {"hyperband_es", "bfbo"}
#: Run states named in the bundle that are values, not settings or tool fields.
LLM_RUN_STATES = {"llm_blocked"}
NOT_AVAILABLE = re.compile(r"not (?:yet )?available|planned", re.IGNORECASE)
UPSTREAM_SKILLS_DIR = PROJECT_ROOT.parent / "shared" / "fixtures" / "upstream-skills"
#: The two distill-only switches this project's classification schema drops from the default space.
DROPPED_CLASSIFICATION_DEFAULTS = {"distill.teacher.backbone.freeze_norm", "distill.teacher.backbone.freeze_backbone"}


# ---- reading the documents ---------------------------------------------------------------------------------


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _frontmatter(path: Path) -> dict[str, Any]:
    text = _read(path)
    assert text.startswith("---\n"), f"{path} has no frontmatter"
    data = yaml.safe_load(text[4 : text.index("\n---", 4)])
    assert isinstance(data, dict)
    return data


FENCE = re.compile(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)


def _code_blocks(text: str, lang: str | None = None) -> list[tuple[str, str, int]]:
    """``(language, body, start offset)`` of every fenced block (of ``lang`` when given)."""
    return [(m[1], m[2], m.start()) for m in FENCE.finditer(text) if lang is None or m[1] == lang]


def _prose(text: str) -> str:
    return FENCE.sub("", text)


def _inline(text: str) -> list[str]:
    """Inline code spans outside fenced blocks (a span may wrap over a line end, as in CommonMark)."""
    return [" ".join(m.split()) for m in re.findall(r"`([^`]+)`", _prose(text))]


def _code_lines(text: str) -> list[str]:
    """Shell-like lines: inline spans and fenced-block lines, continuations joined, comments dropped."""
    lines = list(_inline(text))
    for _lang, body, _ in _code_blocks(text):
        joined = re.sub(r"\\\n\s*", " ", body)
        lines += [line.split(" # ")[0] for line in joined.splitlines()]
    return lines


def _tables(text: str) -> list[list[list[str]]]:
    """Markdown tables as rows of cells (header row first, the separator row dropped)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*_prose(text).splitlines(), ""]:
        stripped = line.strip()
        if stripped.startswith("|") and stripped.endswith("|"):
            cells = [c.strip() for c in stripped[1:-1].split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def _ticks(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def _all_bundle_text() -> Iterator[tuple[Path, str]]:
    for path in BUNDLE_DOCS:
        yield path, _read(path)


def _model_skill_docs() -> list[Path]:
    return [PROJECT_ROOT / "skills" / "models" / name / "SKILL.md" for name in MODEL_SKILLS]


@cache
def _skill_info() -> dict[str, Any]:
    return yaml.safe_load(_read(REFERENCES / "skill_info.yaml"))


# ---- what the code provides --------------------------------------------------------------------------------


@cache
def server_tools() -> dict[str, tuple[set[str], set[str]]] | None:
    """Tool -> (argument names, result field names) as the built server lists them; None before server/app.py."""
    if not (SERVER_DIR / "app.py").is_file():
        return None
    app = importlib.import_module("server.app")
    with tempfile.TemporaryDirectory() as state_dir:
        tools = anyio.run(app.build_server(state_dir=state_dir).list_tools)
    assert tools, "server/app.py exists but its server lists no tools"
    return {
        t.name: (set(t.input_schema.get("properties", {})), set((t.output_schema or {}).get("properties", {})))
        for t in tools
    }


@cache
def registered_tools() -> tuple[str, ...]:
    """The server's tools once ``server/app.py`` exists, else the issue's fixed list."""
    tools = server_tools()
    return ISSUE_TOOLS if tools is None else tuple(sorted(tools))


@cache
def tool_inputs() -> dict[str, set[str]]:
    """Tool -> its argument names: from the server once it exists, else references/skill_info.yaml."""
    tools = server_tools()
    if tools is not None:
        return {name: inputs for name, (inputs, _outputs) in tools.items()}
    return {tool["name"]: set(tool["inputs"]) for tool in _skill_info()["tools"]}


@cache
def cli_subcommands() -> dict[str, set[str]]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {name: set(sub._option_string_actions) for name, sub in action.choices.items()}


RUN_PARAMS = set(inspect.signature(AutoMLRunner.run).parameters) - {"self"}
INIT_PARAMS = set(inspect.signature(AutoMLRunner.__init__).parameters) - {"self"}
SETTINGS = AutoMLSettings.model_fields
SPACE_SOURCE = _read(PROJECT_ROOT / "tao_automl" / "space.py")
PREFLIGHT_SOURCE = "".join(
    _read(p)
    for p in (PROJECT_ROOT / "tao_automl" / "preflight.py", *(PROJECT_ROOT / "tao_automl" / "workflow").glob("*.py"))
)
RUNNER_STRINGS = {
    n.value
    for n in ast.walk(ast.parse(_read(PROJECT_ROOT / "tao_automl" / "runner.py")))
    if isinstance(n, ast.Constant) and isinstance(n.value, str)
}


def _default_matches(text: str, default: Any) -> bool:
    """Whether a default as written in the docs (``20``, ``true``, ``null``, ``auto``) equals the code's."""
    text = text.strip().strip("`")
    if default is None:
        return text in ("null", "None", "unset")
    if isinstance(default, bool):
        return text == str(default).lower()
    if isinstance(default, int | float):
        try:
            return math.isclose(float(text), float(default))
        except ValueError:
            return False
    return text == str(default)


# ---- tools ---------------------------------------------------------------------------------------------------

TOOL_SHAPED = re.compile(r"^(?:preflight|resolve|run|estimate|launch|job|summarize)_[a-z0-9_]+$")


def _tool_like(token: str) -> str | None:
    """The tool a code span names (``preflight_check`` or ``preflight_check(...)``), or None."""
    name = token.split("(", 1)[0].strip()
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        return None
    if name.endswith("_check") or name in ISSUE_TOOLS:
        return name
    if TOOL_SHAPED.match(name) and not name.endswith("_id") and name not in {*RUN_PARAMS, *SETTINGS, *ALIASES}:
        return name
    return None


def test_tools_named_in_the_bundle_exist() -> None:
    tools = set(registered_tools())
    for path, text in _all_bundle_text():
        for token in _inline(text) + [m for _l, b, _ in _code_blocks(text) for m in re.findall(r"\b\w+\(", b)]:
            name = _tool_like(token)
            assert name is None or name in tools, f"{path.name}: `{token}` names no tool (tools: {sorted(tools)})"


def test_every_tool_is_documented_in_skill_md_and_skill_info() -> None:
    skill_text = _read(SKILL_MD)
    documented = [t["name"] for t in _skill_info()["tools"]]
    assert sorted(documented) == sorted(registered_tools())
    assert tuple(documented) == ISSUE_TOOLS or (SERVER_DIR / "app.py").is_file()
    for tool in registered_tools():
        assert f"`{tool}`" in skill_text, f"SKILL.md does not describe the tool {tool}"


def test_issue_tool_arguments_are_inputs() -> None:
    inputs = tool_inputs()
    issue_args = {"model_skill", "platform", "datasets", "results_root", "gpu_count", "num_nodes"}
    assert issue_args <= inputs["preflight_check"]
    assert {"model_skill", "action"} <= inputs["resolve_image"]
    assert {"preflight_id", "checkpoint"} <= inputs["run_baseline_eval"]
    assert {"preflight_id", "algorithm", "settings"} <= inputs["estimate_budget"]
    assert inputs["launch_automl"] == {"review_id", "confirmed"}
    assert inputs["job_status"] == inputs["summarize_results"] == {"run_id"}


def _calls(text: str, name: str) -> Iterator[str]:
    """The argument text of every ``name(...)`` call, balanced over brackets and strings."""
    for match in re.finditer(rf"\b{name}\(", text):
        depth, i, quote = 1, match.end(), None
        while i < len(text) and depth:
            ch = text[i]
            if quote:
                quote = None if ch == quote else quote
            elif ch in "\"'":
                quote = ch
            elif ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
            i += 1
        yield text[match.end() : i - 1]


def _top_level_keywords(args: str) -> set[str]:
    names, depth, quote, start = set(), 0, None, 0
    for i, ch in enumerate(args + ","):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            m = re.match(r"\s*([a-z_]+)\s*=(?!=)", args[start:i])
            if m:
                names.add(m[1])
            start = i + 1
    return names


def test_tool_calls_in_the_docs_use_real_arguments() -> None:
    inputs = tool_inputs()
    seen = 0
    for path, text in _all_bundle_text():
        for tool, allowed in inputs.items():
            for args in _calls(text, tool):
                unknown = _top_level_keywords(args) - allowed
                assert not unknown, f"{path.name}: {tool}({args[:60]}...) passes {sorted(unknown)}, not in {allowed}"
                seen += 1
    assert seen >= 20, "the examples should show the tools being called"


def test_skill_info_tool_contracts_match_the_server() -> None:
    tools = server_tools()
    if tools is None:
        pytest.skip("server/app.py does not exist yet")
    models = importlib.import_module("tao_automl.workflow.models")
    for tool in _skill_info()["tools"]:
        inputs, outputs = tools[tool["name"]]
        assert set(tool["inputs"]) == inputs, f"{tool['name']}: skill_info inputs differ from the server's {inputs}"
        assert set(tool["returns"]) <= outputs, f"{tool['name']}: {set(tool['returns']) - outputs} are not returned"
        assert set(getattr(models, tool["input_model"]).model_fields) == inputs
        assert set(getattr(models, tool["output_model"]).model_fields) == outputs
    gate_values = {g.value for g in models.Gate}
    assert {g["gate"] for g in _skill_info()["gates"]} <= gate_values
    assert set(_skill_info()["tools"][4]["requires_gates"]) <= gate_values


def test_gates_are_the_issue_gates() -> None:
    gates = [g["gate"] for g in _skill_info()["gates"]]
    assert set(gates) == ISSUE_GATES and len(gates) == len(ISSUE_GATES)
    table = next(t for t in _tables(_read(SKILL_MD)) if "tool" in t[0])
    column = table[0].index("gate it records")
    for row in table[1:]:
        for token in _ticks(row[column]):
            if "=" in token:  # an argument that satisfies a gate (confirmed=true), named as the argument
                assert token.split("=")[0] in tool_inputs()[_ticks(row[1])[0]], token
                continue
            assert token in ISSUE_GATES or token.endswith("_id"), f"SKILL.md tools table names the gate `{token}`"


def test_id_fields_named_in_the_docs_exist() -> None:
    fields = {"preflight_id", "review_id", "run_id", "job_id", "rec_id", "best_rec_id"}
    for inputs, outputs in (server_tools() or {}).values():
        fields |= inputs | outputs
    for path, text in _all_bundle_text():
        for token in _inline(text):
            if re.fullmatch(r"[a-z_]+_id", token) and token not in RUN_PARAMS and token not in SETTINGS:
                assert token in fields, f"{path.name}: `{token}` is no field of a tool or a result"


# ---- frontmatter, plugin manifests -------------------------------------------------------------------------


def test_skill_md_frontmatter() -> None:
    front = _frontmatter(SKILL_MD)
    assert front["name"] == "tao-run-automl"
    description = " ".join(front["description"].split())
    assert len(description) <= 1024
    for word in ("AutoML", "HPO", "hyperparameter", "tuning", "sweep", "TAO"):
        assert word.lower() in description.lower(), word
    plugin = json.loads(_read(PLUGIN_JSON))
    (server,) = plugin["mcpServers"]
    prefixes = {f"mcp__plugin_{plugin['name']}_{server}__", f"mcp__{server}__"}
    listed: dict[str, set[str]] = {p: set() for p in prefixes}
    for entry in front["allowed-tools"]:
        if entry == "Read":
            continue
        bash = re.fullmatch(r"Bash\(tao-automl (\w+):\*\)", entry)
        if bash:
            assert bash[1] in {"status", "report"}, "only read-only commands may skip the permission prompt"
            assert bash[1] in cli_subcommands()
            continue
        prefix = next((p for p in prefixes if entry.startswith(p)), None)
        assert prefix is not None, f"allowed-tools entry {entry} is neither a known MCP prefix nor Read/Bash"
        listed[prefix].add(entry.removeprefix(prefix))
    for names in listed.values():
        assert names == set(registered_tools())


def test_plugin_manifest_declares_the_skill_and_the_server() -> None:
    plugin = json.loads(_read(PLUGIN_JSON))
    assert plugin["name"] == "tao-skill-bank"
    assert re.fullmatch(r"\d+\.\d+\.\d+", plugin["version"])
    skill_dirs = [(PROJECT_ROOT / p).resolve() for p in plugin["skills"]]
    names = [_frontmatter(d / "SKILL.md")["name"] for d in skill_dirs]
    assert "tao-run-automl" in names
    command = f"/{plugin['name']}:tao-run-automl"
    assert command == "/tao-skill-bank:tao-run-automl"
    assert command in _read(REFERENCES / "detailed-guide.md")
    assert list(plugin["mcpServers"]) == ["tao-automl-mcp"]
    server = plugin["mcpServers"]["tao-automl-mcp"]
    assert server.get("type", "stdio") == "stdio"
    assert server["env"] == {ENV_VAR: "${CLAUDE_PLUGIN_ROOT}"}
    scripts = tomllib.loads(_read(PROJECT_ROOT / "pyproject.toml"))["project"]["scripts"]
    assert server["command"] in scripts, "the server command must be a console script of this package"
    module, func = scripts[server["command"]].split(":")
    assert module == "server.app"
    app = PROJECT_ROOT / (module.replace(".", "/") + ".py")
    if app.is_file():
        tree = ast.parse(_read(app))
        assert any(isinstance(n, ast.FunctionDef) and n.name == func for n in tree.body), f"{app} defines no {func}()"
    info = _skill_info()
    assert (info["plugin"], info["mcp_server"]["name"], info["mcp_server"]["command"]) == (
        plugin["name"],
        "tao-automl-mcp",
        server["command"],
    )
    assert info["mcp_server"]["env"] == server["env"]


def test_marketplace_lists_the_plugin() -> None:
    market = json.loads(_read(MARKETPLACE_JSON))
    plugin = json.loads(_read(PLUGIN_JSON))
    assert market["name"] and market["owner"]["name"]
    (entry,) = market["plugins"]
    assert entry["name"] == plugin["name"]
    source = (PROJECT_ROOT / entry["source"]).resolve()
    assert (source / ".claude-plugin" / "plugin.json").is_file()
    assert f"tao-skill-bank@{market['name']}" in _read(REFERENCES / "detailed-guide.md")
    for tool in registered_tools():
        assert tool in entry["description"]


# ---- settings ------------------------------------------------------------------------------------------------


def wandb_tracker_source() -> str:
    """W&B run and table names (read as text: the docs test must not need wandb installed)."""
    return (PROJECT_ROOT / "tao_automl" / "tracking" / "wandb_tracker.py").read_text()


#: ``automl_*`` names that are not settings, with where they live.
NON_SETTING_AUTOML = {
    "automl_enabled": "automl_enabled" in SkillInfo.model_fields,
    "automl_default_parameters": "automl_default_parameters" in SPACE_SOURCE,
    "automl_disabled_parameters": "automl_disabled_parameters" in SPACE_SOURCE,
    "automl_hyperparameters": "automl_hyperparameters" in RUN_PARAMS,
    "automl_settings": "automl_settings" in RUN_PARAMS,
    "automl_workspace": build_parser().parse_args(["run", "--skill", "x"]).workspace == "automl_workspace",
    "automl_brain": wandb_tracker_source().count('BRAIN_RUN = "automl_brain"') == 1,
    "automl_experiments": wandb_tracker_source().count('EXPERIMENTS_TABLE = "automl_experiments"') == 1,
}


def test_every_automl_name_is_a_setting_or_a_known_field() -> None:
    assert all(NON_SETTING_AUTOML.values()), NON_SETTING_AUTOML
    for path in [*BUNDLE_DOCS, *_model_skill_docs(), REFERENCES / "skill_info.yaml"]:
        for name in set(re.findall(r"\bautoml_[a-z0-9_]+\b", _read(path))):
            known = name in SETTINGS or name in NON_SETTING_AUTOML or name in {*ALIASES, *PUBLISHED_ONLY}
            assert known, f"{path.name}: `{name}` is not a setting"


def test_llm_settings_named_exist() -> None:
    outputs = set().union(*(o for _i, o in (server_tools() or {}).values())) or {"llm_brain"}
    for path, text in _all_bundle_text():
        for name in set(re.findall(r"\bllm_[a-z_]+\b", text)):
            known = name in SETTINGS or name in PUBLISHED_ONLY
            assert known or name in outputs or name in LLM_RUN_STATES, f"{path.name}: `{name}`"


def test_defaults_quoted_in_tables_match_the_code() -> None:
    checked = set()
    for path, text in _all_bundle_text():
        for table in _tables(text):
            if table[0][:2] != ["setting", "default"]:
                continue
            for row in table[1:]:
                (name,) = _ticks(row[0])
                assert name in SETTINGS, f"{path.name}: `{name}` is not a setting"
                assert _default_matches(row[1], SETTINGS[name].default), f"{path.name}: {name} default {row[1]!r}"
                checked.add(name)
    assert checked == set(SETTINGS), f"the settings table misses {sorted(set(SETTINGS) - checked)}"


def test_defaults_quoted_inline_match_the_code() -> None:
    literal = re.compile(r"-?\d+(?:\.\d+)?|true|false|null|auto")
    count = 0
    for path in [*BUNDLE_DOCS, *_model_skill_docs()]:
        for name, value in re.findall(r"`([a-z_]+)`\s*\((?:default:?\s*)?([^()]*?)\)", _read(path)):
            if name in SETTINGS and literal.fullmatch(value.strip()):
                assert _default_matches(value, SETTINGS[name].default), f"{path.name}: `{name}` ({value})"
                count += 1
        for name, value in re.findall(r"`([a-z_]+)` (\d+)\b", _read(path)):
            if name in SETTINGS and path.name != "automl-examples.md":
                assert _default_matches(value, SETTINGS[name].default), f"{path.name}: `{name}` {value}"
                count += 1
    assert count >= 10


def test_brief_defaults_are_the_code_defaults() -> None:
    expected = {
        "automl_max_recommendations": 20,
        "automl_max_epochs": 27,
        "automl_reduction_factor": 3,
        "automl_max_concurrent": 4,
        "automl_population_size": 10,
        "automl_max_generations": 20,
    }
    for name, value in expected.items():
        assert SETTINGS[name].default == value
        assert f"| `{name}` | {value} |" in _read(REFERENCES / "automl-runner-configuration.md")


def test_skill_info_settings_and_aliases_match_the_code() -> None:
    info = _skill_info()
    assert set(info["settings"]) == set(SETTINGS)
    for name, value in info["settings"].items():
        default = SETTINGS[name].default
        assert value == default or (isinstance(default, float) and math.isclose(value, default)), name
    assert info["setting_aliases"] == ALIASES
    doc = _read(REFERENCES / "automl-runner-configuration.md")
    for alias in ALIASES:
        assert f"`{alias}`" in doc, f"alias {alias} is not documented"


# ---- scripts, wheels, CLI ------------------------------------------------------------------------------------


def test_scripts_and_their_flags_exist() -> None:
    seen = set()
    for path in [*BUNDLE_DOCS, *_model_skill_docs(), REFERENCES / "skill_info.yaml"]:
        text = _read(path)
        for script in set(re.findall(r"\bscripts/[\w/.-]+\.py\b", text)):
            assert (PROJECT_ROOT / script).is_file(), f"{path.name}: {script} does not exist"
            seen.add(script)
        for line in _code_lines(text) + text.splitlines():
            for script, rest in re.findall(r"\b(scripts/[\w/.-]+\.py)\b([^`|]*)", line):
                source = _read(PROJECT_ROOT / script)
                for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]*", rest):
                    assert f'"{flag}"' in source, f"{path.name}: {script} has no flag {flag}"
    assert {s["path"] for s in _skill_info()["scripts"]} <= seen
    assert {p.relative_to(PROJECT_ROOT).as_posix() for p in (PROJECT_ROOT / "scripts").glob("*.py")} <= seen


def test_versions_keys_named_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    keys = set(_skill_info()["wheels"])
    for path in [*BUNDLE_DOCS, *_model_skill_docs()]:
        keys |= set(re.findall(r"\b(?:wheels|images)\.[a-z0-9_]+(?:\.[a-z0-9_]+)?\b", _read(path)))
    assert {k for k in keys if k.startswith("wheels.")} == set(_skill_info()["wheels"])
    for key in keys:
        assert resolve(key), key


def test_cli_subcommands_and_flags_exist() -> None:
    subs = cli_subcommands()
    assert set(_skill_info()["cli"]["subcommands"]) == set(subs)
    count = 0
    for path in [*BUNDLE_DOCS, *_model_skill_docs()]:
        for line in _code_lines(_read(path)):
            for sub, rest in re.findall(r"(?<![\w-])tao-automl\s+([a-z][a-z-]*)([^`|]*)", line):
                assert sub in subs, f"{path.name}: `tao-automl {sub}` is no subcommand"
                for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]*", rest):
                    assert flag in subs[sub], f"{path.name}: `tao-automl {sub}` has no {flag}"
                count += 1
    assert count >= 8
    run_flags = re.findall(r"`(--[a-z-]+)", _read(REFERENCES / "automl-runner-configuration.md"))
    assert set(run_flags) <= subs["run"]
    assert {f for f in subs["run"] if f.startswith("--") and f != "--help"} <= set(run_flags)


# ---- algorithms, platforms, hooks, failures, checks ------------------------------------------------------------


def test_algorithm_names_exist_or_are_marked_not_available() -> None:
    available = set(available_algorithms())
    info = _skill_info()
    assert set(info["algorithms"]) == available
    assert not info["planned_algorithms"]
    assert not available & FOREIGN_ALGORITHMS
    for path, text in _all_bundle_text():
        for line in text.splitlines():
            for token in _ticks(line):
                if token in FOREIGN_ALGORITHMS:
                    assert NOT_AVAILABLE.search(line), f"{path.name}: `{token}` must be marked not available: {line}"
        for name in re.findall(r"""(?:algorithm=|"algorithm":\s*|--algorithm\s+)["']?([a-z_]+)""", text):
            assert name in available, f"{path.name}: algorithm {name!r} does not exist"
        for table in _tables(text):
            if table[0][0] == "algorithm":
                for row in table[1:]:
                    for token in _ticks(row[0]):
                        assert token in available, f"{path.name}: `{token}` in an algorithm table"


def test_hyperband_and_asha_schedules_quoted_match_the_code() -> None:
    text = _read(REFERENCES / "automl-intent-algorithms.md")
    table = next(t for t in _tables(text) if t[0] == ["bracket", "rungs"])
    quoted = [[tuple(map(int, r.split("@"))) for r in row[1].split(", ")] for row in table[1:]]
    brackets = hyperband_brackets(27, 3, 1)
    assert quoted == [[(r.n, r.epochs) for r in b] for b in brackets]
    recs = sum(r.n for b in brackets for r in b)
    epochs = sum(r.n * (r.epochs - (b[i - 1].epochs if i else 0)) for b in brackets for i, r in enumerate(b))
    assert f"{recs} recommendations and {epochs} trained epochs" in text
    assert f"{sum(b[0].n for b in brackets)} configurations" in text
    small = hyperband_brackets(27, 3, 3)
    small_epochs = sum(r.n * (r.epochs - (b[i - 1].epochs if i else 0)) for b in small for i, r in enumerate(b))
    assert f"{sum(r.n for b in small for r in b)} recommendations, {small_epochs} epochs" in text
    assert "rungs\n`" + ", ".join(map(str, asha_rungs(27, 3))) + "`" in text.replace("rungs `", "rungs\n`")


def test_platform_names_exist() -> None:
    platforms = set(available_platforms())
    info = _skill_info()
    assert set(info["platforms"]) == platforms
    for name, skill in info["platforms"].items():
        assert skill is None or (PROJECT_ROOT / skill / "SKILL.md").is_file(), name
    with_skill = {p.name for p in (PROJECT_ROOT / "skills" / "platform").iterdir() if (p / "SKILL.md").is_file()}
    assert {n for n, s in info["platforms"].items() if s} == with_skill
    for path, text in _all_bundle_text():
        pattern = r"""(?:--platform\s+|platform(?:_sdk)?=["']|"platform":\s*")([a-z]+)"""
        for name in re.findall(pattern, text):
            assert name in platforms, f"{path.name}: platform {name!r}"
        for name in re.findall(r"skills/platform/([a-z]+)", text):
            assert name in with_skill, f"{path.name}: skills/platform/{name}"
    intake = next(row for t in _tables(_read(SKILL_MD)) for row in t if row[0] == "platform")
    named = {t for t in _ticks(intake[1]) if re.fullmatch(r"[a-z]+", t)} - {"platform"}  # the argument's name
    assert named == with_skill


def test_hooks_and_run_arguments_exist() -> None:
    for path, text in _all_bundle_text():
        for token in _inline(text):
            name = token.split("(", 1)[0]
            if re.fullmatch(r"[a-z_]+_fn|metric_extractor|on_[a-z_]+|[a-z_]+_uri", name):
                assert name in RUN_PARAMS, f"{path.name}: `{token}` is not an AutoMLRunner.run() argument"
    table = next(t for t in _tables(_read(REFERENCES / "automl-runner-configuration.md")) if t[0][0] == "argument")
    documented = {tok for row in table[1:] for tok in _ticks(row[0])}
    assert documented == RUN_PARAMS, f"undocumented: {RUN_PARAMS - documented}, unknown: {documented - RUN_PARAMS}"
    for method in re.findall(r"`((?:create|get|cancel)_job\w*)`", "".join(t for _p, t in _all_bundle_text())):
        assert method in (*CREATE_METHODS, *REQUIRED_METHODS), method


def test_python_examples_call_the_real_api() -> None:
    blocks = 0
    for path, text in _all_bundle_text():
        for _lang, body, _ in _code_blocks(text, "python"):
            tree = ast.parse(body)
            blocks += 1
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom):
                    module = importlib.import_module(node.module or "")
                    for alias in node.names:
                        assert hasattr(module, alias.name), f"{path.name}: {node.module}.{alias.name}"
                if not isinstance(node, ast.Call):
                    continue
                keywords = {k.arg for k in node.keywords if k.arg}
                if isinstance(node.func, ast.Name) and node.func.id == "AutoMLRunner":
                    assert keywords <= INIT_PARAMS, f"{path.name}: AutoMLRunner({keywords - INIT_PARAMS})"
                if isinstance(node.func, ast.Attribute) and node.func.attr == "run":
                    allowed = RUN_PARAMS | {"gpu_count", "num_nodes"}  # platform keywords every platform takes
                    assert keywords <= allowed, f"{path.name}: run({keywords - allowed})"
    assert blocks >= 3


def _runnable_examples() -> list[str]:
    text = _read(REFERENCES / "automl-runner-configuration.md")
    marker = "<!-- example: runs in tests/test_skill_bundle.py -->"
    return [body for _l, body, start in _code_blocks(text, "python") if text[:start].rstrip().endswith(marker)]


def test_runnable_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    examples = _runnable_examples()
    assert len(examples) == 2
    monkeypatch.chdir(PROJECT_ROOT)
    monkeypatch.delenv(ENV_VAR, raising=False)
    for body in examples:
        code = body.replace('"automl_workspace"', repr(str(tmp_path / "ws")))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "example", "exec"), {"__name__": "example"})
        printed = out.getvalue()
        if "AutoMLRunner" in body:
            lines = printed.splitlines()
            assert lines[0].startswith("measured ") and lines[2].startswith("measured "), printed
            assert "model_epoch_" in lines[1] and "latest" not in lines[1]
            assert list((tmp_path / "ws").glob("run_*/result.json"))
        else:
            assert "dataset.segment.batch_size" in printed


def test_failure_classes_and_statuses_named_exist() -> None:
    text = _read(REFERENCES / "automl-advanced-monitoring.md")
    classes = {c.value for c in FailureCategory} | RUNNER_STRINGS
    table = next(t for t in _tables(text) if t[0][0] == "class")
    named = {tok for row in table[1:] for tok in _ticks(row[0])}
    assert {c.value for c in FailureCategory} <= named, "every failure category is documented"
    assert named <= classes, f"unknown failure classes {named - classes}"
    flat = " ".join(text.split())
    baseline = re.search(r"Statuses: baseline ((?:`\w+`[,;]? ?)+)", flat)
    final = re.search(r"; final ((?:`\w+`[,.]? ?)+)", flat)
    assert baseline and final
    assert set(_ticks(baseline[1])) == set(BASELINE_STATUSES)
    assert set(_ticks(final[1])) == set(FINAL_STATUSES)
    states = re.search(r"`state` \(((?:`\w+`,? ?)+)\)", flat)
    assert states and set(_ticks(states[1])) <= RUNNER_STRINGS


CHECK_NAME = re.compile(r"(model|platform|tool|credentials?|path|batch|disk|install|plan|compute|data):([\w<>]+)")


def test_preflight_check_names_exist() -> None:
    count = 0
    for path, text in _all_bundle_text():
        for token in _inline(text):
            m = CHECK_NAME.fullmatch(token)
            if not m:
                continue
            fixed, pattern = f'"{token}"', f'f"{m[1]}:{{'
            assert fixed in PREFLIGHT_SOURCE or pattern in PREFLIGHT_SOURCE, f"{path.name}: no check `{token}`"
            count += 1
    assert count >= 10


def test_paths_named_exist() -> None:
    roots = ("skills/", "scripts/", "references/", "docs/", "tao_automl/", ".claude-plugin/")
    for path in [*BUNDLE_DOCS, *_model_skill_docs()]:
        for token in _inline(_read(path)):
            candidate = token.split()[0].rstrip(",.:")
            if not candidate.startswith(roots) or any(c in candidate for c in "<*{"):
                continue
            places = [path.parent, PROJECT_ROOT, *(PROJECT_ROOT / "skills" / "models").iterdir()]
            assert any((p / candidate).exists() for p in places), f"{path.name}: `{candidate}` does not exist"


def test_every_reference_file_is_on_the_map() -> None:
    listed = set(_skill_info()["references"])
    files = {p.relative_to(PROJECT_ROOT).as_posix() for p in REFERENCES.glob("*.md")}
    assert listed == files
    for name in files:
        assert f"`{name}`" in _read(SKILL_MD), f"SKILL.md does not point at {name}"
    guide = _read(REFERENCES / "detailed-guide.md")
    for name in files - {"references/detailed-guide.md"}:
        assert f"`{name}`" in guide, f"detailed-guide.md does not map {name}"
    for skill in _skill_info()["model_skills"]:
        assert (PROJECT_ROOT / skill / "references" / "skill_info.yaml").is_file()
        assert f"`{skill}`" in guide


# ---- model skills ----------------------------------------------------------------------------------------------


def _model_dir(name: str) -> Path:
    return PROJECT_ROOT / "skills" / "models" / name


def _schema_has(schema: dict[str, Any], dotted: str) -> bool:
    """Whether a dotted spec key names a schema node; inside a list or a collection without item schema, yes."""
    node: Any = schema
    for part in re.sub(r"\[\d+\]", "", dotted.removesuffix(".*")).split("."):
        props = node.get("properties") if isinstance(node, dict) else None
        if not isinstance(props, dict):
            return node is not schema and node.get("type") in ("list", "collection", "object")
        if part not in props:
            return False
        node = props[part]
    return True


def _metric_table(skill_md: str) -> dict[str, set[str]]:
    table = next(t for t in _tables(skill_md) if t[0][0] == "action")
    return {row[0]: set(_ticks(row[1])) for row in table[1:]}


@pytest.mark.parametrize("name", sorted(MODEL_SKILLS))
def test_model_skill_loads_and_searches(name: str) -> None:
    arch, metric, eval_metric = MODEL_SKILLS[name]
    skill = ModelSkill.load(_model_dir(name))
    info, hints = skill.info, skill.info.automl
    assert (info.name, info.network_arch, info.automl_enabled) == (name, arch, True)
    assert set(info.actions) == {"train", "evaluate"}
    assert all(a.command and a.command.split()[0] == arch for a in info.actions.values())
    assert (hints.metric, hints.evaluate_metric, hints.direction) == (metric, eval_metric, "maximize")
    assert infer_direction(metric) == infer_direction(eval_metric) == "maximize"
    assert hints.epochs_key == "train.num_epochs" and hints.checkpoint_glob == "model_epoch_*.pth"
    schema, template = skill.schema("train"), skill.template("train")
    assert _schema_has(schema, hints.epochs_key) and get_dotted(template, hints.epochs_key) is not None
    assert skill.resume_key == "train.resume_training_checkpoint_path"
    assert get_dotted(template, skill.resume_key) is not None
    assert skill.eval_checkpoint_key == "evaluate.checkpoint"
    assert get_dotted(skill.template("evaluate"), "evaluate.checkpoint") is not None
    default_space = build_search_space(schema, None, None)
    assert len(default_space) > 0
    extra = hints.model_extra or {}
    params, ranges = extra["recommended_parameters"], extra["recommended_ranges"]
    assert set(ranges) <= set(params)
    focused = build_search_space(schema, params, ranges)
    assert [p["name"] for p in focused.describe()] == params
    for action in ("train", "evaluate"):
        keys = (info.data_sources.get(action) or {}).keys()
        assert keys and all(_schema_has(skill.schema(action), k) for k in keys), (action, list(keys))


@pytest.mark.parametrize("name", sorted(MODEL_SKILLS))
def test_model_skill_metric_is_one_its_jobs_report(name: str) -> None:
    _arch, metric, eval_metric = MODEL_SKILLS[name]
    text = _read(_model_dir(name) / "SKILL.md")
    table = _metric_table(text)
    assert metric in table["train"], f"{name}: {metric} is not in the train status keys {table['train']}"
    assert eval_metric in table["evaluate"], f"{name}: {eval_metric} is not in the evaluate status keys"
    assert f"`{metric}`" in text.split("## Metric", 1)[1].split("##", 1)[0]


@pytest.mark.parametrize("name", sorted(MODEL_SKILLS))
def test_model_skill_md_has_the_published_sections(name: str) -> None:
    path = _model_dir(name) / "SKILL.md"
    front = _frontmatter(path)
    assert front["name"] == name and front["metadata"]["network_arch"] == MODEL_SKILLS[name][0]
    assert 0 < len(front["description"]) <= 1024
    text = _read(path)
    for section in ("Dataset requirements", "Metric", "HPO notes", "Checkpoint handoff", "Known failures"):
        assert f"## {section}" in text, f"{name}: no '{section}' section"
    assert "Attribution:" in text and "NVIDIA-TAO/tao-skill-bank" in text and "Apache-2.0" in text
    skill = ModelSkill.load(path.parent)
    schemas = (skill.schema("train"), skill.schema("evaluate"))
    for token in _inline(text):
        key = token.split("=")[0].split(":")[0].strip()
        if re.fullmatch(r"(?:train|dataset|model|evaluate)\.[\w.\[\]*]+", key):
            assert any(_schema_has(s, key) for s in schemas), f"{name}: `{key}` is in neither schema"


@pytest.mark.parametrize("name", sorted(MODEL_SKILLS))
def test_model_skill_data_files_are_the_upstream_ones(name: str) -> None:
    assert UPSTREAM_SKILLS_DIR.is_dir(), f"upstream skill fixtures not found at {UPSTREAM_SKILLS_DIR}"
    ours, theirs = _model_dir(name), UPSTREAM_SKILLS_DIR / name
    for action in ("train", "evaluate"):
        template = f"references/spec_template_{action}.yaml"
        assert _read(ours / template) == _read(theirs / template), template
        mine = load_tao_schema(ours / "schemas" / f"{action}.schema.json")
        upstream = load_tao_schema(theirs / "schemas" / f"{action}.schema.json")
        if name == "tao-train-image-classification" and action == "train":
            upstream["automl_default_parameters"] = [
                p for p in upstream["automl_default_parameters"] if p not in DROPPED_CLASSIFICATION_DEFAULTS
            ]
        assert json.dumps(mine, sort_keys=True) == json.dumps(upstream, sort_keys=True), f"{name} {action} schema"


@pytest.mark.parametrize("name", sorted(MODEL_SKILLS))
def test_model_skill_image_comes_from_versions(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    for action in ("train", "evaluate"):
        found = resolve_image(_model_dir(name), action)
        assert found.image == resolve("images.tao_toolkit.pyt")
        assert (found.source, found.versions_key, found.notes) == ("model", "images.tao_toolkit.pyt", [])


@pytest.mark.parametrize("name", sorted(MODEL_SKILLS))
def test_find_model_skill_resolves_new_skills(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    expected = _model_dir(name).resolve()
    for alias in (name, MODEL_SKILLS[name][0], MODEL_SKILLS[name][0].upper(), str(_model_dir(name))):
        assert find_model_skill(alias) == expected, alias


def test_skill_bank_path_is_searched_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "bank" / "skills" / "models"
    banknet = write_tao_skill(models, name="tao-train-banknet")
    shutil.copytree(_model_dir("tao-train-rtdetr"), models / "tao-train-rtdetr")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "bank"))
    assert find_model_skill("tao-train-banknet") == banknet.resolve()
    assert find_model_skill("tao_train_banknet") == banknet.resolve()  # its network_arch
    assert find_model_skill("rtdetr") == (models / "tao-train-rtdetr").resolve()  # the bank's copy wins
    assert find_model_skill("segformer") == _model_dir("tao-train-segformer").resolve()  # ours when the bank lacks it
    assert find_model_skill("digits_cnn") == _model_dir("digits-cnn").resolve()
    assert ModelSkill.load(find_model_skill("tao-train-banknet")).name == "tao-train-banknet"
