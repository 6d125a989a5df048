#!/usr/bin/env python3
"""Resolve the container image of a model action: action image > model image > versions key.

``resolve_tao_image.py --model rtdetr --action train [--json]``; the model may be a skill directory,
its directory name, its ``name`` or its ``network_arch``. Exit 0 resolved, 1 unknown model, action
or versions key. The image must be shown to the user before launch (``confirmation_required``).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("tao_automl") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tao_automl.errors import AutoMLError
from tao_automl.images import resolve_image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="skill directory, directory name, name or network_arch")
    parser.add_argument("--action", default="train", help="action of the model skill (default: train)")
    parser.add_argument("--skill-root", action="append", default=[], help="extra directory of model skills")
    parser.add_argument("--versions-file", help="versions.yaml to read (default: $TAO_SKILL_BANK_PATH, project root)")
    parser.add_argument("--json", action="store_true", help="print the resolution as JSON")
    args = parser.parse_args(argv)
    try:
        found = resolve_image(args.model, args.action, roots=args.skill_root, versions_file=args.versions_file)
    except AutoMLError as exc:
        print(f"error: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else ""), file=sys.stderr)
        return 1
    if args.json:
        print(found.model_dump_json(indent=2))
        return 0
    link = f" (versions-key {found.versions_key})" if found.versions_key else ""
    print(f"model:  {found.model} ({found.skill_dir})")
    print(f"action: {found.action}")
    print(f"image:  {found.image or 'none'}")
    print(f"source: {found.source}{link}")
    for note in found.notes:
        print(f"note:   {note}")
    print("confirm this image with the user before launching")
    return 0


if __name__ == "__main__":
    sys.exit(main())
