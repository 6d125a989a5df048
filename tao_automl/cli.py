"""``tao-automl``: run, resume, status, report, the demo, and the gated flow (preflight ... summarize).

Errors print one line naming the field and the fix, and exit 2; nothing is written on bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from tao_automl.algorithms import available_algorithms
from tao_automl.errors import AutoMLError, ConfigurationError
from tao_automl.gated_cli import COMMANDS, add_commands, run_command
from tao_automl.images import find_model_skill
from tao_automl.plan_file import PlanFile
from tao_automl.platforms import available_platforms
from tao_automl.progress import progress_for
from tao_automl.report import load_result, print_summary, write_report
from tao_automl.results import query_status
from tao_automl.runner import AutoMLRunner
from tao_automl.store import Store
from tao_automl.versions import BUNDLED_BANK
from tao_automl.workspace import STATE_FILE

DEMO_SKILL = (BUNDLED_BANK / "skills" / "models" / "digits-cnn").resolve()


def _parse_value(text: str) -> Any:
    """``--set key=value`` values are YAML scalars: numbers, booleans, lists."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _key_values(pairs: list[str], flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigurationError(f"expected KEY=VALUE, got '{pair}'", field=flag)
        key, value = pair.split("=", 1)
        out[key.strip()] = _parse_value(value)
    return out


def _load_mapping(path: str | None, flag: str) -> dict[str, Any]:
    if not path:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}", field=flag) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path} must hold a mapping", field=flag)
    return data


class LazyNames:
    """``choices`` read from a registry only when argparse needs them (help, or checking a given value).

    Listing the algorithms imports every algorithm module (about 1.4 s, torch included); every other
    command (``status``, ``follow``, the gated steps) must not pay that to build its parser.
    """

    def __init__(self, load: Callable[[], list[str]]) -> None:
        self._load = load
        self._names: list[str] | None = None

    def _all(self) -> list[str]:
        if self._names is None:
            self._names = list(self._load())
        return self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __contains__(self, name: object) -> bool:
        return name in self._all()

    def __len__(self) -> int:
        return len(self._all())


