"""Sample counting on small real annotation files of every supported format, and the demo's own count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import DIGITS_SKILL_DIR

from tao_automl.data import count_records, prepare_data
from tao_automl.skill import ModelSkill

KITTI_LINE = "Car 0.00 0 -1.58 587.01 173.33 614.12 200.12 1.65 1.67 3.64 -0.65 1.71 46.70 -1.59\n"


def test_coco_json_counts_images_not_boxes(tmp_path: Path) -> None:
    coco = {
        "images": [{"id": i, "file_name": f"{i}.jpg"} for i in range(7)],
        "annotations": [{"id": j, "image_id": j % 7, "bbox": [0, 0, 1, 1]} for j in range(30)],
        "categories": [{"id": 1, "name": "car"}],
    }
    (tmp_path / "train.json").write_text(json.dumps(coco))
    assert count_records(tmp_path / "train.json") == (7, "COCO images")


def test_json_list_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text(json.dumps([{"image": f"{i}.png", "label": i % 3} for i in range(11)]))
    (tmp_path / "train.jsonl").write_text("".join(json.dumps({"i": i}) + "\n" for i in range(5)) + "\n\n")
    assert count_records(tmp_path / "list.json") == (11, "JSON list entries")
    assert count_records(tmp_path / "train.jsonl") == (5, "JSONL lines")


def test_classification_folders_count_images_in_class_dirs(tmp_path: Path) -> None:
    for name, n in (("cat", 3), ("dog", 4)):
        (tmp_path / name).mkdir()
        for i in range(n):
            (tmp_path / name / f"{i}.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    assert count_records(tmp_path) == (7, "images in 2 class folders")


def test_kitti_label_dir_counts_label_files(tmp_path: Path) -> None:
    labels = tmp_path / "label_2"
    labels.mkdir()
    for i in range(6):
        (labels / f"{i:06d}.txt").write_text(KITTI_LINE * (i + 1))
    (labels / "000006.txt").write_text("")  # an image with no objects is still a sample
    assert count_records(labels) == (7, "KITTI label files")


def test_uncountable_file_is_an_error_naming_the_formats(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"\.json, \.jsonl"):
        count_records(tmp_path / "train.csv")


def test_demo_counts_its_train_split_and_records_the_bundled_file(tmp_path: Path) -> None:
    """The digits skill reports 1079 train samples (1797 digits, default 0.2/0.2 split) and the CSV it reads."""
    skill = ModelSkill.load(DIGITS_SKILL_DIR)
    data = prepare_data(skill, "train", skill.template("train"), results_root=tmp_path)
    assert data.sample_count.count == 1079
    assert "1797 bundled digits" in data.sample_count.source
    [bundled] = data.staging
    assert bundled.status == "not_needed" and bundled.source_uri.endswith("digits.csv.gz")
    assert bundled.bytes == Path(bundled.source_uri).stat().st_size and bundled.file_count == 1
    assert bundled.checksum.startswith("sha256:")
    smaller = prepare_data(
        skill, "train", {**skill.template("train"), "dataset": {"train_fraction": 0.5}}, results_root=tmp_path
    )
    assert smaller.sample_count.count < 1079
