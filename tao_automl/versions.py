"""Image and wheel pins from ``versions.yaml``, looked up by dotted key (``images.tao_toolkit.pyt``).

The file is found where an agent's skill bank keeps it (``$TAO_SKILL_BANK_PATH``, a directory or
the file itself), else at the root of this project. Leaves may use ``{skill_bank_uri}``, replaced by
the ``file://`` URI of the directory holding the file, so an install spec points at this checkout.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

from tao_automl.errors import ConfigurationError

try:
    import yaml
except ImportError:  # the install command is printed before the project (and PyYAML) is installed
    yaml = None  # type: ignore[assignment]

_YAML_ERRORS: tuple[type[Exception], ...] = (yaml.YAMLError,) if yaml is not None else ()

__all__ = [
    "ENV_VAR",
    "PROJECT_ROOT",
    "UnknownVersionsKeyError",
    "VersionsFileNotFoundError",
    "find_versions_file",
    "leaf_keys",
    "load_versions",
    "lookup",
    "resolve",
]

ENV_VAR = "TAO_SKILL_BANK_PATH"
FILE_NAME = "versions.yaml"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class VersionsFileNotFoundError(ConfigurationError):
    """No ``versions.yaml`` where it is looked for."""


class UnknownVersionsKeyError(ConfigurationError):
    """The dotted key names nothing in ``versions.yaml``, or names a group instead of a leaf."""


def _candidates(explicit: str | Path | None) -> list[Path]:
    if explicit is not None:
        return [Path(explicit).expanduser()]
    found: list[Path] = []
    bank = os.environ.get(ENV_VAR, "").strip()
    if bank:
        path = Path(bank).expanduser()
        found.append(path if path.suffix in (".yaml", ".yml") else path / FILE_NAME)
    found.append(PROJECT_ROOT / FILE_NAME)
    return found


def find_versions_file(path: str | Path | None = None) -> Path:
    """The versions file to read: ``path`` if given, else ``$TAO_SKILL_BANK_PATH``, else the project root.

    Raises:
        VersionsFileNotFoundError: none of the candidates exists (all are named in the message).
    """
    candidates = _candidates(path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise VersionsFileNotFoundError(
        "versions.yaml not found; looked at " + ", ".join(str(c) for c in candidates),
        field="versions_file",
        hint=f"set {ENV_VAR} to the skill bank directory that holds versions.yaml",
    )


_LINE = re.compile(r"^(?P<indent> *)(?P<key>[\w.-]+):(?:\s+(?P<value>[^#]*?))?\s*(?:#.*)?$")


def _parse_plain(text: str) -> dict[str, Any]:
    """Block mappings of scalars only: enough to read versions.yaml where PyYAML is not installed."""
    root: dict[str, Any] = {}
    stack: list[tuple[int, dict[str, Any]]] = [(-1, root)]
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        match = _LINE.match(raw)
        if match is None:
            raise ValueError(f"line {number}: only 'key: value' mappings are supported without PyYAML")
        indent, key, value = len(match["indent"]), match["key"], (match["value"] or "").strip()
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if value:
            parent[key] = value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'" else value
        else:
            parent[key] = {}
            stack.append((indent, parent[key]))
    return root


def load_versions(path: str | Path | None = None) -> tuple[dict[str, Any], Path]:
    """Parse the versions file (``yaml.safe_load``); returns the mapping and where it was read."""
    found = find_versions_file(path)
    try:
        text = found.read_text(encoding="utf-8")
        data = (yaml.safe_load(text) if yaml is not None else _parse_plain(text)) or {}
    except (OSError, ValueError, *_YAML_ERRORS) as exc:
        raise ConfigurationError(f"cannot parse: {exc}", field=str(found)) from None
    if not isinstance(data, dict):
        raise ConfigurationError("versions.yaml must be a mapping at the top level", field=str(found))
    return data, found


def leaf_keys(data: dict[str, Any], prefix: str = "") -> list[str]:
    """Every dotted key that names a leaf, in file order."""
    keys: list[str] = []
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        keys += leaf_keys(value, dotted + ".") if isinstance(value, dict) else [dotted]
    return keys


def lookup(data: dict[str, Any], key: str) -> Any:
    """The value at dotted ``key`` (a leaf or a group).

    Raises:
        UnknownVersionsKeyError: with a "did you mean" hint over every leaf key.
    """
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            keys = leaf_keys(data)
            close = difflib.get_close_matches(key, keys, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}?" if close else f"known keys: {', '.join(keys)}"
            raise UnknownVersionsKeyError(f"unknown versions key {key!r}", field="key", hint=hint)
        node = node[part]
    return node


def resolve(key: str, path: str | Path | None = None) -> str:
    """The leaf at dotted ``key`` as text, with ``{skill_bank_uri}`` filled in.

    Raises:
        VersionsFileNotFoundError: no versions file.
        UnknownVersionsKeyError: unknown key, or a key that names a group of pins.
    """
    data, found = load_versions(path)
    value = lookup(data, key)
    if isinstance(value, dict):
        children = ", ".join(f"{key}.{k}" for k in leaf_keys(value))
        raise UnknownVersionsKeyError(f"{key!r} is a group, not a pin", field="key", hint=f"use one of: {children}")
    if value is None:
        raise UnknownVersionsKeyError(f"{key!r} has no value in {found}", field="key")
    return str(value).replace("{skill_bank_uri}", found.parent.as_uri())
