"""Run one local job and record its outcome on disk, so any later process can learn it.

LocalPlatform starts this file with ``start_new_session=True``: it leads the job's session and
process group, so signalling the group stops everything the job started. It writes ``pid`` (its
own pid and start time, to detect pid reuse) before starting the command and ``exit_code`` when
the command ends, both atomically. The runner may be killed at any moment; this process is not
its child in any way that matters, so the job and its record survive.

Stdlib only, and run as a plain file: it must not depend on the project being importable.

Usage: ``python -I local_supervisor.py STATE_DIR LOG_PATH CWD -- ARGV...``
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

EXIT_CANNOT_START = 127
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` so readers see either nothing or the whole file, even across a crash."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def process_start_time(pid: int) -> str:
    """Start time of ``pid`` in clock ticks since boot (``/proc/<pid>/stat`` field 22), or ``""``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat[stat.rindex(")") + 2 :].split()[19]


def exit_status(returncode: int) -> int:
    """Shell convention: a child killed by signal N exits with 128 + N."""
    return returncode if returncode >= 0 else 128 - returncode


def main(argv: list[str]) -> int:
    if len(argv) < 5 or argv[3] != "--":
        print("usage: local_supervisor.py STATE_DIR LOG_PATH CWD -- ARGV...", file=sys.stderr)
        return 2
    state_dir, log_path, cwd, command = Path(argv[0]), Path(argv[1]), argv[2], argv[4:]
    child: list[subprocess.Popen[bytes]] = []
    stopped: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        stopped.append(signum)
        if child and child[0].poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child[0].pid, signum)

    for sig in STOP_SIGNALS:
        signal.signal(sig, forward)
    write_atomic(state_dir / "pid", f"{os.getpid()} {process_start_time(os.getpid())}\n")

    with open(log_path, "ab", buffering=0) as log:
        # A cancel that arrived while we were starting must not launch the job.
        if stopped or (state_dir / "canceled").exists():
            code = 128 + (stopped[0] if stopped else signal.SIGTERM)
        else:
            try:
                child.append(subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=log))
            except OSError as exc:
                log.write(f"local_supervisor: cannot start command {command[0]!r}: {exc}\n".encode())
                code = EXIT_CANNOT_START
            else:
                code = exit_status(child[0].wait())
    write_atomic(state_dir / "exit_code", f"{code}\n")
    # Background processes the job left behind would hold GPUs and files: stop the rest of the group.
    if os.getpgrp() == os.getpid():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with contextlib.suppress(OSError):
            os.killpg(os.getpgrp(), signal.SIGTERM)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
