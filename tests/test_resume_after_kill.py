"""SIGKILL the runner mid-run, resume from the workspace alone, and prove nothing was lost or run twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tao_automl.results import query_status
from tao_automl.runner import AutoMLRunner
from tao_automl.store import Store
from tao_automl.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "skills" / "models" / "digits-cnn"

RUNNER_SCRIPT = textwrap.dedent("""
    import sys
    from tao_automl.runner import AutoMLRunner
    ws, jobs, skill = sys.argv[1:4]
    AutoMLRunner(skill_dir=skill, platform_sdk="local", workspace_dir=ws, poll_interval=0.2,
                 platform_options={"state_root": jobs}).run(
        automl_algorithm="random",
        automl_settings={"automl_max_recommendations": 6, "automl_max_concurrent": 2, "automl_seed": 3},
        spec_overrides={"train.num_epochs": 4, "dataset.train_fraction": 0.3})
""")


def _wait_for(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def test_sigkill_then_resume_loses_nothing_and_launches_nothing_twice(tmp_path: Path) -> None:
    ws_root, jobs = tmp_path / "ws", tmp_path / "jobs"
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER_SCRIPT, str(ws_root), str(jobs), str(DIGITS)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def mid_run() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"runner ended early: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            status = query_status(ws_root)
        except Exception:  # noqa: BLE001 - the workspace may not exist yet
            return False
        return status["progress"]["completed"] >= 2 and len(status["running_jobs"]) >= 1

    _wait_for(mid_run, timeout=240)
    before = query_status(ws_root)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    run_dir = Path(before["workspace"])
    finished_before = {f["rec_id"]: f for f in _history(run_dir) if f["status"] not in ("pending", "running")}
    assert len(finished_before) >= 2

    result = AutoMLRunner(
        skill_dir=DIGITS,
        platform_sdk="local",
        workspace_dir=ws_root,
        poll_interval=0.2,
        platform_options={"state_root": jobs},
    ).run(workspace_path=run_dir, resume=True)

    assert result["workspace"] == str(run_dir)
    assert result["progress"]["completed"] == result["progress"]["total"] == 6
    after = {h["rec_id"]: h for h in result["history"]}
    assert sorted(after) == [1, 2, 3, 4, 5, 6]
    for rec_id, rec in finished_before.items():
        assert after[rec_id]["status"] == rec["status"]
        assert after[rec_id]["metric"] == rec["metric"]
    # Exactly one train job per recommendation, in the store and on the platform.
    store = Store(Workspace.open_existing(run_dir).state_path, readonly=True)
    try:
        # An intent the crash left unsubmitted is marked lost (no job id) and submitted once on resume.
        train_jobs = [j for j in store.jobs() if j["role"] == "train" and j["job_id"] is not None]
        events = [e["type"] for e in store.events()]
    finally:
        store.close()
    assert sorted(j["rec_id"] for j in train_jobs) == [1, 2, 3, 4, 5, 6]
    assert "resumed" in events
    launched = [p.stem for p in (jobs / "jobs").glob("*.json")]
    train_launches = [n for n in launched if "-train-" in n and "baseline" not in n]
    assert len(train_launches) == len(set(train_launches)) == 6
    assert result["final_evaluation"]["status"] == "measured"


def _history(run_dir: Path) -> list[dict]:  # type: ignore[type-arg]
    store = Store(run_dir / "state.db", readonly=True)
    try:
        return [{"rec_id": r["rec_id"], "status": str(r["status"]), "metric": r["metric"]} for r in store.recs("rec")]
    finally:
        store.close()


HYPERBAND_SCRIPT = textwrap.dedent("""
    import sys
    from tao_automl.runner import AutoMLRunner
    ws, skill = sys.argv[1:3]
    AutoMLRunner(skill_dir=skill, platform_sdk="local", workspace_dir=ws, poll_interval=0.05).run(
        automl_algorithm="hyperband",
        automl_settings={"automl_max_epochs": 9, "automl_max_concurrent": 3, "automl_baseline": False,
                         "automl_final_eval": False},
        spec_overrides={"dataset.num_samples": 64, "train.fail_mode": "sleep", "train.sleep_seconds": 0.1})
""")


def test_hyperband_resumes_its_brackets_after_sigkill(quadratic_skill: Path, tmp_path: Path) -> None:
    ws_root = tmp_path / "ws"
    proc = subprocess.Popen([sys.executable, "-c", HYPERBAND_SCRIPT, str(ws_root), str(quadratic_skill)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip

    def mid_bracket() -> bool:
        try:
            status = query_status(ws_root)
        except Exception:  # noqa: BLE001 - the workspace may not exist yet
            return False
        return status["progress"]["completed"] >= 10 and len(status["running_jobs"]) >= 1

    _wait_for(mid_bracket, timeout=120)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    run_dir = Path(query_status(ws_root)["workspace"])
    result = AutoMLRunner(skill_dir=quadratic_skill, platform_sdk="local", workspace_dir=ws_root,
                          poll_interval=0.05).run(workspace_path=run_dir, resume=True)  # fmt: skip
    history = {h["rec_id"]: h for h in result["history"]}
    assert len(history) == 22 == result["progress"]["completed"]  # the whole R=9, eta=3 schedule, once
    assert sorted(h["budget"] for h in history.values()).count(9) == 1 + 1 + 3
    for h in history.values():
        assert len([j for j in h["jobs"] if j["role"] == "train" and j["job_id"]]) == 1  # nothing launched twice
        if h["resume_from"] is not None:
            assert history[h["resume_from"]]["params"] == h["params"]
