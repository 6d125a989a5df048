"""Workspace layout and atomic file writes.

``<workspace>/run_<UTC timestamp>/`` holds one run: ``state.db`` (the store), ``result.json``,
``launch_review.{json,md}``, ``evaluations/``, ``recs/<id>/{spec.yaml,train.log,results/}``,
``brain/`` and ``report/``. A plain run always gets a fresh directory; only resume reopens one.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w
import yaml

from tao_automl.errors import ConfigurationError

STATE_FILE = "state.db"


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same directory and ``os.replace``: readers never see a torn file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


SPEC_FORMATS = ("yaml", "json", "toml")


def write_spec(path: Path, spec: dict[str, Any], config_format: str = "yaml") -> None:
    """Write a nested spec in the format the action reads (``config_format`` of the skill)."""
    if config_format == "json":
        text = json.dumps(spec, indent=2, allow_nan=False)
    elif config_format == "toml":
        text = tomli_w.dumps(_toml_safe(spec))
    else:
        text = yaml.safe_dump(spec, sort_keys=False)
    atomic_write_text(path, text)


def _toml_safe(value: Any) -> Any:
    """TOML has no null: a ``None`` leaf is left out, as TAO's TOML loaders expect."""
    if isinstance(value, dict):
        return {k: _toml_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_toml_safe(v) for v in value if v is not None]
    return value


def utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S_%fZ")


class Workspace:
    """Paths of one run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    @classmethod
    def create(cls, root: str | Path, name: str | None = None) -> Workspace:
        """A fresh ``run_<UTC ts>`` under ``root`` (never reuses an existing run).

        ``name`` fixes the run directory instead (``root/name``), so a launcher that hands out a run id
        names the very directory status and reports read; it may exist (holding the launcher's plan and
        log) but never an earlier run's state.
        """
        base = Path(root).expanduser().resolve()
        base.mkdir(parents=True, exist_ok=True)
        if name is not None:
            run_dir = base / name
            if name in ("", ".", "..") or Path(name).name != name:
                raise ConfigurationError(f"run name {name!r} is not one directory name", field="run_name")
            if (run_dir / STATE_FILE).exists():
                raise ConfigurationError(
                    f"{run_dir} already holds a run", field="run_name", hint="resume it, or choose a new run name"
                )
            run_dir.mkdir(exist_ok=True)
            return cls(run_dir)
        while True:
            run_dir = base / f"run_{utc_stamp()}"
            try:
                run_dir.mkdir()
                return cls(run_dir)
            except FileExistsError:
                continue

    @classmethod
    def open_existing(cls, path: str | Path) -> Workspace:
        """``path`` itself when it is a run directory, else its newest ``run_*`` child."""
        p = Path(path).expanduser().resolve()
        if (p / STATE_FILE).is_file():
            return cls(p)
        runs = sorted(d for d in p.glob("run_*") if (d / STATE_FILE).is_file()) if p.is_dir() else []
        if not runs:
            raise ConfigurationError(
                f"no AutoML run found in {p}",
                field="workspace",
                hint="pass a run_<timestamp> directory or the workspace that holds it",
            )
        return cls(runs[-1])

    @property
    def state_path(self) -> Path:
        return self.run_dir / STATE_FILE

    @property
    def result_path(self) -> Path:
        return self.run_dir / "result.json"

    @property
    def evaluations(self) -> Path:
        return self.run_dir / "evaluations"

    def job_dir(self, label: str) -> Path:
        """Directory of one recommendation or evaluation (``recs/0003``, ``recs/baseline``)."""
        return self.run_dir / "recs" / label
