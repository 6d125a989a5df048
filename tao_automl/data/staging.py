"""Stage remote or archived datasets once, under the results root, and reuse them while unchanged.

A sweep whose every trial downloads the same archive pays for it N times; staging pays once. Each
source gets ``<results_root>/data_staging/<hash of its URI>/`` holding ``data/`` and a
``manifest.json`` with the source's fingerprint (ETags and sizes for S3, size and mtime for a local
archive). A later run with the same fingerprint reuses ``data/``; a changed source is staged again
into a fresh directory that replaces the old one only once it is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tao_automl.data import s3
from tao_automl.data.locations import Location, parse_location
from tao_automl.data.references import DatasetRef
from tao_automl.errors import ConfigurationError
from tao_automl.platforms.failures import FailureCategory
from tao_automl.workspace import atomic_write_json

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
STAGING_DIR = "data_staging"
#: Files up to this size get a content checksum; larger ones a size+mtime fingerprint (hashing 200 GB is a job).
MAX_HASHED_BYTES = 1 << 30


class StagedSource(BaseModel):
    """One line of ``evaluations/data_staging.json``.

    ``status``: ``staged`` (copied now), ``reused`` (an unchanged earlier copy), ``not_needed``
    (local and visible to the jobs as is), ``not_possible`` (jobs read the source directly; see ``risk``),
    ``to_stage`` (a review's preview: it will be copied once at launch).
    """

    spec_key: str | None
    source_uri: str
    requested_uri: str | None = None  # what the spec named (an archive's folder name, an aws:// alias)
    staged_path: str | None
    bytes: int = 0
    file_count: int = 0
    checksum: str | None = None
    timestamp: str
    status: str
    reason: str = ""
    risk: str | None = None
    failure_class: str | None = None  # set when the source was reached and refused: jobs would fail the same way


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _archive_suffix(name: str) -> str | None:
    return next((s for s in ARCHIVE_SUFFIXES if name.lower().endswith(s)), None)


def _fingerprint(objects: list[s3.S3Object]) -> str:
    """One ETag for a set of objects: the ETag itself for one object, else a hash over keys, sizes and ETags."""
    if len(objects) == 1:
        return f"etag:{objects[0].etag}"
    digest = hashlib.sha256()
    for obj in sorted(objects, key=lambda o: o.key):
        digest.update(f"{obj.key}\0{obj.size}\0{obj.etag}\n".encode())
    return f"etags-sha256:{digest.hexdigest()}"


def file_fingerprint(path: Path) -> str:
    stat = path.stat()
    if stat.st_size <= MAX_HASHED_BYTES:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return f"sha256:{digest.hexdigest()}"
    return f"size-mtime:{stat.st_size}:{stat.st_mtime_ns}"


def _tree_stats(path: Path) -> tuple[int, int]:
    if path.is_file():
        return path.stat().st_size, 1
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def _extract(archive: Path, dest: Path) -> None:
    """Unpack into ``dest`` refusing members that would land outside it (tar's ``data`` filter, zip checked)."""
    dest.mkdir(parents=True, exist_ok=True)
    if archive.name.lower().endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            root = dest.resolve()
            for member in zf.namelist():
                if not (dest / member).resolve().is_relative_to(root):
                    raise ConfigurationError(f"archive member {member!r} escapes the staging dir", field=str(archive))
            zf.extractall(dest)
        return
    with tarfile.open(archive) as tf:
        tf.extractall(dest, filter="data")


@contextmanager
def _building(slot: Path) -> Iterator[Path]:
    """A fresh build dir in ``slot``; whatever is left of it after a failure is removed (never half-staged)."""
    build = slot / f".build-{uuid.uuid4().hex[:8]}"
    build.mkdir(parents=True)
    try:
        yield build
    finally:
        shutil.rmtree(build, ignore_errors=True)


def _data_root(staged: Path) -> Path:
    """The path a spec should name: an archive holding one top-level folder is that folder."""
    entries = [p for p in staged.iterdir() if not p.name.startswith(".")] if staged.is_dir() else []
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else staged


class Stager:
    """Stages sources under ``results_root/data_staging`` (visible to the platform: trials write there too)."""

    def __init__(
        self, results_root: str | Path, env: Mapping[str, str] | None = None, *, dry_run: bool = False
    ) -> None:
        self.root = Path(results_root).expanduser().absolute() / STAGING_DIR
        self.env = dict(os.environ if env is None else env)
        self.dry_run = dry_run  # a review's preview: probe and compare fingerprints, copy nothing
        self._client: Any = None

    def _s3(self) -> Any:
        if self._client is None:
            self._client = s3.make_client(self.env)
        return self._client

    def _slot(self, uri: str) -> Path:
        return self.root / hashlib.sha256(uri.encode()).hexdigest()[:16]

    def _reuse(self, slot: Path, fingerprint: str) -> dict[str, Any] | None:
        manifest = slot / "manifest.json"
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if data.get("checksum") == fingerprint and Path(data.get("staged_path", "")).exists():
            return data
        return None

    def _commit(self, slot: Path, build: Path, record: dict[str, Any]) -> None:
        """Swap the finished ``build`` dir in as ``slot/data`` and write the manifest last."""
        final = slot / "data"
        if final.exists():
            old = slot / f".old-{uuid.uuid4().hex[:8]}"
            os.replace(final, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(build, final)
        record["staged_path"] = str(_data_root(final)) if record.pop("extracted", False) else record["staged_path"]
        atomic_write_json(slot / "manifest.json", record)

    def stage(self, ref: DatasetRef) -> StagedSource:
        """Stage ``ref``'s location if it needs it; the returned record says what happened."""
        assert ref.location is not None
        return self._stage(ref).model_copy(update={"requested_uri": ref.location})

    def _stage(self, ref: DatasetRef) -> StagedSource:
        assert ref.location is not None
        loc = parse_location(ref.location)
        if loc.kind == "s3":
            return self._stage_s3(ref, loc)
        if loc.kind == "local":
            return self._stage_local(ref, loc)
        return StagedSource(
            spec_key=ref.spec_key,
            source_uri=loc.uri,
            staged_path=None,
            timestamp=now_iso(),
            status="not_possible",
            reason=f"{loc.scheme}:// cannot be staged here",
            risk="every trial reads the source directly; repeated I/O per trial",
        )

    @staticmethod
    def _to_stage(ref: DatasetRef, uri: str, slot: Path, size: int, count: int, fingerprint: str) -> StagedSource:
        return StagedSource(
            spec_key=ref.spec_key,
            source_uri=uri,
            staged_path=None,
            bytes=size,
            file_count=count,
            checksum=fingerprint,
            timestamp=now_iso(),
            status="to_stage",
            reason=f"copied once at launch to {slot}/data; every trial reads the copy",
        )

    # ---- local: already visible; only an archive the skill wants extracted is unpacked once ----
    def _stage_local(self, ref: DatasetRef, loc: Location) -> StagedSource:
        path = loc.path.absolute()
        archive = self._local_archive(ref, path)
        if archive is None:
            size, count = _tree_stats(path) if path.exists() else (0, 0)
            checksum = file_fingerprint(path) if path.is_file() else None
            return StagedSource(
                spec_key=ref.spec_key,
                source_uri=str(path),
                staged_path=str(path),
                bytes=size,
                file_count=count,
                checksum=checksum,
                timestamp=now_iso(),
                status="not_needed",
                reason="local and visible to the jobs; no staging needed",
            )
        fingerprint = file_fingerprint(archive)
        slot = self._slot(str(archive))
        record = self._reuse(slot, fingerprint)
        if record is None and self.dry_run:
            return self._to_stage(ref, str(archive), slot, archive.stat().st_size, 1, fingerprint)
        if record is None:
            record = {"source_uri": str(archive), "checksum": fingerprint, "staged_path": "", "extracted": True}
            with _building(slot) as build:
                _extract(archive, build)
                self._commit(slot, build, record)
            status, reason = "staged", f"extracted {archive.name} once for every trial"
        else:
            status, reason = "reused", "the archive is unchanged since it was extracted"
        size, count = _tree_stats(Path(record["staged_path"]))
        return StagedSource(
            spec_key=ref.spec_key,
            source_uri=str(archive),
            staged_path=record["staged_path"],
            bytes=size,
            file_count=count,
            checksum=fingerprint,
            timestamp=now_iso(),
            status=status,
            reason=reason,
        )

    @staticmethod
    def _local_archive(ref: DatasetRef, path: Path) -> Path | None:
        """The archive to extract: the path itself, or ``<path><suffix>`` when the folder is not there yet."""
        if path.is_file() and _archive_suffix(path.name) and ref.runtime == "extracted_folder":
            return path
        suffix = _archive_suffix(ref.path_in_source or "")
        if suffix and not path.exists() and path.with_name(path.name + suffix).is_file():
            return path.with_name(path.name + suffix)
        return None

    # ---- s3: download once (an archive is extracted), then reuse while the ETags hold ----
    def _stage_s3(self, ref: DatasetRef, loc: Location) -> StagedSource:
        def not_possible(reason: str, failure_class: str | None = None) -> StagedSource:
            return StagedSource(
                failure_class=failure_class,
                spec_key=ref.spec_key,
                source_uri=loc.uri,
                staged_path=None,
                timestamp=now_iso(),
                status="not_possible",
                reason=reason,
                risk=None
                if failure_class
                else "every trial reads the source from S3 itself: repeated I/O of the whole dataset per trial",
            )

        if not s3.boto3_importable():
            return not_possible(f"boto3 is not installed ({s3.install_command()})")
        source, evidence = s3.credential_source(self.env)
        if source is None:
            return not_possible(f"no S3 credentials ({evidence})")
        client = self._s3()
        found = s3.probe(client, loc, full_listing=True)
        target, archive = loc, None
        suffix = _archive_suffix(ref.path_in_source or "")
        if not found.ok and suffix and ref.runtime == "extracted_folder":
            target = parse_location(loc.uri.rstrip("/") + suffix)
            found, archive = s3.probe(client, target), suffix
        elif found.single and _archive_suffix(loc.key) and ref.runtime == "extracted_folder":
            archive = _archive_suffix(loc.key)
        if not found.ok:
            return not_possible(found.evidence, (found.category or FailureCategory.DATA_VISIBILITY).value)
        fingerprint = _fingerprint(list(found.objects))
        slot = self._slot(target.uri)
        record = self._reuse(slot, fingerprint)
        if record is None and self.dry_run:
            size = sum(o.size for o in found.objects)
            return self._to_stage(ref, target.uri, slot, size, len(found.objects), fingerprint)
        if record is None:
            record = {"source_uri": target.uri, "checksum": fingerprint, "staged_path": str(slot / "data")}
            with _building(slot) as build:
                if found.single and archive:
                    download = slot / f".download-{uuid.uuid4().hex[:8]}{archive}"
                    try:
                        s3.download(client, target.bucket, target.key, download)
                        _extract(download, build)
                    finally:
                        download.unlink(missing_ok=True)
                    record["extracted"] = True
                elif found.single:
                    name = Path(target.key).name
                    s3.download(client, target.bucket, target.key, build / name)
                    record["staged_path"] = str(slot / "data" / name)
                else:
                    prefix = target.key.rstrip("/") + "/" if target.key else ""
                    for obj in (o for o in found.objects if not o.key.endswith("/")):
                        s3.download(client, target.bucket, obj.key, build / obj.key[len(prefix) :])
                self._commit(slot, build, record)
            status, reason = "staged", "copied once to storage the jobs see; every trial reads the copy"
        else:
            status, reason = "reused", "the source's ETags are unchanged since it was staged"
        size, count = _tree_stats(Path(record["staged_path"]))
        return StagedSource(
            spec_key=ref.spec_key,
            source_uri=target.uri,
            staged_path=record["staged_path"],
            bytes=size,
            file_count=count,
            checksum=fingerprint,
            timestamp=now_iso(),
            status=status,
            reason=reason,
        )
