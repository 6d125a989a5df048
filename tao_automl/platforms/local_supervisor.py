"""Run one local job and record its outcome on disk, so any later process can learn it.

LocalPlatform starts this file with ``start_new_session=True``: it leads the job's session and
process group, so signalling the group stops everything the job started. It writes ``pid`` (its
own pid and start time, to detect pid reuse) before starting the command and ``exit_code`` when
the command ends, both atomically. The runner may be killed at any moment; this process is not
its child in any way that matters, so the job and its record survive.

Stdlib only, and run as a plain file: it must not depend on the project being importable. The
job's output passes through the project's redaction (loaded from ``tao_automl/redaction.py`` by
path; it is stdlib-only too) line by line, so a key a job prints never reaches the log file.

Usage: ``python -I local_supervisor.py STATE_DIR LOG_PATH CWD -- ARGV...``
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

EXIT_CANNOT_START = 127
MAX_LINE = 65536  # a line longer than this (progress bars without newlines) is flushed anyway


def load_redact() -> Callable[[str], str]:
    """The project's ``redact`` function, or identity if the file cannot be loaded."""
    path = Path(__file__).resolve().parents[1] / "redaction.py"
    try:
        spec = importlib.util.spec_from_file_location("tao_automl_redaction", path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[spec.name] = module  # type: ignore[union-attr]  # dataclasses look their module up here
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module.redact
    except Exception:  # noqa: BLE001 - logging the job matters more than redacting it
        return lambda text: text


def pump(source: int, log: object, redact: Callable[[str], str]) -> None:
    """Copy the job's output to the log, redacted one complete line at a time."""
    pending = b""
    while True:
        chunk = os.read(source, 65536)
        if not chunk:
            break
        pending += chunk
        lines = pending.split(b"\n")
        pending = lines.pop()
        if len(pending) > MAX_LINE:
            lines.append(pending)
            pending = b""
        if lines:
            text = "".join(redact(line.decode("utf-8", errors="replace")) + "\n" for line in lines)
            log.write(text.encode())  # type: ignore[attr-defined]
    if pending:
        log.write(redact(pending.decode("utf-8", errors="replace")).encode())  # type: ignore[attr-defined]


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
                child.append(
                    subprocess.Popen(
                        command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
                    )
                )
            except OSError as exc:
                log.write(f"local_supervisor: cannot start command {command[0]!r}: {exc}\n".encode())
                code = EXIT_CANNOT_START
            else:
                pump(child[0].stdout.fileno(), log, load_redact())  # type: ignore[union-attr]
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
