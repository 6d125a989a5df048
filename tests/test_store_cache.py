"""The store's decoded-row cache never serves a stale recommendation."""

from __future__ import annotations

from pathlib import Path

from tao_automl.algorithms.base import RecStatus
from tao_automl.store import Store


def test_reader_sees_writes_of_its_own_and_of_another_connection(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    writer = Store(path)
    writer.add_rec(1, {"params": {"lr": 0.1}}, budget=3)
    reader = Store(path, readonly=True)
    assert [r["status"] for r in reader.recs()] == [RecStatus.PENDING]

    writer.update_rec(1, status=RecStatus.RUNNING, extra={"epochs_trained": 1})
    writer.add_rec(2, {"params": {"lr": 0.2}}, budget=3)
    assert [(r["rec_id"], r["status"]) for r in writer.recs()] == [(1, RecStatus.RUNNING), (2, RecStatus.PENDING)]
    # the other process's commit invalidates the reader's cache
    assert [(r["rec_id"], r["status"], r["extra"]) for r in reader.recs()] == [
        (1, RecStatus.RUNNING, {"epochs_trained": 1}),
        (2, RecStatus.PENDING, {}),
    ]
    assert reader.rec(2)["proposal"] == {"params": {"lr": 0.2}} and reader.rec(3) is None

    copy = writer.recs()[0]
    copy["status"] = RecStatus.FAILURE  # callers own the copies they get
    assert writer.rec(1)["status"] is RecStatus.RUNNING
    assert [r["rec_id"] for r in writer.rec_view("baseline")] == []
    writer.close()
    reader.close()
