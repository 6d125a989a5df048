"""The runner's controller overhead per recommendation at 100 and 1,000 recommendations.

Random search (its decisions cost microseconds) on the simulated platform with 4 slots: the real
seconds the runner spends per recommendation are the controller's own work - store writes, spec
files, polling, bookkeeping - since simulated jobs take no real time.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks.harness.ours import EPOCH_SECONDS, write_skill
from benchmarks.harness.problems import get_problem
from tao_automl.platforms.simulated import SimClock, SimulatedPlatform
from tao_automl.runner import AutoMLRunner


def measure(recommendations: int) -> dict[str, float]:
    problem = get_problem("branin")
    clock = SimClock()
    platform = SimulatedPlatform(
        curve=lambda flat, epoch: problem.value({"x0": flat["train.x0"], "x1": flat["train.x1"]}, 1, 0),
        clock=clock,
        metric="loss",
        epoch_seconds=EPOCH_SECONDS,
        startup_seconds=0,
    )
    settings = {
        "automl_max_recommendations": recommendations,
        "automl_max_epochs": 1,
        "automl_max_concurrent": 4,
        "automl_baseline": False,
        "automl_final_eval": False,
        "automl_seed": 1,
    }
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        skill = write_skill(problem, Path(tmp))
        runner = AutoMLRunner(platform, skill, workspace_dir=Path(tmp) / "ws", poll_interval=EPOCH_SECONDS, clock=clock)
        start = time.perf_counter()
        result = runner.run("random", settings, spec_overrides={"train.num_epochs": 1})
        seconds = time.perf_counter() - start
    assert len(result["history"]) == recommendations
    return {
        "recommendations": recommendations,
        "seconds": seconds,
        "ms_per_recommendation": 1000 * seconds / recommendations,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = [measure(n) for n in args.sizes]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"benchmark": "controller_overhead", "rows": rows}, indent=2) + "\n")
    for row in rows:
        print(f"controller overhead at {row['recommendations']} recommendations: {row['ms_per_recommendation']:.1f} ms")


if __name__ == "__main__":
    main()
