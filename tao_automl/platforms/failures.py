"""Why a job failed: one ordered table of log patterns, so every platform classifies alike.

The runner uses the category to decide what to do next (retry an infrastructure hiccup, mark a
recommendation ``invalid_configuration``, stop the run on a credential error), so the table is
ordered from the most specific cause to the most generic: an out-of-memory error inside a
traceback is ``oom``, not ``model_code``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, Field

from tao_automl.platforms.job_status import JobStatus
from tao_automl.redaction import redact

MAX_EVIDENCE_LINES = 5
MAX_LINE_CHARS = 300


class FailureCategory(StrEnum):
    """Cause of a failed job, coarse enough for the runner to act on."""

    INFRASTRUCTURE = "infrastructure"
    DATA_VISIBILITY = "data_visibility"
    IMAGE = "image"
    CREDENTIAL = "credential"
    SPEC_SCHEMA = "spec_schema"
    MODEL_CODE = "model_code"
    OUT_OF_MEMORY = "out_of_memory"
    INVALID_CONFIGURATION = "invalid_configuration"
    TIMEOUT = "timeout"
    CANCELED = "canceled"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> FailureCategory:
        """Map a foreign spelling (``"OOM"``, ``"out-of-memory"``, ``"invalid_config"``) to a category."""
        key = re.sub(r"[\s\-]+", "_", str(value).strip().lower())
        try:
            return cls(key)
        except ValueError:
            return _CATEGORY_ALIASES.get(key, cls.UNKNOWN)


_CATEGORY_ALIASES = {
    "oom": FailureCategory.OUT_OF_MEMORY,
    "data": FailureCategory.DATA_VISIBILITY,
    "spec": FailureCategory.SPEC_SCHEMA,
    "oom_killed": FailureCategory.OUT_OF_MEMORY,
    "oomkilled": FailureCategory.OUT_OF_MEMORY,
    "invalid_config": FailureCategory.INVALID_CONFIGURATION,
    "configuration": FailureCategory.INVALID_CONFIGURATION,
    "infra": FailureCategory.INFRASTRUCTURE,
    "cancelled": FailureCategory.CANCELED,
    "credentials": FailureCategory.CREDENTIAL,
    "auth": FailureCategory.CREDENTIAL,
    "dataset": FailureCategory.DATA_VISIBILITY,
    "code": FailureCategory.MODEL_CODE,
    "timed_out": FailureCategory.TIMEOUT,
}

# Only a platform hiccup is worth running again unchanged; every other cause would fail the same way.
RETRYABLE = frozenset({FailureCategory.INFRASTRUCTURE})


class FailureAnalysis(BaseModel):
    """Verdict on one failed job. ``evidence`` holds the log lines that decided it, secrets redacted."""

    category: FailureCategory
    reason: str
    evidence: list[str] = Field(default_factory=list)
    exit_code: int | None = None
    retryable: bool = False


@dataclass(frozen=True)
class _Rule:
    """One row of the table: it matches when any of its criteria does."""

    category: FailureCategory
    reason: str
    pattern: re.Pattern[str] | None = None
    exit_codes: frozenset[int] = frozenset()
    states: frozenset[str] = frozenset()
    infra_flag: bool = False


def _rx(*alternatives: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives), flags)


# Ordered: the first rule that matches wins. Add a cause by adding a row.
RULES: tuple[_Rule, ...] = (
    _Rule(FailureCategory.CANCELED, "job was canceled", states=frozenset({"CANCELED"})),
    _Rule(FailureCategory.INFRASTRUCTURE, "the platform lost the job", infra_flag=True),
    _Rule(
        FailureCategory.OUT_OF_MEMORY,
        "out of memory",
        _rx(
            r"CUDA out of memory",
            r"OutOfMemoryError",
            r"\bMemoryError\b",
            r"\bOOMKilled\b",
            r"std::bad_alloc",
            r"Killed process \d+ .*out of memory",
            r"\boom[-_ ]kill",  # Slurm cgroup: "Detected 1 oom-kill event(s)"
            r"CUBLAS_STATUS_ALLOC_FAILED",
        ),
        exit_codes=frozenset({137}),
    ),
    _Rule(
        FailureCategory.TIMEOUT,
        "time limit reached",
        _rx(r"DUE TO TIME LIMIT", r"DeadlineExceeded", r"\b(?:wall ?time|time) limit (?:exceeded|reached)"),
    ),
    _Rule(
        FailureCategory.INVALID_CONFIGURATION,
        "the hyperparameters cannot train",
        _rx(r"invalid configuration", r"zero training steps", r"batch[ _]size\b.*\bexceeds"),
    ),
    _Rule(
        FailureCategory.IMAGE,
        "container image or command unavailable",
        _rx(
            r"ErrImagePull",
            r"ImagePullBackOff",
            r"manifest unknown",
            r"pull access denied",
            r"failed to pull image",
            r"Unable to find image",
            r"No such image",
            r"cannot start command",
            r"command not found",
        ),
        exit_codes=frozenset({127}),
    ),
    _Rule(
        FailureCategory.DATA_VISIBILITY,
        "input data missing or unreadable",
        _rx(
            r"FileNotFoundError",
            r"No such file or directory",
            r"\bNoSuchKey\b",
            r"\bNoSuchBucket\b",
            r"\bAccessDenied\b",
            r"dataset (?:not found|is empty)",
            flags=0,
        ),
    ),
    _Rule(
        FailureCategory.CREDENTIAL,
        "credentials missing or rejected",
        _rx(
            r"\b(?:HTTP(?:/[\d.]+)?|status(?: code)?|code|error)[\s:=]*40[13]\b",
            r"\b40[13] (?:Client Error|Unauthorized|Forbidden)",
            r"\bUnauthorized\b",
            r"\bForbidden\b",
            r"NoCredentialsError",
            r"InvalidAccessKeyId",
            r"SignatureDoesNotMatch",
            r"ExpiredToken",
            r"invalid (?:api )?(?:key|token|credentials)",
            r"credentials? (?:not found|missing|required|invalid)",
            r"Unable to locate credentials",
        ),
    ),
    _Rule(
        FailureCategory.SPEC_SCHEMA,
        "the experiment spec is invalid",
        _rx(
            r"yaml\.[\w.]*Error",
            r"\bKeyError\b",
            r"unknown key",
            r"ValidationError",
            r"omegaconf",
            r"hydra\.errors",
            r"ConfigAttributeError|ConfigKeyError|MissingMandatoryValue",
            r"Error merging override",
            r"could not override",
        ),
    ),
    _Rule(
        FailureCategory.INFRASTRUCTURE,
        "infrastructure failure",
        _rx(
            r"\bNODE_FAIL\b",
            r"could not select device driver",  # GPU runtime missing on the node
            r"connection refused",
            r"connection reset by peer",
            r"no route to host",
            r"node failure",
            r"\bpreempted\b",
            r"\bEvicted\b",
            r"supervisor vanished",
            r"NCCL (?:error|timeout).*(?:unhandled system error|remote process exited)",
        ),
    ),
    _Rule(
        FailureCategory.MODEL_CODE,
        "the training code raised an exception",
        _rx(r"Traceback \(most recent call last\)", r"^\w+(?:\.\w+)*(?:Error|Exception)\b(?::|$)", flags=0),
    ),
)


def _failed(status: JobStatus) -> bool:
    return status.state in ("ERROR", "CANCELED")


def _evidence(rule: _Rule, lines: list[str]) -> list[str]:
    if rule.pattern is None:
        return []
    hits = [line.strip() for line in lines if rule.pattern.search(line)]
    if len(hits) > MAX_EVIDENCE_LINES:
        # Keep the first hit (where it started) and the last ones (the final exception).
        hits = [hits[0], *hits[-(MAX_EVIDENCE_LINES - 1) :]]
    return [redact(hit)[:MAX_LINE_CHARS] for hit in hits]


def _matches(rule: _Rule, status: JobStatus, evidence: list[str]) -> bool:
    return (
        bool(evidence)
        or status.state in rule.states
        or (rule.infra_flag and status.infra_failure)
        or (status.exit_code is not None and status.exit_code in rule.exit_codes)
    )


def classify_failure(status: JobStatus, log_tail: str) -> FailureAnalysis:
    """Classify a failed job from its status and the tail of its log.

    Args:
        status: The job's final status; a job that did not fail yields category ``unknown``.
        log_tail: The last lines of the job's log (a few hundred are plenty).

    Returns:
        The first matching row of ``RULES``, with the matching lines as redacted evidence.
    """
    if not _failed(status):
        return FailureAnalysis(category=FailureCategory.UNKNOWN, reason="job did not fail", exit_code=status.exit_code)
    lines = [line for line in (log_tail + "\n" + status.message).splitlines() if line.strip()]
    for rule in RULES:
        evidence = _evidence(rule, lines)
        if _matches(rule, status, evidence):
            reason = rule.reason
            if evidence:
                reason = f"{reason}: {evidence[-1]}"
            elif status.exit_code is not None:
                reason = f"{reason} (exit code {status.exit_code})"
                evidence = [f"exit code {status.exit_code}" + (f": {status.message}" if status.message else "")]
            return FailureAnalysis(
                category=rule.category,
                reason=reason,
                evidence=evidence,
                exit_code=status.exit_code,
                retryable=rule.category in RETRYABLE,
            )
    detail = redact(status.message) or "no recognisable cause in the log"
    if status.exit_code is not None:
        detail = f"exit code {status.exit_code}; {detail}"
    return FailureAnalysis(category=FailureCategory.UNKNOWN, reason=detail, exit_code=status.exit_code)
