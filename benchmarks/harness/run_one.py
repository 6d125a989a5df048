"""One process per (optimizer, problem): run every seed, append one JSONL line per evaluation.

``python -m benchmarks.harness.run_one --optimizer ours_bayesian --problem branin --seeds 1 2 3 --out f.jsonl``.
Optimizers named ``ours_<algorithm>`` run through our runner (product environment); every other name
is a peer adapter (bench environment). A failing seed is recorded as a failed run, never dropped.
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks.harness.ledger import Ledger
from benchmarks.harness.problems import get_problem


def run_seed(optimizer: str, problem_name: str, seed: int, workers: int) -> tuple[Ledger, dict[str, Any]]:
    problem = get_problem(problem_name)
    ledger = Ledger(problem, seed)
    facts: dict[str, Any] = {}
    start = time.perf_counter()
    if optimizer.startswith("ours_"):
        from benchmarks.harness.ours import run_ours

        facts = run_ours(optimizer.removeprefix("ours_"), problem, ledger, seed, workers=workers)
    else:
        from benchmarks.harness.peers import peer_runner

        peer_runner(optimizer)(problem, ledger, seed)
    facts["real_s"] = time.perf_counter() - start
    return ledger, facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--optimizer", required=True)
    parser.add_argument("--problem", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--label", default=None, help="name in the results (default: the optimizer)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    label = args.label or args.optimizer
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as out:
        for seed in args.seeds:
            head = {"optimizer": label, "problem": args.problem, "seed": seed, "workers": args.workers}
            try:
                ledger, facts = run_seed(args.optimizer, args.problem, seed, args.workers)
                status, error = "ok", None
            except Exception as exc:  # noqa: BLE001 - a crashing optimizer is a result to report, not to hide
                ledger, facts, status = None, {}, "error"
                error = "".join(traceback.format_exception_only(exc)).strip()[-500:]
            for obs in ledger.trace if ledger else []:
                out.write(json.dumps({"kind": "eval", **head, **obs.to_dict()}) + "\n")
            summary = {
                "kind": "run",
                **head,
                "block": get_problem(args.problem).block,
                "status": status,
                "error": error,
                "evaluations": len(ledger.trace) if ledger else 0,
                "spent_ffe": ledger.spent if ledger else 0.0,
                "budget_ffe": ledger.budget if ledger else None,
                "final_score": ledger.final_score() if ledger else None,
                **facts,
            }
            out.write(json.dumps(summary) + "\n")
            out.flush()
            print(
                f"{label} {args.problem} seed {seed}: {status} score={summary['final_score']} "
                f"evals={summary['evaluations']} in {facts.get('real_s', 0):.1f}s",
                flush=True,
            )


if __name__ == "__main__":
    main()
