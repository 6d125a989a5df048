"""Every platform passes the same tests: a platform joins by declaring a case in tests/services/.

The sdk platform wraps ``SubprocessSdk`` (tests/conftest.py), a tiny SDK in the published TAO shape that runs real
subprocesses, so the adapter is tested against real jobs rather than canned answers.
"""

from __future__ import annotations

import importlib
import pkgutil
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import services
from conftest import PlatformCase, SubprocessSdk, wait_for

from tao_automl.errors import PlatformError
from tao_automl.platforms import FailureCategory, JobRequest, JobState, JobStatus, Platform
from tao_automl.platforms.failures import classify_failure, redact
from tao_automl.platforms.sdk_adapter import SdkPlatform, parse_status

DEADLINE = 15.0


def _case_names() -> list[str]:
    """Every platform case declared by a plugin in tests/services/ (``PLATFORM_CASES``)."""
    names: list[str] = []
    for module in pkgutil.iter_modules(services.__path__):
        names += getattr(importlib.import_module(f"services.{module.name}"), "PLATFORM_CASES", ())
    return sorted(names)


@pytest.fixture(params=_case_names())
def case(request: pytest.FixtureRequest) -> Iterator[PlatformCase]:
    found: PlatformCase = request.getfixturevalue(f"platform_case_{request.param}")
    found.platform.test_job_ids = []  # type: ignore[attr-defined]
    yield found
    for job_id in found.platform.test_job_ids:  # type: ignore[attr-defined]
        if not found.platform.status(job_id).state.terminal:
            found.platform.cancel(job_id)


@pytest.fixture
def platform(case: PlatformCase) -> Platform:
    return case.platform


def submit(plat: Platform, tmp_path: Path, name: str, argv: list[str]) -> str:
    job = JobRequest(
        name=name,
        action="train",
        command=argv,
        workdir=tmp_path / "work",
        results_dir=tmp_path / "results" / name,
        log_path=tmp_path / "logs" / f"{name}.log",
    )
    job_id = plat.submit(job)
    plat.test_job_ids.append(job_id)  # type: ignore[attr-defined]
    return job_id


def wait_terminal(plat: Platform, job_id: str) -> JobStatus:
    return wait_for(lambda: (s := plat.status(job_id)).state.terminal and s)  # type: ignore[return-value]


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


# ---- the contract -----------------------------------------------------------------------------


def test_quick_job_completes_with_its_output(case: PlatformCase, platform: Platform, tmp_path: Path) -> None:
    job_id = submit(platform, tmp_path, "quick", [*case.python, "-c", "print('hello from the job')"])
    status = wait_terminal(platform, job_id)
    assert status.state is JobState.COMPLETE
    assert status.exit_code == 0
    assert "hello from the job" in platform.logs(job_id)
    assert platform.failure_analysis(job_id).reason == "job did not fail"
    platform.cancel(job_id)
    assert platform.status(job_id).state is JobState.COMPLETE
    assert platform.reattach(job_id)


@pytest.mark.parametrize(
    ("code", "exit_code", "category"),
    [
        ("def train():\n    raise ValueError('boom')\ntrain()", 1, FailureCategory.MODEL_CODE),
        (
            "import sys\nprint('invalid configuration: batch_size 512 exceeds the 100 training samples')\nsys.exit(3)",
            3,
            FailureCategory.INVALID_CONFIGURATION,
        ),
        ("open('/data/tao-automl-missing/train/annotations.json')", 1, FailureCategory.DATA_VISIBILITY),
        ("import os\nos.kill(os.getpid(), 9)", 137, FailureCategory.OUT_OF_MEMORY),
    ],
)
def test_failing_job_is_error_and_classified(
    case: PlatformCase, platform: Platform, tmp_path: Path, code: str, exit_code: int, category: FailureCategory
) -> None:
    job_id = submit(platform, tmp_path, "failing", [*case.python, "-c", code])
    status = wait_terminal(platform, job_id)
    assert status.state is JobState.ERROR
    assert status.exit_code == exit_code
    analysis = platform.failure_analysis(job_id)
    assert analysis.category is category
    assert analysis.exit_code == exit_code
    assert analysis.evidence
    assert not analysis.retryable


TICKER = """
import os, subprocess, sys, time
from pathlib import Path
out = Path(sys.argv[1])
grandchild = subprocess.Popen(["sleep", "60"])
(out / "pids.tmp").write_text(f"{os.getpid()} {grandchild.pid}")
os.replace(out / "pids.tmp", out / "pids")
i = 0
while True:
    print(f"tick {i}", flush=True)
    i += 1
    time.sleep(0.03)
"""


