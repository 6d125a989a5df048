"""Where a dataset lives: a local path or an object-store URI, parsed once.

``aws://bucket/key`` is accepted as an alias of ``s3://bucket/key`` (some TAO docs write it that
way); every other module sees the normalised ``s3://`` form.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

S3_SCHEMES = ("s3://", "aws://")


class Location(BaseModel):
    """A parsed dataset location. ``kind`` is ``local``, ``s3`` or ``other`` (an unsupported scheme)."""

    uri: str
    kind: str
    bucket: str = ""
    key: str = ""

    @property
    def path(self) -> Path:
        """The local path (only meaningful for ``kind == "local"``)."""
        return Path(self.uri.removeprefix("file://")).expanduser()

    @property
    def scheme(self) -> str:
        return self.uri.split("://", 1)[0] if "://" in self.uri else "file"


def is_s3(uri: str) -> bool:
    return uri.strip().lower().startswith(S3_SCHEMES)


def parse_location(uri: str) -> Location:
    """Parse ``uri``; ``aws://`` becomes ``s3://``, ``file://`` a plain path."""
    text = uri.strip()
    if is_s3(text):
        rest = text.split("://", 1)[1]
        bucket, _, key = rest.partition("/")
        return Location(uri=f"s3://{rest}", kind="s3", bucket=bucket, key=key)
    if "://" in text and not text.startswith("file://"):
        return Location(uri=text, kind="other")
    return Location(uri=text.removeprefix("file://"), kind="local")
