"""The real TAO execution SDK (``nvidia-tao-sdk``): ``VirtualEnvSDK`` as a platform, as TAO users call it.

Every job here is a real process started by ``tao_sdk.platforms.virtualenv.VirtualEnvSDK`` with
this project's virtualenv as the job interpreter; nothing of the SDK is replaced.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import DIGITS_SKILL_DIR, PROJECT_ROOT, wait_for
from tao_sdk import VirtualEnvSDK

from tao_automl.errors import PlatformError
from tao_automl.platforms import FailureCategory, JobRequest, JobState, PythonScript
from tao_automl.platforms.sdk_adapter import SdkPlatform
from tao_automl.results import query_status
from tao_automl.runner import AutoMLRunner
from tao_automl.store import Store
from tao_automl.workspace import Workspace

FOREST = PROJECT_ROOT / "tests" / "fixtures" / "skills" / "wine-forest"
QUADRATIC = PROJECT_ROOT / "tests" / "fixtures" / "skills" / "quadratic"
#: The result keys (and nested keys) a script written for the published runner reads.
PUBLISHED_KEYS = {"best", "progress", "baseline", "final_evaluation", "history", "algorithm_state"}
HISTORY_KEYS = {"rec_id", "job_id", "metric", "objective_score", "objective_values", "status", "failure_reason",
                "adjustments", "feedback"}  # fmt: skip
BEST_KEYS = {"rec_id", "job_id", "specs", "metric_value", "objective_score", "objective_values", "adjustments",
             "feedback"}  # fmt: skip
PROGRESS_KEYS = {"completed", "total", "best_metric", "best_objective_score", "best_rec_id", "algorithm", "objectives",
                 "pareto_front_size"}  # fmt: skip


def _sdk(root: Path) -> VirtualEnvSDK:
    """A VirtualEnvSDK whose jobs run with this project's virtualenv, its state under ``root``."""
    return VirtualEnvSDK(venv_path=sys.prefix, work_dir=root / "jobs", state_file=root / "jobs.db")


def test_published_example_calls_run_unchanged_on_virtualenv_sdk(tmp_path: Path) -> None:
    """The published runner's example, in our words with its calls: sdk=, run(gpu_count=0), its settings."""
    work_dir = tmp_path / "work"
    sdk = _sdk(work_dir)
    runner = AutoMLRunner(sdk=sdk, skill_dir=FOREST, action="train", poll_interval=0.1)
    result = runner.run(
        automl_settings={
            "algorithm": "bayesian",
            "metric": "accuracy",
            "direction": "maximize",
            "automl_max_recommendations": 3,
            "run_baseline": False,
            "run_final_evaluation": False,
            "session_id": "wine-forest-smoke",
        },
        automl_hyperparameters=["model.n_estimators", "model.max_depth"],
        workspace_path=str(work_dir / "automl"),
        gpu_count=0,
    )
    json.dumps(result, default=str)  # a user prints it as JSON
    assert set(result) >= PUBLISHED_KEYS
    assert set(result["best"]) >= BEST_KEYS and set(result["progress"]) >= PROGRESS_KEYS
    assert [h["status"] for h in result["history"]] == ["success"] * 3
    for entry in result["history"]:
        assert set(entry) >= HISTORY_KEYS
        assert 0.5 < entry["metric"] <= 1.0 and entry["objective_values"] == {"accuracy": entry["metric"]}
    assert result["baseline"]["status"] == "skipped" and result["final_evaluation"]["status"] == "skipped"
    best = result["best"]
    assert best["metric_value"] == max(h["metric"] for h in result["history"])
    assert {"model.n_estimators", "model.max_depth"} <= set(best["specs"])
    # each job went through the SDK: its own job folder, spec and metadata, gpu_count=0 as given
    for entry in result["history"]:
        job_dir = work_dir / "jobs" / "jobs" / entry["job_id"]
        meta = json.loads((job_dir / "metadata.json").read_text())
        assert meta["gpu_count"] == 0 and meta["cwd"] == str(FOREST)
        spec = json.loads((job_dir / "spec" / "spec.json").read_text())
        assert spec["results_dir"] == str(job_dir / "results" / "results_dir")  # routed by the SDK
        assert sdk.get_job_status(entry["job_id"]).status == "Complete"
    # the workspace reads the SDK's results where the runner reads every platform's
    run_dir = Path(result["workspace"])
    metrics = json.loads((run_dir / "recs" / "0001" / "results" / "results_dir" / "metrics.json").read_text())
    assert metrics["accuracy"] == result["history"][0]["metric"]
    assert metrics["interpreter"] == sys.prefix  # the SDK's venv ran the job


