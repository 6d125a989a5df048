"""Crash-safe run state in SQLite (WAL mode).

Every fact of a run lives here: settings, recommendations, jobs (recorded as an intent *before*
submission), intermediate metrics and events. Each write is one transaction, so a SIGKILL at
any point leaves either the old or the new state, and ``query_status`` can read it from another
process while the runner writes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tao_automl.algorithms.base import RecStatus

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS recs (
    rec_id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL DEFAULT 'rec',
    status TEXT NOT NULL,
    proposal TEXT NOT NULL,
    specs TEXT,
    budget INTEGER,
    metric REAL,
    metric_source TEXT,
    failure_reason TEXT,
    failure_class TEXT,
    adjustments TEXT NOT NULL DEFAULT '[]',
    extra TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY,
    rec_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    role TEXT NOT NULL,
    job_id TEXT,
    retry_of TEXT,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    submitted_at REAL,
    finished_at REAL
);
CREATE TABLE IF NOT EXISTS metrics (
    rec_id INTEGER NOT NULL, step INTEGER NOT NULL, name TEXT NOT NULL, value REAL NOT NULL, ts REAL NOT NULL,
    PRIMARY KEY (rec_id, step, name)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, rec_id INTEGER, type TEXT NOT NULL, payload TEXT
);
"""

#: Recommendation ids reserved for the baseline; real recommendations count from 1.
BASELINE_REC_ID = 0


