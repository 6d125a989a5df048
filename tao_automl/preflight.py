"""Launch preflight: prove the platform, credentials, model, data and disk are ready before any job.

Every check returns ``{name, status: pass|fail|warn|skip, evidence, fix}``; the overall status is
``fail`` when any check fails. The same function backs ``scripts/check_tao_launch_preflight.py``
and the MCP server's ``preflight_check`` tool.

What a platform needs is read from its skill, ``skills/platform/<name>/references/skill_info.yaml``
(``required_credentials``, ``credential_groups[].require_one_of``, ``reachability.command``,
``tools``), so every platform is checked the same way. Credentials are checked for presence only:
evidence says ``SET`` or ``UNSET``, never a value. Nothing is installed unless
``install_missing_tools`` is set; then the missing tools named by the platform skill (and boto3 for
``s3://`` paths) are installed with apt-get or pip and every check runs again.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tao_automl.data import s3
from tao_automl.data.counting import count_bytes, count_records
from tao_automl.data.locations import is_s3, parse_location
from tao_automl.data.preparation import MAX_S3_ANNOTATION_BYTES
from tao_automl.data.visibility import ProbeOptions, check_visibility
from tao_automl.errors import AutoMLError, ConfigurationError, SkillError
from tao_automl.images import find_model_skill, resolve_image
from tao_automl.platforms import get_platform
from tao_automl.platforms.failures import FailureCategory
from tao_automl.redaction import redact
from tao_automl.skill import ModelSkill
from tao_automl.versions import BUNDLED_BANK, ENV_VAR

__all__ = [
    "BatchLimit",
    "Check",
    "CheckStatus",
    "PlatformSkillInfo",
    "PreflightResult",
    "ToolHint",
    "count_records",
    "load_platform_skill",
    "parse_batch_limit",
    "parse_path_arg",
    "parse_platform_options",
    "platform_skill_roots",
    "run_preflight",
]

#: Local platforms' jobs see exactly what this machine sees; any other platform is asked with a probe job.
LOCAL_PLATFORMS = frozenset({"local"})


class CheckStatus(StrEnum):
    """Outcome of one check; only ``fail`` blocks a launch."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"


class Check(BaseModel):
    """One fact proven (or not) before launch; ``fix`` says what to do when it is not ``pass``.

    A failed data or credential check also carries ``failure_class`` (a ``platforms.failures``
    category: ``data_visibility``, ``credential``), the class the job would have failed with; it is
    an extra field, present only where it applies.
    """

    model_config = ConfigDict(extra="allow")

    name: str
    status: CheckStatus
    evidence: str = ""
    fix: str | None = None


class PreflightResult(BaseModel):
    """All checks and the verdict. ``exit_code`` is what the CLI returns: 0 launchable, 2 blocked."""

    overall: CheckStatus
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return self.overall is not CheckStatus.FAIL

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 2

    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status is CheckStatus.FAIL]


class ToolHint(BaseModel):
    """How to get a CLI (or Python module) a platform needs: a Debian package, a pip spec, or by hand."""

    model_config = ConfigDict(extra="allow")

    debian: str | None = None
    pip: str | None = None
    module: str | None = None  # check ``import module`` instead of a CLI on PATH
    manual: str | None = None  # instructions when no registry package exists


class CredentialGroup(BaseModel):
    """At least one of ``require_one_of`` must be set - only ``when`` the named condition holds.

    Conditions: ``registry_image`` (the job image is pulled from a registry, not a local image),
    ``remote`` (the platform is reached over ssh). An unknown condition is treated as holding.
    """

    name: str
    require_one_of: list[str]
    when: str | None = None


class Reachability(BaseModel):
    model_config = ConfigDict(extra="allow")

    command: list[str]
    timeout_seconds: float = 30.0
    fix: str | None = None


