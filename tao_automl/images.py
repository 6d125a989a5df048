"""Which container image a model action runs in, and where that answer came from.

Order: the action's own ``container_image`` > the model's ``container_image`` > the versions key
linked to the image line. A model skill links an image line to ``versions.yaml`` with a trailing
comment (``container_image: nvcr.io/...:7.1.0-pyt  # versions-key: images.tao_toolkit.pyt``); YAML
parsers drop comments, so the link is read from the raw text. The answer is always shown to the
user before a launch (``confirmation_required``).
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from tao_automl.errors import SkillError
from tao_automl.skill import ModelSkill
from tao_automl.versions import BUNDLED_BANK, ENV_VAR, UnknownVersionsKeyError, VersionsFileNotFoundError, resolve

__all__ = ["ImageResolution", "find_model_skill", "image_links", "model_skill_roots", "resolve_image"]

ImageSource = Literal["action", "model", "versions_key", "none"]

_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[\w.\-]+)\s*:(?P<rest>.*)$")
_VERSIONS_KEY = re.compile(r"#\s*versions-key:\s*(?P<key>[\w.\-]+)")


class ImageResolution(BaseModel):
    """The image for one action. ``versions_key`` is the link found on the winning line, if any."""

    image: str | None
    source: ImageSource
    versions_key: str | None = None
    confirmation_required: bool = True
    model: str
    skill_dir: str
    action: str
    notes: list[str] = Field(default_factory=list)


def model_skill_roots(extra: list[str | Path] | None = None) -> list[Path]:
    """Directories holding model skills: ``extra`` first, then the skill bank's, then this project's."""
    roots = [Path(p).expanduser() for p in extra or []]
    bank = os.environ.get(ENV_VAR, "").strip()
    if bank:
        roots.append(Path(bank).expanduser() / "skills" / "models")
    roots.append(BUNDLED_BANK / "skills" / "models")
    unique: list[Path] = []
    for root in roots:
        if root.is_dir() and root.resolve() not in unique:
            unique.append(root.resolve())
    return unique


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-]+", "-", text.strip().lower())


def _aliases(skill_dir: Path) -> set[str]:
    """Directory name, ``name`` and ``network_arch`` of a skill (read without the AutoML gate)."""
    names = {_norm(skill_dir.name)}
    try:
        info = ModelSkill.load(skill_dir, require_automl=False).info
    except SkillError:
        return names
    names.add(_norm(info.name))
    if info.network_arch:
        names.add(_norm(info.network_arch))
    return names


def find_model_skill(alias: str | Path, roots: list[str | Path] | None = None) -> Path:
    """The skill directory for a path, a directory name, a skill ``name`` or a ``network_arch``.

    Roots are searched in :func:`model_skill_roots` order and the first root holding a match wins,
    so an installed skill bank (``$TAO_SKILL_BANK_PATH``) overrides a network this project also ships.

    Raises:
        SkillError: nothing matches (with the closest aliases), or several skills of one root match.
    """
    path = Path(alias).expanduser()
    if (path / "references" / "skill_info.yaml").is_file():
        return path.resolve()
    wanted = _norm(str(alias))
    known: dict[str, list[Path]] = {}
    first_root_matches: list[Path] = []
    for root in model_skill_roots(roots):
        in_root = []
        for skill_dir in sorted(p for p in root.iterdir() if (p / "references" / "skill_info.yaml").is_file()):
            names = _aliases(skill_dir)
            for name in names:
                known.setdefault(name, []).append(skill_dir)
            if wanted in names:
                in_root.append(skill_dir)
        first_root_matches = first_root_matches or in_root
    matches = list(dict.fromkeys(first_root_matches))
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise SkillError(
            f"model alias {str(alias)!r} matches several skills: {', '.join(map(str, matches))}",
            field="model",
            hint="pass the skill directory path instead",
        )
    close = difflib.get_close_matches(wanted, sorted(known), n=3)
    searched = ", ".join(str(r) for r in model_skill_roots(roots)) or "none"
    raise SkillError(
        f"no model skill called {str(alias)!r} (searched {searched})",
        field="model",
        hint=f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(sorted(known)) or 'none'}",
    )


def image_links(info_path: Path) -> dict[tuple[str, ...], tuple[str | None, str | None]]:
    """``container_image`` lines of a skill_info.yaml: key path -> (raw value, versions key).

    Key paths are ``("container_image",)`` for the model and ``("actions", <action>,
    "container_image")`` for an action; block-style YAML only, which is how skills are written.
    """
    found: dict[tuple[str, ...], tuple[str | None, str | None]] = {}
    stack: list[tuple[int, str]] = []
    for raw in info_path.read_text(encoding="utf-8").splitlines():
        match = _KEY_LINE.match(raw)
        if match is None or raw.lstrip().startswith("#"):
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match["key"]))
        if match["key"] == "container_image":
            rest = match["rest"]
            link = _VERSIONS_KEY.search(rest)
            value = rest[: link.start()] if link else rest.split(" #")[0]
            value = value.strip().strip("\"'")
            found[tuple(k for _, k in stack)] = (
                None if value in ("", "null", "~") else value,
                link["key"] if link else None,
            )
    return found


def resolve_image(
    skill_dir_or_alias: str | Path,
    action: str = "train",
    *,
    roots: list[str | Path] | None = None,
    versions_file: str | Path | None = None,
) -> ImageResolution:
    """Resolve the container image of ``action``; see the module docstring for the order.

    Raises:
        SkillError: unknown model or action.
    """
    skill_dir = find_model_skill(skill_dir_or_alias, roots)
    skill = ModelSkill.load(skill_dir, require_automl=False)
    skill.action(action)  # names the known actions when ``action`` is not one
    links = image_links(skill_dir / "references" / "skill_info.yaml")
    action_value, action_key = links.get(("actions", action, "container_image"), (None, None))
    model_value, model_key = links.get(("container_image",), (None, None))
    common = {"model": skill.name, "skill_dir": str(skill_dir), "action": action}

    action_image = skill.action(action).container_image or action_value
    model_image = skill.info.container_image or model_value
    if action_image:
        resolution = ImageResolution(image=action_image, source="action", versions_key=action_key, **common)
    elif model_image:
        resolution = ImageResolution(image=model_image, source="model", versions_key=model_key, **common)
    else:
        key = action_key or model_key
        if key is None:
            return ImageResolution(
                image=None,
                source="none",
                notes=["no container image: the action runs directly on the platform (e.g. a local virtualenv)"],
                **common,
            )
        try:
            pinned = resolve(key, versions_file)
        except (UnknownVersionsKeyError, VersionsFileNotFoundError) as exc:
            raise SkillError(
                f"image of action {action!r} comes from versions key {key!r}: {exc.message}",
                field=str(skill_dir / "references" / "skill_info.yaml"),
                hint=exc.hint,
            ) from None
        return ImageResolution(image=pinned, source="versions_key", versions_key=key, **common)
    if resolution.versions_key:
        try:
            pinned = resolve(resolution.versions_key, versions_file)
        except (UnknownVersionsKeyError, VersionsFileNotFoundError) as exc:
            resolution.notes.append(f"versions key {resolution.versions_key!r} does not resolve: {exc.message}")
        else:
            if pinned != resolution.image:
                resolution.notes.append(
                    f"model metadata pins {resolution.image} but versions.yaml "
                    f"{resolution.versions_key} is {pinned}; confirm which one to use"
                )
    return resolution
