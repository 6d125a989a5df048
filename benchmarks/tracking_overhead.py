"""What W&B tracking adds to a demo pass: the same random search with and without ``--track wandb``.

Random search with a fixed seed trains the same configurations in both passes. Reported per pass:
wall time, and for the tracked one the time the run waited at its end for the tracker to drain
(finishing every W&B run and stopping wandb's service); the events themselves are queued, so the
runner's loop never waits on W&B. Results go to ``benchmarks/results/tracking_overhead.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tao_automl.runner import AutoMLRunner

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "skills" / "models" / "digits-cnn"


def one_pass(tracked: bool, recs: int, epochs: int, tmp: Path) -> dict[str, Any]:
    finished_at: list[float] = []
    runner = AutoMLRunner(
        skill_dir=DIGITS,
        platform_sdk="local",
        workspace_dir=tmp / "ws",
        poll_interval=0.2,
        platform_options={"state_root": tmp / "jobs"},
        # runs before the trackers (they are added by run()), so it marks when draining starts
        listeners=[lambda event, _data: finished_at.append(time.perf_counter()) if event == "finished" else None],
    )
    start = time.perf_counter()
    runner.run(
        automl_algorithm="random",
        automl_settings={
            "automl_max_recommendations": recs,
            "automl_max_concurrent": 2,
            "automl_seed": 11,
            "automl_tracking": ["wandb"] if tracked else [],
            "wandb_mode": "offline",
        },
        spec_overrides={"train.num_epochs": epochs, "dataset.train_fraction": 0.3},
    )
    end = time.perf_counter()
    return {"tracked": tracked, "wall_s": round(end - start, 2), "drain_s": round(end - finished_at[-1], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recs", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    passes = []
    for i in range(args.repeats):
        for tracked in (False, True) if i % 2 == 0 else (True, False):  # alternate to spread machine noise
            with tempfile.TemporaryDirectory() as tmp:
                passes.append(one_pass(tracked, args.recs, args.epochs, Path(tmp)))
                print(passes[-1], flush=True)
    plain = statistics.median(p["wall_s"] for p in passes if not p["tracked"])
    tracked = statistics.median(p["wall_s"] for p in passes if p["tracked"])
    out = {
        "recs": args.recs,
        "epochs": args.epochs,
        "passes": passes,
        "median_wall_s": {"untracked": plain, "tracked": tracked},
        "added_s": round(tracked - plain, 2),
        "median_drain_s": statistics.median(p["drain_s"] for p in passes if p["tracked"]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    path = ROOT / "benchmarks" / "results" / "tracking_overhead.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: out[k] for k in ("median_wall_s", "added_s", "median_drain_s")}))


if __name__ == "__main__":
    main()
