"""Start the runner (and baseline measurements) detached, so they outlive the MCP server.

Each process runs in its own session with stdin closed and its output in a log file next to its
work; nothing about it lives only in the server's memory. Liveness is read from ``/proc`` with the
process start time, so a recycled pid is never mistaken for the run, and a finished child of this
server is reaped instead of lingering as a zombie.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tao_automl.redaction import redact


@dataclass(frozen=True)
class Spawned:
    pid: int
    proc_start: str | None
    log_path: Path
    spawned_at: float


def _proc_start(pid: int) -> str | None:
    """Start time (clock ticks since boot) of ``pid``; None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2 :].split()[19]
    except (OSError, ValueError, IndexError):
        return None


def spawn_detached(argv: list[str], *, log_path: Path, cwd: Path) -> Spawned:
    """Start ``argv`` in a new session; it keeps running when the server exits."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cwd.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    return Spawned(proc.pid, _proc_start(proc.pid), log_path, time.time())


def is_alive(pid: int | None, proc_start: str | None) -> bool:
    """True while ``pid`` is the process we started and has not exited."""
    if not pid:
        return False
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:  # not our child (another server started it): /proc decides
        pass
    except OSError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
    except (OSError, ValueError):
        return False
    if fields[0] in ("Z", "X"):
        return False
    return proc_start is None or fields[19] == proc_start


def log_tail(path: str | Path | None, lines: int = 30) -> str | None:
    """The last lines of a log, secrets redacted; None when there is no log."""
    if not path:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return redact("\n".join(text.splitlines()[-lines:]))


def run_argv(plan_file: Path) -> list[str]:
    """The detached runner: ``tao-automl run --plan-file`` with this interpreter."""
    return [sys.executable, "-m", "tao_automl.cli", "run", "--plan-file", str(plan_file), "--json", "--quiet"]


def measure_argv(request_file: Path, out_file: Path) -> list[str]:
    """A detached baseline/probe measurement (``tao_automl.estimate measure``)."""
    return [sys.executable, "-m", "tao_automl.estimate", "measure", str(request_file), str(out_file)]
