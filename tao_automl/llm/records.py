"""Brain-log records: what every LLM call, proposal and keep/discard decision leaves behind.

Each line of ``<run>/brain/brain_log.jsonl`` is one :class:`BrainRecord`: an envelope (kind, time,
algorithm, recommendation id) around a typed body. The envelope lets the runner fill in the job id
of a recommendation (known only after submit) without the algorithm ever seeing a job.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CallOutcome = Literal["ok", "timeout", "http_error", "connection_error", "bad_response", "malformed", "invalid"]


class Usage(BaseModel):
    """Token counts as the endpoint reported them (0 when it reported none)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0


class CallRecord(BaseModel):
    """One chat completion attempt. ``history_in_prompt``: finished results the prompt carried."""

    model_config = ConfigDict(extra="forbid")

    call_id: str
    attempt: int
    purpose: str
    prompt_chars: int
    history_in_prompt: int
    pending_in_prompt: int
    outcome: CallOutcome
    response: str | None = None
    parsed: dict[str, Any] | None = None
    rationale: str | None = None
    clamped: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None
    repeat_of: int | str | None = None
    latency_s: float
    usage: Usage = Field(default_factory=Usage)


class ProposalRecord(BaseModel):
    """A configuration handed to the runner, and where it came from (``llm`` or a counted ``fallback``)."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["llm", "fallback"]
    params: dict[str, Any]
    rationale: str
    call_id: str | None = None
    attempts: int = 0
    history_in_prompt: int = 0
    fallback_reason: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class DecisionRecord(BaseModel):
    """What the algorithm concluded from a finished recommendation (keep/discard, or just recorded)."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["keep", "discard", "recorded"]
    status: str
    metric: float | None = None
    reasoning: str


class ExperimentRecord(BaseModel):
    """One autoresearch experiment, exactly the published fields."""

    model_config = ConfigDict(extra="forbid")

    experiment_id: int
    spec: dict[str, Any]
    modifications: dict[str, Any]
    hypothesis: str
    metric: float | None
    status: str
    decision: Literal["keep", "discard"]
    reasoning: str
    job_id: str | None = None
    timestamp: float


class BrainRecord(BaseModel):
    """One line of the brain log."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["call", "proposal", "decision", "experiment", "blocked"]
    algorithm: str
    ts: float = Field(default_factory=time.time)
    rec_id: int | None = None
    job_id: str | None = None
    data: dict[str, Any]

    @classmethod
    def wrap(cls, kind: str, algorithm: str, body: BaseModel | dict[str, Any], rec_id: int | None = None) -> dict:
        data = body.model_dump(mode="json") if isinstance(body, BaseModel) else dict(body)
        return cls(kind=kind, algorithm=algorithm, rec_id=rec_id, data=data).model_dump(mode="json")
