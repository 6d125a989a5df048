"""Local staging: data already visible is used in place; an archive the skill wants extracted is extracted once."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from tao_automl.data import DatasetRef, Stager, apply_staged
from tao_automl.errors import ConfigurationError


def write_tar(path: Path, names: list[str]) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for name in names:
            data = name.encode()
            info = tarfile.TarInfo(f"images_train/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def archive_ref(location: Path) -> DatasetRef:
    return DatasetRef(
        spec_key="dataset.train_dataset.images_dir",
        kind="folder",
        role="train_datasets",
        path_in_source="images_train.tar.gz",
        runtime="extracted_folder",
        location=str(location),
    )


def test_visible_local_folder_needs_no_staging(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(b"1234")
    ref = DatasetRef(spec_key="dataset.images", kind="folder", location=str(tmp_path / "imgs"))
    record = Stager(tmp_path / "results").stage(ref)
    assert (record.status, record.staged_path, record.bytes, record.file_count) == (
        "not_needed",
        str(tmp_path / "imgs"),
        4,
        1,
    )
    assert not (tmp_path / "results" / "data_staging").exists()


def test_archive_is_extracted_once_reused_and_extracted_again_when_it_changes(tmp_path: Path) -> None:
    dataset = tmp_path / "ds"
    dataset.mkdir()
    write_tar(dataset / "images_train.tar.gz", ["0.jpg", "1.jpg"])
    stager = Stager(tmp_path / "results")
    ref = archive_ref(dataset / "images_train")  # the spec names the folder; only the archive exists

    first = stager.stage(ref)
    assert first.status == "staged" and first.file_count == 2
    staged = Path(first.staged_path)
    assert staged.is_relative_to(tmp_path / "results" / "data_staging") and staged.name == "images_train"
    assert sorted(p.name for p in staged.iterdir()) == ["0.jpg", "1.jpg"]
    marker = staged / "0.jpg"
    before = marker.stat().st_ino

    again = stager.stage(ref)
    assert again.status == "reused" and again.checksum == first.checksum
    assert marker.stat().st_ino == before, "reused, not extracted again"

    write_tar(dataset / "images_train.tar.gz", ["0.jpg", "1.jpg", "2.jpg"])
    changed = stager.stage(ref)
    assert changed.status == "staged" and changed.file_count == 3 and changed.checksum != first.checksum


def test_zip_member_escaping_the_staging_dir_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "images_train.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../evil.txt", "x")
    ref = archive_ref(archive).model_copy(update={"path_in_source": "images_train.zip"})
    with pytest.raises(ConfigurationError, match="escapes"):
        Stager(tmp_path / "results").stage(ref)
    assert not (tmp_path / "evil.txt").exists()
    assert not list((tmp_path / "results").rglob(".build-*")), "a failed extraction leaves nothing half-staged"


def test_evaluate_spec_reads_the_staged_copy_of_the_same_source(tmp_path: Path) -> None:
    """Baseline/final evaluation specs are built apart from the trials'; the same source maps to the same copy."""
    dataset = tmp_path / "ds"
    dataset.mkdir()
    write_tar(dataset / "images_train.tar.gz", ["0.jpg"])
    record = Stager(tmp_path / "results").stage(archive_ref(dataset / "images_train"))
    staging = tmp_path / "data_staging.json"
    staging.write_text(json.dumps({"sources": [record.model_dump(mode="json")]}))
    spec = {"dataset": {"test_sources": [{"image_dir": str(dataset / "images_train")}], "other": "/elsewhere"}}
    mapped = apply_staged(spec, staging)
    assert mapped["dataset"]["test_sources"][0]["image_dir"] == record.staged_path
    assert mapped["dataset"]["other"] == "/elsewhere"
    assert apply_staged(spec, tmp_path / "missing.json") == spec
