"""Read an offline W&B run file (``run-<id>.wandb``) back into its protobuf records.

wandb writes its transaction log in LevelDB's log format (32 KiB blocks of CRC32-checked
fragments) behind a 7-byte ``:W&B`` header; current wandb releases no longer ship a Python reader
(``wandb.sdk.internal.datastore`` is gone), so this small one lets tests and people check what a
run recorded before ``wandb sync`` uploads it.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
BLOCK = 32 * 1024
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def records(path: str | Path) -> Iterator[wandb_internal_pb2.Record]:
    """Every record of a ``.wandb`` file, in order; a torn last fragment (a run still writing) ends it."""
    data = Path(path).read_bytes()
    if not data.startswith(HEADER):
        raise ValueError(f"{path} is not a W&B run file (bad header)")
    pos, pending = len(HEADER), b""
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:  # block trailer padding
            pos += left
            continue
        checksum, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk = data[pos + 7 : pos + 7 + length]
        if len(chunk) < length or zlib.crc32(chunk, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != checksum:
            return
        pos += 7 + length
        pending = chunk if kind in (_FULL, _FIRST) else pending + chunk
        if kind in (_FULL, _LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record
            pending = b""


@dataclass
class RunFile:
    """What one offline run recorded: config, history rows and the final summary (JSON-decoded)."""

    run_id: str = ""
    name: str = ""
    group: str = ""
    job_type: str = ""
    project: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def read_run(path: str | Path) -> RunFile:
    """Replay a run file the way the W&B server would: later config/summary updates win."""
    run = RunFile()
    for rec in records(path):
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            r = rec.run
            run.run_id, run.name, run.group, run.job_type, run.project = (
                r.run_id, r.display_name, r.run_group, r.job_type, r.project,
            )  # fmt: skip
            run.tags = list(r.tags)
            run.config.update({_key(i): json.loads(i.value_json) for i in r.config.update})
        elif kind == "config":
            run.config.update({_key(i): json.loads(i.value_json) for i in rec.config.update})
        elif kind == "history":
            run.history.append({_key(i): json.loads(i.value_json) for i in rec.history.item})
        elif kind == "summary":
            run.summary.update({_key(i): json.loads(i.value_json) for i in rec.summary.update})
            for item in rec.summary.remove:
                run.summary.pop(_key(item), None)
        elif kind == "exit":
            run.exit_code = rec.exit.exit_code
    run.config.pop("_wandb", None)
    return run


def read_runs(root: str | Path) -> list[RunFile]:
    """Every offline run under ``root`` (a tracker's ``wandb_dir``), oldest first."""
    return [read_run(p) for p in sorted(Path(root).rglob("run-*.wandb"))]
