"""Multi-fidelity savings on the real demo network: ASHA and Hyperband against random search.

Random search trains ``n`` configurations to the full budget R. ASHA and Hyperband get half of
random's epochs (``automl_max_total_epochs``; promotions resume exact checkpoints and count only
their extra epochs). The question the issue asks: do they reach random's accuracy with at most
half the epochs? Results go to ``benchmarks/results/multifidelity_savings.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tao_automl.runner import AutoMLRunner

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "skills" / "models" / "digits-cnn"


def one_run(
    algorithm: str, seed: int, epochs_budget: int | None, args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "automl_max_epochs": args.max_epochs,
        "automl_reduction_factor": 3,
        "automl_max_concurrent": 2,
        "automl_seed": seed,
        "automl_baseline": False,
        "automl_final_eval": False,
        "automl_max_recommendations": args.random_trainings if algorithm == "random" else 200,
    }
    if epochs_budget is not None:
        settings["automl_max_total_epochs"] = epochs_budget
    overrides = {"train.num_epochs": args.max_epochs} if algorithm == "random" else {}
    runner = AutoMLRunner(
        skill_dir=DIGITS, platform_sdk="local", workspace_dir=tmp / f"{algorithm}-{seed}", poll_interval=0.2
    )
    start = time.perf_counter()
    result = runner.run(algorithm, settings, spec_overrides=overrides)
    trained = {h["rec_id"]: h["epochs_trained"] or 0 for h in result["history"]}
    epochs = sum((h["epochs_trained"] or 0) - trained.get(h["resume_from"], 0) for h in result["history"])
    full = sum(1 for h in result["history"] if h["epochs_trained"] == args.max_epochs)
    return {
        "algorithm": algorithm,
        "seed": seed,
        "best_val_accuracy": result["best"]["metric_value"],
        "epochs_trained": epochs,
        "recommendations": len(result["history"]),
        "full_budget_trainings": full,
        "wall_s": time.perf_counter() - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--max-epochs", type=int, default=9)
    parser.add_argument("--random-trainings", type=int, default=6)
    args = parser.parse_args()
    random_epochs = args.random_trainings * args.max_epochs
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            rows.append(one_run("random", seed, None, args, Path(tmp)))
            for algorithm in ("asha", "hyperband"):
                rows.append(one_run(algorithm, seed, random_epochs // 2, args, Path(tmp)))
            print(" | ".join(f"{r['algorithm']} s{r['seed']}: {r['best_val_accuracy']:.4f} in {r['epochs_trained']} ep"
                             for r in rows[-3:]), flush=True)  # fmt: skip
    summary = {}
    for algorithm in ("random", "asha", "hyperband"):
        mine = [r for r in rows if r["algorithm"] == algorithm]
        summary[algorithm] = {
            "mean_best_val_accuracy": statistics.mean(r["best_val_accuracy"] for r in mine),
            "mean_epochs": statistics.mean(r["epochs_trained"] for r in mine),
            "matches_random_per_seed": [
                r["best_val_accuracy"]
                >= next(x for x in rows if x["algorithm"] == "random" and x["seed"] == r["seed"])["best_val_accuracy"]
                - 0.005
                for r in mine
            ],
        }
    record = {
        "benchmark": "multifidelity_savings",
        "max_epochs": args.max_epochs,
        "random_trainings": args.random_trainings,
        "epoch_budget_for_multifidelity": random_epochs // 2,
        "rows": rows,
        "summary": summary,
        "python": platform.python_version(),
        "timestamp": time.time(),
    }
    out = ROOT / "benchmarks" / "results" / "multifidelity_savings.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    for algorithm, s in summary.items():
        print(f"{algorithm:10s} mean best {s['mean_best_val_accuracy']:.4f}  mean epochs {s['mean_epochs']:.1f}  "
              f"within 0.005 of random per seed: {s['matches_random_per_seed']}")  # fmt: skip
    print(f"-> {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
