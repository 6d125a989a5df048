"""Count training samples cheaply from the annotation a job would read.

Formats: COCO JSON (``images``), a JSON list, JSONL (one record per line), classification folders
(class sub-folders of images) and KITTI label directories (one ``.txt`` per image). The count
feeds ``train_sample_count`` so impossible batch sizes are capped before any job starts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm"})
KITTI_FIELDS = 15  # type, truncated, occluded, alpha, bbox(4), dimensions(3), location(3), rotation_y


def _count_json(data: Any) -> tuple[int, str]:
    if isinstance(data, list):
        return len(data), "JSON list entries"
    if isinstance(data, dict):
        if isinstance(data.get("images"), list):
            return len(data["images"]), "COCO images"
        for key in ("annotations", "data", "samples", "items"):
            if isinstance(data.get(key), list):
                return len(data[key]), f"'{key}' entries"
    raise ValueError("JSON is neither a list nor a COCO file with an 'images' list")


def count_bytes(name: str, data: bytes) -> tuple[int, str]:
    """Records in an annotation file's content; ``name`` tells the format by its suffix."""
    lowered = name.lower()
    if lowered.endswith((".jsonl", ".ndjson")):
        return sum(1 for line in data.splitlines() if line.strip()), "JSONL lines"
    if lowered.endswith(".json"):
        return _count_json(json.loads(data))
    raise ValueError(f"cannot count records in {name}: expected .json, .jsonl or a dataset folder")


def _is_kitti_label(path: Path) -> bool:
    """A KITTI label file: every non-empty line has 15 (or 16, with a score) whitespace fields."""
    try:
        lines = [line.split() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        return False
    lines = [f for f in lines if f]
    return all(len(f) in (KITTI_FIELDS, KITTI_FIELDS + 1) for f in lines)


def _count_folder(path: Path) -> tuple[int, str]:
    labels = sorted(path.glob("*.txt"))
    if labels and _is_kitti_label(labels[0]) and not any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
        return len(labels), "KITTI label files"
    classes = sorted(p for p in path.iterdir() if p.is_dir())
    roots = classes or [path]
    images = sum(1 for root in roots for f in root.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
    how = f"images in {len(classes)} class folders" if classes else "images in the folder"
    return images, how


def count_records(path: str | Path) -> tuple[int, str]:
    """Records in an annotation file or dataset folder, and what was counted.

    JSON list -> entries; COCO -> ``images``; JSONL -> non-empty lines; a folder of KITTI labels
    -> label files; another folder -> image files, summed over its class sub-folders when it has
    them (the classification layout).

    Raises:
        ValueError: the format cannot be counted.
        OSError: the path cannot be read.
    """
    path = Path(path)
    if path.is_dir():
        return _count_folder(path)
    return count_bytes(path.name, path.read_bytes())