def test_unknown_platform_keyword_is_refused_before_any_job(tmp_path: Path) -> None:
    runner = AutoMLRunner(sdk=_sdk(tmp_path), skill_dir=FOREST, poll_interval=0.1)
    with pytest.raises(PlatformError) as exc:
        runner.run(automl_settings={"automl_max_recommendations": 1}, workspace_path=str(tmp_path / "ws"), gpus=2)
    assert exc.value.field == "platform_kwargs.gpus"
    assert "gpu_ids" in str(exc.value)  # the hint lists what VirtualEnvSDK takes
    assert not (tmp_path / "ws").exists()


def test_relative_cwd_skill_runs_on_the_local_platform_too(tmp_path: Path) -> None:
    runner = AutoMLRunner(skill_dir=FOREST, platform_sdk="local", workspace_dir=tmp_path / "ws", poll_interval=0.1,
                          platform_options={"state_root": tmp_path / "jobs"})  # fmt: skip
    result = runner.run(automl_algorithm="random",
                        automl_settings={"automl_max_recommendations": 2, "run_baseline": False})  # fmt: skip
    assert [h["status"] for h in result["history"]] == ["success", "success"]
    assert result["final_evaluation"]["status"] == "reused_best"  # the skill has no evaluate action


def test_digits_cnn_with_baseline_and_final_evaluation_on_virtualenv_sdk(tmp_path: Path) -> None:
    """The demo skill unmodified through the SDK: train, evaluate on checkpoints, promotion-free bayesian."""
    runner = AutoMLRunner(sdk=_sdk(tmp_path), skill_dir=DIGITS_SKILL_DIR, poll_interval=0.2)
    result = runner.run(
        automl_algorithm="bayesian",
        automl_settings={"automl_max_recommendations": 2, "automl_max_concurrent": 2, "automl_seed": 3},
        spec_overrides={"train.num_epochs": 2, "dataset.train_fraction": 0.3},
        workspace_path=str(tmp_path / "ws"),
    )
    assert [h["status"] for h in result["history"]] == ["success", "success"]
    assert result["baseline"]["status"] == "measured" and result["baseline"]["eval_metric_value"] is not None
    final = result["final_evaluation"]
    assert final["status"] == "measured" and final["source"] == "evaluate_action"
    checkpoint = Path(result["best"]["checkpoint"])
    assert checkpoint.is_file() and checkpoint.name == "model_epoch_002.pth"
    assert str(tmp_path / "jobs" / "jobs") in str(checkpoint.resolve())  # written in the SDK's job folder


def _script_job(tmp_path: Path, name: str, code: str) -> JobRequest:
    script = tmp_path / "scripts" / f"{name}.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(textwrap.dedent(code))
    work = tmp_path / "work" / name
    spec = work / "spec.yaml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text("results_dir: ''\n")
    return JobRequest(
        name=name,
        action="train",
        python_script=PythonScript(script=str(script), args=[], arg_template=["{config_path}"], cwd=str(script.parent)),
        workdir=work,
        results_dir=work / "results",
        spec_path=spec,
        log_path=work / "train.log",
        outputs={"results_dir": {"type": "folder"}},
    )


def _terminal(plat: SdkPlatform, job_id: str) -> Any:
    return wait_for(lambda: (s := plat.status(job_id)).state.terminal and s, timeout=30)


def test_status_logs_failure_analysis_and_results_through_the_sdk(tmp_path: Path) -> None:
    plat = SdkPlatform(_sdk(tmp_path / "sdk"))
    ok = plat.submit(_script_job(tmp_path, "ok", """
        import pathlib, sys, yaml
        spec = yaml.safe_load(open(sys.argv[1]))
        out = pathlib.Path(spec["results_dir"]); out.mkdir(parents=True, exist_ok=True)
        (out / "model_epoch_1.pth").write_text("weights")
        print("epoch 1 val_accuracy: 0.5", flush=True)
    """))  # fmt: skip
    assert _terminal(plat, ok).state is JobState.COMPLETE
    assert "val_accuracy: 0.5" in plat.logs(ok)
    assert (tmp_path / "work" / "ok" / "results" / "results_dir" / "model_epoch_1.pth").is_file()
    assert plat.checkpoints(ok) == [f"{plat._results_dir(ok)}/results_dir/model_epoch_1.pth"]
    bad = plat.submit(_script_job(tmp_path, "bad", """
        def train():
            raise ValueError("boom in the model code")
        train()
    """))  # fmt: skip
    status = _terminal(plat, bad)
    assert status.state is JobState.ERROR
    analysis = plat.failure_analysis(bad)
    assert analysis.category is FailureCategory.MODEL_CODE and not analysis.retryable
    assert any("boom in the model code" in line for line in analysis.evidence)
    assert plat.delete_artifacts(ok)  # the SDK deletes the results folder of a finished job
    assert not (tmp_path / "work" / "ok" / "results").exists()