def _create(path: Path) -> None:
    """Build the schema under a temporary name and rename it into place: a reader in another process
    (``job_status`` right after a detached launch) sees either no state file or a complete one, never
    a file whose tables do not exist yet."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    db = sqlite3.connect(tmp, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")  # persistent in the file header
        db.executescript(_SCHEMA)
    finally:
        db.close()  # the last connection checkpoints and removes the temporary -wal/-shm files
    os.replace(tmp, path)


class Store:
    """Thin typed access to ``state.db``. Open one per process; writes are serialized by SQLite."""

    def __init__(self, path: Path, *, readonly: bool = False, now: Callable[[], float] = time.time) -> None:
        self.path = path
        self._now = now  # the runner's clock, so simulated runs record simulated times
        if readonly:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, isolation_level=None)
        else:
            if not path.exists():
                _create(path)
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        self._db.row_factory = sqlite3.Row
        #: rec_id -> decoded row. The runner reads every rec several times per poll; reading and decoding
        #: unchanged rows again made long studies quadratic (ASHA's thousand-odd recs). Rows this
        #: connection wrote are re-read (``_dirty``); a commit by any other connection (SQLite's
        #: ``data_version``) drops the whole cache. Nested values are shared, never mutated.
        self._cache: dict[int, dict[str, Any]] | None = None
        self._dirty: set[int] = set()
        self._data_version: int | None = None

    def _fresh_cache(self) -> dict[int, dict[str, Any]]:
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if self._cache is None or version != self._data_version:
            rows = self._db.execute("SELECT * FROM recs ORDER BY rec_id")
            self._cache, self._dirty, self._data_version = {r["rec_id"]: _decode_rec(r) for r in rows}, set(), version
        elif self._dirty:
            marks = ",".join("?" * len(self._dirty))
            for row in self._db.execute(f"SELECT * FROM recs WHERE rec_id IN ({marks})", tuple(self._dirty)):
                self._cache[row["rec_id"]] = _decode_rec(row)
            self._dirty.clear()
        return self._cache

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One atomic transaction."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ------------------------------------------------------------------ meta
    def set_meta(self, **values: Any) -> None:
        with self.tx() as db:
            for key, value in values.items():
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, default=str)))

    def meta(self, key: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row["value"]) if row else default

    def all_meta(self) -> dict[str, Any]:
        return {r["key"]: json.loads(r["value"]) for r in self._db.execute("SELECT key, value FROM meta")}

    # ------------------------------------------------------------------ recommendations
    def next_rec_id(self) -> int:
        row = self._db.execute("SELECT MAX(rec_id) AS m FROM recs").fetchone()
        return max(BASELINE_REC_ID, row["m"] if row["m"] is not None else 0) + 1

    def add_rec(
        self,
        rec_id: int,
        proposal: dict[str, Any],
        *,
        kind: str = "rec",
        specs: dict[str, Any] | None = None,
        budget: int | None = None,
        status: RecStatus = RecStatus.PENDING,
        adjustments: list[dict[str, Any]] | None = None,
        failure_reason: str | None = None,
        failure_class: str | None = None,
    ) -> None:
        now = self._now()
        self._dirty.add(rec_id)
        with self.tx() as db:
            db.execute(
                "INSERT INTO recs (rec_id, kind, status, proposal, specs, budget, adjustments, failure_reason,"
                " failure_class, created_at, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    rec_id,
                    kind,
                    str(status),
                    json.dumps(proposal, default=str),
                    json.dumps(specs, default=str),
                    budget,
                    json.dumps(adjustments or []),
                    failure_reason,
                    failure_class,
                    now,
                    now if status.final else None,
                ),
            )

    def update_rec(self, rec_id: int, **fields: Any) -> None:
        """Update columns of a recommendation; a final status is never overwritten."""
        row = self.rec(rec_id)
        if row is None:
            raise KeyError(rec_id)
        if RecStatus(row["status"]).final and "status" in fields and fields["status"] != row["status"]:
            raise ValueError(f"recommendation {rec_id} is final ({row['status']}); refusing {fields['status']}")
        if "status" in fields and RecStatus(fields["status"]).final and "finished_at" not in fields:
            fields["finished_at"] = self._now()
        cols, vals = [], []
        for key, value in fields.items():
            if key in ("adjustments", "extra", "proposal", "specs"):
                value = json.dumps(value, default=str)
            elif key == "status":
                value = str(value)
            cols.append(f"{key} = ?")
            vals.append(value)
        self._dirty.add(rec_id)
        with self.tx() as db:
            db.execute(f"UPDATE recs SET {', '.join(cols)} WHERE rec_id = ?", (*vals, rec_id))

    def rec(self, rec_id: int) -> dict[str, Any] | None:
        row = self._fresh_cache().get(rec_id)
        return dict(row) if row is not None else None

    def rec_view(self, kind: str | None = "rec") -> list[dict[str, Any]]:
        """Like :meth:`recs` without copying: for hot read-only scans (the caller must not modify them)."""
        return [r for _, r in sorted(self._fresh_cache().items()) if kind is None or r["kind"] == kind]

    def recs(self, kind: str | None = "rec") -> list[dict[str, Any]]:
        """Recommendations in id order (copies: callers may change the top-level dict)."""
        rows = self._fresh_cache()
        return [dict(r) for rid, r in sorted(rows.items()) if kind is None or r["kind"] == kind]

    # ------------------------------------------------------------------ jobs
    def add_job_intent(self, name: str, rec_id: int, action: str, role: str, retry_of: str | None = None) -> None:
        """Record a job *before* it is submitted, so a crash in between never submits it twice."""
        with self.tx() as db:
            db.execute(
                "INSERT INTO jobs (name, rec_id, action, role, retry_of, state, created_at) VALUES (?,?,?,?,?,?,?)",
                (name, rec_id, action, role, retry_of, "intent", self._now()),
            )

    def set_job_submitted(self, name: str, job_id: str) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE jobs SET job_id = ?, state = 'submitted', submitted_at = ? WHERE name = ?",
                (job_id, self._now(), name),
            )

    def set_job_state(self, name: str, state: str) -> None:
        with self.tx() as db:
            db.execute("UPDATE jobs SET state = ?, finished_at = ? WHERE name = ?", (state, self._now(), name))

    def jobs(
        self, rec_id: int | None = None, *, open_only: bool = False, role: str | None = None
    ) -> list[dict[str, Any]]:
        """Jobs in creation order, optionally of one recommendation, one role, or still open."""
        sql, args = "SELECT * FROM jobs WHERE 1=1", []
        if rec_id is not None:
            sql += " AND rec_id = ?"
            args.append(rec_id)
        if role is not None:
            sql += " AND role = ?"
            args.append(role)
        if open_only:
            sql += " AND state IN ('intent', 'submitted')"
        return [dict(r) for r in self._db.execute(sql + " ORDER BY created_at, rowid", args)]

    # ------------------------------------------------------------------ metrics and events
    def add_metric(self, rec_id: int, step: int, name: str, value: float) -> bool:
        """Record an intermediate metric once; returns False if it was already known."""
        with self.tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO metrics VALUES (?,?,?,?,?)", (rec_id, step, name, value, self._now())
            )
            return cur.rowcount > 0

    def metrics(self, rec_id: int, name: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM metrics WHERE rec_id = ?", [rec_id]
        if name:
            sql += " AND name = ?"
            args.append(name)
        return [dict(r) for r in self._db.execute(sql + " ORDER BY step", args)]

    def event(self, type_: str, rec_id: int | None = None, **payload: Any) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO events (ts, rec_id, type, payload) VALUES (?,?,?,?)",
                (self._now(), rec_id, type_, json.dumps(payload, default=str)),
            )

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM events", ()
        if type_:
            sql, args = sql + " WHERE type = ?", (type_,)
        out = []
        for r in self._db.execute(sql + " ORDER BY id", args):
            d = dict(r)
            d["payload"] = json.loads(d["payload"] or "{}")
            out.append(d)
        return out


def _decode_rec(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    for key in ("proposal", "specs", "adjustments", "extra"):
        d[key] = json.loads(d[key]) if d[key] else ({} if key != "adjustments" else [])
    d["status"] = RecStatus(d["status"])
    return d