def test_running_job_streams_new_logs_and_cancel_stops_its_group(
    case: PlatformCase, platform: Platform, tmp_path: Path
) -> None:
    script = tmp_path / "ticker.py"
    script.write_text(TICKER)
    job_id = submit(platform, tmp_path, "ticker", [*case.python, str(script), str(tmp_path)])
    pids = wait_for(lambda: (tmp_path / "pids").exists() and (tmp_path / "pids").read_text().split())
    assert platform.status(job_id).state is JobState.RUNNING

    seen = ""
    chunks = []
    for _ in range(3):
        chunk = wait_for(lambda: platform.new_logs(job_id))
        chunks.append(chunk)
        seen += chunk
    assert all(chunk.endswith("\n") for chunk in chunks)
    lines = seen.splitlines()
    assert lines == [f"tick {i}" for i in range(len(lines))]
    assert platform.logs(job_id).startswith(seen)

    platform.cancel(job_id)
    assert platform.status(job_id).state is JobState.CANCELED
    if case.host_pids:
        for pid in map(int, pids):
            wait_for(lambda pid=pid: not alive(pid), timeout=5)
    platform.cancel(job_id)
    assert platform.status(job_id).state is JobState.CANCELED


PARTIAL_LINE = (
    "import sys, time\nsys.stdout.write('first\\nval_loss: 0.')\nsys.stdout.flush()\ntime.sleep(1.5)\nprint('25')"
)


def test_new_logs_hold_back_a_partial_line_until_complete(
    case: PlatformCase, platform: Platform, tmp_path: Path
) -> None:
    job_id = submit(platform, tmp_path, "partial", [*case.python, "-c", PARTIAL_LINE])
    assert wait_for(lambda: platform.new_logs(job_id)) == "first\n"
    wait_terminal(platform, job_id)
    assert platform.new_logs(job_id) == "val_loss: 0.25\n"
    assert platform.new_logs(job_id) == ""


def test_unknown_job_id_is_unknown(platform: Platform) -> None:
    assert platform.status("no-such-job").state is JobState.UNKNOWN
    assert not platform.reattach("no-such-job")
    assert platform.logs("no-such-job") == ""


# ---- failure classification (shared by every platform) --------------------------------------


@pytest.mark.parametrize(
    ("log", "status", "category"),
    [
        ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", {}, FailureCategory.OUT_OF_MEMORY),
        ("Traceback (most recent call last):\nMemoryError", {}, FailureCategory.OUT_OF_MEMORY),
        ("", {"exit_code": 137}, FailureCategory.OUT_OF_MEMORY),
        ("ValueError: zero training steps per epoch", {}, FailureCategory.INVALID_CONFIGURATION),
        ("FileNotFoundError: [Errno 2] No such file or directory: '/data/train'", {}, FailureCategory.DATA_VISIBILITY),
        ("botocore.exceptions.ClientError: An error occurred (NoSuchKey)", {}, FailureCategory.DATA_VISIBILITY),
        ("Failed to pull image nvcr.io/x: manifest unknown", {}, FailureCategory.IMAGE),
        ("botocore.exceptions.NoCredentialsError: Unable to locate credentials", {}, FailureCategory.CREDENTIAL),
        ("requests.exceptions.HTTPError: 401 Client Error: Unauthorized", {}, FailureCategory.CREDENTIAL),
        ("omegaconf.errors.ConfigKeyError: Key 'lrr' is not in struct", {}, FailureCategory.SPEC_SCHEMA),
        ("yaml.scanner.ScannerError: mapping values are not allowed here", {}, FailureCategory.SPEC_SCHEMA),
        ("srun: error: node3: task 0: NODE_FAIL", {}, FailureCategory.INFRASTRUCTURE),
        ("", {"infra_failure": True, "message": "supervisor vanished"}, FailureCategory.INFRASTRUCTURE),
        ("slurmstepd: error: *** JOB 12 CANCELLED DUE TO TIME LIMIT ***", {}, FailureCategory.TIMEOUT),
        ("Traceback (most recent call last):\nZeroDivisionError: division by zero", {}, FailureCategory.MODEL_CODE),
        ("", {"state": JobState.CANCELED}, FailureCategory.CANCELED),
        ("epoch 401 done", {}, FailureCategory.UNKNOWN),
    ],
)
def test_classification_table(log: str, status: dict, category: FailureCategory) -> None:
    fields = {"state": JobState.ERROR, "exit_code": 1, **status}
    analysis = classify_failure(JobStatus(**fields), log)
    assert analysis.category is category
    assert analysis.retryable is (category is FailureCategory.INFRASTRUCTURE)