def test_cancel_kills_the_job_and_a_new_sdk_object_reattaches(tmp_path: Path) -> None:
    plat = SdkPlatform(_sdk(tmp_path / "sdk"))
    job = _script_job(tmp_path, "long", """
        import os, time
        print(f"pid {os.getpid()}", flush=True)
        for i in range(600):
            print(f"tick {i}", flush=True)
            time.sleep(0.1)
    """)  # fmt: skip
    job_id = plat.submit(job)
    wait_for(lambda: "tick 2" in plat.logs(job_id), timeout=30)
    pid = int(plat.logs(job_id).split("pid ", 1)[1].split()[0])
    # a second process's view: a new SDK object on the same state file and work dir
    again = SdkPlatform(_sdk(tmp_path / "sdk"))
    assert again.reattach(job_id) and again.status(job_id).state is JobState.RUNNING
    assert "tick" in again.logs(job_id)
    again.cancel(job_id)
    assert _terminal(again, job_id).state is JobState.CANCELED
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text(), timeout=15)


RUNNER_SCRIPT = textwrap.dedent("""
    import sys
    from tao_sdk import VirtualEnvSDK
    from tao_automl.runner import AutoMLRunner
    root, skill = sys.argv[1:3]
    sdk = VirtualEnvSDK(venv_path=sys.prefix, work_dir=root + "/jobs", state_file=root + "/jobs.db")
    AutoMLRunner(sdk=sdk, skill_dir=skill, poll_interval=0.1).run(
        automl_algorithm="random",
        automl_settings={"automl_max_recommendations": 5, "automl_max_concurrent": 2, "automl_seed": 3,
                         "run_baseline": False, "run_final_evaluation": False},
        spec_overrides={"train.fail_mode": "sleep", "train.sleep_seconds": 0.6, "train.num_epochs": 3},
        automl_hyperparameters=["train.x", "train.y"], workspace_path=root + "/ws")
""")


def test_sigkill_the_runner_then_resume_with_a_new_sdk_object(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", RUNNER_SCRIPT, str(tmp_path), str(QUADRATIC)], cwd=PROJECT_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip

    def mid_run() -> bool:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            status = query_status(tmp_path / "ws")
        except Exception:  # noqa: BLE001 - the workspace may not exist yet
            return False
        return status["progress"]["completed"] >= 1 and len(status["running_jobs"]) >= 1

    wait_for(mid_run, timeout=60)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    running = [j["job_id"] for j in query_status(tmp_path / "ws")["running_jobs"]]
    result = AutoMLRunner(sdk=_sdk(tmp_path), skill_dir=QUADRATIC, poll_interval=0.1).run(
        workspace_path=str(tmp_path / "ws"), resume=True
    )
    statuses = [h["status"] for h in result["history"]]
    # A kill between recording a job's intent and its id leaves a job the SDK cannot be asked about by
    # name: that recommendation is lost, never launched a second time.
    assert len(statuses) == 5 and set(statuses) <= {"success", "lost"} and statuses.count("lost") <= 1
    run_dir = Workspace.open_existing(tmp_path / "ws").run_dir
    store = Store(run_dir / "state.db", readonly=True)
    try:
        train_jobs = [j for j in store.jobs() if j["role"] == "train"]
    finally:
        store.close()
    assert len(train_jobs) == 5, "a job running at the kill was re-attached, none launched twice"
    assert set(running) <= {j["job_id"] for j in train_jobs}
    sdk = _sdk(tmp_path)  # the SDK's own store saw every launched job finish
    assert {sdk.get_job_status(j["job_id"]).status for j in train_jobs if j["job_id"]} == {"Complete"}