def _add_run_args(p: argparse.ArgumentParser, *, demo: bool = False) -> None:
    if not demo:
        p.add_argument(
            "--skill",
            help="model skill: its directory, or a skill name / network_arch found in $TAO_SKILL_BANK_PATH's "
            "skills/models/ or in the skills this package ships (e.g. digits-cnn)",
        )
        p.add_argument(
            "--plan-file",
            help="JSON plan (skill, platform, platform_options, algorithm, settings, spec_overrides, "
            "custom_param_ranges, automl_hyperparameters, baseline_record, ...); replaces the other run inputs",
        )
    # An explicit metavar: argparse would otherwise list the choices while building the parser.
    p.add_argument(
        "--platform",
        default="local",
        choices=LazyNames(available_platforms),
        metavar="PLATFORM",
        help="where the jobs run: %(choices)s (default %(default)s)",
    )
    p.add_argument(
        "--algorithm",
        default="bayesian",
        choices=LazyNames(available_algorithms),
        metavar="ALGORITHM",
        help="search algorithm: %(choices)s (default %(default)s)",
    )
    p.add_argument("--max-recommendations", type=int, default=8 if demo else None)
    p.add_argument("--max-concurrent", type=int, default=2 if demo else None)
    p.add_argument("--max-epochs", type=int)
    p.add_argument("--metric")
    p.add_argument("--direction", choices=["maximize", "minimize"])
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="spec override (dotted key), repeatable",
    )
    p.add_argument(
        "--setting",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="automl setting, repeatable",
    )
    p.add_argument("--settings-file", help="YAML/JSON mapping of automl settings")
    p.add_argument("--overrides-file", help="YAML/JSON mapping of spec overrides")
    p.add_argument("--ranges-file", help="YAML/JSON custom_param_ranges")
    p.add_argument("--hyperparameters", help="comma-separated dotted parameter names to search")
    p.add_argument("--workspace", default="demo_workspace" if demo else "automl_workspace")
    p.add_argument("--poll-interval", type=float, default=1.0 if demo else None)
    p.add_argument("--python", help="interpreter for python_script actions on the local platform")
    p.add_argument(
        "--platform-option",
        dest="platform_options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="platform constructor option (e.g. partition=gpu, network=none), repeatable",
    )
    p.add_argument(
        "--track",
        action="append",
        choices=["wandb"],
        help="send the run to an experiment tracker (W&B is offline unless WANDB_API_KEY is set), repeatable",
    )
    p.add_argument(
        "--json", action="store_true", help="print the result as JSON on stdout, progress as JSON lines on stderr"
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tao-automl", description="AutoML / HPO for NVIDIA TAO networks")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run_args(sub.add_parser("run", help="run a fresh AutoML study"))
    _add_run_args(sub.add_parser("demo", help="full AutoML pass on the CPU demo network"), demo=True)
    res = sub.add_parser("resume", help="resume a run: re-attach running jobs, launch nothing twice")
    res.add_argument("workspace")
    res.add_argument("--platform", help="platform name (default: the one the run recorded)")
    res.add_argument("--skill", help="model skill directory (default: the one the run recorded)")
    res.add_argument("--poll-interval", type=float)
    res.add_argument("--platform-option", dest="platform_options", action="append", default=[], metavar="KEY=VALUE")
    res.add_argument("--json", action="store_true")
    res.add_argument("--quiet", action="store_true")
    st = sub.add_parser("status", help="live status of a run (works from any process)")
    st.add_argument("workspace")
    st.add_argument("--json", action="store_true")
    rp = sub.add_parser("report", help="write report/summary.md, report/report.html and plots; print the table")
    rp.add_argument("workspace")
    rp.add_argument("--json", action="store_true")
    add_commands(sub.add_parser)
    return parser


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    settings = _load_mapping(args.settings_file, "--settings-file")
    settings.update(_key_values(args.settings, "--setting"))
    if args.track:
        settings["automl_tracking"] = sorted({*settings.get("automl_tracking", []), *args.track})
    for flag, key in (
        ("max_recommendations", "automl_max_recommendations"),
        ("max_concurrent", "automl_max_concurrent"),
        ("max_epochs", "automl_max_epochs"),
        ("metric", "metric"),
        ("direction", "direction"),
    ):
        if getattr(args, flag) is not None:
            settings[key] = getattr(args, flag)
    return settings


def _platform_options(args: argparse.Namespace) -> dict[str, Any]:
    options = _key_values(getattr(args, "platform_options", []), "--platform-option")
    if getattr(args, "python", None):
        options["python"] = args.python
    return options


def _run(args: argparse.Namespace, skill: Path) -> dict[str, Any]:
    settings = _settings(args)
    overrides = _load_mapping(args.overrides_file, "--overrides-file")
    overrides.update(_key_values(args.overrides, "--set"))
    ranges = _load_mapping(args.ranges_file, "--ranges-file") or None
    hps = [h.strip() for h in args.hyperparameters.split(",") if h.strip()] if args.hyperparameters else None
    runner = AutoMLRunner(
        platform_sdk=args.platform,
        skill_dir=skill,
        workspace_dir=args.workspace,
        poll_interval=args.poll_interval,
        platform_options=_platform_options(args),
    )
    display = progress_for(quiet=args.quiet, json_lines=args.json)
    if display is not None:
        runner.listeners.append(display)
    with display or contextlib.nullcontext():
        return runner.run(
            automl_algorithm=args.algorithm,
            automl_settings=settings,
            spec_overrides=overrides,
            custom_param_ranges=ranges,
            automl_hyperparameters=hps,
        )


def _run_plan(args: argparse.Namespace) -> dict[str, Any]:
    """A run described by one file (:class:`PlanFile`): a launcher passes every input without a command line."""
    plan = PlanFile.parse(_load_mapping(args.plan_file, "--plan-file"))
    runner = AutoMLRunner(
        platform_sdk=plan.platform,
        skill_dir=plan.skill,
        workspace_dir=plan.workspace or args.workspace,
        poll_interval=plan.poll_interval if plan.poll_interval is not None else args.poll_interval,
        platform_options=plan.platform_options,
    )
    display = progress_for(quiet=args.quiet, json_lines=args.json)
    if display is not None:
        runner.listeners.append(display)
    return runner.run(
        automl_algorithm=plan.algorithm,
        automl_settings=plan.settings,
        spec_overrides=plan.spec_overrides,
        automl_hyperparameters=plan.automl_hyperparameters,
        custom_param_ranges=plan.custom_param_ranges,
        train_dataset_uri=plan.train_dataset_uri,
        eval_dataset_uri=plan.eval_dataset_uri,
        base_checkpoint=plan.base_checkpoint,
        baseline_record=plan.baseline_record,
        run_name=plan.run_name,
    )


def _resume(args: argparse.Namespace) -> dict[str, Any]:
    ws_status = query_status(args.workspace)
    run_dir = Path(ws_status["workspace"])
    skill = args.skill or _meta(run_dir, "skill_dir")
    args.platform = args.platform or _meta(run_dir, "platform") or "local"
    runner = AutoMLRunner(
        platform_sdk=args.platform,
        skill_dir=skill,
        workspace_dir=run_dir,
        poll_interval=args.poll_interval,
        platform_options=_platform_options(args),
    )
    display = progress_for(quiet=args.quiet, json_lines=args.json)
    if display is not None:
        runner.listeners.append(display)
    return runner.run(workspace_path=run_dir, resume=True)


def _meta(run_dir: Path, key: str) -> Any:
    store = Store(run_dir / STATE_FILE, readonly=True)
    try:
        return store.meta(key)
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    if args.command in COMMANDS:
        return run_command(args)
    try:
        if args.command == "run" and args.plan_file:
            result = _run_plan(args)
        elif args.command in ("run", "demo"):
            if args.command == "run" and not args.skill:
                raise ConfigurationError("required", field="--skill", hint="or pass --plan-file")
            skill = DEMO_SKILL if args.command == "demo" else find_model_skill(args.skill)
            result = _run(args, skill)
        elif args.command == "resume":
            result = _resume(args)
        elif args.command == "status":
            status = query_status(args.workspace)
            if args.json:
                print(json.dumps(status, indent=2, default=str))
            else:
                p, best, eta = status["progress"], status["best"], status["eta_s"]
                console.print(
                    f"{status['workspace']}: {status['state']}; {p['completed']}/{p['total']} done, "
                    f"{len(status['running_jobs'])} running; best "
                    f"{best['metric_value'] if best else '-'}; ETA {'-' if eta is None else f'{eta:.0f}s'}"
                )
            return 0
        else:
            out = write_report(args.workspace)
            _, result = load_result(args.workspace)
            if args.json:
                print(json.dumps(result, indent=2, default=str))
            else:
                print_summary(result, console)
                console.print(f"report written to {out}: summary.md, report.html, plots/")
            return 0
    except AutoMLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report_dir = write_report(result["workspace"])
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print_summary(result, console)
        console.print(f"AutoML pass wall time: {time.perf_counter() - started:.1f}s")
        console.print(
            f"workspace: {result['workspace']}\nreport: {report_dir / 'summary.md'}, {report_dir / 'report.html'}"
        )
    health = result.get("llm_health") or {}
    if health.get("status") == "llm_blocked":  # results exist, but this is not a valid LLM-guided run
        print(f"error: llm_blocked: {'; '.join(health['reasons']) or health.get('stopped')}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
