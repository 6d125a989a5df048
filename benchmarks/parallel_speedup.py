"""Wall time of the same AutoML pass with 1 and with 2 concurrent slots on the local platform.

Random search with a fixed seed proposes the same configurations whatever the slot count, so the
two passes do identical work; only the scheduling differs. Results go to
``benchmarks/results/parallel_speedup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from tao_automl.runner import AutoMLRunner

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "skills" / "models" / "digits-cnn"


def one_pass(slots: int, recs: int, epochs: int, tmp: Path) -> dict[str, float]:
    runner = AutoMLRunner(
        skill_dir=DIGITS,
        platform_sdk="local",
        workspace_dir=tmp / f"ws{slots}",
        poll_interval=0.2,
        platform_options={"state_root": tmp / f"jobs{slots}"},
    )
    start = time.perf_counter()
    result = runner.run(
        automl_algorithm="random",
        automl_settings={"automl_max_recommendations": recs, "automl_max_concurrent": slots, "automl_seed": 11},
        spec_overrides={"train.num_epochs": epochs},
    )
    wall = time.perf_counter() - start
    return {
        "slots": slots,
        "wall_s": wall,
        "best": result["best"]["metric_value"],
        "completed": result["progress"]["completed"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recommendations", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one = one_pass(1, args.recommendations, args.epochs, Path(tmp))
        two = one_pass(2, args.recommendations, args.epochs, Path(tmp))
    record = {
        "benchmark": "parallel_speedup",
        "recommendations": args.recommendations,
        "epochs": args.epochs,
        "one_slot": one,
        "two_slots": two,
        "ratio_two_over_one": two["wall_s"] / one["wall_s"],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "timestamp": time.time(),
    }
    out = ROOT / "benchmarks" / "results" / "parallel_speedup.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(
        f"1 slot: {one['wall_s']:.1f}s  2 slots: {two['wall_s']:.1f}s  ratio: {record['ratio_two_over_one']:.2f} "
        f"(target <= 0.70)  -> {out.relative_to(ROOT)}"
    )


if __name__ == "__main__":
    main()