class PlatformSkillInfo(BaseModel):
    """``skills/platform/<name>/references/skill_info.yaml``: the format every platform skill shares."""

    model_config = ConfigDict(extra="allow")

    name: str
    description: str = ""
    required_credentials: list[str] = Field(default_factory=list)
    credential_groups: list[CredentialGroup] = Field(default_factory=list)
    optional_credentials: list[str] = Field(default_factory=list)
    resource_defaults: dict[str, Any] = Field(default_factory=dict)
    reachability: Reachability | None = None
    tools: dict[str, ToolHint] = Field(default_factory=dict)
    wheel_key: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("tools", mode="before")
    @classmethod
    def _plain_hints(cls, value: Any) -> Any:
        """``{docker: docker.io}`` means a Debian package; a spec with ``=<>[`` means pip."""
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for tool, hint in value.items():
            if isinstance(hint, str):
                hint = {"pip": hint} if any(c in hint for c in "=<>[") else {"debian": hint}
            out[tool] = hint or {}
        return out

    @field_validator("required_credentials", "optional_credentials", "credential_groups", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


@dataclass(frozen=True)
class BatchLimit:
    """``--effective-batch-limit LABEL=BATCH,SHARDS``: LABEL names a ``--path``."""

    label: str
    batch: int
    shards: int


def parse_path_arg(text: str) -> tuple[str, str]:
    """``LABEL=PATH`` -> (label, path)."""
    label, sep, location = text.partition("=")
    if not sep or not label.strip() or not location.strip():
        raise ConfigurationError(
            f"expected LABEL=PATH, got {text!r}", field="--path", hint="e.g. train_data=/data/train"
        )
    return label.strip(), location.strip()


def parse_batch_limit(text: str) -> BatchLimit:
    """``LABEL=BATCH,SHARDS`` -> BatchLimit (both integers, at least 1)."""
    label, sep, rest = text.partition("=")
    parts = rest.split(",")
    try:
        if not sep or not label.strip() or len(parts) != 2:
            raise ValueError
        batch, shards = int(parts[0]), int(parts[1])
    except ValueError:
        raise ConfigurationError(
            f"expected LABEL=BATCH,SHARDS, got {text!r}",
            field="--effective-batch-limit",
            hint="e.g. train_annotation=32,4 (batch size per GPU, number of GPUs x nodes)",
        ) from None
    if batch < 1 or shards < 1:
        raise ConfigurationError(f"batch and shards must be >= 1 in {text!r}", field="--effective-batch-limit")
    return BatchLimit(label.strip(), batch, shards)


def parse_platform_options(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs -> options; each value is read as YAML (``mounts=[/data:/data:ro]``, ``gpus=2``)."""
    options: dict[str, Any] = {}
    for text in items:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(
                f"expected KEY=VALUE, got {text!r}", field="--platform-option", hint="e.g. partition=gpu"
            )
        try:
            options[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigurationError(f"cannot parse the value of {key!r}: {exc}", field="--platform-option") from None
    return options


# ---- platform skills ---------------------------------------------------------------------------


def platform_skill_roots(extra: Sequence[str | Path] | None = None) -> list[Path]:
    """Directories holding platform skills: ``extra``, the skill bank's, then this project's."""
    roots = [Path(p).expanduser() for p in extra or []]
    bank = os.environ.get(ENV_VAR, "").strip()
    if bank:
        roots.append(Path(bank).expanduser() / "skills" / "platform")
    roots.append(BUNDLED_BANK / "skills" / "platform")
    return [r for r in roots if r.is_dir()]


def load_platform_skill(name: str, roots: Sequence[str | Path] | None = None) -> tuple[PlatformSkillInfo, Path]:
    """Parse a platform skill's skill_info.yaml; returns it and the file's path.

    Raises:
        SkillError: unknown platform (available ones listed) or an unparseable file.
    """
    available: list[str] = []
    for root in platform_skill_roots(roots):
        path = root / name / "references" / "skill_info.yaml"
        if path.is_file():
            try:
                info = PlatformSkillInfo.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
            except (yaml.YAMLError, ValidationError) as exc:
                raise SkillError(f"cannot parse: {exc}", field=str(path)) from None
            return info, path
        available += [p.name for p in root.iterdir() if (p / "references" / "skill_info.yaml").is_file()]
    raise SkillError(
        f"no platform skill {name!r}",
        field="platform",
        hint=f"available: {', '.join(sorted(set(available))) or 'none'}",
    )


# ---- the checks ----------------------------------------------------------------------------------


@dataclass
class _Context:
    env: Mapping[str, str]
    install_hints: dict[str, ToolHint]  # failed check name -> how to install what it missed
    conditions: Mapping[str, bool] = field(default_factory=dict)


def _present(env: Mapping[str, str], name: str) -> bool:
    """Presence test only: the value is never kept, compared or printed."""
    return bool(env.get(name))


def _flag(env: Mapping[str, str], name: str) -> str:
    return f"{name}: {'SET' if _present(env, name) else 'UNSET'}"


def _tool_available(tool: str, hint: ToolHint, env: Mapping[str, str]) -> bool:
    if hint.module:
        importlib.invalidate_caches()
        try:
            return importlib.util.find_spec(hint.module) is not None
        except (ImportError, ValueError):
            return False
    return shutil.which(tool, path=env.get("PATH")) is not None


def _install_text(hint: ToolHint) -> str:
    if hint.debian:
        return f"apt-get install -y {hint.debian}"
    if hint.pip:
        return shlex.join([sys.executable, "-m", "pip", "install", hint.pip])
    return hint.manual or "install it by hand"


def _platform_checks(name: str, roots: Sequence[str | Path] | None, ctx: _Context) -> list[Check]:
    try:
        info, path = load_platform_skill(name, roots)
    except SkillError as exc:
        return [Check(name="platform:skill", status=CheckStatus.FAIL, evidence=exc.message, fix=exc.hint)]
    checks = [Check(name="platform:skill", status=CheckStatus.PASS, evidence=str(path))]
    for tool, hint in info.tools.items():
        if _tool_available(tool, hint, ctx.env):
            where = f"module {hint.module} importable" if hint.module else shutil.which(tool, path=ctx.env.get("PATH"))
            checks.append(Check(name=f"tool:{tool}", status=CheckStatus.PASS, evidence=str(where)))
        else:
            ctx.install_hints[f"tool:{tool}"] = hint
            checks.append(
                Check(
                    name=f"tool:{tool}",
                    status=CheckStatus.FAIL,
                    evidence=f"{'module ' + hint.module if hint.module else tool} not found",
                    fix=_install_text(hint)
                    + (
                        " (or rerun with --install-missing-tools after the user agrees)"
                        if hint.debian or hint.pip
                        else ""
                    ),
                )
            )
    for var in info.required_credentials:
        ok = _present(ctx.env, var)
        checks.append(
            Check(
                name=f"credential:{var}",
                status=CheckStatus.PASS if ok else CheckStatus.FAIL,
                evidence=_flag(ctx.env, var),
                fix=None if ok else f"export {var} in the shell that launches the run (its value is never printed)",
            )
        )
    for group in info.credential_groups:
        if group.when is not None and not ctx.conditions.get(group.when, True):
            checks.append(
                Check(
                    name=f"credentials:{group.name}",
                    status=CheckStatus.SKIP,
                    evidence=f"applies only when {group.when}",
                )
            )
            continue
        ok = any(_present(ctx.env, var) for var in group.require_one_of)
        checks.append(
            Check(
                name=f"credentials:{group.name}",
                status=CheckStatus.PASS if ok else CheckStatus.FAIL,
                evidence=", ".join(_flag(ctx.env, var) for var in group.require_one_of),
                fix=None if ok else f"export one of {', '.join(group.require_one_of)}",
            )
        )
    for var in info.optional_credentials:
        checks.append(
            Check(name=f"credential:{var}", status=CheckStatus.PASS, evidence=_flag(ctx.env, var) + " (optional)")
        )
    if info.reachability is not None:
        checks.append(_reachability(info.reachability, ctx))
    return checks


def _reachability(reach: Reachability, ctx: _Context) -> Check:
    argv = reach.command
    shown = shlex.join(argv)
    if not argv or shutil.which(argv[0], path=ctx.env.get("PATH")) is None:
        return Check(
            name="platform:reachability",
            status=CheckStatus.FAIL,
            evidence=f"cannot run `{shown}`: {argv[0] if argv else 'empty command'} not found",
            fix=f"install {argv[0]} first (see tool:{argv[0]})" if argv else "fix reachability.command in the skill",
        )
    try:
        proc = subprocess.run(
            argv,
            env=dict(ctx.env),
            capture_output=True,
            text=True,
            timeout=reach.timeout_seconds,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Check(
            name="platform:reachability",
            status=CheckStatus.FAIL,
            evidence=f"`{shown}` did not answer within {reach.timeout_seconds:g}s",
            fix=reach.fix,
        )
    except OSError as exc:
        return Check(name="platform:reachability", status=CheckStatus.FAIL, evidence=f"`{shown}`: {exc}", fix=reach.fix)
    if proc.returncode == 0:
        first = next((line for line in proc.stdout.splitlines() if line.strip()), "")
        return Check(
            name="platform:reachability",
            status=CheckStatus.PASS,
            evidence=redact(f"`{shown}` exit 0: {first.strip()[:200]}".rstrip(": ")),
        )
    tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
    return Check(
        name="platform:reachability",
        status=CheckStatus.FAIL,
        evidence=redact(f"`{shown}` exit {proc.returncode}: {tail[:400]}"),
        fix=reach.fix or "check that the platform is up and the credentials are valid",
    )


def _model_checks(model: str, action: str, roots: Sequence[str | Path] | None) -> list[Check]:
    try:
        skill_dir = find_model_skill(model, list(roots or []))
        skill = ModelSkill.load(skill_dir)
    except SkillError as exc:
        return [Check(name="model:support", status=CheckStatus.FAIL, evidence=exc.message, fix=exc.hint)]
    props = skill.schema("train").get("properties", {})
    checks = [
        Check(
            name="model:support",
            status=CheckStatus.PASS,
            evidence=f"{skill.name} ({skill_dir}): AutoML enabled, schemas/train.schema.json parses "
            f"({len(props)} top-level groups)",
        )
    ]
    template = skill.template_path("train")
    checks.append(
        Check(name="model:template", status=CheckStatus.PASS, evidence=str(template))
        if template
        else Check(
            name="model:template",
            status=CheckStatus.WARN,
            evidence="no references/spec_template_train.yaml; the schema's default spec is used",
            fix="ship references/spec_template_train.yaml with complete train defaults",
        )
    )
    try:
        image = resolve_image(skill_dir, action, roots=list(roots or []))
    except AutoMLError as exc:
        checks.append(Check(name="model:image", status=CheckStatus.FAIL, evidence=exc.message, fix=exc.hint))
    else:
        link = f", versions-key {image.versions_key}" if image.versions_key else ""
        checks.append(
            Check(
                name="model:image",
                status=CheckStatus.PASS,
                evidence=f"{image.image or 'no image'} (source: {image.source}{link}); confirm it with the user",
            )
        )
    return checks


# ---- data paths -----------------------------------------------------------------------------------


@dataclass
class _PathState:
    """What the path check learnt, reused by the batch-limit check of the same label."""

    location: str
    ok: bool
    local: Path | None = None
    s3_client: Any = None
    s3_object: tuple[str, str] | None = None  # (bucket, key) of a single object


def _check_s3_path(label: str, location: str, ctx: _Context) -> tuple[Check, _PathState]:
    name = f"path:{label}"
    failed = _PathState(location, ok=False)
    source, cred_evidence = s3.credential_source(ctx.env)
    if not s3.boto3_importable():
        ctx.install_hints[name] = ToolHint(pip=s3.BOTO3_SPEC, module="boto3")
        return Check(
            name=name,
            status=CheckStatus.FAIL,
            evidence=f"{location}: boto3 is not installed, S3 paths cannot be checked ({cred_evidence})",
            fix=f"{s3.install_command()} (or rerun with --install-missing-tools after the user agrees)",
        ), failed
    if source is None:
        return Check(
            name=name,
            status=CheckStatus.FAIL,
            evidence=f"{location}: no S3 credentials ({cred_evidence})",
            fix="export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or ACCESS_KEY and SECRET_KEY, or AWS_PROFILE); "
            "set S3_ENDPOINT_URL for a non-AWS endpoint",
            failure_class=FailureCategory.CREDENTIAL.value,
        ), failed
    parsed = parse_location(location)
    try:
        client = s3.make_client(ctx.env, source)
    except Exception as exc:  # noqa: BLE001 - a bad profile or endpoint is this check's failure, reported redacted
        return Check(name=name, status=CheckStatus.FAIL, evidence=f"{location}: {s3.error_text(exc)}"), failed
    found = s3.probe(client, parsed)
    if not found.ok:
        category = found.category or FailureCategory.DATA_VISIBILITY
        fix = (
            "the credentials were rejected: check the key pair (and S3_ENDPOINT_URL for a non-AWS server)"
            if category is FailureCategory.CREDENTIAL
            else "check the URI, the bucket policy and that the credentials can read it from the launch platform"
        )
        return Check(
            name=name,
            status=CheckStatus.FAIL,
            evidence=f"{found.evidence} ({cred_evidence})",
            fix=fix,
            failure_class=category.value,
        ), failed
    obj = (parsed.bucket, found.objects[0].key) if found.single else None
    return Check(name=name, status=CheckStatus.PASS, evidence=f"{found.evidence} ({cred_evidence})"), _PathState(
        location, ok=True, s3_client=client, s3_object=obj
    )


def _check_local_path(label: str, location: str) -> tuple[Check, _PathState]:
    name = f"path:{label}"
    path = Path(location.removeprefix("file://")).expanduser()
    if not path.exists():
        return Check(
            name=name,
            status=CheckStatus.FAIL,
            evidence=f"{path}: does not exist on this machine",
            fix="check the path, or mount/stage the data where the launch platform can see it",
            failure_class=FailureCategory.DATA_VISIBILITY.value,
        ), _PathState(location, ok=False)
    if not os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0)):
        return Check(
            name=name,
            status=CheckStatus.FAIL,
            evidence=f"{path}: not readable by this user",
            failure_class=FailureCategory.DATA_VISIBILITY.value,
        ), _PathState(location, ok=False)
    if path.is_dir():
        try:
            entries = sum(1 for _ in path.iterdir())
        except OSError as exc:
            return Check(name=name, status=CheckStatus.FAIL, evidence=f"{path}: {exc}"), _PathState(location, ok=False)
        status = CheckStatus.PASS if entries else CheckStatus.WARN
        evidence = f"{path}: directory, {entries} entries"
    else:
        status, evidence = CheckStatus.PASS, f"{path}: file, {path.stat().st_size} bytes"
    return Check(name=name, status=status, evidence=evidence), _PathState(location, ok=True, local=path)


def _check_path(label: str, location: str, ctx: _Context) -> tuple[Check, _PathState]:
    if is_s3(location):
        return _check_s3_path(label, location, ctx)
    if "://" in location and not location.startswith("file://"):
        scheme = location.split("://", 1)[0]
        return Check(
            name=f"path:{label}",
            status=CheckStatus.WARN,
            evidence=f"{location}: {scheme}:// paths are not checked here",
            fix="verify it from the launch platform before starting",
        ), _PathState(location, ok=False)
    return _check_local_path(label, location)


# ---- record counting (effective batch limit) -------------------------------------------------------


def _count_s3(state: _PathState) -> tuple[int, str]:
    if state.s3_object is None:
        raise ValueError("an S3 prefix cannot be counted; point the label at the annotation file")
    bucket, key = state.s3_object
    head = state.s3_client.head_object(Bucket=bucket, Key=key)
    if head.get("ContentLength", 0) > MAX_S3_ANNOTATION_BYTES:
        raise ValueError(f"s3://{bucket}/{key} is larger than {MAX_S3_ANNOTATION_BYTES} bytes; count it locally")
    body = state.s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return count_bytes(key, body)


def _batch_check(limit: BatchLimit, states: Mapping[str, _PathState]) -> Check:
    name = f"batch:{limit.label}"
    state = states.get(limit.label)
    if state is None:
        return Check(
            name=name,
            status=CheckStatus.FAIL,
            evidence=f"no --path {limit.label}=... to count records in",
            fix=f"add --path {limit.label}=<annotation file or dataset folder>",
        )
    if not state.ok:
        return Check(
            name=name, status=CheckStatus.FAIL, evidence=f"path {limit.label} is not readable (see path check)"
        )
    try:
        records, how = count_records(state.local) if state.local is not None else _count_s3(state)
    except (OSError, ValueError) as exc:
        return Check(name=name, status=CheckStatus.FAIL, evidence=redact(f"{state.location}: {exc}"))
    except Exception as exc:  # noqa: BLE001 - S3 client errors
        return Check(name=name, status=CheckStatus.FAIL, evidence=f"{state.location}: {s3.error_text(exc)}")
    per_shard = records // limit.shards
    facts = f"{records} records ({how}) / {limit.shards} shards = {per_shard} per shard; batch {limit.batch}"
    if limit.batch > records / limit.shards:
        return Check(
            name=name,
            status=CheckStatus.FAIL,
            evidence=f"{facts}: zero training steps per epoch",
            fix=f"use a batch size <= {per_shard} or fewer shards (invalid_configuration)"
            if per_shard
            else "the dataset has fewer records than shards: use fewer GPUs or more data",
        )
    return Check(name=name, status=CheckStatus.PASS, evidence=facts)


def _visibility_checks(
    platform: str,
    options: Mapping[str, Any],
    items: Sequence[tuple[str, str]],
    image: str | None,
    probe_dir: Path,
    env: Mapping[str, str],
) -> list[Check]:
    """``visible:<label>``: each local path tested inside a short job on the launch platform itself."""
    local = {label: loc for label, loc in items if parse_location(loc).kind == "local"}
    if not local:
        return []
    try:
        plat = get_platform(platform, **dict(options))
        found = check_visibility(
            platform, local, ProbeOptions(image=image, workdir=probe_dir, env=dict(env)), platform=plat
        )
    except AutoMLError as exc:
        return [
            Check(
                name=f"visible:{label}",
                status=CheckStatus.FAIL,
                evidence=redact(f"no probe job on {platform}: {exc.message}"),
                fix=exc.hint or "fix the platform checks above, then run preflight again",
            )
            for label in local
        ]
    checks = []
    for v in found:
        if v.visible:
            checks.append(Check(name=f"visible:{v.label}", status=CheckStatus.PASS, evidence=v.evidence))
        elif v.visible is None:
            checks.append(
                Check(
                    name=f"visible:{v.label}",
                    status=CheckStatus.WARN,
                    evidence=v.evidence,
                    fix="check that the platform runs jobs, then run preflight again",
                )
            )
        else:
            checks.append(
                Check(
                    name=f"visible:{v.label}",
                    status=CheckStatus.FAIL,
                    evidence=v.evidence,
                    fix=f"mount or stage the data where {platform} jobs see it (a shared filesystem, a volume, or "
                    "an s3:// URI that the run stages once under the results root)",
                    failure_class=(v.category or FailureCategory.DATA_VISIBILITY).value,
                )
            )
    return checks


def _disk_check(min_free_gb: float, disk_path: str | Path | None) -> Check:
    path = Path(disk_path or os.getcwd()).expanduser().absolute()
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free_gb = shutil.disk_usage(probe).free / 1e9
    where = str(path) if probe == path else f"{path} (measured at {probe}, its nearest existing parent)"
    evidence = f"{free_gb:.1f} GB free for {where} (need {min_free_gb:g} GB)"
    if free_gb < min_free_gb:
        return Check(
            name="disk:free",
            status=CheckStatus.FAIL,
            evidence=evidence,
            fix="free space, or point results/checkpoints at a larger volume",
        )
    return Check(name="disk:free", status=CheckStatus.PASS, evidence=evidence)


# ---- installing missing tools (the only path that installs anything) --------------------------------


Runner = Callable[[list[str]], subprocess.CompletedProcess[str]]


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False, timeout=1800)


def _apt_prefix() -> list[str]:
    if os.geteuid() == 0:
        return []
    return ["sudo", "-n"] if shutil.which("sudo") else []


def _install(hints: Mapping[str, ToolHint], run: Runner) -> list[Check]:
    """Install what the failed checks named: Debian packages in one apt-get call, pip specs one by one."""
    checks: list[Check] = []
    debian = sorted({h.debian for h in hints.values() if h.debian})
    if debian:
        argv = [*_apt_prefix(), "apt-get", "install", "-y", "--no-install-recommends", *debian]
        proc = run(argv)
        if proc.returncode != 0:  # a fresh machine has no package lists yet
            run([*_apt_prefix(), "apt-get", "update"])
            proc = run(argv)
        checks.append(_install_check(", ".join(debian), argv, proc))
    for spec in sorted({h.pip for h in hints.values() if h.pip and not h.debian}):
        argv = [sys.executable, "-m", "pip", "install", spec]
        checks.append(_install_check(spec, argv, run(argv)))
    for name, hint in hints.items():
        if not hint.debian and not hint.pip:
            checks.append(
                Check(
                    name=f"install:{name.partition(':')[2]}",
                    status=CheckStatus.FAIL,
                    evidence="no Debian or pip package to install",
                    fix=hint.manual or "install it by hand",
                )
            )
    importlib.invalidate_caches()
    return checks


def _install_check(what: str, argv: list[str], proc: subprocess.CompletedProcess[str]) -> Check:
    shown = shlex.join(argv)
    if proc.returncode == 0:
        return Check(name=f"install:{what}", status=CheckStatus.PASS, evidence=f"`{shown}` exit 0")
    tail = " | ".join((proc.stderr or proc.stdout or "").strip().splitlines()[-3:])
    return Check(
        name=f"install:{what}",
        status=CheckStatus.FAIL,
        evidence=redact(f"`{shown}` exit {proc.returncode}: {tail[:400]}"),
        fix="install it by hand (needs root for apt-get)",
    )


# ---- entry point ---------------------------------------------------------------------------------------


def _overall(checks: list[Check]) -> CheckStatus:
    statuses = {c.status for c in checks}
    if CheckStatus.FAIL in statuses:
        return CheckStatus.FAIL
    return CheckStatus.WARN if CheckStatus.WARN in statuses else CheckStatus.PASS


def _image_of(model: str | None, action: str, skill_roots: Sequence[str | Path] | None) -> str | None:
    """The image trials would run in (a probe job uses the same one), or None."""
    if not model:
        return None
    try:
        return resolve_image(model, action, roots=list(skill_roots) if skill_roots else None).image
    except AutoMLError:
        return None


def _default_conditions(
    model: str | None, action: str, skill_roots: Sequence[str | Path] | None, env: Mapping[str, str]
) -> dict[str, bool]:
    """``registry_image``: the model's image names a registry host; ``remote``: an ssh login node is set."""
    out = {"remote": _present(env, "SLURM_HOSTNAME")}
    if model:
        try:
            image = resolve_image(model, action, roots=list(skill_roots) if skill_roots else None).image
        except AutoMLError:
            image = None
        first = (image or "").split("/", 1)[0]
        out["registry_image"] = bool(image) and "/" in (image or "") and ("." in first or ":" in first)
    return out


def run_preflight(
    *,
    platform: str | None = None,
    model: str | None = None,
    action: str = "train",
    paths: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    batch_limits: Sequence[BatchLimit] = (),
    min_free_disk_gb: float | None = None,
    disk_path: str | Path | None = None,
    install_missing_tools: bool = False,
    skill_roots: Sequence[str | Path] | None = None,
    platform_roots: Sequence[str | Path] | None = None,
    env: Mapping[str, str] | None = None,
    runner: Runner = _run,
    conditions: Mapping[str, bool] | None = None,
    platform_options: Mapping[str, Any] | None = None,
    probe_dir: str | Path | None = None,
) -> PreflightResult:
    """Run every requested check; nothing is installed unless ``install_missing_tools``.

    Args:
        platform: platform skill name (credentials, tools, reachability).
        model: model skill directory or alias (support gate, template, image).
        action: the action whose image is resolved.
        paths: label -> local path or ``s3://bucket/key``.
        batch_limits: effective batch checks against the records of a labelled path.
        min_free_disk_gb: required free space at ``disk_path`` (default: the current directory).
        install_missing_tools: install missing platform tools / boto3, then run every check again.
        skill_roots: extra directories of model skills; platform_roots: of platform skills.
        env: environment to check and to run commands with (default ``os.environ``).
        runner: how install commands are run (argv -> CompletedProcess).
        conditions: which ``when:`` conditions of credential groups hold; by default ``registry_image``
            is derived from the model's image and ``remote`` from ``SLURM_HOSTNAME``.
        platform_options: options of the launch platform (a host, a partition, mounts); with a non-local
            ``platform`` and local paths, a short probe job built with them proves what jobs can read.
        probe_dir: where probe jobs keep their files; must be visible to the platform (default:
            ``disk_path``, else the current directory, under ``.tao-automl-probes``).
    """
    env = os.environ if env is None else env
    items = list(paths.items()) if isinstance(paths, Mapping) else list(paths or [])

    def all_checks(ctx: _Context) -> list[Check]:
        checks: list[Check] = []
        if platform:
            checks += _platform_checks(platform, platform_roots, ctx)
        if model:
            checks += _model_checks(model, action, skill_roots)
        states: dict[str, _PathState] = {}
        for label, location in items:
            check, states[label] = _check_path(label, location, ctx)
            checks.append(check)
        # A probe job needs a reachable platform and paths that exist at all; credential gaps do not stop it.
        blocked = any(
            c.status is CheckStatus.FAIL and c.name.startswith(("tool:", "path:", "platform:")) for c in checks
        )
        if platform and platform not in LOCAL_PLATFORMS and items and not blocked:
            probes = Path(probe_dir or disk_path or os.getcwd()).expanduser().absolute() / ".tao-automl-probes"
            image = _image_of(model, action, skill_roots)
            checks += _visibility_checks(platform, platform_options or {}, items, image, probes, ctx.env)
        checks += [_batch_check(limit, states) for limit in batch_limits]
        if min_free_disk_gb is not None:
            checks.append(_disk_check(min_free_disk_gb, disk_path))
        return checks

    known = dict(_default_conditions(model, action, skill_roots, env))
    known.update(conditions or {})
    ctx = _Context(env=env, install_hints={}, conditions=known)
    checks = all_checks(ctx)
    if install_missing_tools and ctx.install_hints:
        installs = _install(ctx.install_hints, runner)
        checks = installs + all_checks(_Context(env=env, install_hints={}, conditions=known))
    return PreflightResult(overall=_overall(checks), checks=checks)
