"""Can the jobs see the data? Checked from where the jobs run, not from the controller.

``local`` jobs run on this machine, so a stat is the truth there. Every other platform is asked
with a real short job built like a trial's: the data paths sit in its ``spec.yaml`` (so docker
mounts them the way it mounts a trial's, kubernetes gives it the same volumes, slurm runs it on a
compute node) and the job runs ``test -e && test -r`` on each. ``s3://`` URIs are read with boto3
and the credentials named in the environment (the names jobs inherit). A platform with its own
cheaper check registers one function with :func:`register`.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from pydantic import BaseModel

from tao_automl.data import s3
from tao_automl.data.locations import parse_location
from tao_automl.errors import PlatformError
from tao_automl.platforms import FailureCategory, JobRequest, JobState, Platform
from tao_automl.redaction import redact
from tao_automl.workspace import write_spec

PROBE_SCRIPT = (
    'for p in "$@"; do if [ -e "$p" ] && [ -r "$p" ]; then echo "tao-automl-visible: $p"; '
    'else echo "tao-automl-missing: $p"; fi; done'
)
DEFAULT_TIMEOUT = 180.0


class Visibility(BaseModel):
    """Whether one labelled location is readable where the jobs run. ``visible`` None: could not tell."""

    label: str
    location: str
    visible: bool | None
    checked_from: str
    evidence: str
    category: FailureCategory | None = None


Checker = Callable[[Platform | None, Mapping[str, str], "ProbeOptions"], list[Visibility]]
_CHECKERS: dict[str, Checker] = {}


class ProbeOptions(BaseModel):
    """How a probe job is built: the image trials use and where its files go (visible to the platform)."""

    image: str | None = None
    workdir: Path
    env: dict[str, str] = {}
    timeout_seconds: float = DEFAULT_TIMEOUT


def register(name: str) -> Callable[[Checker], Checker]:
    """Register the visibility check of platform ``name`` (one function per platform)."""

    def wrap(fn: Checker) -> Checker:
        _CHECKERS[name] = fn
        return fn

    return wrap


@register("local")
def _stat(_platform: Platform | None, paths: Mapping[str, str], _options: ProbeOptions) -> list[Visibility]:
    out = []
    for label, location in paths.items():
        path = parse_location(location).path
        ok = path.exists() and os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0))
        what = "directory" if path.is_dir() else "file"
        out.append(
            Visibility(
                label=label,
                location=location,
                visible=ok,
                checked_from="this machine (local jobs run here)",
                evidence=f"{path}: readable {what}" if ok else f"{path}: missing or not readable",
                category=None if ok else FailureCategory.DATA_VISIBILITY,
            )
        )
    return out


def _probe_job(platform: Platform | None, paths: Mapping[str, str], options: ProbeOptions) -> list[Visibility]:
    """Run one short job on ``platform`` that tests every path, and read its verdicts from the log."""
    if platform is None:
        raise PlatformError("no platform to run the visibility probe on", field="platform")
    name = f"data-probe-{uuid.uuid4().hex[:10]}"
    job_dir = options.workdir.expanduser().absolute() / name
    job_dir.mkdir(parents=True, exist_ok=True)
    spec_path = job_dir / "spec.yaml"
    write_spec(spec_path, {"data": dict(paths)})  # the platform mounts what a spec names, as for a trial
    job = JobRequest(
        name=name,
        action="data_probe",
        command=["sh", "-c", PROBE_SCRIPT, "probe", *paths.values()],
        image=options.image,
        workdir=job_dir,
        results_dir=job_dir / "results",
        spec_path=spec_path,
        log_path=job_dir / "probe.log",
    )
    where = f"a {platform.name} job"
    job_id = platform.submit(job)
    deadline = time.monotonic() + options.timeout_seconds
    status = platform.status(job_id)
    while not status.state.terminal and time.monotonic() < deadline:
        time.sleep(0.5)
        status = platform.status(job_id)
    if not status.state.terminal:
        platform.cancel(job_id)
        return [
            Visibility(
                label=label,
                location=loc,
                visible=None,
                checked_from=f"{where} ({job_id})",
                evidence=f"the probe job did not finish within {options.timeout_seconds:g}s (state {status.state})",
            )
            for label, loc in paths.items()
        ]
    log = platform.logs(job_id)
    failed = platform.failure_analysis(job_id).category if status.state is JobState.ERROR else None
    shutil.rmtree(job_dir, ignore_errors=True)  # the verdicts are in hand; probes leave nothing behind
    verdicts: dict[str, bool] = {}
    for line in log.splitlines():
        for word, ok in (("tao-automl-visible: ", True), ("tao-automl-missing: ", False)):
            if line.startswith(word):
                verdicts[line[len(word) :].rstrip("\r")] = ok
    out = []
    for label, loc in paths.items():
        ok = verdicts.get(loc)
        if ok is None:
            tail = " | ".join(log.strip().splitlines()[-3:]) or status.message
            evidence = redact(f"probe job {job_id} ended {status.state} without a verdict: {tail[:300]}")
            category = failed
        else:
            evidence = f"{loc}: {'readable' if ok else 'missing or not readable'} inside {where} {job_id}"
            category = None if ok else FailureCategory.DATA_VISIBILITY
        out.append(
            Visibility(
                label=label,
                location=loc,
                visible=ok,
                checked_from=f"{where} ({job_id})",
                evidence=evidence,
                category=category,
            )
        )
    return out


def _s3_visibility(label: str, location: str, env: Mapping[str, str]) -> Visibility:
    checked = "boto3 from the controller, with the credentials jobs inherit by name"
    if not s3.boto3_importable():
        return Visibility(
            label=label,
            location=location,
            visible=None,
            checked_from=checked,
            evidence=f"boto3 is not installed: {s3.install_command()}",
        )
    source, cred_evidence = s3.credential_source(env)
    if source is None:
        return Visibility(
            label=label,
            location=location,
            visible=False,
            checked_from=checked,
            evidence=f"{location}: no S3 credentials ({cred_evidence})",
            category=FailureCategory.CREDENTIAL,
        )
    found = s3.probe(s3.make_client(env, source), parse_location(location))
    return Visibility(
        label=label,
        location=location,
        visible=found.ok,
        checked_from=checked,
        evidence=f"{found.evidence} ({cred_evidence})",
        category=found.category,
    )


def check_visibility(
    platform_name: str,
    paths: Mapping[str, str],
    options: ProbeOptions,
    platform: Platform | None = None,
) -> list[Visibility]:
    """Visibility of each labelled location from where ``platform_name``'s jobs run.

    Args:
        platform_name: registered name of the launch platform (``local``, ``docker``, ...).
        paths: label -> local path or ``s3://`` / ``aws://`` URI.
        options: image, probe workdir, environment (for S3 credential names) and timeout.
        platform: the platform instance a probe job runs on (not needed for ``local``).
    """
    env = options.env or dict(os.environ)
    out: dict[str, Visibility] = {}
    files: dict[str, str] = {}
    for label, location in paths.items():
        parsed = parse_location(location)
        if parsed.kind == "s3":
            out[label] = _s3_visibility(label, parsed.uri, env)
        elif parsed.kind == "other":
            out[label] = Visibility(
                label=label,
                location=location,
                visible=None,
                checked_from="not checked",
                evidence=f"{parsed.scheme}:// locations are not checked; verify them from the platform",
            )
        else:
            files[label] = str(parsed.path.absolute())
    if files:
        checker = _CHECKERS.get(platform_name, _probe_job)
        for result in checker(platform, files, options):
            out[result.label] = result
    return [out[label] for label in paths]
