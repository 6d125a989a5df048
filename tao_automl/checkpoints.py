"""Find the exact checkpoint a training job wrote. Never a ``latest`` file: it can change under us."""

from __future__ import annotations

import re
from pathlib import Path

_EXTENSIONS = (".pth", ".pt", ".ckpt", ".tlt", ".hdf5", ".h5", ".safetensors", ".onnx")
_EPOCH_RE = re.compile(r"epoch[_=\-]?(\d+)", re.IGNORECASE)


def checkpoint_epoch(path: Path) -> int | None:
    m = _EPOCH_RE.search(path.name)
    return int(m.group(1)) if m else None


def find_checkpoints(results_dir: Path, pattern: str | None = None) -> list[Path]:
    """All checkpoints under ``results_dir``, ordered by epoch then modification time."""
    if not results_dir.is_dir():
        return []
    found = results_dir.rglob(pattern) if pattern else (p for p in results_dir.rglob("*") if p.suffix in _EXTENSIONS)
    files = [p for p in found if p.is_file() and "latest" not in p.name.lower() and not p.name.startswith(".")]
    return sorted(files, key=lambda p: (checkpoint_epoch(p) or -1, p.stat().st_mtime))


def final_checkpoint(results_dir: Path, pattern: str | None = None) -> Path | None:
    """The checkpoint of the highest epoch (newest on ties), or None."""
    found = find_checkpoints(results_dir, pattern)
    return found[-1] if found else None


def checkpoint_for_epoch(results_dir: Path, epoch: int, pattern: str | None = None) -> Path | None:
    """The checkpoint written at exactly ``epoch``, for promotions that must resume a known point."""
    matches = [p for p in find_checkpoints(results_dir, pattern) if checkpoint_epoch(p) == epoch]
    return matches[-1] if matches else None
