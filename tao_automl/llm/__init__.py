"""Machinery shared by the LLM-guided algorithms (``llm``, ``hybrid``, ``autoresearch``).

One job per module: ``client`` (the official ``openai`` client, endpoint resolution, JSON mode),
``prompt`` (what the model is told), ``proposal`` (answers checked and clamped against the space),
``records`` (brain-log record models), ``guided`` (the shared ask/retry/fallback/journal base),
``brain_log`` (the runner's append-only log) and ``health`` (``llm_health`` and the verdict).
"""

from __future__ import annotations

from tao_automl.llm.brain_log import append_records, brain_log_path, read_records
from tao_automl.llm.health import experiments, run_llm_health, summarize

__all__ = ["append_records", "brain_log_path", "experiments", "read_records", "run_llm_health", "summarize"]
