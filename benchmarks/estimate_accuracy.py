"""How close the launch review's time estimate is to the measured wall time of the run it launches.

Drives the MCP server through the official client (in memory): preflight -> image -> baseline (its
timing feeds the estimate) -> review -> confirmed launch -> status until done. The issue's target is
an estimate within 2x of the wall time; timing targets live here, not in the test suite, because a
loaded machine moves them. Results go to ``benchmarks/results/estimate_accuracy.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from mcp import Client

from server.app import build_server

ROOT = Path(__file__).resolve().parents[1]


async def call(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    if result.is_error or result.structured_content is None:
        raise RuntimeError(f"{tool} refused: {result.structured_content or result.content}")
    return result.structured_content


async def one_run(root: Path, recommendations: int, epochs: int) -> dict[str, Any]:
    overrides = {"train.num_epochs": epochs}
    settings = {"automl_max_recommendations": recommendations, "automl_max_concurrent": 2, "automl_seed": 7}
    async with Client(build_server(root / "state")) as client:
        pf = await call(client, "preflight_check", model_skill="digits-cnn", results_root=str(root),
                        spec_overrides=overrides)  # fmt: skip
        pid = pf["preflight_id"]
        await call(client, "resolve_image", preflight_id=pid)
        await call(client, "run_baseline_eval", preflight_id=pid, wait_seconds=600)
        review = await call(client, "estimate_budget", preflight_id=pid, algorithm="bayesian", settings=settings)
        launch = await call(client, "launch_automl", review_id=review["review_id"], confirmed=True)
        started = time.monotonic()
        while (await call(client, "job_status", run_id=launch["run_id"]))["state"] in ("starting", "running"):
            await asyncio.sleep(1.0)
        wall = time.monotonic() - started
    estimate = review["estimate"]["wall_s"]
    return {"recommendations": recommendations, "epochs": epochs, "estimate_s": estimate, "wall_s": wall,
            "ratio_wall_over_estimate": wall / estimate, "within_2x": estimate / 2 <= wall <= estimate * 2}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recommendations", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("TAO_AUTOML_MCP_STATE", str(Path(tmp) / "state"))
        record = asyncio.run(one_run(Path(tmp), args.recommendations, args.epochs))
    record.update(benchmark="estimate_accuracy", timestamp=time.time())
    out = ROOT / "benchmarks" / "results" / "estimate_accuracy.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"estimate {record['estimate_s']:.1f} s, measured {record['wall_s']:.1f} s, "
          f"ratio {record['ratio_wall_over_estimate']:.2f} (target within 2x) -> {out.relative_to(ROOT)}")  # fmt: skip


if __name__ == "__main__":
    main()