def test_classification_of_a_job_that_did_not_fail() -> None:
    analysis = classify_failure(JobStatus(state=JobState.COMPLETE, exit_code=0), "Traceback (most recent call last)")
    assert (analysis.category, analysis.reason) == (FailureCategory.UNKNOWN, "job did not fail")


def test_evidence_is_redacted() -> None:
    log = "connecting with api_key=nvapi-abcdefghijklmnop0123 token: hunter2\nInvalidAccessKeyId: bad key"
    analysis = classify_failure(JobStatus(state=JobState.ERROR, exit_code=1), log)
    assert analysis.category is FailureCategory.CREDENTIAL
    text = " ".join(analysis.evidence) + analysis.reason
    assert "hunter2" not in text and "nvapi-abc" not in text
    assert redact("https://user:pa55@host/x password=abc") == "https://user:***@host/x password=***"


# ---- the SDK adapter's normalisation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("Done", JobState.COMPLETE),
        ("SUCCEEDED", JobState.COMPLETE),
        ("Running", JobState.RUNNING),
        ("in-progress", JobState.RUNNING),
        ("Pending", JobState.PENDING),
        ("Queued", JobState.PENDING),
        ("Error", JobState.ERROR),
        ("FAILED", JobState.ERROR),
        ("Cancelled", JobState.CANCELED),
        ({"state": "COMPLETE", "exit_code": "0"}, JobState.COMPLETE),
        ({"status": {"state": "Running"}}, JobState.RUNNING),
        ("Frobnicating", JobState.UNKNOWN),
        (None, JobState.UNKNOWN),
    ],
)
def test_sdk_status_spellings(raw: object, state: JobState) -> None:
    assert parse_status(raw).state is state


def test_sdk_create_job_gets_only_accepted_kwargs(tmp_path: Path) -> None:
    class NarrowSdk(SubprocessSdk):
        def create_job(self, image, command, name=None, gpus=0):
            return super().create_job(image, command, name=name, gpus=gpus)

    sdk = NarrowSdk(tmp_path)
    plat = SdkPlatform(sdk)
    job = JobRequest(
        name="narrow",
        action="train",
        command=[sys.executable, "-c", "print('a b')"],
        image="nvcr.io/nvidia/tao:1",
        workdir=tmp_path,
        results_dir=tmp_path / "r",
        log_path=tmp_path / "narrow.log",
        env_passthrough=["SECRET_NAME"],
        gpus=2,
    )
    job_id = plat.submit(job)
    assert wait_terminal(plat, job_id).state is JobState.COMPLETE
    call = sdk.calls[0]
    assert call == {"image": "nvcr.io/nvidia/tao:1", "command": shlex.join(job.command), "name": "narrow", "gpus": 2}
    assert "a b" in plat.logs(job_id)
    assert job.log_path.read_text() == plat.logs(job_id)  # mirrored into the workspace


def test_sdk_failure_analysis_is_used_when_offered(tmp_path: Path) -> None:
    class AnalysingSdk(SubprocessSdk):
        def get_failure_analysis(self, job_id):
            return {"category": "OOM", "reason": "GPU ran out of memory", "evidence": ["password=xyz"]}

    plat = SdkPlatform(AnalysingSdk(tmp_path))
    job_id = submit_plain(plat, tmp_path)
    assert wait_terminal(plat, job_id).state is JobState.ERROR
    analysis = plat.failure_analysis(job_id)
    assert (analysis.category, analysis.reason, analysis.evidence) == (
        FailureCategory.OUT_OF_MEMORY,
        "GPU ran out of memory",
        ["password=***"],
    )


def submit_plain(plat: Platform, tmp_path: Path) -> str:
    return plat.submit(
        JobRequest(
            name="plain",
            action="train",
            command=[sys.executable, "-c", "raise SystemExit(2)"],
            workdir=tmp_path,
            results_dir=tmp_path / "r",
            log_path=tmp_path / "plain.log",
        )
    )


def test_sdk_missing_method_is_named(tmp_path: Path) -> None:
    class HalfSdk:
        def create_job(self, image, command): ...
        def get_job_status(self, job_id): ...

    with pytest.raises(PlatformError, match="get_job_logs, cancel_job") as info:
        SdkPlatform(HalfSdk())
    assert info.value.field == "platform_sdk"
