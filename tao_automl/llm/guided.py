"""The part every LLM-guided algorithm shares: asking, retrying, falling back honestly, journaling.

An algorithm only decides, so nothing here writes a file: every call, proposal and decision is
appended to an in-memory journal that the runner drains (``drain_journal``) into
``<run>/brain/brain_log.jsonl``. Resuming replays the stored history through ``bind``/``report``
and never calls the model; the journal entries that replay produces are dropped, because the
brain log already holds them.

Honesty rules:
* a failed call is retried ``llm_retries`` times (a rejected answer is sent back with the reason);
* after that, a model-free proposal is made only when ``llm_allow_fallback`` is true, and it is
  journaled as a ``fallback``; otherwise the algorithm stops proposing (``done()``) and says why;
* an answer that repeats a configuration already tried or running is rejected (``repeat_of``),
  which is how ignoring the history shows up in the counts (see ``tao_automl.llm.health``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from tao_automl.algorithms.base import Algorithm, Feedback, Proposal, RecStatus, fingerprint
from tao_automl.llm import prompt as prompts
from tao_automl.llm.client import LLMClient, parse_json_answer, resolve_endpoint
from tao_automl.llm.proposal import ProposalError, check_value
from tao_automl.llm.records import BrainRecord, CallRecord, DecisionRecord, ProposalRecord
from tao_automl.redaction import redact

__all__ = ["Asked", "LLMGuided", "RepeatError"]

T = TypeVar("T")


class RepeatError(ProposalError):
    """The answer is a configuration already tried (or running)."""

    def __init__(self, message: str, repeat_of: int | str) -> None:
        super().__init__(message)
        self.repeat_of = repeat_of


@dataclass
class Asked:
    """How one decision went: the accepted value (None: every attempt failed) and its bookkeeping."""

    value: Any
    call_id: str
    attempts: int
    history_in_prompt: int
    error: str | None = None
    rationale: str | None = None


class LLMGuided(Algorithm):
    """Base of ``llm``, ``hybrid`` and ``autoresearch``. Subclasses implement :meth:`_propose_one`."""

    uses_llm: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Refuse a missing endpoint/model here: the runner builds the algorithm before any workspace.
        self.endpoint = resolve_endpoint(self.settings, self.name)
        self._client: LLMClient | None = None
        self._rng = random.Random(self.seed)
        self._journal: list[dict[str, Any]] = []
        self._results: dict[int | str, prompts.Result] = {}
        self._pending: dict[int, dict[str, Any]] = {}
        self._unbound: dict[str, Proposal] = {}
        self._seen: dict[str, int | str] = {}
        self._calls = 0
        self.blocked_reason: str | None = None

    # ------------------------------------------------------------------ runner-facing hooks
    @property
    def client(self) -> LLMClient:
        if self._client is None:
            self._client = LLMClient(self.endpoint, self.settings)
        return self._client

    def drain_journal(self) -> list[dict[str, Any]]:
        out, self._journal = self._journal, []
        return out

    def done(self) -> bool:
        return self.blocked_reason is not None

    def propose(self, n: int) -> list[Proposal]:
        out: list[Proposal] = []
        for _ in range(n):
            if self.done():
                break
            proposal, error = self._propose_one()
            if proposal is None:
                if not self.settings.llm_allow_fallback:
                    self.blocked_reason = (
                        f"the LLM gave no usable proposal after {self.settings.llm_retries + 1} attempts ({error}); "
                        "llm_allow_fallback is false, so no model-free configuration was launched"
                    )
                    self._log("blocked", {"reason": self.blocked_reason})
                    break
                proposal = self._fallback(error or "no usable answer")
            key = fingerprint(proposal.params)
            self._unbound[key] = proposal
            self._seen[key] = "running"
            out.append(proposal)
        return out

    def bind(self, rec_id: int, proposal: Proposal) -> None:
        key = fingerprint(proposal.params)
        self._unbound.pop(key, None)
        self._seen[key] = rec_id
        self._pending[rec_id] = dict(proposal.params)
        meta = proposal.meta or {}
        record = ProposalRecord(
            source=meta.get("source", "fallback"),
            params=dict(proposal.params),
            rationale=str(meta.get("rationale") or proposal.note),
            call_id=meta.get("call_id"),
            attempts=int(meta.get("attempts") or 0),
            history_in_prompt=int(meta.get("history_in_prompt") or 0),
            fallback_reason=meta.get("fallback_reason"),
            extra={k: v for k, v in meta.items() if k in ("candidates", "choice", "modifications", "hypothesis")},
        )
        self._log("proposal", record, rec_id)

    def report(self, feedback: Feedback) -> None:
        if feedback.intermediate:
            return
        params = self._pending.pop(feedback.rec_id, None)
        if params is None:
            return
        best_before = self._best()
        result = prompts.Result(
            feedback.rec_id,
            params,
            str(feedback.status),
            feedback.metric if feedback.status is RecStatus.SUCCESS else None,
            feedback.failure_class,
        )
        self._results[feedback.rec_id] = result
        self._decide(result, best_before)

    def warm_start(self, params: dict[str, Any], metric: float) -> None:
        inside = {p.name: params.get(p.name, p.default) for p in self.space}
        if not all(p.contains(inside[p.name]) for p in self.space):
            return
        self._results["baseline"] = prompts.Result("baseline", inside, "success", metric)
        self._seen.setdefault(fingerprint(inside), "baseline")

    def restore(self, history: list[tuple[Any, ...]]) -> None:
        """Rebuild results, running configurations and counters from the store; no call is made."""
        super().restore(history)
        self._journal.clear()  # the brain log already holds what the replay re-created

    # ------------------------------------------------------------------ for subclasses
    def _propose_one(self) -> tuple[Proposal | None, str | None]:
        """One proposal from the model, or ``(None, why)`` when every attempt failed."""
        raise NotImplementedError

    def _fallback(self, reason: str) -> Proposal:
        """A model-free proposal (a draw from the prior not tried yet), counted as a fallback."""
        params = self.space.sample(self._rng)
        for _ in range(50):
            if fingerprint(params) not in self._seen:
                break
            params = self.space.sample(self._rng)
        return self._fallback_proposal(params, "random draw from the prior", reason)

    def _fallback_proposal(self, params: dict[str, Any], what: str, reason: str, **meta: Any) -> Proposal:
        note = f"FALLBACK ({what}): {reason}"
        return Proposal(
            params=params,
            note=note[:200],
            meta={"source": "fallback", "rationale": note, "fallback_reason": reason, **meta},
        )

    def _decide(self, result: prompts.Result, best_before: prompts.Result | None) -> None:
        """Journal what a finished recommendation means for the search (subclasses keep/discard)."""
        if result.metric is None:
            reasoning = f"failed ({result.failure_class or result.status}); the model sees it as a failure"
        elif best_before is None or best_before.metric is None or self.better(result.metric, best_before.metric):
            reasoning = f"new best {self.metric}={result.metric:.6g}"
        else:
            reasoning = f"{result.metric:.6g} does not beat the best #{best_before.rec_id} ({best_before.metric:.6g})"
        record = DecisionRecord(decision="recorded", status=result.status, metric=result.metric, reasoning=reasoning)
        self._log("decision", record, result.rec_id if isinstance(result.rec_id, int) else None)

    def _context(self) -> prompts.Context:
        return prompts.Context(
            space=self.space,
            metric=self.metric,
            direction=self.direction,
            results=list(self._results.values()),
            pending=[dict(p) for p in self._pending.values()] + [dict(p.params) for p in self._unbound.values()],
            best=self._best(),
        )

    def _best(self) -> prompts.Result | None:
        scored = [r for r in self._results.values() if r.metric is not None]
        if not scored:
            return None
        return max(scored, key=lambda r: r.metric if self.direction == "maximize" else -r.metric)

    def _check_new(self, params: dict[str, Any]) -> None:
        seen = self._seen.get(fingerprint(params))
        if seen is not None:
            where = "is running now" if seen == "running" else f"was already tried as #{seen}"
            raise RepeatError(f"this configuration {where}; propose one that differs from every listed trial", seen)

    def _ask(self, purpose: str, task: str, schema: dict[str, Any], accept: Callable[[dict[str, Any]], T]) -> Asked:
        """Ask until an answer is accepted or ``llm_retries`` retries are spent; journal every attempt."""
        self._calls += 1
        call_id = f"{self.name}-{self._calls:04d}"
        built = prompts.build(self._context(), task)
        messages = list(built.messages)
        error: str | None = None
        transport_failures = 0
        for attempt in range(self.settings.llm_retries + 1):
            answer = self.client.chat(messages, schema, attempt=transport_failures)
            record = CallRecord(
                call_id=call_id,
                attempt=attempt + 1,
                purpose=purpose,
                prompt_chars=sum(len(m["content"]) for m in messages),
                history_in_prompt=built.history_in_prompt,
                pending_in_prompt=built.pending_in_prompt,
                outcome=answer.outcome,
                response=redact(answer.text) if answer.text else None,
                error=redact(answer.error) if answer.error else None,
                latency_s=round(answer.latency_s, 4),
                usage=answer.usage,
            )
            if answer.outcome != "ok" or answer.text is None:
                transport_failures += 1
                error = answer.error
                self._log("call", record)
                continue
            try:
                data = parse_json_answer(answer.text)
                record.parsed = data
                value = accept(data)
            except ProposalError as exc:
                record.outcome, record.error = "invalid", str(exc)
                record.repeat_of = getattr(exc, "repeat_of", None)
            except ValueError as exc:
                record.outcome, record.error = "malformed", str(exc)
            else:
                record.rationale = _rationale(data)
                record.clamped = list(getattr(value, "clamped", []) or [])
                self._log("call", record)
                return Asked(value, call_id, attempt + 1, built.history_in_prompt, rationale=record.rationale)
            error = record.error
            self._log("call", record)
            messages += [
                {"role": "assistant", "content": answer.text},
                {
                    "role": "user",
                    "content": f"That answer was rejected: {record.error}. Reply again with the JSON "
                    "object only, in the shape asked for.",
                },
            ]
        return Asked(None, call_id, self.settings.llm_retries + 1, built.history_in_prompt, error)

    def _log(self, kind: str, body: Any, rec_id: int | None = None) -> None:
        self._journal.append(BrainRecord.wrap(kind, self.name, body, rec_id))

    def _reference(self) -> dict[str, Any]:
        """The configuration an answer's missing parameters come from: the best so far, else the defaults."""
        best = self._best()
        return dict(best.params) if best is not None else self._values_near({})

    def _values_near(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` moved inside the space (a default outside a derived range is clamped)."""
        out = {}
        for p in self.space:
            value = params.get(p.name, p.default)
            try:
                out[p.name] = check_value(p, value)[0]
            except ProposalError:
                out[p.name] = p.choices[0] if p.choices else p.low
        return self.space.repair(out)


def _rationale(data: dict[str, Any]) -> str | None:
    for key in ("rationale", "hypothesis", "reason", "reasoning"):
        if isinstance(data.get(key), str) and data[key].strip():
            return data[key].strip()[:1000]
    return None
