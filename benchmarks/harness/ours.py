"""Our algorithms through the real :class:`AutoMLRunner` on the simulated platform.

The problem becomes a model skill (a TAO-dialect schema generated from the neutral space) whose
simulated jobs report ``problem.value(config, epoch)`` per epoch on a simulated clock; the runner,
store and algorithm run for real. The harness then charges the finished recommendations to the
ledger in the order they finished: a promotion resumed from epoch z' and trained to z costs z - z'.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.harness.ledger import BudgetExhausted, Ledger
from benchmarks.harness.local_llm import LLM_GUIDED
from benchmarks.harness.problems import Problem
from benchmarks.harness.space import Dim
from tao_automl.platforms.simulated import SimClock, SimulatedPlatform
from tao_automl.runner import AutoMLRunner

#: Our algorithms that schedule fidelities themselves; the others train every proposal to z_max.
MULTI_FIDELITY = {"asha", "hyperband", "bohb", "dehb", "pbt"}
#: Set by bench.py when it serves the small local model: its llama.cpp server grammar-constrains JSON
#: to the answer's schema; short answers and no retry keep a CPU-bound 135M model to ~40 calls a run
#: (a retry of a repeated configuration mostly repeats it again: measured 6 of 7 answers unusable).
LOCAL_LLM_SETTINGS = {
    "llm_json_mode": "json_object_schema",
    "llm_max_tokens": 200,
    "llm_temperature": 0.7,
    "llm_retries": 0,
}
EPOCH_SECONDS = 60.0
_RATES = {"lr", "learning_rate", "weight_decay"}


def spec_key(dim: Dim) -> str:
    """Where a dimension lives in the generated spec; rates sit under ``train.optim`` (log scale in our space)."""
    return f"train.optim.{dim.name}" if dim.name in _RATES else f"train.{dim.name}"


def _leaf(dim: Dim) -> dict[str, Any]:
    if dim.kind == "ordinal":
        return {"type": "ordered_int", "default": dim.choices[len(dim.choices) // 2], "enum": list(dim.choices)}
    if dim.log and dim.name not in _RATES:
        raise ValueError(f"{dim.name}: a log-scale dimension must be a rate to be log-scaled by our search space")
    low, high = (0.0, 1.0) if dim.name in _RATES else (dim.low, dim.high)
    kind = "int" if dim.kind == "int" else "float"
    return {"type": kind, "default": dim.default(), "minimum": low, "maximum": high, "automl_enabled": True}


def write_skill(problem: Problem, root: Path) -> Path:
    """A minimal model skill for ``problem`` (the published layout the loader reads)."""
    train: dict[str, Any] = {"num_epochs": problem.z_max, "resume_training_checkpoint_path": "", "optim": {}}
    props: dict[str, Any] = {
        "num_epochs": {"type": "int", "default": problem.z_max, "minimum": 1, "maximum": 10_000},
        "resume_training_checkpoint_path": {"type": "string", "default": ""},
        "optim": {"type": "collection", "properties": {}},
    }
    for dim in problem.space:
        leaf = _leaf(dim)
        if dim.name in _RATES:
            train["optim"][dim.name] = leaf["default"]
            props["optim"]["properties"][dim.name] = leaf
        else:
            train[dim.name] = leaf["default"]
            props[dim.name] = leaf
    default = {"results_dir": "", "train": train}
    schema = {
        "type": "object",
        "default": default,
        "automl_default_parameters": [spec_key(d) for d in problem.space],
        "properties": {
            "results_dir": {"type": "string", "default": "", "automl_enabled": False},
            "train": {"type": "collection", "default": train, "properties": props},
        },
    }
    info = {
        "name": f"bench-{problem.name}",
        "network_arch": problem.name,
        "automl_enabled": True,
        "container_image": None,
        "actions": {
            "train": {
                "command": "simulated",  # the simulated platform runs no command
                "config_format": "yaml",
                "mode": "config",
                "outputs": {"results_dir": {"type": "folder"}},
            }
        },
        "spec_templates": {"train": "../references/spec_template_train.yaml"},
        "spec_params": {
            "train": {"results_dir": "output_dir", "train.resume_training_checkpoint_path": "resume_model"}
        },
        "automl": {
            "metric": "loss",
            "direction": "minimize",
            "epochs_key": "train.num_epochs",
            "checkpoint_glob": "model_epoch_*.pth",
        },
    }
    skill = root / f"skill-{problem.name}"
    (skill / "schemas").mkdir(parents=True, exist_ok=True)
    (skill / "references").mkdir(parents=True, exist_ok=True)
    (skill / "schemas" / "train.schema.json").write_text(json.dumps(schema, indent=1))
    (skill / "references" / "skill_info.yaml").write_text(yaml.safe_dump(info, sort_keys=False))
    (skill / "references" / "spec_template_train.yaml").write_text(yaml.safe_dump(default, sort_keys=False))
    (skill / "SKILL.md").write_text(f"# bench-{problem.name}\nGenerated by the benchmark harness.\n")
    return skill


def _config(problem: Problem, flat: dict[str, Any]) -> dict[str, Any]:
    return {d.name: flat[spec_key(d)] for d in problem.space}


def run_ours(
    algorithm: str,
    problem: Problem,
    ledger: Ledger,
    seed: int,
    *,
    workers: int = 1,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``algorithm`` on ``problem`` through the runner; charge its results to ``ledger``.

    Returns run facts (recommendations, real seconds, simulated seconds).
    """
    multi = algorithm in MULTI_FIDELITY and problem.multi_fidelity
    values: dict[tuple[str, int], float] = {}

    def curve(flat: dict[str, Any], epoch: int) -> float:
        config = _config(problem, flat)
        key = (json.dumps(config, sort_keys=True, default=str), epoch)
        if key not in values:  # the platform re-reads whole logs on every poll
            values[key] = problem.value(config, epoch, seed)
        return values[key]

    clock = SimClock()
    platform = SimulatedPlatform(
        curve=curve, clock=clock, metric="loss", epoch_seconds=EPOCH_SECONDS, startup_seconds=0
    )
    marks: dict[str, Any] = {"last_result": time.perf_counter(), "overhead": {}, "results": []}

    def listen(event: str, data: dict[str, Any]) -> None:
        now = time.perf_counter()
        if event == "submitted" and data.get("role") == "train":
            marks["overhead"].setdefault(data["rec_id"], now - marks["last_result"])
        elif event == "result":
            marks["last_result"] = now
            marks["results"].append((clock.now(), data["rec"]))

    merged: dict[str, Any] = {
        "automl_seed": seed,
        "automl_baseline": False,
        "automl_final_eval": False,
        "automl_max_concurrent": workers,
        "automl_max_epochs": problem.z_max,
        "automl_reduction_factor": 3,
        "automl_max_consecutive_failures": 1000,
    }
    if multi:
        merged["automl_min_epochs"] = problem.z_min
        merged["automl_max_recommendations"] = 100_000
        merged["automl_max_total_epochs"] = round(ledger.budget * problem.z_max)
    else:
        merged["automl_max_recommendations"] = round(ledger.budget)
    if algorithm in LLM_GUIDED:
        # a failed or unusable answer falls back to a sampler proposal and is counted (llm_health), never hidden
        merged.update({"llm_allow_fallback": True, "llm_timeout": 120, "llm_retries": 1})
        if os.environ.get("BENCH_LOCAL_LLM"):
            merged.update(LOCAL_LLM_SETTINGS)
    merged.update(settings or {})
    rates = {spec_key(d): {"valid_min": d.low, "valid_max": d.high} for d in problem.space if d.name in _RATES}
    # One worker: nothing else can use a slot, so polling every few simulated epochs changes no decision
    # (promotions happen at job ends) and spares the controller work. Several workers: poll every epoch.
    poll = EPOCH_SECONDS * (9 if workers == 1 and multi else 1)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        skill = write_skill(problem, Path(tmp))
        runner = AutoMLRunner(
            platform,
            skill,
            workspace_dir=Path(tmp) / "ws",
            poll_interval=poll,
            clock=clock,
            listeners=[listen],
        )
        result = runner.run(
            algorithm,
            merged,
            spec_overrides={"train.num_epochs": problem.z_max},
            custom_param_ranges=rates or None,
        )
    real_s = time.perf_counter() - start
    for sim_t, rec in marks["results"]:
        epochs = int(rec.get("epochs_trained") or 0)
        if epochs < 1 or not rec.get("params"):
            continue
        try:
            ledger.evaluate(
                _config(problem, rec["params"]),
                epochs,
                overhead_s=marks["overhead"].get(rec["rec_id"]),
                sim_time=sim_t,
            )
        except BudgetExhausted:
            break
    facts = {"recommendations": len(result["history"]), "real_s": real_s, "sim_s": clock.now()}
    if algorithm in LLM_GUIDED:
        facts["llm_model"] = os.environ.get("AUTOML_LLM_MODEL")
        facts["llm_health"] = result.get("llm_health")
    return facts
