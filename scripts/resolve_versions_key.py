#!/usr/bin/env python3
"""Print one pin from versions.yaml: ``resolve_versions_key.py images.tao_toolkit.pyt``.

Exit codes: 0 printed, 1 unknown key (with a "did you mean"), 2 no versions.yaml. Works before the
project is installed (it then imports tao_automl from this checkout; PyYAML is optional).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("tao_automl") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tao_automl.versions import (
    ENV_VAR,
    UnknownVersionsKeyError,
    VersionsFileNotFoundError,
    resolve,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("key", help="dotted key, e.g. wheels.tao_automl_slurm or images.tao_toolkit.pyt")
    parser.add_argument("--file", help=f"versions.yaml to read (default: ${ENV_VAR}, then the project root)")
    args = parser.parse_args(argv)
    try:
        print(resolve(args.key, args.file))
    except VersionsFileNotFoundError as exc:
        print(f"error: {exc.message}\nhint: {exc.hint}", file=sys.stderr)
        return 2
    except UnknownVersionsKeyError as exc:
        print(f"error: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else ""), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
