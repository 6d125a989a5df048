"""Everything a run does with its data before the first job: references, staging, the sample count.

The runner calls :func:`prepare_data` once per fresh run, after its inputs are validated and
before the workspace exists. The result rewrites staged spec keys, supplies ``train_sample_count``
(so impossible batch sizes are capped before any job starts), and is recorded in the launch
review and ``<run>/evaluations/data_staging.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from tao_automl.data import s3
from tao_automl.data.counting import count_bytes, count_records
from tao_automl.data.locations import is_s3, parse_location
from tao_automl.data.references import DatasetRef, require_inputs
from tao_automl.data.staging import StagedSource, Stager, file_fingerprint, now_iso
from tao_automl.errors import AutoMLError, ConfigurationError, SkillError
from tao_automl.redaction import redact
from tao_automl.skill import ModelSkill

MAX_S3_ANNOTATION_BYTES = 512 * 1024 * 1024
COUNT_COMMAND_TIMEOUT = 300.0


class DataUnreadableError(ConfigurationError):
    """A dataset was reached and refused (missing, denied, credentials rejected): every job would fail alike.

    ``failure_class`` is the ``platforms.failures`` category the jobs would have failed with.
    """

    def __init__(self, message: str, *, field: str | None, hint: str, failure_class: str) -> None:
        super().__init__(f"{failure_class}: {message}", field=field, hint=hint)
        self.failure_class = failure_class


class SampleCount(BaseModel):
    """How many training samples a job will see, and how that was found out (``count`` None: unknown)."""

    count: int | None = None
    source: str


class DataPlan(BaseModel):
    """What :func:`prepare_data` decided: staged copies, spec rewrites and the training sample count."""

    references: list[DatasetRef] = Field(default_factory=list)
    staging: list[StagedSource] = Field(default_factory=list)
    spec_updates: dict[str, str] = Field(default_factory=dict)
    sample_count: SampleCount
    staging_root: str

    def review(self) -> dict[str, Any]:
        """The launch review's data section: every source, where jobs read it, the count and the I/O risk."""
        lines = []
        for s in self.staging:
            where = s.staged_path or s.source_uri
            size = f"{s.bytes} bytes in {s.file_count} file(s)" if s.file_count else "size unknown"
            line = f"{s.spec_key or 'bundled data'}: {s.source_uri} -> {where} ({s.status}: {s.reason}; {size})"
            lines.append(line + (f"; RISK: {s.risk}" if s.risk else ""))
        if not self.staging:
            lines.append("no dataset inputs: the model skill declares none")
        count = self.sample_count
        lines.append(
            f"train_sample_count: {count.count} ({count.source})"
            if count.count is not None
            else f"train_sample_count: unknown ({count.source}); batch sizes are not capped before launch"
        )
        return {
            "sources": [s.model_dump(mode="json") for s in self.staging],
            "train_sample_count": count.count,
            "sample_count_source": count.source,
            "repeated_io_risk": [s.risk for s in self.staging if s.risk],
            "lines": lines,
        }

    def staging_record(self) -> dict[str, Any]:
        """Content of ``evaluations/data_staging.json``."""
        return {
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "staging_root": self.staging_root,
            "sources": [s.model_dump(mode="json") for s in self.staging],
            "train_sample_count": self.sample_count.count,
            "sample_count_source": self.sample_count.source,
        }


def _count_ref(ref: DatasetRef, staged: Mapping[str, str], env: Mapping[str, str]) -> tuple[int, str] | None:
    location = staged.get(ref.spec_key) or ref.location
    if not location:
        return None
    loc = parse_location(location)
    if loc.kind == "local":
        if not loc.path.exists():
            return None
        count, how = count_records(loc.path)
        return count, f"{how} in {loc.path}"
    if loc.kind == "s3" and ref.kind == "file" and s3.boto3_importable() and s3.credential_source(env)[0]:
        client = s3.make_client(env)
        head = client.head_object(Bucket=loc.bucket, Key=loc.key)
        if int(head.get("ContentLength", 0)) > MAX_S3_ANNOTATION_BYTES:
            return None
        body = client.get_object(Bucket=loc.bucket, Key=loc.key)["Body"].read()
        count, how = count_bytes(loc.key, body)
        return count, f"{how} in {loc.uri}"
    return None


