"""``hybrid``: the Bayesian sampler proposes candidates, the LLM chooses one and says why.

Design chosen: Optuna's pending-aware sampler (the ``bayesian`` algorithm, GP or TPE) asks for
``llm_hybrid_candidates`` configurations at once; because it conditions on pending trials they
are spread out rather than near-copies. The LLM sees them next to the whole history and picks
one by index with a rationale; the unchosen ones are withdrawn from the study (told as failed
trials, which the samplers ignore), so the model only learns from what really ran.

Why this design rather than letting the LLM decide phases (sweep / single trial / stop): the
sampler keeps every proposal inside a calibrated model of the results, while the LLM adds what a
surrogate cannot know (priors about optimizers, learning rates and batch sizes) at the one point
where it matters, the choice. A wrong or missing answer costs little: the fallback is the
sampler's own first candidate, and it is counted as a fallback like any other.
"""

from __future__ import annotations

from typing import Any

from tao_automl.algorithms.base import Feedback, Proposal
from tao_automl.algorithms.bayesian import BayesianSearch
from tao_automl.llm.guided import LLMGuided
from tao_automl.llm.prompt import params_text
from tao_automl.llm.proposal import ProposalError


class HybridSearch(LLMGuided):
    """Bayesian candidates, LLM choice; fallback = the sampler's first candidate (counted)."""

    name = "hybrid"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sampler = BayesianSearch(
            self.space, direction=self.direction, settings=self.settings, seed=self.seed, resumable=self.resumable
        )
        self._forward = True
        self._candidates: list[Proposal] = []

    def _propose_one(self) -> tuple[Proposal | None, str | None]:
        k = self.settings.llm_hybrid_candidates
        candidates = [c for c in self._sampler.propose(k) if not self._is_seen(c)]
        if not candidates:
            candidates = self._sampler.propose(1)
        self._candidates = candidates
        listing = "\n".join(f"{i}: {params_text(c.params)}" for i, c in enumerate(candidates))
        task = (
            f"A Bayesian optimization model ({self._sampler.sampler_name}) proposes these candidate configurations:\n"
            f"{listing}\n\nChoose the candidate most likely to improve on the best so far, given the finished "
            'trials above. Reply with JSON: {"choice": <candidate index>, "rationale": "<why, citing the results>"}.'
        )

        def accept(data: dict[str, Any]) -> int:
            raw = data.get("choice", data.get("index"))
            try:
                index = int(raw)
            except (TypeError, ValueError):
                raise ProposalError(
                    f'"choice" must be a candidate index 0..{len(candidates) - 1}, got {raw!r}'
                ) from None
            if not 0 <= index < len(candidates) or (index != raw and str(index) != str(raw).strip()):
                raise ProposalError(f'"choice" must be a candidate index 0..{len(candidates) - 1}, got {raw!r}')
            return index

        schema = {
            "type": "object",
            "properties": {
                "choice": {"type": "integer", "minimum": 0, "maximum": len(candidates) - 1},
                "rationale": {"type": "string"},
            },
            "required": ["choice", "rationale"],
            "additionalProperties": False,
        }
        asked = self._ask("choose", task, schema, accept)
        if asked.value is None:
            return None, asked.error
        chosen = candidates[asked.value]
        self._withdraw_except(chosen)
        rationale = asked.rationale or "(no rationale given)"
        meta = {
            "source": "llm",
            "rationale": rationale,
            "call_id": asked.call_id,
            "attempts": asked.attempts,
            "history_in_prompt": asked.history_in_prompt,
            "candidates": [c.params for c in candidates],
            "choice": asked.value,
        }
        return Proposal(params=chosen.params, note=rationale[:200], meta=meta), None

    def _fallback(self, reason: str) -> Proposal:
        top = self._candidates[0]
        self._withdraw_except(top)
        candidates = [c.params for c in self._candidates]
        return self._fallback_proposal(
            top.params, "the sampler's first candidate", reason, candidates=candidates, choice=0
        )

    def _withdraw_except(self, keep: Proposal) -> None:
        for c in self._candidates:
            if c is not keep:
                self._sampler.withdraw(c)
        self._candidates = []

    def _is_seen(self, proposal: Proposal) -> bool:
        try:
            self._check_new(proposal.params)
        except ProposalError:
            self._sampler.withdraw(proposal)
            return True
        return False

    def bind(self, rec_id: int, proposal: Proposal) -> None:
        super().bind(rec_id, proposal)
        if self._forward:
            self._sampler.bind(rec_id, proposal)

    def report(self, feedback: Feedback) -> None:
        super().report(feedback)
        if self._forward:
            self._sampler.report(feedback)

    def warm_start(self, params: dict[str, Any], metric: float) -> None:
        super().warm_start(params, metric)
        self._sampler.warm_start(params, metric)

    def restore(self, history: list[tuple[Any, ...]]) -> None:
        """The sampler replays the same history into a fresh study; the LLM is not called."""
        self._sampler.restore(history)
        self._forward = False
        try:
            super().restore(history)
        finally:
            self._forward = True
