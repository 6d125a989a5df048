"""The per-plan state machine behind the launch gates, persisted so a restarted server keeps them.

A *plan* starts with ``preflight_check`` (its id is the ``preflight_id``) and moves through
preflight passed -> image resolved -> baseline measured (or knowingly declared unavailable /
accepted as a proxy) -> review produced -> launched. Each plan is one JSON file under
``<state_dir>/plans/``; reviews and runs have small index files so ``launch_automl(review_id)`` and
``job_status(run_id)`` find their plan. Writes are atomic and every mutation of a plan holds an
``flock`` on it, so two tool calls (or two server processes) never interleave a launch.

The review's content hash covers everything that decides what runs: the launch inputs, every file
of the model skill, the resolved image, the baseline decision and the preflight verdict. A launch
recomputes it from the current state and refuses when it differs.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from tao_automl.workflow.models import Gate, GateStatus
from tao_automl.workspace import atomic_write_json

STATE_ENV = "TAO_AUTOML_MCP_STATE"
DEFAULT_STATE_DIR = Path("~/.cache/tao-automl/mcp")
_IDS = {
    "plan": re.compile(r"^pf-[0-9a-f]{12}$"),
    "review": re.compile(r"^rv-[0-9a-f]{16}$"),
    "run": re.compile(r"^run-[0-9]{8}T[0-9]{6}-[0-9a-f]{6}$"),
}
_SKIP_PARTS = {"__pycache__", ".git", ".pytest_cache"}
_MAX_HASHED_BYTES = 64 * 1024 * 1024


class GateRefusal(Exception):
    """A tool refuses: ``gate`` names what is missing, ``fix`` how to satisfy it."""

    def __init__(
        self, gate: Gate, reason: str, fix: str, *, field: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{gate}: {reason}")
        self.gate, self.reason, self.fix, self.field, self.details = gate, reason, fix, field, details or {}


class Measurement(BaseModel):
    """A baseline or probe job measured by a detached process; ``record`` is set once it finished."""

    kind: str  # baseline | probe
    key: str
    inputs: dict[str, Any]
    out_dir: str
    record_file: str
    log_file: str
    pid: int | None = None
    proc_start: str | None = None
    spawned_at: float
    record: dict[str, Any] | None = None


class BaselineDecision(BaseModel):
    """An explicit choice to pass the baseline gate without a fresh measurement."""

    kind: str  # declared_unavailable | proxy_accepted
    reason: str
    metric_value: float | None = None
    at: float


class Review(BaseModel):
    review_id: str
    hash: str
    created_at: float
    path_md: str
    path_json: str
    estimate_wall_s: float | None = None


class Launch(BaseModel):
    run_id: str
    workspace: str
    pid: int
    log_path: str
    launched_at: float


class PlanState(BaseModel):
    """Everything the gates need about one plan; the file ``plans/<preflight_id>.json``."""

    preflight_id: str
    created_at: float
    model_skill: str
    skill_dir: str | None = None
    platform: str
    platform_options: dict[str, Any] = Field(default_factory=dict)
    datasets: dict[str, str] = Field(default_factory=dict)
    results_root: str
    gpu_count: int = 0
    num_nodes: int = 1
    spec_overrides: dict[str, Any] = Field(default_factory=dict)
    checkpoint: str | None = None
    preflight_overall: str
    preflight_failed: list[str] = Field(default_factory=list)
    images: dict[str, dict[str, Any]] = Field(default_factory=dict)
    baseline: Measurement | None = None
    probe: Measurement | None = None
    decision: BaselineDecision | None = None
    launch_spec: dict[str, Any] | None = None
    reviews: dict[str, Review] = Field(default_factory=dict)
    current_review: str | None = None
    launches: dict[str, Launch] = Field(default_factory=dict)

    @property
    def preflight_passed(self) -> bool:
        return self.preflight_overall != "fail"

    @property
    def train_uri(self) -> str | None:
        return self.datasets.get("train")

    @property
    def eval_uri(self) -> str | None:
        return self.datasets.get("eval")


class RunRecord(BaseModel):
    """``runs/<run_id>.json``: where a launched run lives and how to tell whether its process runs."""

    run_id: str
    preflight_id: str
    review_id: str
    workspace: str
    pid: int
    proc_start: str | None = None
    log_path: str
    launched_at: float
    estimate_wall_s: float | None = None
    algorithm: str | None = None
    per_epoch_s: float | None = None
    startup_s: float | None = None
    eval_s: float | None = None


def default_state_dir() -> Path:
    return Path(os.environ.get(STATE_ENV) or DEFAULT_STATE_DIR).expanduser()


def new_id(kind: str) -> str:
    if kind == "plan":
        return f"pf-{secrets.token_hex(6)}"
    return f"run-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


def check_id(kind: str, value: str, gate: Gate, fix: str) -> str:
    """Refuse an id that cannot be one of ours before it touches the filesystem."""
    if not _IDS[kind].match(value):
        raise GateRefusal(gate, f"{value[:64]!r} is not a known {kind} id", fix, field=f"{kind}_id")
    return value


class StateStore:
    """JSON files under ``root``: plans, review and run indexes, image resolutions."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        for sub in ("plans", "reviews", "runs", "images", "locks"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def locked(self, name: str) -> Iterator[None]:
        """Exclusive lock across threads and processes (flock on a per-name file)."""
        with open(self.root / "locks" / f"{name}.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # plans
    def save_plan(self, plan: PlanState) -> None:
        atomic_write_json(self.root / "plans" / f"{plan.preflight_id}.json", plan.model_dump(mode="json"))

    def load_plan(self, preflight_id: str) -> PlanState:
        fix = "call preflight_check first and pass the preflight_id it returns"
        check_id("plan", preflight_id, Gate.PREFLIGHT, fix)
        path = self.root / "plans" / f"{preflight_id}.json"
        if not path.is_file():
            raise GateRefusal(Gate.PREFLIGHT, f"no preflight {preflight_id}", fix, field="preflight_id")
        return PlanState.model_validate_json(path.read_text(encoding="utf-8"))

    # reviews and runs
    def index_review(self, review_id: str, preflight_id: str) -> None:
        atomic_write_json(self.root / "reviews" / f"{review_id}.json", {"preflight_id": preflight_id})

    def plan_of_review(self, review_id: str) -> str:
        fix = "call estimate_budget to produce a launch review, show it to the user, then launch its review_id"
        check_id("review", review_id, Gate.REVIEW, fix)
        path = self.root / "reviews" / f"{review_id}.json"
        if not path.is_file():
            raise GateRefusal(Gate.REVIEW, f"no launch review {review_id}", fix, field="review_id")
        return json.loads(path.read_text(encoding="utf-8"))["preflight_id"]

    def save_run(self, run: RunRecord) -> None:
        atomic_write_json(self.root / "runs" / f"{run.run_id}.json", run.model_dump(mode="json"))

    def load_run(self, run_id: str) -> RunRecord:
        fix = "pass the run_id that launch_automl returned"
        check_id("run", run_id, Gate.RUN, fix)
        path = self.root / "runs" / f"{run_id}.json"
        if not path.is_file():
            raise GateRefusal(Gate.RUN, f"no run {run_id}", fix, field="run_id")
        return RunRecord.model_validate_json(path.read_text(encoding="utf-8"))

    # image resolutions shown to the user, by skill and action (resolve_image without a preflight_id)
    def _image_path(self, skill_dir: str, action: str) -> Path:
        digest = hashlib.sha256(f"{skill_dir}\0{action}".encode()).hexdigest()[:24]
        return self.root / "images" / f"{digest}.json"

    def save_image(self, skill_dir: str, action: str, resolution: dict[str, Any]) -> None:
        atomic_write_json(self._image_path(skill_dir, action), resolution)

    def load_image(self, skill_dir: str, action: str) -> dict[str, Any] | None:
        path = self._image_path(skill_dir, action)
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


# ---- hashing ------------------------------------------------------------------------------------------


def skill_fingerprint(skill_dir: str | None) -> dict[str, str]:
    """sha256 of every file of the model skill: a changed schema, template or script changes the plan."""
    if not skill_dir or not Path(skill_dir).is_dir():
        return {}
    root = Path(skill_dir)
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or _SKIP_PARTS & set(rel.parts) or path.suffix == ".pyc":
            continue
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            digest.update(fh.read(_MAX_HASHED_BYTES))
        out[str(rel)] = digest.hexdigest()
    return out


def canonical_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


# ---- the gates ----------------------------------------------------------------------------------------


def baseline_key(
    overrides: dict[str, Any], checkpoint: str | None, settings: dict[str, Any] | None, plan: PlanState
) -> str:
    """Identity of a baseline: the run must train/evaluate what the baseline did to compare with it."""
    relevant = {k: v for k, v in (settings or {}).items() if k in ("metric", "train_sample_count", "automl_num_shards")}
    return canonical_hash(
        {
            "overrides": overrides,
            "checkpoint": checkpoint,
            "settings": relevant,
            "data": [plan.train_uri, plan.eval_uri],
        }
    )[:16]


def baseline_record(plan: PlanState, key: str | None) -> tuple[dict[str, Any] | None, str]:
    """The record the run will reuse and a sentence on the baseline gate; None record: gate not held."""
    if plan.decision is not None:
        d = plan.decision
        if d.kind == "declared_unavailable":
            return {
                "status": "unavailable",
                "reason": f"declared unavailable: {d.reason}",
                "provided_by": "run_baseline_eval",
            }, f"declared unavailable ({d.reason})"
        return {
            "status": "provided",
            "metric_value": d.metric_value,
            "source": "proxy",
            "reason": f"accepted as a proxy: {d.reason}",
            "provided_by": "run_baseline_eval",
        }, (f"proxy {d.metric_value} accepted ({d.reason})")
    m = plan.baseline
    if m is None:
        return None, "no baseline: call run_baseline_eval (or declare it unavailable / accept a proxy)"
    if m.record is None:
        return None, "the baseline is still being measured: call run_baseline_eval again to wait for it"
    if m.record.get("status") != "measured":
        return None, f"the baseline could not be measured ({m.record.get('status')}: {m.record.get('reason')})"
    if key is not None and m.key != key:
        return None, (
            "the baseline was measured with other spec overrides/settings than this plan: measure it again with "
            "run_baseline_eval(spec_overrides=...), or accept it as a proxy"
        )
    record = {k: v for k, v in m.record.items() if k not in ("timing", "specs", "process_started_at", "finished_at")}
    record["provided_by"] = "run_baseline_eval"
    return (
        record,
        f"measured {m.record.get('metric_name')} = {m.record.get('metric_value')} (job {m.record.get('job_id')})",
    )


def image_status(plan: PlanState, store: StateStore, current: dict[str, Any] | None) -> tuple[bool, str]:
    """Image gate: the train image was resolved (shown to the user) and is still what resolves now."""
    shown = plan.images.get("train") or (store.load_image(plan.skill_dir, "train") if plan.skill_dir else None)
    if shown is None:
        return False, "the train image was not resolved: call resolve_image and show the image to the user"
    if current is not None and (shown.get("image"), shown.get("source")) != (
        current.get("image"),
        current.get("source"),
    ):
        return False, f"the image changed since it was resolved ({shown.get('image')} -> {current.get('image')})"
    return True, f"{shown.get('image') or 'no image (runs on the platform directly)'} (source {shown.get('source')})"


def gate_statuses(
    plan: PlanState, store: StateStore, current_image: dict[str, Any] | None, key: str | None
) -> list[GateStatus]:
    """Preflight, image and baseline, in the order a launch checks them."""
    failed = ", ".join(plan.preflight_failed) or "see the checks"
    image_ok, image_detail = image_status(plan, store, current_image)
    record, base_detail = baseline_record(plan, key)
    return [
        GateStatus(
            gate=Gate.PREFLIGHT,
            satisfied=plan.preflight_passed,
            detail=f"preflight {plan.preflight_id}: {plan.preflight_overall}"
            + ("" if plan.preflight_passed else f" (failed: {failed})"),
        ),
        GateStatus(gate=Gate.IMAGE, satisfied=image_ok, detail=image_detail),
        GateStatus(gate=Gate.BASELINE, satisfied=record is not None, detail=base_detail),
    ]


GATE_FIXES = {
    Gate.PREFLIGHT: "fix the failed checks (each has a fix), run preflight_check again, then redo the steps with "
    "the new preflight_id",
    Gate.IMAGE: "call resolve_image(preflight_id=..., action='train'), confirm the image with the user, then "
    "estimate_budget again",
    Gate.BASELINE: "call run_baseline_eval(preflight_id=...) and wait for 'measured', or pass declare_unavailable=true "
    "/ accept_proxy=true with a reason the user agreed to; then estimate_budget again",
}


def review_hash(plan: PlanState, current_image: dict[str, Any] | None, key: str | None) -> str:
    """Content hash of what a launch would run, from the plan's current state and the skill on disk."""
    record, _ = baseline_record(plan, key)
    return canonical_hash(
        {
            "launch_spec": plan.launch_spec,
            "skill_files": skill_fingerprint(plan.skill_dir),
            "image": None if current_image is None else [current_image.get("image"), current_image.get("source")],
            "baseline": record,
            "preflight": [plan.preflight_id, plan.preflight_overall],
            "compute": [plan.gpu_count, plan.num_nodes],
        }
    )
