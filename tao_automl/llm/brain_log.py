"""``<run>/brain/brain_log.jsonl``: the runner's append-only record of every LLM call and decision.

Appends are single ``write`` calls on an ``O_APPEND`` descriptor followed by ``fsync``, so
concurrent readers (``query_status`` in another process) see whole lines; a line torn by a crash
is skipped on read, as Optuna's journal storage does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tao_automl.store import Store

BRAIN_DIR = "brain"
BRAIN_LOG = "brain_log.jsonl"


def brain_log_path(run_dir: Path) -> Path:
    return Path(run_dir) / BRAIN_DIR / BRAIN_LOG


def _train_job_id(store: Store, rec_id: int) -> str | None:
    jobs = [j for j in store.jobs(rec_id, role="train") if j["job_id"]]
    return jobs[-1]["job_id"] if jobs else None


def append_records(run_dir: Path, records: list[dict[str, Any]], store: Store | None = None) -> None:
    """Append drained journal records; a record about a recommendation gets its train job id."""
    if not records:
        return
    lines = []
    for record in records:
        rec_id = record.get("rec_id")
        if store is not None and isinstance(rec_id, int) and record.get("job_id") is None:
            record["job_id"] = _train_job_id(store, rec_id)
            if record.get("kind") == "experiment" and record["data"].get("job_id") is None:
                record["data"]["job_id"] = record["job_id"]
        lines.append(json.dumps(record, sort_keys=True, default=str))
    path = brain_log_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, ("\n".join(lines) + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_records(run_dir: Path) -> list[dict[str, Any]]:
    """Every whole record of the brain log (none when there is no log)."""
    path = brain_log_path(run_dir)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by a crash mid-write
        if isinstance(record, dict) and "kind" in record:
            out.append(record)
    return out
