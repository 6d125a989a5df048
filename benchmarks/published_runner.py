"""Side by side with the published runner: the same skills, real VirtualEnvSDK jobs, same budget and seeds.

``python benchmarks/published_runner.py`` (``make bench-published``; part of ``make bench``) runs
every (skill, seed) twice, one after the other so they never share the machine: once with this
project's ``AutoMLRunner`` (``.venv``) and once with ``nvidia-tao-automl`` 7.2.0 (``.venv-bench``).
Both drive ``tao_sdk.VirtualEnvSDK`` with ``.venv`` as the jobs' interpreter (it has torch and
scikit-learn), through the same published calls: ``AutoMLRunner(sdk=..., skill_dir=..., action=,
poll_interval=)`` and ``run(automl_settings=..., spec_overrides=..., workspace_path=...,
gpu_count=0)``. Each side runs in its own process with ``PYTHONHASHSEED=0`` (the published runner
seeds from ``hash(session_id)``); the peer's process starts outside this checkout so that
``import tao_automl`` is the published package. Results: ``benchmarks/results/published_runner.json``;
``benchmarks/harness/render.py`` puts the table into ``docs/benchmarks.md``.

Before the runs, every model skill this project ships (``skills/models/*``) is put through the
published runner's own loader and validator (``tao_automl.runner.validate_skill_runtime``, in the
peer's interpreter): skills we ship must be valid skill-bank skills for any runner of the bank.
``--validity-only`` refreshes just that part of the results.

Measured per run: wall time of ``run()``, the orchestrator's own CPU seconds per recommendation
(``RUSAGE_SELF``: jobs are other processes), the best metric, and failed recommendations.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "published_runner.json"


@dataclass(frozen=True)
class Case:
    """One skill with the budget both runners get."""

    name: str
    skill: str
    metric: str
    recommendations: int
    overrides: dict[str, Any]


CASES = (
    Case("wine-forest (python_script, JSON spec)", "tests/fixtures/skills/wine-forest", "accuracy", 12, {}),
    Case("digits-cnn (demo network)", "skills/models/digits-cnn", "val_accuracy", 8, {"train.num_epochs": 4}),
)
SEEDS = (1, 2, 3)
POLL = 0.5
#: Jobs in flight for our runner: one per core here. The published runner runs one at a time.
OUR_CONCURRENCY = 2


def worker(args: argparse.Namespace) -> None:
    """Run one study with whichever ``tao_automl`` this interpreter imports; print one JSON line."""
    from tao_sdk import VirtualEnvSDK

    from tao_automl.runner import AutoMLRunner

    root = Path(args.root)
    sdk = VirtualEnvSDK(venv_path=args.job_venv, work_dir=root / "jobs", state_file=root / "jobs.db")
    settings: dict[str, Any] = {
        "algorithm": "bayesian",
        "metric": args.metric,
        "direction": "maximize",
        "automl_max_recommendations": args.recommendations,
        "run_baseline": False,
        "run_final_evaluation": False,
        "session_id": f"side-by-side-{args.seed}",
    }
    if args.side == "ours":
        settings |= {"automl_max_concurrent": OUR_CONCURRENCY, "automl_seed": args.seed}
    runner = AutoMLRunner(sdk=sdk, skill_dir=args.skill, action="train", poll_interval=POLL)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    error = None
    try:
        result = runner.run(
            automl_settings=settings,
            spec_overrides=json.loads(args.overrides),
            workspace_path=str(root / "automl"),
            gpu_count=0,
        )
    except Exception as exc:  # noqa: BLE001 - a failed study is a benchmark outcome, reported as such
        result, error = {"history": []}, f"{type(exc).__name__}: {exc}"
    wall = time.monotonic() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    history = result.get("history") or []
    metrics = [h.get("metric") for h in history if h.get("status") == "success" and h.get("metric") is not None]
    print(
        json.dumps(
            {
                "wall_s": wall,
                "controller_cpu_s": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
                "recommendations": len(history),
                "failed": sum(1 for h in history if h.get("status") != "success"),
                "best": max(metrics) if metrics else None,
                "error": error,
            }
        )
    )


def run_side(side: str, python: Path, case: Case, seed: int, job_venv: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"side-{side}-") as tmp:
        env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        env.pop("PYTHONPATH", None)
        if side == "ours":
            env["PYTHONPATH"] = str(ROOT)
        argv = [str(python), str(Path(__file__).resolve()), "--worker", "--side", side, "--root", tmp,
                "--skill", str(ROOT / case.skill), "--metric", case.metric, "--seed", str(seed),
                "--recommendations", str(case.recommendations), "--overrides", json.dumps(case.overrides),
                "--job-venv", str(job_venv)]  # fmt: skip
        # The peer starts outside the checkout: this project's tao_automl must not shadow the published one.
        proc = subprocess.run(argv, cwd=ROOT if side == "ours" else tmp, env=env, capture_output=True, text=True)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            return {"error": (proc.stderr or proc.stdout)[-2000:], "wall_s": None, "best": None}
        return json.loads(lines[-1])


VALIDATE = (
    "import json, sys\n"
    "from tao_automl.runner import validate_skill_runtime\n"
    "print(json.dumps(validate_skill_runtime(sys.argv[1], 'train')))\n"
)


def shipped_skill_validity(peer_python: Path) -> list[dict[str, Any]]:
    """Each shipped model skill loaded and validated by the published runner (no jobs: TAO skills need TAO images)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="peer-validate-") as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        for skill in sorted((ROOT / "skills" / "models").iterdir()):
            if not (skill / "references" / "skill_info.yaml").is_file():
                continue
            proc = subprocess.run([str(peer_python), "-c", VALIDATE, str(skill)], cwd=tmp, env=env,
                                  capture_output=True, text=True)  # fmt: skip
            lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
            ok = proc.returncode == 0 and bool(lines)
            detail = json.loads(lines[-1]) if ok else (proc.stderr or proc.stdout).strip()[-400:]
            rows.append({"skill": f"skills/models/{skill.name}", "valid": ok, "detail": detail})
            print(f"published validator on {skill.name}: {'valid' if ok else 'REFUSED'}", flush=True)
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float | None:
        values = [r[key] for r in rows if r.get(key) is not None]
        return statistics.median(values) if values else None

    per_rec = [r["controller_cpu_s"] / r["recommendations"] for r in rows if r.get("recommendations")]
    return {
        "wall_s": med("wall_s"),
        "controller_cpu_s_per_rec": statistics.median(per_rec) if per_rec else None,
        "best": med("best"),
        "failed": sum(r.get("failed") or 0 for r in rows),
        "errors": [r["error"] for r in rows if r.get("error")],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--side", choices=("ours", "peer"))
    parser.add_argument("--root")
    parser.add_argument("--skill")
    parser.add_argument("--metric")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--recommendations", type=int)
    parser.add_argument("--overrides", default="{}")
    parser.add_argument("--job-venv")
    parser.add_argument("--product-python", default=str(ROOT / ".venv" / "bin" / "python"))
    parser.add_argument("--peer-python", default=str(ROOT / ".venv-bench" / "bin" / "python"))
    parser.add_argument("--seeds", type=int, nargs="*", default=list(SEEDS))
    parser.add_argument("--validity-only", action="store_true", help="re-check only the shipped skills' validity")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    validity = shipped_skill_validity(Path(args.peer_python))
    if args.validity_only:
        report = json.loads(OUT.read_text()) if OUT.is_file() else {"cases": []}
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps({**report, "shipped_skills": validity}, indent=2) + "\n")
        print(f"wrote {OUT}")
        return
    job_venv = Path(args.product_python).parent.parent
    report: dict[str, Any] = {"seeds": args.seeds, "poll_interval": POLL, "our_concurrency": OUR_CONCURRENCY,
                              "shipped_skills": validity, "cases": []}  # fmt: skip
    for case in CASES:
        runs: dict[str, list[dict[str, Any]]] = {"ours": [], "peer": []}
        for seed in args.seeds:
            for side, python in (("peer", Path(args.peer_python)), ("ours", Path(args.product_python))):
                row = run_side(side, python, case, seed, job_venv)
                runs[side].append({"seed": seed, **row})
                print(f"{case.name} seed {seed} {side}: wall {row.get('wall_s')}, best {row.get('best')}", flush=True)
        report["cases"].append({**asdict(case), "runs": runs, "ours": summarise(runs["ours"]),
                                "peer": summarise(runs["peer"])})  # fmt: skip
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
