"""S3 datasets against a real S3-compatible server (tests/services/s3_server.py) with real boto3 calls.

Preflight passes a readable URI and fails an unreadable one or wrong credentials with the failure
class a job would have hit; the runner refuses such data before any job; staging copies a source
once, reuses it while its ETags hold and stages it again when it changes (counted in the server's
request log); ``data_staging.json`` records each source.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import QUADRATIC_SKILL_DIR, make_runner
from services.s3_server import DENIED_BUCKET, READABLE_BUCKET, S3Server

from tao_automl.data import DataUnreadableError, prepare_data
from tao_automl.preflight import CheckStatus, run_preflight
from tao_automl.skill import ModelSkill

SETTINGS = {"automl_max_recommendations": 1, "automl_max_concurrent": 1, "automl_baseline": False,
            "automl_final_eval": False, "automl_seed": 3}  # fmt: skip
DATA_INPUTS = {
    "dataset.train_annotation": {"type": "file"},
    "dataset.train_images": {"type": "folder"},
}
DATA_SOURCES = {
    "dataset.train_annotation": {"source": "train_datasets", "path": "train.jsonl"},
    "dataset.train_images": {"source": "train_datasets", "path": "images.tar.gz", "runtime": "extracted_folder"},
}


def jsonl(n: int) -> bytes:
    return "".join(json.dumps({"image": f"{i}.png", "label": i % 3}) + "\n" for i in range(n)).encode()


def images_archive() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for i in range(3):
            data = f"pixels {i}".encode()
            info = tarfile.TarInfo(f"images/{i}.png")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def by_name(result: Any) -> dict[str, Any]:
    return {c.name: c for c in result.checks}


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The reader's credentials exported under the short names, and no AWS_* names that could win."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    env = s3_server.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def data_skill(tmp_path: Path) -> Path:
    """The quadratic test network, declaring a train annotation and an image archive as its data."""
    skill = tmp_path / "quadratic-data"
    shutil.copytree(QUADRATIC_SKILL_DIR, skill, ignore=shutil.ignore_patterns("__pycache__"))
    info_path = skill / "references" / "skill_info.yaml"
    info = yaml.safe_load(info_path.read_text())
    info["actions"]["train"]["inputs"].update(DATA_INPUTS)
    info["data_sources"] = {"train": DATA_SOURCES}
    info_path.write_text(yaml.safe_dump(info, sort_keys=False))
    return skill


def test_readable_uri_passes_with_either_credential_naming(s3_server: S3Server, tmp_path: Path) -> None:
    s3_server.client().put_object(Bucket=READABLE_BUCKET, Key="pf/train.jsonl", Body=jsonl(4))
    short = s3_server.env()
    aws = s3_server.env(names=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"))
    for env, uri in ((short, f"s3://{READABLE_BUCKET}/pf/train.jsonl"), (aws, f"aws://{READABLE_BUCKET}/pf/")):
        check = by_name(run_preflight(paths={"train": uri}, env=env))["path:train"]
        assert check.status is CheckStatus.PASS, check
        assert s3_server.reader_keys[1] not in check.model_dump_json()  # presence only, never the value
    counted = run_preflight(
        paths={"train": f"s3://{READABLE_BUCKET}/pf/train.jsonl"},
        batch_limits=[__import__("tao_automl.preflight").preflight.parse_batch_limit("train=8,1")],
        env=short,
    )
    assert "4 records (JSONL lines)" in by_name(counted)["batch:train"].evidence


def test_unreadable_uri_and_wrong_credentials_fail_with_their_class(s3_server: S3Server) -> None:
    s3_server.client().put_object(Bucket=DENIED_BUCKET, Key="secret/train.jsonl", Body=jsonl(2))
    s3_server.client().put_object(Bucket=READABLE_BUCKET, Key="pf2/train.jsonl", Body=jsonl(2))
    reader = s3_server.env()
    wrong = s3_server.env(("AKIAWRONGWRONGWRONG0", "not-the-secret-value"))
    cases = [
        (reader, f"s3://{DENIED_BUCKET}/secret/train.jsonl", "data_visibility", "AccessDenied"),
        (reader, f"s3://{READABLE_BUCKET}/pf2/missing.jsonl", "data_visibility", "no objects"),
        (wrong, f"s3://{READABLE_BUCKET}/pf2/train.jsonl", "credential", "InvalidAccessKeyId"),
    ]
    for env, uri, failure_class, evidence in cases:
        result = run_preflight(paths={"train": uri}, env=env)
        check = by_name(result)["path:train"]
        assert not result.ok and check.status is CheckStatus.FAIL
        assert check.failure_class == failure_class, (uri, check)
        assert evidence in check.evidence
        assert "not-the-secret-value" not in result.model_dump_json()


def test_runner_refuses_unreadable_data_before_any_job(
    s3_server: S3Server, s3_env: dict[str, str], data_skill: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3_server.client().put_object(Bucket=READABLE_BUCKET, Key="refuse/train.jsonl", Body=jsonl(3))
    monkeypatch.setenv("SECRET_KEY", "not-the-secret-value")
    runner = make_runner(data_skill, tmp_path)
    with pytest.raises(DataUnreadableError) as info:
        runner.run(automl_settings=SETTINGS, train_dataset_uri=f"s3://{READABLE_BUCKET}/refuse")
    assert info.value.failure_class == "credential" and info.value.field == "dataset.train_annotation"
    assert "not-the-secret-value" not in str(info.value)
    assert not list((tmp_path / "ws").glob("run_*")), "no workspace before the data is readable"
    assert not (tmp_path / "jobs").exists() or not any((tmp_path / "jobs").iterdir()), "no job was launched"


def test_staging_copies_once_reuses_and_restages_a_changed_source(
    s3_server: S3Server, s3_env: dict[str, str], data_skill: Path, tmp_path: Path
) -> None:
    client = s3_server.client()
    client.put_object(Bucket=READABLE_BUCKET, Key="ds/train.jsonl", Body=jsonl(12))
    client.put_object(Bucket=READABLE_BUCKET, Key="ds/images.tar.gz", Body=images_archive())
    uri = f"s3://{READABLE_BUCKET}/ds"
    skill = ModelSkill.load(data_skill)
    spec = {
        **skill.template("train"),
        "dataset": {"train_annotation": f"{uri}/train.jsonl", "train_images": f"{uri}/images"},
    }

    preview = prepare_data(skill, "train", spec, results_root=tmp_path / "ws", dry_run=True)
    assert [s.status for s in preview.staging] == ["to_stage", "to_stage"]
    assert preview.sample_count.count == 12  # a review counts the annotation where it is...
    assert s3_server.reads(READABLE_BUCKET, "ds/train.jsonl") == 1
    assert s3_server.reads(READABLE_BUCKET, "ds/images.tar.gz") == 0, "...and copies nothing"

    def run() -> tuple[dict[str, Any], Path]:
        runner = make_runner(data_skill, tmp_path)
        runner.run(automl_settings=SETTINGS, train_dataset_uri=uri)
        return json.loads((runner.workspace.evaluations / "data_staging.json").read_text()), runner.workspace.run_dir

    first, run_dir = run()
    sources = {s["spec_key"]: s for s in first["sources"]}
    ann, imgs = sources["dataset.train_annotation"], sources["dataset.train_images"]
    for record in (ann, imgs):
        assert set(record) >= {"source_uri", "staged_path", "bytes", "file_count", "checksum", "timestamp"}
        assert record["status"] == "staged" and Path(record["staged_path"]).exists()
        assert Path(record["staged_path"]).is_relative_to(tmp_path / "ws" / "data_staging")
    assert (ann["source_uri"], ann["bytes"], ann["file_count"]) == (f"{uri}/train.jsonl", len(jsonl(12)), 1)
    assert ann["checksum"].startswith("etag:")
    assert imgs["source_uri"] == f"{uri}/images.tar.gz" and imgs["file_count"] == 3  # extracted once
    assert sorted(p.name for p in Path(imgs["staged_path"]).iterdir()) == ["0.png", "1.png", "2.png"]
    assert first["train_sample_count"] == 12 and "JSONL lines" in first["sample_count_source"]

    [rec_spec] = [p for p in (run_dir / "recs").glob("*/spec.yaml") if p.parent.name.isdigit()]
    on_disk = yaml.safe_load(rec_spec.read_text())
    assert on_disk["dataset"]["train_annotation"] == ann["staged_path"]  # every trial reads the staged copy
    assert on_disk["dataset"]["train_images"] == imgs["staged_path"]
    assert on_disk["dataset"]["batch_size"] <= 12  # capped by the counted samples before the job started
    review = json.loads((run_dir / "launch_review.json").read_text())["data"]
    assert review["train_sample_count"] == 12 and any("staged" in line for line in review["lines"])

    assert s3_server.reads(READABLE_BUCKET, "ds/train.jsonl") == 2  # one copy (the count reads the copy)
    assert s3_server.reads(READABLE_BUCKET, "ds/images.tar.gz") == 1

    second, _ = run()
    assert {s["status"] for s in second["sources"]} == {"reused"}
    assert s3_server.reads(READABLE_BUCKET, "ds/train.jsonl") == 2
    assert s3_server.reads(READABLE_BUCKET, "ds/images.tar.gz") == 1

    client.put_object(Bucket=READABLE_BUCKET, Key="ds/train.jsonl", Body=jsonl(15))
    third, _ = run()
    status = {s["spec_key"]: s["status"] for s in third["sources"]}
    assert status == {"dataset.train_annotation": "staged", "dataset.train_images": "reused"}
    assert s3_server.reads(READABLE_BUCKET, "ds/train.jsonl") == 3
    assert s3_server.reads(READABLE_BUCKET, "ds/images.tar.gz") == 1
    assert third["train_sample_count"] == 15
