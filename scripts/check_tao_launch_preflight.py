#!/usr/bin/env python3
"""Prove a TAO AutoML launch is ready: platform, credentials, model, data paths, batch limits, disk.

Examples::

    check_tao_launch_preflight.py --platform slurm --model rtdetr \\
        --path train_annotation=/data/coco/train.json --effective-batch-limit train_annotation=16,8
    check_tao_launch_preflight.py --platform docker --path data=s3://bucket/train/ --json

Exit 0 when nothing failed (warnings allowed), 2 when a check failed or the arguments are wrong.
Credentials are reported as SET/UNSET only. ``--install-missing-tools`` is the only option that
installs anything (apt-get or pip, for the tools the platform skill names), then checks again.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

if importlib.util.find_spec("tao_automl") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tao_automl.errors import ConfigurationError
from tao_automl.preflight import (
    CheckStatus,
    PreflightResult,
    parse_batch_limit,
    parse_path_arg,
    parse_platform_options,
    run_preflight,
)
from tao_automl.redaction import redact

EXIT_FAIL = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--platform", help="platform skill name (skills/platform/<name>)")
    parser.add_argument("--model", help="model skill directory, directory name, name or network_arch")
    parser.add_argument("--action", default="train", help="action whose image is resolved (default: train)")
    parser.add_argument("--path", action="append", default=[], metavar="LABEL=PATH", help="local path or s3:// URI")
    parser.add_argument(
        "--effective-batch-limit",
        action="append",
        default=[],
        metavar="LABEL=BATCH,SHARDS",
        help="fail when BATCH > records in the --path LABEL / SHARDS",
    )
    parser.add_argument("--min-free-disk-gb", type=float, help="required free disk space in GB")
    parser.add_argument("--disk-path", help="where free disk space is measured (default: current directory)")
    parser.add_argument("--skill-root", action="append", default=[], help="extra directory of model skills")
    parser.add_argument("--platform-root", action="append", default=[], help="extra directory of platform skills")
    parser.add_argument(
        "--platform-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="option of the launch platform for the data probe job (YAML value: mounts, partition, namespace...)",
    )
    parser.add_argument(
        "--install-missing-tools",
        action="store_true",
        help="install missing platform tools / boto3 with apt-get or pip, then check again",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def _print_text(result: PreflightResult) -> None:
    width = max((len(c.name) for c in result.checks), default=0)
    for check in result.checks:
        print(f"{check.status.value.upper():<4}  {check.name:<{width}}  {redact(check.evidence)}")
        if check.fix and check.status is not CheckStatus.PASS:
            print(f"{'':<4}  {'':<{width}}  fix: {redact(check.fix)}")
        if getattr(check, "failure_class", None):
            print(f"{'':<4}  {'':<{width}}  failure class: {check.failure_class}")
    print(f"overall: {result.overall.value.upper()}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        paths = [parse_path_arg(p) for p in args.path]
        limits = [parse_batch_limit(b) for b in args.effective_batch_limit]
        options = parse_platform_options(args.platform_option)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAIL
    if not (args.platform or args.model or paths or limits or args.min_free_disk_gb is not None):
        print("error: nothing to check; give --platform, --model, --path or --min-free-disk-gb", file=sys.stderr)
        return EXIT_FAIL
    result = run_preflight(
        platform=args.platform,
        model=args.model,
        action=args.action,
        paths=paths,
        batch_limits=limits,
        min_free_disk_gb=args.min_free_disk_gb,
        disk_path=args.disk_path,
        install_missing_tools=args.install_missing_tools,
        skill_roots=args.skill_root,
        platform_roots=args.platform_root,
        platform_options=options,
    )
    if args.json:
        payload = result.model_dump(mode="json")
        for check in payload["checks"]:
            check["evidence"], check["fix"] = redact(check["evidence"]), check["fix"] and redact(check["fix"])
        print(json.dumps(payload, indent=2))
    else:
        _print_text(result)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
