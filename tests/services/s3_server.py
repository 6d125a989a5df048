"""A real S3-compatible server on localhost (moto's server mode) with IAM authentication enforced.

``moto_server`` runs as its own process on a free port; no traffic leaves the machine. With
``INITIAL_NO_AUTH_ACTION_COUNT`` the first three calls create an admin user and every later call is
authenticated and authorised against IAM, so wrong keys and denied buckets fail as they do on AWS.
The server's request log (werkzeug's access log on stderr) is kept in a file, so tests can count
how often an object was read.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

READABLE_BUCKET = "tao-data"
DENIED_BUCKET = "tao-locked"
REGION = "us-east-1"
START_TIMEOUT = 60.0
Keys = tuple[str, str]


@dataclass
class S3Server:
    """The running server: its endpoint, the request log, and credentials by role (test-only values)."""

    endpoint: str
    log_path: Path
    admin_keys: tuple[str, str]
    reader_keys: tuple[str, str]

    def env(self, keys: Keys | None = None, *, names: Keys = ("ACCESS_KEY", "SECRET_KEY")) -> dict[str, str]:
        """Environment a user would export: credentials under ``names`` and ``S3_ENDPOINT_URL``."""
        access, secret = keys or self.reader_keys
        return {names[0]: access, names[1]: secret, "S3_ENDPOINT_URL": self.endpoint, "PATH": os.environ["PATH"]}

    def client(self, keys: tuple[str, str] | None = None):  # type: ignore[no-untyped-def]
        import boto3

        access, secret = keys or self.admin_keys
        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=access, aws_secret_access_key=secret, region_name=REGION
        )

    def reads(self, bucket: str, key: str) -> int:
        """GET requests for one object in the server's request log (object reads, not HEADs or lists)."""
        pattern = re.compile(rf'"GET /{re.escape(bucket)}/{re.escape(key)}(?:\?[^ ]*)? HTTP')
        return sum(1 for line in self.log_path.read_text(errors="replace").splitlines() if pattern.search(line))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _iam(endpoint: str, keys: tuple[str, str]):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client(
        "iam", endpoint_url=endpoint, aws_access_key_id=keys[0], aws_secret_access_key=keys[1], region_name=REGION
    )


def _user(iam, name: str, statement: dict) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
    return key["AccessKeyId"], key["SecretAccessKey"]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """Start ``moto_server`` with auth on, create an admin, a reader of ``tao-data`` only, and both buckets."""
    moto = Path(sys.executable).with_name("moto_server")
    if not moto.is_file():
        pytest.fail(f"{moto} not found: install the dev extra (moto[server])")
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("s3") / "requests.log"
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3", "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start:\n{log_path.read_text()[-2000:]}")
                time.sleep(0.1)
        bootstrap = ("AKIABOOTSTRAP0000000", "bootstrap-secret")  # accepted only for the 3 unauthenticated calls
        admin = _user(_iam(endpoint, bootstrap), "admin", {"Effect": "Allow", "Action": "*", "Resource": "*"})
        reader = _user(
            _iam(endpoint, admin),
            "reader",
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{READABLE_BUCKET}", f"arn:aws:s3:::{READABLE_BUCKET}/*"],
            },
        )
        server = S3Server(endpoint=endpoint, log_path=log_path, admin_keys=admin, reader_keys=reader)
        for bucket in (READABLE_BUCKET, DENIED_BUCKET):
            server.client().create_bucket(Bucket=bucket)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
