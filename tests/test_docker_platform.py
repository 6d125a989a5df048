"""The docker platform on a real Docker engine (started by tests/services/docker_engine.py) and its argv.

Jobs run in ``local/debian-py:12`` (Debian + python3, built without a registry) with
``--network none``. The contract suite (test_platform_conformance.py) covers the common verbs;
these tests cover what is docker's own: images, bind mounts, env passing, OOM, state that outlives
the container and a fresh platform instance, and a whole AutoML run.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import PROJECT_ROOT, wait_for
from services.docker_engine import PY_IMAGE

from tao_automl.errors import PlatformError
from tao_automl.metrics import MetricResolver
from tao_automl.platforms import FailureCategory, JobRequest, JobState, JobStatus, PythonScript, get_platform
from tao_automl.platforms.docker import DockerPlatform, container_name

SECRET_NAME = "TAO_TEST_SECRET"
SECRET_VALUE = "sk-planted-0123456789abcdef"
DEADLINE = 30.0


def make_job(tmp_path: Path, name: str | None = None, code: str = "print('hi')", **fields: Any) -> JobRequest:
    name = name or f"t-{uuid.uuid4().hex[:10]}"
    defaults: dict[str, Any] = {
        "name": name,
        "action": "train",
        "command": ["python3", "-c", code],
        "workdir": tmp_path / "work",
        "results_dir": tmp_path / "results",
        "log_path": tmp_path / "logs" / f"{name}.log",
    }
    return JobRequest(**{**defaults, **fields})


def docker(host: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "-H", host, *args], capture_output=True, text=True, timeout=60, check=False)


def container_state(host: str, container: str) -> dict[str, Any] | None:
    proc = docker(host, "inspect", "--type", "container", "--format", "{{json .State}}", container)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def wait_terminal(plat: DockerPlatform, job_id: str) -> JobStatus:
    return wait_for(lambda: (s := plat.status(job_id)).state.terminal and s, timeout=DEADLINE)  # type: ignore[return-value]


@pytest.fixture
def plat(docker_engine: str) -> DockerPlatform:
    return DockerPlatform(docker_host=docker_engine, default_image=PY_IMAGE, cancel_grace_seconds=2.0)


# ---- real containers ----------------------------------------------------------------------------


def test_job_completes_and_its_log_is_kept_in_the_workspace(plat: DockerPlatform, tmp_path: Path) -> None:
    code = "import os, sys; print('out line'); print('err line', file=sys.stderr); print('cwd', os.getcwd())"
    job = make_job(tmp_path, code=code)
    job_id = plat.submit(job)
    assert job_id == job.name
    status = wait_terminal(plat, job_id)
    assert (status.state, status.exit_code) == (JobState.COMPLETE, 0)
    text = plat.logs(job_id)
    assert "out line" in text and "err line" in text
    assert f"cwd {tmp_path / 'work'}" in text
    assert job.log_path.read_text() == text


def test_non_zero_exit_is_error_with_its_exit_code(plat: DockerPlatform, tmp_path: Path) -> None:
    job_id = plat.submit(make_job(tmp_path, code="import sys\nprint('bad')\nsys.exit(4)"))
    status = wait_terminal(plat, job_id)
    assert (status.state, status.exit_code) == (JobState.ERROR, 4)
    assert plat.failure_analysis(job_id).exit_code == 4


def test_logs_while_running_then_cancel_stops_the_container(
    plat: DockerPlatform, docker_engine: str, tmp_path: Path
) -> None:
    code = (
        "import itertools, time\nfor i in itertools.count():\n    print(f'tick {i}', flush=True)\n    time.sleep(0.05)"
    )
    job_id = plat.submit(make_job(tmp_path, code=code))
    wait_for(lambda: "tick 3" in plat.logs(job_id), timeout=DEADLINE)
    assert plat.status(job_id).state is JobState.RUNNING
    assert container_state(docker_engine, job_id)["Running"] is True  # type: ignore[index]

    plat.cancel(job_id)
    state = container_state(docker_engine, job_id)
    assert state is not None and state["Running"] is False
    assert plat.status(job_id).state is JobState.CANCELED
    assert plat.failure_analysis(job_id).category is FailureCategory.CANCELED
    # The canceled mark lives in the state file, so another process sees it too.
    fresh = DockerPlatform(docker_host=docker_engine)
    assert fresh.status(job_id).state is JobState.CANCELED
    assert "tick 3" in fresh.logs(job_id)


def test_metric_is_read_from_the_bind_mounted_results_dir(plat: DockerPlatform, tmp_path: Path) -> None:
    code = (
        "import json, os, sys\n"
        "out = sys.argv[1]\n"
        "with open(os.path.join(out, 'status.json'), 'a') as fh:\n"
        "    fh.write(json.dumps({'epoch': 3, 'kpi': {'loss': 0.125}}) + '\\n')\n"
    )
    job = make_job(tmp_path, command=["python3", "-c", code, str(tmp_path / "results")])
    assert wait_terminal(plat, plat.submit(job)).state is JobState.COMPLETE
    reading = MetricResolver("loss").from_results_dir(job.results_dir)
    assert reading is not None and (reading.value, reading.epoch) == (0.125, 3)
    assert (job.results_dir / "status.json").stat().st_uid == os.getuid()  # --user: files belong to the caller


def test_missing_image_is_an_error_classified_image(
    docker_engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", docker_engine)  # the engine from the environment, as the CLI does
    plat = DockerPlatform(pull="never")  # pull=never: no registry lookup from the tests
    job = make_job(tmp_path, image="local/no-such-image:0")
    job_id = plat.submit(job)
    status = plat.status(job_id)
    assert status.state is JobState.ERROR
    analysis = plat.failure_analysis(job_id)
    assert analysis.category is FailureCategory.IMAGE
    assert not analysis.retryable
    assert "local/no-such-image:0" in job.log_path.read_text()
    assert not plat.reattach("no-such-job")


def test_missing_command_in_the_image_is_classified_image(plat: DockerPlatform, tmp_path: Path) -> None:
    job_id = plat.submit(make_job(tmp_path, command=["no-such-tao-command", "train"]))
    status = wait_terminal(plat, job_id)
    assert (status.state, status.exit_code) == (JobState.ERROR, 127)
    assert plat.failure_analysis(job_id).category is FailureCategory.IMAGE


def test_oom_killed_container_is_out_of_memory(docker_engine: str, tmp_path: Path) -> None:
    plat = DockerPlatform(docker_host=docker_engine, default_image=PY_IMAGE, run_args=["--memory=32m"])
    job_id = plat.submit(make_job(tmp_path, code="x = bytearray(400 * 1024 * 1024)\nprint('survived')"))
    status = wait_terminal(plat, job_id)
    assert status.state is JobState.ERROR
    assert "OOMKilled" in status.message
    assert plat.failure_analysis(job_id).category is FailureCategory.OUT_OF_MEMORY


def test_env_values_reach_the_job_but_never_an_argv_or_a_file(
    plat: DockerPlatform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_NAME, SECRET_VALUE)
    code = f"import os\nprint('secret length', len(os.environ['{SECRET_NAME}']))\nprint('mode', os.environ['RUN_MODE'])"
    job = make_job(tmp_path, code=code, env={"RUN_MODE": "fast"}, env_passthrough=[SECRET_NAME, "TAO_TEST_UNSET"])
    argv = plat.run_argv(job)
    assert SECRET_VALUE not in " ".join(argv)
    assert "fast" not in argv
    assert {SECRET_NAME, "RUN_MODE"} <= {argv[i + 1] for i, a in enumerate(argv) if a == "-e"}
    assert "TAO_TEST_UNSET" not in argv  # not set here: not passed at all

    job_id = plat.submit(job)
    assert wait_terminal(plat, job_id).state is JobState.COMPLETE
    text = plat.logs(job_id)
    assert f"secret length {len(SECRET_VALUE)}" in text and "mode fast" in text
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.startswith(".docker-") for p in written)  # the state file is among them
    for path in written:
        assert SECRET_VALUE.encode() not in path.read_bytes(), path


def test_state_outlives_the_platform_and_the_container(docker_engine: str, tmp_path: Path) -> None:
    first = DockerPlatform(docker_host=docker_engine, default_image=PY_IMAGE)
    job = make_job(tmp_path, name=f"Run 7/rec:{uuid.uuid4().hex[:6]}", code="print('epoch 1 loss=0.5')")
    job_id = first.submit(job)
    assert job_id == container_name(job.name) != job.name
    wait_terminal(first, job_id)

    fresh = DockerPlatform(docker_host=docker_engine, remove_finished=True)
    assert fresh.find_job(job.name) == job_id
    assert fresh.reattach(job_id)
    assert fresh.status(job_id).state is JobState.COMPLETE  # seen final: the container is removed
    assert container_state(docker_engine, job_id) is None
    assert fresh.status(job_id).state is JobState.COMPLETE  # from the state file
    assert "loss=0.5" in fresh.logs(job_id)  # from the copy in the workspace
    with pytest.raises(PlatformError, match="already submitted"):
        first.submit(job)


def test_a_finished_container_of_another_run_gives_up_its_name(plat: DockerPlatform, tmp_path: Path) -> None:
    name = f"reused-{uuid.uuid4().hex[:8]}"
    old = make_job(tmp_path / "old", name=name, code="print('old run')")
    wait_terminal(plat, plat.submit(old))
    new = make_job(tmp_path / "new", name=name, code="print('new run')")
    job_id = plat.submit(new)
    wait_terminal(plat, job_id)
    assert "new run" in plat.logs(job_id)
    assert "old run" in old.log_path.read_text()  # the old run's log stayed in its workspace


def test_python_script_job_sees_script_spec_and_checkpoint_at_host_paths(plat: DockerPlatform, tmp_path: Path) -> None:
    skill = tmp_path / "skill"
    (skill / "scripts").mkdir(parents=True)
    (skill / "scripts" / "run.py").write_text(
        "import pathlib, sys\n"
        "spec = pathlib.Path(sys.argv[2]).read_text()\n"
        "ckpt = spec.split('checkpoint: ')[1].split()[0]\n"
        "print('checkpoint says', pathlib.Path(ckpt).read_text())\n"
        "pathlib.Path(sys.argv[3], 'done').write_text('ok')\n"
    )
    other = tmp_path / "other-run" / "results"
    other.mkdir(parents=True)
    (other / "model.pth").write_text("epoch-3")
    job_dir = tmp_path / "ws" / "recs" / "final_eval"
    job_dir.mkdir(parents=True)
    spec = job_dir / "spec.yaml"
    spec.write_text(f"evaluate:\n  checkpoint: {other / 'model.pth'}\n")
    job = JobRequest(
        name=f"script-{uuid.uuid4().hex[:8]}",
        action="evaluate",
        python_script=PythonScript(
            script="scripts/run.py", args=["-e", str(spec), str(job_dir / "results")], cwd=str(skill)
        ),
        workdir=job_dir,
        results_dir=job_dir / "results",
        spec_path=spec,
        log_path=job_dir / "evaluate.log",
    )
    mounts = {(str(m.source), m.read_only) for m in plat.job_mounts(job)}
    assert mounts == {(str(job_dir), False), (str(skill), True), (str(other / "model.pth"), True)}
    job_id = plat.submit(job)
    assert wait_terminal(plat, job_id).state is JobState.COMPLETE, plat.logs(job_id)
    assert "checkpoint says epoch-3" in plat.logs(job_id)
    assert (job_dir / "results" / "done").read_text() == "ok"


def test_gpu_devices_go_to_the_least_busy_gpus(docker_engine: str, tmp_path: Path) -> None:
    plat = DockerPlatform(docker_host=docker_engine, default_image=PY_IMAGE, gpu_devices=[0, 1, 2])
    argv = plat.run_argv(make_job(tmp_path, gpus=2))
    assert argv[argv.index("--gpus") + 1] == '"device=0,1"'
    assert "tao-automl.gpus=0,1" in argv
    with pytest.raises(PlatformError, match="asks for 4 GPUs") as info:
        plat.run_argv(make_job(tmp_path, gpus=4))
    assert info.value.field == "gpus"


# ---- argv construction (no container started) ---------------------------------------------------


def test_argv_shape_network_user_gpus_and_same_path_mounts(tmp_path: Path) -> None:
    plat = DockerPlatform(default_image="img:1")
    job = make_job(tmp_path, name="rec-1", spec_path=tmp_path / "work" / "spec.yaml")
    argv = plat.run_argv(job)
    assert argv[:5] == ["run", "-d", "--init", "--name", "rec-1"]
    assert argv[argv.index("--network") + 1] == "none"
    assert argv[argv.index("--user") + 1] == f"{os.getuid()}:{os.getgid()}"
    assert "--gpus" not in argv and "--pull" not in argv
    assert "tao-automl.job=rec-1" in argv
    assert argv[argv.index("-w") + 1] == str(tmp_path / "work")
    assert argv[-4:] == ["img:1", "python3", "-c", "print('hi')"]
    mounts = [argv[i + 1] for i, a in enumerate(argv) if a == "--mount"]
    assert mounts == [f"type=bind,source={tmp_path},target={tmp_path}"]  # common parent, read-write

    assert "--gpus" in (two := plat.run_argv(make_job(tmp_path, gpus=2))) and two[two.index("--gpus") + 1] == "2"
    every = plat.run_argv(make_job(tmp_path, gpus=-1))
    assert every[every.index("--gpus") + 1] == "all"


def test_argv_options(tmp_path: Path) -> None:
    data = tmp_path / "data, v2"
    data.mkdir()
    plat = DockerPlatform(
        default_image="img:1",
        network="host",
        user="",
        pull="never",
        shm_size=None,
        mounts=[f"{data}:/data:ro"],
        run_args=["--ipc=host"],
        python="/opt/venv/bin/python",
    )
    script_dir = tmp_path / "skill"
    script_dir.mkdir()
    (script_dir / "train.py").write_text("")
    job = make_job(tmp_path, command=None, python_script=PythonScript(script="train.py", cwd=str(script_dir)))
    argv = plat.run_argv(job)
    assert argv[argv.index("--network") + 1] == "host"
    assert argv[argv.index("--pull") + 1] == "never"
    assert "--user" not in argv and "--shm-size" not in argv
    assert f'type=bind,"source={data}",target=/data,readonly' in argv
    assert f"type=bind,source={script_dir},target={script_dir},readonly" not in argv  # under the rw tmp_path
    assert argv[-4:] == ["--ipc=host", "img:1", "/opt/venv/bin/python", str(script_dir / "train.py")]
    assert argv[argv.index("-w") + 1] == str(script_dir)


def test_wide_common_parent_is_not_mounted(tmp_path: Path) -> None:
    plat = DockerPlatform(default_image="img:1")
    job = make_job(tmp_path, results_dir=Path("/tmp") / f"res-{uuid.uuid4().hex[:6]}")
    sources = [m.source for m in plat.job_mounts(job)]
    assert Path("/tmp") not in sources
    assert {tmp_path / "work", job.results_dir, tmp_path / "logs"} == set(sources)


def test_a_job_without_image_names_the_image_field(tmp_path: Path) -> None:
    with pytest.raises(PlatformError) as info:
        DockerPlatform().run_argv(make_job(tmp_path))
    assert info.value.field == "image"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"pull": "sometimes"}, "pull"),
        ({"network": ""}, "network"),
        ({"mounts": ["/no/such/dir:/x"]}, "mounts"),
        ({"mounts": ["relative:/x"]}, "mounts"),
        ({"env": {"BAD-NAME": "1"}}, "env"),
        ({"gpu_devices": []}, "gpu_devices"),
        ({"run_args": "--ipc=host"}, "run_args"),
        ({"remove_finished": "yes"}, "remove_finished"),
        ({"cancel_grace_seconds": -1}, "cancel_grace_seconds"),
        ({"no_such_option": 1}, "platform_options"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, Any], field: str) -> None:
    with pytest.raises(PlatformError) as info:
        get_platform("docker", **options)
    assert info.value.field == field


def test_container_names_are_docker_safe_and_distinct() -> None:
    assert container_name("run-20260101-0001-train-a1") == "run-20260101-0001-train-a1"
    safe = {container_name(n) for n in ("a b", "a/b", "a:b", "_x", "-x")}
    assert len(safe) == 5
    assert all(n[0].isalnum() and set(n) <= set("abcdefghijklmnopqrstuvwxyz0123456789-_.") for n in safe)


# ---- the runner on docker -------------------------------------------------------------------------


def test_automl_run_on_docker_reads_metrics_from_bind_mounted_results(
    docker_engine: str, quadratic_skill: Path, tmp_path: Path
) -> None:
    from tao_automl.runner import AutoMLRunner

    runner = AutoMLRunner(
        skill_dir=quadratic_skill,
        platform_sdk="docker",
        workspace_dir=tmp_path / "ws",
        poll_interval=0.1,
        platform_options={"docker_host": docker_engine, "default_image": PY_IMAGE, "cancel_grace_seconds": 2.0},
    )
    result = runner.run(
        automl_algorithm="random",
        automl_settings={
            "automl_max_recommendations": 2,
            "automl_max_concurrent": 2,
            "automl_final_eval": True,
            "automl_seed": 3,
        },
        automl_hyperparameters=["train.x", "train.y", "train.optim.lr"],  # every batch size trains
    )
    assert [h["status"] for h in result["history"]] == ["success", "success"], result["history"]
    assert all(h["job_id"] and h["metric"] is not None for h in result["history"])
    final = result["final_evaluation"]
    assert (final["status"], final["source"]) == ("measured", "evaluate_action")
    assert final["metric_value"] == pytest.approx(result["best"]["metric_value"], abs=1e-9)
    run_dir = Path(result["workspace"])
    for entry in result["history"]:
        rec_dir = run_dir / "recs" / f"{entry['rec_id']:04d}"
        assert "loss=" in (rec_dir / "train.log").read_text()
        assert (rec_dir / "results" / "status.json").stat().st_uid == os.getuid()
        image = docker(docker_engine, "inspect", "--format", "{{.Config.Image}}", entry["job_id"]).stdout.strip()
        assert image == PY_IMAGE  # the job really ran in a container


def test_platform_skill_lists_every_option_with_its_default() -> None:
    info = yaml.safe_load((PROJECT_ROOT / "skills/platform/docker/references/skill_info.yaml").read_text())
    params = inspect.signature(DockerPlatform.__init__).parameters
    defaults = {n: p.default for n, p in params.items() if n != "self"}
    assert info["name"] == DockerPlatform.name
    assert set(info["options"]) == set(defaults)
    for name, default in defaults.items():
        assert info["options"][name] == default or (default is None and info["options"][name] in ([], {})), name
