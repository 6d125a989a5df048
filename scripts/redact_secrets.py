#!/usr/bin/env python3
"""Redact secrets from text, or find files that contain secret-like values.

``redact_secrets.py redact <file|->`` prints the text with every secret-looking value masked.
``redact_secrets.py lint <paths...>`` prints ``file:line:column: kind: <masked line>`` for each
finding (directories are walked, binary files skipped) and exits 1 when there is any, 0 when
clean, 2 on a usage error or unreadable input. Values are never printed unmasked.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

if importlib.util.find_spec("tao_automl") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tao_automl.redaction import find_secrets, redact

SKIP_DIRS = frozenset({".git", ".venv", "venv", "__pycache__", "node_modules", ".mypy_cache", ".ruff_cache"})
MAX_BYTES = 5 * 1024 * 1024


def _files(paths: list[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not SKIP_DIRS.intersection(child.relative_to(path).parts[:-1]):
                    yield child
        else:
            yield path


def _text(path: Path) -> str | None:
    """The file's text, or None for a binary or oversized file."""
    data = path.read_bytes()[: MAX_BYTES + 1]
    if len(data) > MAX_BYTES or b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


def lint(paths: list[str]) -> int:
    found = 0
    for path in _files(paths):
        try:
            text = _text(path)
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
            return 2
        if text is None:
            continue
        for finding in find_secrets(text):
            found += 1
            print(f"{path}:{finding.line}:{finding.column}: {finding.kind}: {finding.excerpt}")
    if found:
        print(f"{found} secret-like value(s) found", file=sys.stderr)
    return 1 if found else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    red = sub.add_parser("redact", help="print the input with secrets masked")
    red.add_argument("source", help="file to read, or - for standard input")
    lin = sub.add_parser("lint", help="list secret-like values (masked); exit 1 when any")
    lin.add_argument("paths", nargs="+", help="files or directories")
    args = parser.parse_args(argv)
    if args.command == "lint":
        return lint(args.paths)
    try:
        text = sys.stdin.read() if args.source == "-" else Path(args.source).read_text(errors="replace")
    except OSError as exc:
        print(f"{args.source}: cannot read: {exc.strerror}", file=sys.stderr)
        return 2
    sys.stdout.write(redact(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
