"""Run a benchmark plan: one process per (optimizer, problem), a timeout each, then render the report.

``python -m benchmarks.harness.bench --plan ci`` (what ``make bench-ci`` runs). Our algorithms run in
the product environment (``.venv``), peers in ``.venv-bench``; every process gets PYTHONHASHSEED=0
and one BLAS/OpenMP thread. Raw results: ``benchmarks/results/<plan>/*.jsonl``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.harness import local_llm
from benchmarks.harness.plans import PLANS, Task

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


LLM_TASKS = {f"ours_{name}" for name in local_llm.LLM_GUIDED}
LLM_ENV = ("AUTOML_LLM_ENDPOINT", "AUTOML_LLM_MODEL", "BENCH_LOCAL_LLM")


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=str(ROOT), PYTHONWARNINGS="ignore")
    env.update(dict.fromkeys(THREAD_VARS, "1"))
    return env


@contextlib.contextmanager
def _llm_endpoint(tasks: list[Task], out_dir: Path) -> Iterator[None]:
    """Serve the small local model for the LLM rows when no endpoint is configured (child processes inherit it)."""
    if os.environ.get("AUTOML_LLM_ENDPOINT") or not any(t.optimizer in LLM_TASKS for t in tasks):
        yield
        return
    with local_llm.serve(out_dir / "llm_server.log") as url:
        saved = {k: os.environ.get(k) for k in LLM_ENV}
        os.environ.update(AUTOML_LLM_ENDPOINT=url, AUTOML_LLM_MODEL=local_llm.MODEL_NAME, BENCH_LOCAL_LLM="1")
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _python(task: Task, product: Path, bench: Path) -> Path:
    return product if task.optimizer.startswith("ours_") else bench


def run_task(task: Task, out_dir: Path, product: Path, bench: Path, timeout: float) -> tuple[Task, str, float]:
    out = out_dir / f"{task.key}.jsonl"
    argv = [
        str(_python(task, product, bench)),
        "-m",
        "benchmarks.harness.run_one",
        "--optimizer",
        task.optimizer,
        "--problem",
        task.problem,
        "--workers",
        str(task.workers),
        "--label",
        task.label,
        "--out",
        str(out),
        "--seeds",
        *map(str, task.seeds),
    ]
    start = time.perf_counter()
    log = out.with_suffix(".log")
    try:
        with log.open("w") as handle:
            proc = subprocess.run(argv, cwd=ROOT, env=_env(), stdout=handle, stderr=subprocess.STDOUT, timeout=timeout)
        status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
    except subprocess.TimeoutExpired:
        status = f"timeout after {timeout:.0f}s"
    done = (
        {json.loads(line)["seed"] for line in out.read_text().splitlines() if '"kind": "run"' in line}
        if out.exists()
        else set()
    )
    with out.open("a") as handle:
        for seed in task.seeds:
            if seed not in done:  # a seed the process never finished is a recorded failure, not a gap
                handle.write(
                    json.dumps(
                        {
                            "kind": "run",
                            "optimizer": task.label,
                            "problem": task.problem,
                            "seed": seed,
                            "workers": task.workers,
                            "status": status,
                            "final_score": None,
                        }
                    )
                    + "\n"
                )
    return task, status, time.perf_counter() - start


def record_wall_time(path: Path, plan: str, wall_s: float | None, jobs: int, seconds_by_task: dict[str, float]) -> None:
    """The plan's wall time and each process's seconds (what plans.py is sized from).

    A partial rerun (``wall_s`` None) keeps the plan's measured wall time and updates only its tasks.
    """
    record = json.loads(path.read_text()) if path.exists() else {}
    if wall_s is not None:
        record = {"plan": plan, "wall_s": wall_s, "jobs": jobs, "task_s": {}}
    record.setdefault("task_s", {}).update(seconds_by_task)
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def compress_results(out_dir: Path) -> None:
    """Gzip each fresh ``<task>.jsonl`` over its ``.jsonl.gz`` (a full plan writes ~190 MB of JSONL; ~12x less)."""
    for raw in out_dir.glob("*.jsonl"):
        with raw.open("rb") as src, gzip.open(raw.with_name(raw.name + ".gz"), "wb") as dst:
            shutil.copyfileobj(src, dst)
        raw.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plan", choices=sorted(PLANS), default="ci")
    parser.add_argument("--jobs", type=int, default=2, help="processes in parallel")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per (optimizer, problem) process")
    parser.add_argument("--python", type=Path, default=ROOT / ".venv" / "bin" / "python")
    parser.add_argument("--bench-python", type=Path, default=ROOT / ".venv-bench" / "bin" / "python")
    parser.add_argument("--only", nargs="*", default=None, help="run only these optimizers (keeps other results)")
    parser.add_argument("--problems", nargs="*", default=None, help="run only on these problems (keeps other results)")
    args = parser.parse_args()
    out_dir = RESULTS / args.plan
    out_dir.mkdir(parents=True, exist_ok=True)
    tasks = [
        t
        for t in PLANS[args.plan]()
        if (args.only is None or t.optimizer in args.only) and (args.problems is None or t.problem in args.problems)
    ]
    partial = args.only is not None or args.problems is not None
    if not partial:
        for old in [*out_dir.glob("*.jsonl"), *out_dir.glob("*.jsonl.gz")]:
            old.unlink()
    start = time.perf_counter()
    env = _env()
    if not partial:  # measured alone first: it is a timing
        subprocess.run(
            [
                str(args.python),
                "-m",
                "benchmarks.harness.controller_overhead",
                "--out",
                str(out_dir / "controller_overhead.json"),
            ],
            cwd=ROOT,
            env=env,
            check=True,
        )
    with _llm_endpoint(tasks, out_dir), ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [
            pool.submit(run_task, t, out_dir, args.python, args.bench_python, t.timeout_s or args.timeout)
            for t in tasks
        ]
        seconds_by_task: dict[str, float] = {}
        for future in futures:
            task, status, seconds = future.result()
            seconds_by_task[task.key] = round(seconds, 1)
            print(
                f"[{time.perf_counter() - start:6.0f}s] {task.label:24s} {task.problem:12s} {status} ({seconds:.0f}s)",
                flush=True,
            )
    wall = time.perf_counter() - start
    record_wall_time(out_dir / "wall_time.json", args.plan, wall if not partial else None, args.jobs, seconds_by_task)
    compress_results(out_dir)
    subprocess.run(
        [str(args.bench_python), "-m", "benchmarks.harness.render", "--plan", args.plan], cwd=ROOT, env=env, check=True
    )
    print(f"plan {args.plan}: {len(tasks)} processes in {wall:.0f}s -> docs/benchmarks.md")
    sys.exit(0)


if __name__ == "__main__":
    main()