def _count_from_refs(refs: list[DatasetRef], staged: Mapping[str, str], env: Mapping[str, str]) -> SampleCount | None:
    """Annotation files first (one record per sample), then image / label folders, summed over train sources."""
    train = [r for r in refs if r.is_train and r.location]
    errors: list[str] = []
    for kind in ("file", "folder"):
        total, how = 0, []
        for ref in (r for r in train if r.kind == kind):
            try:
                found = _count_ref(ref, staged, env)
            except (OSError, ValueError) as exc:
                errors.append(f"{ref.spec_key}: {exc}")
                continue
            except Exception as exc:  # noqa: BLE001 - an S3 client error leaves the count unknown, never fatal
                errors.append(f"{ref.spec_key}: {s3.error_text(exc)}")
                continue
            if found is not None:
                total += found[0]
                how.append(f"{ref.spec_key}: {found[1]}")
        if how:
            return SampleCount(count=total, source="; ".join(how))
    if errors:
        return SampleCount(count=None, source=redact("not counted: " + "; ".join(errors))[:400])
    return None


def _count_command(skill: ModelSkill, spec: dict[str, Any]) -> tuple[SampleCount, list[str]] | None:
    """A skill whose data is no annotation file declares ``automl.train_sample_count_command``.

    The command (argv; ``{python}``, ``{config_path}``, ``{skill_dir}`` filled) reads the spec and
    prints one JSON object: ``train_sample_count``, ``counted`` (how) and ``data_files`` (paths read).
    """
    argv = (skill.info.automl.model_extra or {}).get("train_sample_count_command")
    if not argv:
        return None
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise SkillError("must be a list of strings", field="automl.train_sample_count_command")
    with tempfile.TemporaryDirectory(prefix="tao-automl-count-") as tmp:
        spec_path = Path(tmp) / "spec.yaml"
        spec_path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        values = {"python": sys.executable, "config_path": str(spec_path), "skill_dir": str(skill.root)}
        filled = [a.format_map(values) if "{" in a else a for a in argv]
        try:
            proc = subprocess.run(
                filled, cwd=skill.root, capture_output=True, text=True, timeout=COUNT_COMMAND_TIMEOUT,
                stdin=subprocess.DEVNULL, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            return SampleCount(count=None, source=f"count command failed: {exc}"), []
    lines = [line for line in proc.stdout.splitlines() if line.strip().startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-2:])
        return SampleCount(count=None, source=redact(f"count command exit {proc.returncode}: {tail}")[:300]), []
    data = json.loads(lines[-1])
    count = data.get("train_sample_count")
    how = f"{data.get('counted', 'counted')} (the skill's train_sample_count_command)"
    return SampleCount(count=int(count) if isinstance(count, int) else None, source=how), list(
        data.get("data_files") or []
    )


def _bundled(paths: list[str]) -> list[StagedSource]:
    out = []
    for text in paths:
        path = Path(text)
        ok = path.is_file() and os.access(path, os.R_OK)
        out.append(
            StagedSource(
                spec_key=None,
                source_uri=str(path),
                staged_path=str(path) if ok else None,
                bytes=path.stat().st_size if ok else 0,
                file_count=1 if ok else 0,
                checksum=file_fingerprint(path) if ok else None,
                timestamp=now_iso(),
                status="not_needed" if ok else "not_possible",
                reason="bundled with the model's runtime, local and readable (stat on this machine); no staging needed"
                if ok
                else "the file the skill reports is not readable here",
            )
        )
    return out


