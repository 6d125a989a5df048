"""The ask/tell interface every search algorithm implements.

An algorithm only decides: it never sleeps, starts jobs or touches files. The runner asks it for
proposals when slots are free, binds each proposal to a recommendation id, and tells it what
happened. Resuming is replaying the stored history through :meth:`Algorithm.restore`.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Literal

from tao_automl.settings import AutoMLSettings
from tao_automl.space import SearchSpace


class RecStatus(StrEnum):
    """Lifecycle of a recommendation. ``pending`` (recorded intent) -> ``running`` -> a final state.

    A final state never changes. ``lost`` is a job the platform no longer knows after a crash.
    """

    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"
    INVALID_CONFIGURATION = "invalid_configuration"
    CANCELED = "canceled"
    LOST = "lost"

    @property
    def final(self) -> bool:
        return self not in (RecStatus.PENDING, RecStatus.RUNNING)


@dataclass(frozen=True)
class Proposal:
    """What to try next.

    Args:
        params: dotted spec key -> value, inside the search space.
        budget: epochs to train (None: the spec's own value).
        resume_from: recommendation id whose exact checkpoint this one continues.
        note: short why, shown in reports.
    """

    params: dict[str, Any]
    budget: int | None = None
    resume_from: int | None = None
    note: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "budget": self.budget,
            "resume_from": self.resume_from,
            "note": self.note,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Proposal:
        return cls(
            params=data.get("params", {}),
            budget=data.get("budget"),
            resume_from=data.get("resume_from"),
            note=data.get("note", ""),
            meta=data.get("meta") or {},
        )


@dataclass(frozen=True)
class Feedback:
    """The outcome of one recommendation, as told to the algorithm.

    ``intermediate`` feedback carries one per-epoch metric of a still-running recommendation
    (status RUNNING); final feedback carries the last state, and ``epoch`` is how many epochs the
    recommendation really trained (less than its budget when it was stopped early).
    """

    rec_id: int
    status: RecStatus
    metric: float | None = None
    failure_class: str | None = None
    epoch: int | None = None
    intermediate: bool = False


def fingerprint(params: dict[str, Any]) -> str:
    """Stable identity of a configuration (floats to 10 significant digits)."""

    def norm(v: Any) -> Any:
        return float(f"{v:.10g}") if isinstance(v, float) and math.isfinite(v) else v

    return json.dumps({k: norm(v) for k, v in sorted(params.items())}, sort_keys=True, default=str)


class Algorithm(ABC):
    """Base of every search algorithm; subclasses set ``name`` and implement propose/report."""

    name: ClassVar[str]
    #: The ``automl_`` settings that shape this algorithm's budget: what a launch review shows
    #: (a multi-fidelity knob means nothing to a full-length search, and showing it misleads).
    budget_settings: ClassVar[tuple[str, ...]] = ("automl_max_recommendations",)

    def __init__(
        self,
        space: SearchSpace,
        *,
        direction: Literal["maximize", "minimize"],
        settings: AutoMLSettings,
        seed: int | None = None,
        resumable: bool = True,
        metric: str | None = None,
    ) -> None:
        self.space = space
        self.direction = direction
        self.settings = settings
        self.seed = settings.automl_seed if seed is None else seed
        #: The model can resume from an exact epoch checkpoint, so rungs can be climbed by promotion.
        self.resumable = resumable
        #: The metric's name (only shown to LLMs; the direction is what the search uses).
        self.metric = metric or settings.metric or "metric"

    @abstractmethod
    def propose(self, n: int) -> list[Proposal]:
        """Up to ``n`` new proposals (fewer, or none, is allowed). Called only when slots are free."""

    def bind(self, rec_id: int, proposal: Proposal) -> None:  # noqa: B027 - optional hook
        """The runner assigned ``rec_id`` to ``proposal`` (called once, right after propose)."""

    @abstractmethod
    def report(self, feedback: Feedback) -> None:
        """A bound recommendation reached a final state."""

    def should_stop(self, rec_id: int, epoch: int, metric: float) -> bool:
        """Intermediate result of a running recommendation; True asks the runner to stop it."""
        return False

    def done(self) -> bool:
        """True when the algorithm has nothing more to propose (the runner also stops at its budget)."""
        return False

    def warm_start(self, params: dict[str, Any], metric: float) -> None:  # noqa: B027 - optional hook
        """A configuration measured outside the search (the default-config baseline)."""

    def restore(self, history: list[tuple[Any, ...]]) -> None:
        """Rebuild state from the store on resume.

        Each entry is ``(rec_id, proposal, final_feedback_or_None[, intermediate_feedbacks])``, in
        launch order: every recommendation is bound, its intermediate results replayed, and
        finished ones reported, exactly as the live run did.
        """
        for rec_id, proposal, feedback, *rest in history:
            self.bind(rec_id, proposal)
            for item in rest[0] if rest else ():
                self.report(item)
            if feedback is not None:
                self.report(feedback)

    def drain_journal(self) -> list[dict[str, Any]]:
        """Records of decisions made since the last drain (LLM calls, keep/discard); the runner writes them.

        Only the LLM-guided algorithms keep a journal; an algorithm never writes files itself.
        """
        return []

    def planned_recommendations(self) -> int | None:
        """How many recommendations the schedule needs (None: as many as the budget allows)."""
        return None

    def retained(self) -> set[int] | None:
        """Recommendations whose checkpoints may still be resumed (None: keep every checkpoint)."""
        return None

    def better(self, a: float, b: float) -> bool:
        """True when ``a`` is strictly better than ``b`` in this run's direction."""
        return a > b if self.direction == "maximize" else a < b
