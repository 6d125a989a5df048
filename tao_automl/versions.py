"""Image and wheel pins from ``versions.yaml``, looked up by dotted key (``images.tao_toolkit.pyt``).

The file is found where an agent's skill bank keeps it (``$TAO_SKILL_BANK_PATH``, a directory or
the file itself), else in the skill bank this package ships (``tao_automl/bank/``: links to the
checkout's top-level files in a source tree, copies of them in a wheel). Leaves may use
``{skill_bank_uri}``, replaced by the ``file://`` URI of the directory holding the file, so an
install spec points at this checkout; read from an installed wheel (no source tree to point at),
``<name> @ {skill_bank_uri}`` becomes ``<name>==<installed version>``. A key may end in ``,llm``
(or any ``,extra``): the extra is added to the install spec's extras.
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
    "BUNDLED_BANK",
    "ENV_VAR",
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
#: The skill bank shipped with the package (see the module docstring).
BUNDLED_BANK = Path(__file__).resolve().parent / "bank"


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
    found.append(BUNDLED_BANK / FILE_NAME)
    return found


def find_versions_file(path: str | Path | None = None) -> Path:
    """The versions file to read: ``path`` if given, else ``$TAO_SKILL_BANK_PATH``, else the bundled bank's.

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


#: ``name[extras] @ {skill_bank_uri}``. Matched by hand: this module must work before the project (and
#: ``packaging``) is installed, since it prints the install command.
_BANK_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?:\[(?P<extras>[^\]]*)\])?\s*@\s*\{skill_bank_uri\}$")


def _installed_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _fill_spec(value: str, bank_dir: Path, extras: list[str]) -> str:
    """An install spec with ``{skill_bank_uri}`` filled in and ``extras`` added to its own."""
    match = _BANK_SPEC.match(value.strip())
    if match is None:
        if extras:
            raise UnknownVersionsKeyError(
                f"',{','.join(extras)}' applies to install specs of the form 'name[extras] @ {{skill_bank_uri}}'; "
                f"this pin is {value!r}",
                field="key",
                hint="drop the ,extra suffix",
            )
        return value.replace("{skill_bank_uri}", bank_dir.as_uri())
    name = match["name"]
    have = [e.strip() for e in (match["extras"] or "").split(",") if e.strip()]
    merged = list(dict.fromkeys([*have, *extras]))
    head = f"{name}[{','.join(merged)}]" if merged else name
    if (bank_dir / "pyproject.toml").is_file():
        return f"{head} @ {bank_dir.as_uri()}"
    installed = _installed_version(name)
    return f"{head}=={installed}" if installed else head


def resolve(key: str, path: str | Path | None = None) -> str:
    """The leaf at dotted ``key`` as text, with ``{skill_bank_uri}`` filled in (``key,extra`` adds extras).

    Raises:
        VersionsFileNotFoundError: no versions file.
        UnknownVersionsKeyError: unknown key, or a key that names a group of pins.
    """
    key, *extras = [part.strip() for part in key.split(",")]
    if not all(re.fullmatch(r"[A-Za-z0-9_-]+", e) for e in extras):
        raise UnknownVersionsKeyError(f"bad extra in {key!r},{','.join(extras)}", field="key", hint="e.g. ,llm")
    data, found = load_versions(path)
    value = lookup(data, key)
    if isinstance(value, dict):
        children = ", ".join(f"{key}.{k}" for k in leaf_keys(value))
        raise UnknownVersionsKeyError(f"{key!r} is a group, not a pin", field="key", hint=f"use one of: {children}")
    if value is None:
        raise UnknownVersionsKeyError(f"{key!r} has no value in {found}", field="key")
    return _fill_spec(str(value), found.parent, extras)
