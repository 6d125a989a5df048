"""``llm_health``: did the LLM really steer this run? Counted from the brain log alone.

Counts:
* ``calls``/``succeeded``/``failed``: chat-completion attempts (retries included) and whether each
  gave an accepted answer; ``failed`` covers timeouts, HTTP errors, malformed JSON and answers the
  space rejected.
* ``proposals`` = ``llm_proposals`` + ``fallbacks`` (model-free proposals, each counted).
* ``used_history``: LLM proposals whose prompt carried at least one finished result (the prompt
  lists every result as params -> metric) and whose answer was a new configuration (answers that
  repeat a tried or running configuration are rejected before they reach the runner).
* ``history_ignored``: answers rejected for repeating a tried or running configuration although the
  prompt listed it.

Verdict ``llm_blocked`` (the run is not reported as a successful LLM-guided run) when any of:
1. the LLM was asked but no proposal came from it;
2. fallbacks dominate: ``fallbacks >= llm_proposals`` (with at least one fallback);
3. the history was ignored: results were available to the model, yet ``history_ignored`` exceeds
   ``used_history``, or no LLM proposal made with results in its prompt was accepted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tao_automl.llm.brain_log import read_records


def summarize(records: list[dict[str, Any]], settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Health counts, token usage, cost (when prices are set) and the verdict."""
    settings = settings or {}
    calls = [r["data"] for r in records if r["kind"] == "call"]
    proposals = [r["data"] for r in records if r["kind"] == "proposal"]
    llm = [p for p in proposals if p.get("source") == "llm"]
    fallbacks = len(proposals) - len(llm)
    used_history = sum(1 for p in llm if (p.get("history_in_prompt") or 0) > 0)
    history_offered = sum(1 for c in calls if (c.get("history_in_prompt") or 0) > 0)
    ignored = sum(1 for c in calls if c.get("repeat_of") is not None and (c.get("history_in_prompt") or 0) > 0)
    prompt_tokens = sum((c.get("usage") or {}).get("prompt_tokens", 0) for c in calls)
    completion_tokens = sum((c.get("usage") or {}).get("completion_tokens", 0) for c in calls)
    latencies = [c["latency_s"] for c in calls if c.get("outcome") == "ok"]
    succeeded = sum(1 for c in calls if c.get("outcome") == "ok")
    reasons = []
    if calls and not llm:
        reasons.append(f"no proposal came from the LLM ({len(calls)} calls, {succeeded} accepted)")
    if fallbacks and fallbacks >= len(llm):
        reasons.append(f"fallbacks dominate: {fallbacks} model-free proposals vs {len(llm)} from the LLM")
    if history_offered and (ignored > used_history or (llm and used_history == 0)):
        reasons.append(
            f"the LLM ignored the history: {ignored} answers repeated a listed configuration, "
            f"{used_history} proposals were new configurations made with results in the prompt"
        )
    blocked = [r["data"].get("reason") for r in records if r["kind"] == "blocked"]
    price_in = settings.get("llm_price_per_1m_input_tokens")
    price_out = settings.get("llm_price_per_1m_output_tokens")
    cost = None
    if price_in is not None or price_out is not None:
        cost = round(prompt_tokens * (price_in or 0.0) / 1e6 + completion_tokens * (price_out or 0.0) / 1e6, 6)
    return {
        "calls": len(calls),
        "succeeded": succeeded,
        "failed": len(calls) - succeeded,
        "fallbacks": fallbacks,
        "used_history": used_history,
        "proposals": len(proposals),
        "llm_proposals": len(llm),
        "history_ignored": ignored,
        "clamped_values": sum(len(c.get("clamped") or []) for c in calls),
        "mean_latency_s": round(sum(latencies) / len(latencies), 4) if latencies else None,
        "tokens": {
            "prompt": prompt_tokens,
            "completion": completion_tokens,
            "total": prompt_tokens + completion_tokens,
        },
        "cost": cost,
        "stopped": blocked[-1] if blocked else None,
        "status": "llm_blocked" if reasons else ("ok" if proposals else "no_proposals_yet"),
        "reasons": reasons,
    }


def experiments(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Autoresearch experiment records, in the order they were decided."""
    return [r["data"] for r in records if r["kind"] == "experiment"]


def run_llm_health(run_dir: Path, settings: dict[str, Any] | None) -> dict[str, Any]:
    return summarize(read_records(run_dir), settings)


def is_llm_algorithm(name: str | None) -> bool:
    from tao_automl.algorithms import available_algorithms, get_algorithm_class

    return bool(name) and name in available_algorithms() and getattr(get_algorithm_class(name), "uses_llm", False)


def result_section(run_dir: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """What the result dict carries for an LLM algorithm: ``llm_health`` (and autoresearch's experiments)."""
    if not is_llm_algorithm(meta.get("algorithm")):
        return {}
    records = read_records(run_dir)
    section: dict[str, Any] = {"llm_health": summarize(records, meta.get("settings"))}
    if meta.get("algorithm") == "autoresearch":
        section["experiments"] = experiments(records)
    return section
