"""Launch preflight on real files, real directories and the real platform skill files.

Covered for S3: boto3 present with no credentials (fails naming the variables) and boto3 missing
(the script run with boto3 blocked fails with the exact pip command). A reachable bucket is not
tested: moto is not installed here, and no S3 endpoint may be reached.
``--install-missing-tools`` is tested for real on the pip path (a local wheel installed into a
throwaway virtualenv); the apt-get path only for its command lines, through the injectable runner.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, SkillWriter
from services.brev_cli import FAKE_BREV_TOKEN, STANDIN_BIN, BrevStandIn

from tao_automl.errors import ConfigurationError
from tao_automl.preflight import (
    CheckStatus,
    PreflightResult,
    count_records,
    load_platform_skill,
    parse_batch_limit,
    parse_path_arg,
    run_preflight,
)

SCRIPT = PROJECT_ROOT / "scripts" / "check_tao_launch_preflight.py"
SITE_PACKAGES = sysconfig.get_paths()["purelib"]


def run_script(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def by_name(result: PreflightResult) -> dict[str, object]:
    return {c.name: c for c in result.checks}


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment with no credentials at all (HOME has no ~/.aws either)."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8"}
    env.update(extra)
    return env


# ---- platform skills -------------------------------------------------------------------------------


def test_every_platform_skill_uses_the_shared_format() -> None:
    names = sorted(
        p.parent.parent.name for p in (PROJECT_ROOT / "skills" / "platform").glob("*/references/skill_info.yaml")
    )
    assert {"local", "brev"} <= set(names)
    for name in names:
        info, path = load_platform_skill(name)
        assert info.name == name, path
        assert info.reachability is not None and info.reachability.command, path
        skill_md = (path.parents[1] / "SKILL.md").read_text()
        for section in ("Preflight", "Credentials", "Resource shape", "Monitoring", "Cancellation", "Known failures"):
            assert f"## {section}" in skill_md, f"{name}: SKILL.md lacks {section}"


def test_local_platform_passes_from_any_directory(tmp_path: Path) -> None:
    proc = run_script("--platform", "local", "--model", "digits-cnn", "--json", env=clean_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    checks = {c["name"]: c for c in result["checks"]}
    assert result["overall"] in ("pass", "warn")
    assert (
        checks["platform:reachability"]["status"] == "pass"
        and "Python 3" in checks["platform:reachability"]["evidence"]
    )
    assert checks["model:support"]["status"] == "pass"
    assert set(checks["model:image"]) == {"name", "status", "evidence", "fix"}


def test_brev_credentials_are_reported_set_or_unset_only(brev_standin: BrevStandIn, tmp_path: Path) -> None:
    env = clean_env(tmp_path, BREV_STANDIN_HOME=str(brev_standin.home), BREV_API_TOKEN=FAKE_BREV_TOKEN)
    env["PATH"] = f"{STANDIN_BIN}{os.pathsep}{env['PATH']}"
    ok = run_preflight(platform="brev", env=env)
    checks = by_name(ok)
    assert ok.overall is CheckStatus.PASS, ok.failed()
    assert checks["credential:BREV_API_TOKEN"].evidence == "BREV_API_TOKEN: SET"
    assert checks["credential:HF_TOKEN"].evidence == "HF_TOKEN: UNSET (optional)"
    assert checks["platform:reachability"].evidence.startswith("`brev ls --json` exit 0")

    del env["BREV_API_TOKEN"]
    proc = run_script("--platform", "brev", env=env, cwd=tmp_path)
    assert proc.returncode == 2
    assert "FAIL  credential:BREV_API_TOKEN" in proc.stdout and "BREV_API_TOKEN: UNSET" in proc.stdout
    assert "overall: FAIL" in proc.stdout

    env["BREV_API_TOKEN"] = FAKE_BREV_TOKEN
    (brev_standin.home / "credentials.json").unlink()  # the CLI is logged out
    proc = run_script("--platform", "brev", "--json", env=env, cwd=tmp_path)
    assert proc.returncode == 2 and FAKE_BREV_TOKEN not in proc.stdout + proc.stderr
    reach = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}["platform:reachability"]
    assert reach["status"] == "fail" and "logged out" in reach["evidence"] and "brev login" in reach["fix"]


def test_missing_cli_has_a_manual_fix_and_blocks_reachability(tmp_path: Path) -> None:
    result = run_preflight(platform="brev", env=clean_env(tmp_path, PATH="/nonexistent", BREV_API_TOKEN="x"))
    checks = by_name(result)
    assert checks["tool:brev"].status is CheckStatus.FAIL and "install-latest.sh" in checks["tool:brev"].fix
    assert checks["platform:reachability"].status is CheckStatus.FAIL
    assert result.exit_code == 2


def write_platform(root: Path, name: str, body: str) -> None:
    (root / name / "references").mkdir(parents=True)
    (root / name / "references" / "skill_info.yaml").write_text(body)
    (root / name / "SKILL.md").write_text(f"# {name}\n")


def test_credential_groups_need_one_of_their_names(tmp_path: Path) -> None:
    write_platform(
        tmp_path / "platforms",
        "registry-plat",
        "name: registry-plat\nrequired_credentials: [PLAT_USER]\n"
        "credential_groups:\n  - {name: registry, require_one_of: [NGC_API_KEY, DOCKER_CONFIG]}\n"
        "reachability: {command: [python3, -c, 'import sys; sys.exit(3)']}\n",
    )
    roots = [tmp_path / "platforms"]
    none = by_name(run_preflight(platform="registry-plat", platform_roots=roots, env=clean_env(tmp_path)))
    assert none["credentials:registry"].status is CheckStatus.FAIL
    assert none["credentials:registry"].evidence == "NGC_API_KEY: UNSET, DOCKER_CONFIG: UNSET"
    assert none["credential:PLAT_USER"].status is CheckStatus.FAIL
    assert none["platform:reachability"].evidence.startswith("`python3 -c 'import sys; sys.exit(3)'` exit 3")
    env = clean_env(tmp_path, DOCKER_CONFIG="/x", PLAT_USER="u")
    one = by_name(run_preflight(platform="registry-plat", platform_roots=roots, env=env))
    assert one["credentials:registry"].status is CheckStatus.PASS
    assert one["credentials:registry"].evidence == "NGC_API_KEY: UNSET, DOCKER_CONFIG: SET"
    unknown = run_preflight(platform="nope", platform_roots=roots, env=env)
    assert unknown.checks[0].status is CheckStatus.FAIL and "registry-plat" in (unknown.checks[0].fix or "")


# ---- model ---------------------------------------------------------------------------------------------


def test_model_support_gate(tao_skill_writer: SkillWriter, upstream_skills_dir: Path, tmp_path: Path) -> None:
    tao_skill_writer(name="no-automl", automl_enabled=False)
    tao_skill_writer(name="no-schema", write_schema=False)
    refused = by_name(run_preflight(model="no-automl", skill_roots=[tmp_path]))["model:support"]
    assert refused.status is CheckStatus.FAIL and "automl_enabled: false" in refused.evidence
    missing = by_name(run_preflight(model="no-schema", skill_roots=[tmp_path]))["model:support"]
    assert missing.status is CheckStatus.FAIL and "train schema" in missing.evidence
    rtdetr = by_name(run_preflight(model="rtdetr", skill_roots=[upstream_skills_dir]))
    assert rtdetr["model:support"].status is CheckStatus.PASS
    assert "7.1.0-pyt (source: model, versions-key images.tao_toolkit.pyt)" in rtdetr["model:image"].evidence


# ---- data paths and the effective batch limit --------------------------------------------------------------


@pytest.fixture
def datasets(tmp_path: Path) -> dict[str, Path]:
    data = tmp_path / "data"
    data.mkdir()
    coco = data / "train.json"
    coco.write_text(json.dumps({"images": [{"id": i} for i in range(10)], "annotations": [{"id": 1}] * 25}))
    jsonl = data / "train.jsonl"
    jsonl.write_text("\n".join(json.dumps({"i": i}) for i in range(7)) + "\n\n")
    listing = data / "list.json"
    listing.write_text(json.dumps([{"i": i} for i in range(5)]))
    folder = data / "cls"
    for cls in ("cat", "dog"):
        (folder / cls).mkdir(parents=True)
        for i in range(3):
            (folder / cls / f"{i}.jpg").write_bytes(b"\xff\xd8")
        (folder / cls / "notes.txt").write_text("not an image")
    (data / "empty").mkdir()
    (data / "labels.txt").write_text("a\nb\n")
    return {
        "coco": coco,
        "jsonl": jsonl,
        "list": listing,
        "folder": folder,
        "empty": data / "empty",
        "txt": data / "labels.txt",
    }


def test_record_counting(datasets: dict[str, Path]) -> None:
    assert count_records(datasets["coco"]) == (10, "COCO images")
    assert count_records(datasets["jsonl"]) == (7, "JSONL lines")
    assert count_records(datasets["list"]) == (5, "JSON list entries")
    assert count_records(datasets["folder"]) == (6, "images in 2 class folders")
    with pytest.raises(ValueError, match="cannot count"):
        count_records(datasets["txt"])


@pytest.mark.parametrize(
    ("label", "limit", "status"),
    [
        ("coco", "4,2", CheckStatus.PASS),  # 10 / 2 = 5 >= 4
        ("coco", "5,2", CheckStatus.PASS),
        ("coco", "6,2", CheckStatus.FAIL),
        ("jsonl", "7,1", CheckStatus.PASS),
        ("jsonl", "3,3", CheckStatus.FAIL),  # 7 / 3 = 2.33 < 3
        ("folder", "4,2", CheckStatus.FAIL),  # 6 images / 2 shards = 3 < 4
        ("folder", "3,2", CheckStatus.PASS),
        ("txt", "1,1", CheckStatus.FAIL),
    ],
)
def test_effective_batch_limit(datasets: dict[str, Path], label: str, limit: str, status: CheckStatus) -> None:
    result = run_preflight(paths={label: str(datasets[label])}, batch_limits=[parse_batch_limit(f"{label}={limit}")])
    check = by_name(result)[f"batch:{label}"]
    assert check.status is status, check
    if status is CheckStatus.FAIL and label != "txt":
        assert "zero training steps" in check.evidence and "batch size <=" in check.fix


def test_paths_and_labels(datasets: dict[str, Path], tmp_path: Path) -> None:
    result = run_preflight(
        paths=[
            ("train", str(datasets["folder"])),
            ("ann", str(datasets["coco"])),
            ("gone", str(tmp_path / "nope")),
            ("empty", str(datasets["empty"])),
        ],
        batch_limits=[parse_batch_limit("missing=2,1"), parse_batch_limit("gone=2,1")],
    )
    checks = by_name(result)
    assert checks["path:train"].status is CheckStatus.PASS and "directory, 2 entries" in checks["path:train"].evidence
    assert checks["path:ann"].status is CheckStatus.PASS and "file," in checks["path:ann"].evidence
    assert checks["path:gone"].status is CheckStatus.FAIL and "does not exist" in checks["path:gone"].evidence
    assert checks["path:empty"].status is CheckStatus.WARN
    assert "no --path missing" in checks["batch:missing"].evidence
    assert checks["batch:gone"].status is CheckStatus.FAIL
    with pytest.raises(ConfigurationError):
        parse_path_arg("no-label")
    for bad in ("x=1", "x=a,b", "x=0,1", "=1,1"):
        with pytest.raises(ConfigurationError):
            parse_batch_limit(bad)


def test_script_counts_and_gates_with_exit_codes(datasets: dict[str, Path], tmp_path: Path) -> None:
    ann = f"train_annotation={datasets['coco']}"
    ok = run_script("--path", ann, "--effective-batch-limit", "train_annotation=5,2", "--min-free-disk-gb", "0.001",
                    "--disk-path", str(tmp_path / "not-yet" / "results"), cwd=tmp_path)  # fmt: skip
    assert ok.returncode == 0, ok.stdout
    assert "10 records (COCO images) / 2 shards = 5 per shard; batch 5" in ok.stdout
    assert "PASS  disk:free" in ok.stdout
    blocked = run_script("--path", ann, "--effective-batch-limit", "train_annotation=6,2", "--json", cwd=tmp_path)
    assert blocked.returncode == 2
    payload = json.loads(blocked.stdout)
    assert payload["overall"] == "fail"
    assert [c["status"] for c in payload["checks"]] == ["pass", "fail"]
    assert run_script("--path", "no-equals-sign", cwd=tmp_path).returncode == 2
    assert run_script(cwd=tmp_path).returncode == 2


def test_disk_space_gate(tmp_path: Path) -> None:
    assert by_name(run_preflight(min_free_disk_gb=0.001, disk_path=tmp_path))["disk:free"].status is CheckStatus.PASS
    huge = by_name(run_preflight(min_free_disk_gb=1e9, disk_path=tmp_path))["disk:free"]
    assert huge.status is CheckStatus.FAIL and "need 1e+09 GB" in huge.evidence


# ---- S3 -------------------------------------------------------------------------------------------------------


def test_s3_without_credentials_names_the_variables(tmp_path: Path) -> None:
    result = run_preflight(paths={"train": "s3://tao-data/coco/train.json"}, env=clean_env(tmp_path))
    check = by_name(result)["path:train"]
    assert check.status is CheckStatus.FAIL
    for name in ("AWS_ACCESS_KEY_ID: UNSET", "AWS_SECRET_ACCESS_KEY: UNSET", "AWS_PROFILE: UNSET", "ACCESS_KEY: UNSET"):
        assert name in check.evidence
    assert "AWS_ACCESS_KEY_ID" in check.fix


def test_s3_without_boto3_gives_the_install_command(tmp_path: Path) -> None:
    code = (
        "import sys, runpy; sys.modules['boto3'] = None; "
        f"sys.argv = [{str(SCRIPT)!r}, '--path', 'train=s3://tao-data/train/']; "
        f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "boto3 is not installed" in proc.stdout
    assert f"fix: {sys.executable} -m pip install 'boto3>=1.34'" in proc.stdout


# ---- installing missing tools ----------------------------------------------------------------------------------


def build_wheel(directory: Path) -> Path:
    """A one-module wheel with a ``tinytool`` console script, built by hand (no build backend, no index)."""
    files = {
        "tinytool/__init__.py": "def main():\n    print('tinytool ok')\n",
        "tinytool-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinytool\nVersion: 0.1\n",
        "tinytool-0.1.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        "tinytool-0.1.dist-info/entry_points.txt": "[console_scripts]\ntinytool = tinytool:main\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files["tinytool-0.1.dist-info/RECORD"] = "\n".join([*record, "tinytool-0.1.dist-info/RECORD,,"]) + "\n"
    wheel = directory / "tinytool-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


def test_install_missing_tools_installs_with_pip_then_rechecks(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    wheel = build_wheel(tmp_path)
    write_platform(
        tmp_path / "platforms",
        "tiny",
        f"name: tiny\ntools: {{tinytool: {{pip: '{wheel}'}}}}\nreachability: {{command: [tinytool]}}\n",
    )
    # The throwaway venv's python sees this project's dependencies (and pip) through PYTHONPATH;
    # pip installs into the venv it runs in, so nothing outside tmp_path changes.
    env = clean_env(tmp_path, PYTHONPATH=SITE_PACKAGES, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    args = [
        str(venv / "bin" / "python"),
        str(SCRIPT),
        "--platform",
        "tiny",
        "--platform-root",
        str(tmp_path / "platforms"),
    ]
    before = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert before.returncode == 2 and "FAIL  tool:tinytool" in before.stdout
    assert not (venv / "bin" / "tinytool").exists()  # checking never installs
    after = subprocess.run([*args, "--install-missing-tools"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert after.returncode == 0, after.stdout + after.stderr
    assert f"PASS  install:{wheel}" in after.stdout
    assert "PASS  tool:tinytool" in after.stdout and "tinytool ok" in after.stdout
    assert (venv / "bin" / "tinytool").exists()


def test_install_uses_apt_get_for_debian_packages(tmp_path: Path) -> None:
    write_platform(
        tmp_path / "platforms",
        "aptplat",
        "name: aptplat\ntools:\n  no-such-cli-a: {debian: pkg-a}\n  no-such-cli-b: pkg-b\n"
        "  no-such-cli-c: {manual: see docs}\n",
    )
    calls: list[list[str]] = []

    def runner(argv: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        first_try = len(calls) == 1
        return subprocess.CompletedProcess(argv, 100 if first_try else 0, "", "E: Unable to locate package")

    result = run_preflight(
        platform="aptplat", platform_roots=[tmp_path / "platforms"], install_missing_tools=True, runner=runner
    )
    tail = ["apt-get", "install", "-y", "--no-install-recommends", "pkg-a", "pkg-b"]
    assert [c[-len(tail) :] for c in (calls[0], calls[2])] == [tail, tail]
    assert calls[1][-2:] == ["apt-get", "update"]
    checks = by_name(result)
    assert checks["install:pkg-a, pkg-b"].status is CheckStatus.PASS
    assert (
        checks["install:no-such-cli-c"].status is CheckStatus.FAIL and checks["install:no-such-cli-c"].fix == "see docs"
    )
    assert checks["tool:no-such-cli-a"].status is CheckStatus.FAIL  # checked again after the install


# ---- the gated preflight checks what the jobs will use -------------------------------------------------------


def _gated_preflight(state: Path, **args: object) -> dict[str, object]:
    """``preflight_check`` as every face calls it (tao_automl.workflow.calls), its answer as JSON."""
    from tao_automl.workflow.calls import STEPS, call_step
    from tao_automl.workflow.context import WorkflowContext
    from tao_automl.workflow.state import StateStore

    out = call_step(STEPS["preflight_check"], WorkflowContext(store=StateStore(state)), dict(args))
    return out.model_dump(mode="json")


def _check(answer: dict[str, object], name: str) -> dict[str, object]:
    return next(c for c in answer["checks"] if c["name"] == name)  # type: ignore[union-attr, index]


def test_a_spec_override_outside_the_schema_fails_preflight_with_field_and_fix(tmp_path: Path) -> None:
    answer = _gated_preflight(
        tmp_path / "state", model_skill="digits-cnn", results_root=str(tmp_path), spec_overrides={"train.num_epochs": 0}
    )
    check = _check(answer, "plan:train")
    assert not answer["passed"] and check["status"] == "fail"
    assert check["field"] == "spec_overrides.train.num_epochs"
    assert "outside the schema's range [1, 100]" in check["evidence"] and "default is 10" in check["fix"]
    ok = _gated_preflight(
        tmp_path / "state", model_skill="digits-cnn", results_root=str(tmp_path), spec_overrides={"train.num_epochs": 3}
    )
    assert "3 epochs per recommendation" in _check(ok, "plan:train")["evidence"]


def test_the_runner_refuses_an_override_the_schema_rules_out() -> None:
    from tao_automl.estimate import plan_run

    for overrides, field in (
        ({"train.optim.lr": -1.0}, "spec_overrides.train.optim.lr"),
        ({"train.optim.optimizer": "rmsprop"}, "spec_overrides.train.optim.optimizer"),
        ({"model": {"width": 400}}, "spec_overrides.model.width"),
    ):
        with pytest.raises(ConfigurationError) as err:
            plan_run(PROJECT_ROOT / "skills" / "models" / "digits-cnn", spec_overrides=overrides)
        assert err.value.field == field, err.value


def test_preflight_checks_the_interpreter_the_jobs_run_with(tmp_path: Path) -> None:
    base = {"model_skill": "digits-cnn", "results_root": str(tmp_path / "runs")}
    default = _check(_gated_preflight(tmp_path / "state", **base), "runtime:python")
    assert default["status"] == "pass" and sys.executable in default["evidence"], default
    bare = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    answer = _gated_preflight(tmp_path / "state", **base, platform_options={"python": str(bare / "bin" / "python")})
    check = _check(answer, "runtime:python")
    assert not answer["passed"] and check["status"] == "fail" and check["field"] == "platform_options.python"
    assert "cannot import" in check["evidence"] and "torch" in check["evidence"] and "pip install" in check["fix"]
    missing = _gated_preflight(tmp_path / "state", **base, platform_options={"python": str(tmp_path / "no-python")})
    assert _check(missing, "runtime:python")["status"] == "fail"


def test_preflight_measures_the_disk_of_results_root(tmp_path: Path) -> None:
    root = tmp_path / "not" / "yet" / "there"
    state = tmp_path / "state"
    answer = _gated_preflight(state, model_skill="digits-cnn", results_root=str(root), min_free_disk_gb=1e6)
    check = _check(answer, "disk:free")
    assert check["status"] == "fail" and str(root) in check["evidence"] and str(tmp_path) in check["evidence"]
    assert check["field"] == "results_root" and check["fix"]
