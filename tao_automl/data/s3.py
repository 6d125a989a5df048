"""S3 (and S3-compatible) access with boto3: credentials found by name, head/list, download.

Credentials are looked up by variable name only (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
or ``ACCESS_KEY``/``SECRET_KEY``, or a profile / web identity / container source, or a credentials
file); their values go straight into the boto3 session and are never logged, stored or printed.
``S3_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL``) points at a non-AWS server.
"""

from __future__ import annotations

import importlib
import os
import shlex
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tao_automl.data.locations import Location
from tao_automl.platforms.failures import FailureCategory
from tao_automl.redaction import redact

BOTO3_SPEC = "boto3>=1.34"
S3_KEY_PAIRS = (("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), ("ACCESS_KEY", "SECRET_KEY"))
S3_SINGLE_SOURCES = (
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)
S3_ENDPOINT_VARS = ("S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
#: Error codes that mean "these credentials are not accepted", as opposed to "not allowed to read this".
CREDENTIAL_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired"}
)
MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})


def install_command() -> str:
    """The exact command that installs the S3 client into this interpreter."""
    return shlex.join([sys.executable, "-m", "pip", "install", BOTO3_SPEC])


def _present(env: Mapping[str, str], name: str) -> bool:
    return bool(env.get(name))


def _flag(env: Mapping[str, str], name: str) -> str:
    return f"{name}: {'SET' if _present(env, name) else 'UNSET'}"


def credential_source(env: Mapping[str, str]) -> tuple[dict[str, str] | None, str]:
    """Which credential source boto3 would use (variable names only) and SET/UNSET evidence."""
    for access, secret in S3_KEY_PAIRS:
        if _present(env, access) and _present(env, secret):
            return {"access": access, "secret": secret}, f"{_flag(env, access)}, {_flag(env, secret)}"
    for var in S3_SINGLE_SOURCES:
        if _present(env, var):
            return {"single": var}, _flag(env, var)
    creds_file = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or Path(env.get("HOME", "~")) / ".aws" / "credentials")
    if creds_file.expanduser().is_file():
        return {"file": str(creds_file)}, f"credentials file {creds_file} exists"
    names = [n for pair in S3_KEY_PAIRS for n in pair] + list(S3_SINGLE_SOURCES)
    return None, ", ".join(_flag(env, n) for n in names)


def credential_names(env: Mapping[str, str]) -> list[str]:
    """Names of the variables a job needs to read S3 the same way (passed through by name, never by value)."""
    source, _ = credential_source(env)
    names = [source["access"], source["secret"]] if source and "access" in source else []
    names += [v for v in ("AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", *S3_ENDPOINT_VARS) if env.get(v)]
    if source and "single" in source:
        names.append(source["single"])
    return names


def boto3_importable() -> bool:
    importlib.invalidate_caches()
    try:
        importlib.import_module("boto3")
    except ImportError:
        return False
    return True


def make_client(env: Mapping[str, str], source: Mapping[str, str] | None = None) -> Any:
    """A boto3 S3 client built from the named credentials in ``env`` (never from arguments)."""
    import boto3
    from botocore.config import Config

    if source is None:
        source, _ = credential_source(env)
    kwargs: dict[str, Any] = {}
    if source and "access" in source:
        kwargs = {
            "aws_access_key_id": env[source["access"]],
            "aws_secret_access_key": env[source["secret"]],
            "aws_session_token": env.get("AWS_SESSION_TOKEN") or None,
        }
    elif source and source.get("single") == "AWS_PROFILE":
        kwargs = {"profile_name": env["AWS_PROFILE"]}
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    session = boto3.session.Session(region_name=region, **kwargs)
    endpoint = next((env[v] for v in S3_ENDPOINT_VARS if env.get(v)), None)
    config = Config(connect_timeout=10, read_timeout=60, retries={"max_attempts": 2})
    return session.client("s3", endpoint_url=endpoint, config=config)


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and isinstance(response.get("Error"), dict):
        return str(response["Error"].get("Code", ""))
    return type(exc).__name__


def error_text(exc: Exception) -> str:
    """``Code: message`` of a client error, redacted (never the request's signed headers)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return redact(f"{error.get('Code', '?')}: {error.get('Message', '')}".strip())
    return redact(f"{type(exc).__name__}: {exc}")


def failure_category(code: str) -> FailureCategory:
    """Credentials rejected -> ``credential``; anything else that stops the read -> ``data_visibility``."""
    if code in CREDENTIAL_CODES or code in ("NoCredentialsError", "PartialCredentialsError"):
        return FailureCategory.CREDENTIAL
    return FailureCategory.DATA_VISIBILITY


@dataclass(frozen=True)
class S3Object:
    key: str
    size: int
    etag: str


@dataclass(frozen=True)
class S3Probe:
    """What a head/list of one URI showed. ``objects`` is the single object or the prefix's listing."""

    ok: bool
    evidence: str
    category: FailureCategory | None = None
    objects: tuple[S3Object, ...] = ()
    single: bool = False


def list_prefix(client: Any, bucket: str, prefix: str) -> Iterator[S3Object]:
    """Every object under ``prefix`` (paginated)."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield S3Object(item["Key"], int(item.get("Size", 0)), str(item.get("ETag", "")).strip('"'))


def probe(client: Any, location: Location, *, full_listing: bool = False) -> S3Probe:
    """Head the object (or list the prefix) at ``location``; a 403 on HEAD is told apart with a list.

    HEAD responses carry no error body, so a bare 403 cannot say whether the key was rejected or the
    read was denied; the list call that follows names the code (``InvalidAccessKeyId``, ``AccessDenied``).
    """
    bucket, key = location.bucket, location.key
    if not bucket:
        return S3Probe(False, f"{location.uri}: no bucket in the URI", FailureCategory.DATA_VISIBILITY)
    try:
        if key and not key.endswith("/"):
            try:
                head = client.head_object(Bucket=bucket, Key=key)
            except Exception as exc:  # classified below
                if error_code(exc) not in MISSING_CODES and error_code(exc) != "403":
                    raise
                if error_code(exc) == "403":
                    client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)  # raises with the real code
                    raise
            else:
                obj = S3Object(key, int(head.get("ContentLength", 0)), str(head.get("ETag", "")).strip('"'))
                return S3Probe(True, f"{location.uri}: object, {obj.size} bytes", objects=(obj,), single=True)
            key += "/"
        if full_listing:
            objects = tuple(list_prefix(client, bucket, key))
        else:
            listing = client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=2)
            objects = tuple(
                S3Object(i["Key"], int(i.get("Size", 0)), str(i.get("ETag", "")).strip('"'))
                for i in listing.get("Contents", [])
            )
    except Exception as exc:  # noqa: BLE001 - any client failure is this probe's failure, reported redacted
        return S3Probe(False, f"{location.uri}: {error_text(exc)}", failure_category(error_code(exc)))
    if not objects:
        return S3Probe(False, f"{location.uri}: no objects under s3://{bucket}/{key}", FailureCategory.DATA_VISIBILITY)
    return S3Probe(True, f"{location.uri}: prefix with objects", objects=objects)


def download(client: Any, bucket: str, key: str, dest: Path) -> None:
    """Download one object to ``dest`` through a temp file, so a crash never leaves a torn file."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    client.download_file(bucket, key, str(tmp))
    os.replace(tmp, dest)
