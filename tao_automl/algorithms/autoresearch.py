"""``autoresearch``: an autonomous-researcher loop over one current best configuration.

Each experiment starts from the current best, changes one thing (the LLM states the change and a
hypothesis), trains at the same fixed budget (the spec's own epochs; the epoch count is never a
modification), and is kept only if the metric beats the current best, else discarded. Every
experiment is journaled as exactly ``{experiment_id, spec, modifications, hypothesis, metric,
status, decision, reasoning, job_id, timestamp}``; ``experiment_id`` is the recommendation id and
``job_id`` is filled in by the runner when it writes the brain log (an algorithm never sees jobs).

The loop stops after ``automl_max_experiments`` experiments or after 5 failed experiments in a row.
With several free slots it runs several experiments against the same current best, each decided
against the best at the time it finishes. The reference metric is the baseline (the defaults)
once the runner has measured it; before that, the first successful experiment becomes the best.
"""

from __future__ import annotations

import time
from typing import Any

from tao_automl.algorithms.base import Proposal, fingerprint
from tao_automl.llm import prompt as prompts
from tao_automl.llm.guided import LLMGuided, RepeatError
from tao_automl.llm.prompt import params_text, value_schema
from tao_automl.llm.proposal import Checked, ProposalError, check_params
from tao_automl.llm.records import ExperimentRecord

MAX_CONSECUTIVE_FAILURES = 5


class AutoResearch(LLMGuided):
    """Keep a current best; propose one modification with a hypothesis; keep it only if it improves."""

    name = "autoresearch"
    budget_settings = ("automl_max_experiments",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._current = prompts.Result("defaults", self._values_near({}), "not measured", None)
        self._experiments = 0
        self._consecutive_failures = 0
        self._meta: dict[int, dict[str, Any]] = {}

    def planned_recommendations(self) -> int | None:
        return self.settings.automl_max_experiments

    def done(self) -> bool:
        return (
            super().done()
            or self._experiments >= self.settings.automl_max_experiments
            or self._consecutive_failures >= MAX_CONSECUTIVE_FAILURES
        )

    def propose(self, n: int) -> list[Proposal]:
        left = self.settings.automl_max_experiments - self._experiments - len(self._unbound)
        return super().propose(min(n, left)) if left > 0 else []

    def _propose_one(self) -> tuple[Proposal | None, str | None]:
        current = self._current
        measured = f"{self.metric}={current.metric:.6g}" if current.metric is not None else "not measured yet"
        task = (
            f"Current best configuration ({current.rec_id}, {measured}): {params_text(current.params)}\n\n"
            "Run the next experiment: change one parameter (two at most) of the current best, state the hypothesis "
            'it tests, and do not repeat a finished or running configuration. Reply with JSON: {"modifications": '
            '{<parameter name>: <new value>}, "hypothesis": "<what you expect and why, citing the results above>"}.'
        )

        def accept(data: dict[str, Any]) -> Checked:
            mods = data.get("modifications", data.get("params"))
            if not isinstance(mods, dict):
                raise ProposalError('the answer has no "modifications" object')
            checked = check_params(self.space, mods, current.params, partial=True)
            if checked.params == current.params:  # a repeat of the listed current best: the history was ignored
                raise RepeatError(
                    f"the modification leaves the current best ({current.rec_id}) unchanged", current.rec_id
                )
            self._check_new(checked.params)
            return checked

        schema = {
            "type": "object",
            "properties": {
                "modifications": {**value_schema(self.space), "required": [], "minProperties": 1},
                "hypothesis": {"type": "string"},
            },
            "required": ["modifications", "hypothesis"],
            "additionalProperties": False,
        }
        asked = self._ask("experiment", task, schema, accept)
        if asked.value is None:
            return None, asked.error
        checked: Checked = asked.value
        hypothesis = asked.rationale or "(no hypothesis given)"
        meta = self._experiment_meta(checked.params, hypothesis)
        meta.update(call_id=asked.call_id, attempts=asked.attempts, history_in_prompt=asked.history_in_prompt)
        if checked.clamped:
            meta["clamped"] = checked.clamped
        return Proposal(params=checked.params, note=hypothesis[:200], meta=meta), None

    def _fallback(self, reason: str) -> Proposal:
        """Model-free experiment: one parameter of the current best redrawn from its prior."""
        params = dict(self._current.params)
        for _ in range(50):
            p = self._rng.choice(self.space.params)
            params = self.space.repair({**self._current.params, p.name: p.sample(self._rng)})
            if params != self._current.params and fingerprint(params) not in self._seen:
                break
        hypothesis = "fallback: one parameter of the current best redrawn at random (no usable LLM answer)"
        meta = self._experiment_meta(params, hypothesis)
        del meta["source"]
        return self._fallback_proposal(params, "one-parameter random perturbation", reason, **meta)

    def _experiment_meta(self, params: dict[str, Any], hypothesis: str) -> dict[str, Any]:
        base = self._current.params
        mods = {k: {"from": base.get(k), "to": v} for k, v in params.items() if base.get(k) != v}
        return {
            "source": "llm",
            "rationale": hypothesis,
            "hypothesis": hypothesis,
            "modifications": mods,
            "base": self._current.rec_id,
        }

    def bind(self, rec_id: int, proposal: Proposal) -> None:
        super().bind(rec_id, proposal)
        self._experiments += 1
        meta = proposal.meta or {}
        self._meta[rec_id] = {
            "modifications": meta.get("modifications") or {},
            "hypothesis": meta.get("hypothesis") or proposal.note,
        }

    def _decide(self, result: prompts.Result, best_before: prompts.Result | None) -> None:
        meta = self._meta.pop(int(result.rec_id), {"modifications": {}, "hypothesis": ""})
        current = self._current
        if result.metric is None:
            self._consecutive_failures += 1
            decision = "discard"
            reasoning = (
                f"failed ({result.failure_class or result.status}); {self._consecutive_failures} failed in a row "
                f"(the loop stops at {MAX_CONSECUTIVE_FAILURES})"
            )
        else:
            self._consecutive_failures = 0
            if current.metric is None:
                decision = "keep"
                reasoning = f"no measured reference yet: {self.metric}={result.metric:.6g} becomes the current best"
            elif self.better(result.metric, current.metric):
                decision = "keep"
                reasoning = f"{result.metric:.6g} beats the current best {current.rec_id} ({current.metric:.6g})"
            else:
                decision = "discard"
                reasoning = (
                    f"{result.metric:.6g} does not beat the current best {current.rec_id} ({current.metric:.6g})"
                )
            if decision == "keep":
                self._current = result
        record = ExperimentRecord(
            experiment_id=int(result.rec_id),
            spec=dict(result.params),
            modifications=meta["modifications"],
            hypothesis=meta["hypothesis"],
            metric=result.metric,
            status=result.status,
            decision=decision,
            reasoning=reasoning,
            job_id=None,
            timestamp=time.time(),
        )
        self._log("experiment", record, int(result.rec_id))

    def warm_start(self, params: dict[str, Any], metric: float) -> None:
        """The measured defaults become the reference unless a kept experiment already beats them."""
        super().warm_start(params, metric)
        baseline = self._results.get("baseline")
        if baseline is None:
            return
        if self._current.metric is None or self.better(metric, self._current.metric):
            self._current = baseline