def prepare_data(
    skill: ModelSkill,
    action: str,
    spec: dict[str, Any],
    *,
    results_root: str | Path,
    given_count: int | None = None,
    env: Mapping[str, str] | None = None,
    dry_run: bool = False,
) -> DataPlan:
    """Check required inputs, stage what needs staging, and count training samples.

    Args:
        skill: the model skill; action: the action trials run.
        spec: the run's base spec (template + dataset URIs + overrides); not modified.
        results_root: where staged copies live (``<results_root>/data_staging``), visible to the platform.
        given_count: ``train_sample_count`` from the settings; counting is skipped when given.
        env: environment holding the S3 credential names (default ``os.environ``).
        dry_run: preview for a launch review: say what would be staged or reused, copy nothing.

    Raises:
        ConfigurationError: a required input is unset (names the spec key).
    """
    env = dict(os.environ if env is None else env)
    refs = require_inputs(skill, action, spec)
    stager = Stager(results_root, env, dry_run=dry_run)
    staging = [stager.stage(ref) for ref in refs if ref.location]
    refused = [s for s in staging if s.failure_class]
    if refused and not dry_run:
        first = refused[0]
        raise DataUnreadableError(
            first.reason,
            field=first.spec_key,
            hint="fix the URI or the credentials (names: ACCESS_KEY/SECRET_KEY or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY, S3_ENDPOINT_URL), then run preflight again",
            failure_class=first.failure_class or "data_visibility",
        )
    updates = {
        s.spec_key: s.staged_path
        for s in staging
        if s.spec_key and s.staged_path and s.status in ("staged", "reused") and s.staged_path != s.source_uri
    }
    if given_count is not None:
        count = SampleCount(count=given_count, source="automl_settings.train_sample_count")
    else:
        count = _count_from_refs(refs, updates, env) or SampleCount(source="no countable train annotation")
        if count.count is None:
            from_skill = _count_command(skill, spec)
            if from_skill is not None:
                count = from_skill[0]
                staging += _bundled(from_skill[1])
    return DataPlan(
        references=refs,
        staging=staging,
        spec_updates=updates,
        sample_count=count,
        staging_root=str(stager.root),
    )


def data_review_lines(plan: Any, results_root: str | Path) -> list[str]:
    """The launch review's data lines for a planned run (a runner ``RunPlan``), previewed without copying.

    Never raises: a preview that cannot be made says why, and the launch does the real work anyway.
    """
    try:
        preview = prepare_data(
            plan.skill,
            plan.action,
            plan.base_spec,
            results_root=results_root,
            given_count=plan.settings.train_sample_count,
            dry_run=True,
        )
    except AutoMLError as exc:
        return [f"data preview failed: {exc}"]
    return preview.review()["lines"]


def _replace_leaves(node: Any, mapping: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: _replace_leaves(v, mapping) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_leaves(v, mapping) for v in node]
    return mapping.get(node, node) if isinstance(node, str) else node


def apply_staged(spec: dict[str, Any], staging_file: Path) -> dict[str, Any]:
    """``spec`` with every value that names a staged source pointed at its copy.

    The evaluate action's spec is built apart from the trials' (baseline and final evaluation), so it
    is mapped by value: the same source URI reads the same staged copy. No record, no change.
    """
    try:
        sources = json.loads(staging_file.read_text(encoding="utf-8")).get("sources") or []
    except (OSError, ValueError):
        return spec
    mapping = {
        s["requested_uri"]: s["staged_path"]
        for s in sources
        if s.get("requested_uri") and s.get("staged_path") and s.get("status") in ("staged", "reused")
    }
    return _replace_leaves(spec, mapping) if mapping else spec


def _leaves(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaves(value)
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value)
    else:
        yield node


def job_s3_credential_names(spec: dict[str, Any], env: Mapping[str, str] | None = None) -> list[str]:
    """Names (never values) of the S3 credentials a job needs when its spec still reads ``s3://`` itself.

    Staged sources point at local copies, so only data that could not be staged brings these in.
    """
    if not any(isinstance(v, str) and is_s3(v) for v in _leaves(spec)):
        return []
    return s3.credential_names(os.environ if env is None else env)
