"""The job status vocabulary every platform speaks, in a module of its own.

Both ``platforms.base`` (the Platform interface) and ``platforms.failures`` (what a failed job's
log means) need it; kept here, each imports it one way and neither imports the other's insides.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class JobState(StrEnum):
    """Six-state job vocabulary shared by every platform.

    Transitions: PENDING -> RUNNING -> COMPLETE | ERROR | CANCELED. UNKNOWN means the platform
    could not tell right now (a transient API error); it is never terminal, so the runner keeps
    polling instead of guessing.
    """

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    ERROR = "ERROR"
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"

    @property
    def terminal(self) -> bool:
        return self in (JobState.COMPLETE, JobState.ERROR, JobState.CANCELED)


class JobStatus(BaseModel):
    """What a platform knows about one job at one moment."""

    state: JobState
    exit_code: int | None = None
    message: str = ""
    infra_failure: bool = False
