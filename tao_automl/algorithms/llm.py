"""``llm``: each proposal is one chat completion that sees the whole search so far.

The prompt carries the space (types, bounds, options, defaults), the metric and its direction,
every finished trial (parameters -> metric, or the failure class), the best so far and the
configurations still running. The answer is a JSON object ``{"params": {...}, "rationale": ...}``
checked against the space (``tao_automl.llm.proposal``): unknown names are rejected, numbers out of
range are clamped and the clamp is logged, a repeat of a tried configuration is rejected. With
``n`` free slots the model is asked ``n`` times, each prompt listing the proposals before it as
running, so parallel proposals differ.
"""

from __future__ import annotations

from typing import Any

from tao_automl.algorithms.base import Proposal
from tao_automl.llm.guided import LLMGuided
from tao_automl.llm.prompt import value_schema
from tao_automl.llm.proposal import Checked, ProposalError, check_params

TASK = (
    'Propose the next configuration to train. Reply with JSON: {"params": {<parameter name>: <value>, ...}, '
    '"rationale": "<one or two sentences: which results above led you to this choice>"}. Give every parameter, '
    "keep each value inside its range, and do not repeat a finished or running configuration."
)


class LLMSearch(LLMGuided):
    """An LLM proposes every configuration; failures fall back (counted) only when allowed."""

    name = "llm"

    def _propose_one(self) -> tuple[Proposal | None, str | None]:
        reference = self._reference()

        def accept(data: dict[str, Any]) -> Checked:
            raw = data.get("params")
            if raw is None and set(data) - {"rationale"} <= set(self.space.names) | {"rationale"}:
                raw = {k: v for k, v in data.items() if k != "rationale"}  # the params object given flat
            if raw is None:
                raise ProposalError('the answer has no "params" object')
            checked = check_params(self.space, raw, reference)
            self._check_new(checked.params)
            return checked

        schema = {
            "type": "object",
            "properties": {"params": value_schema(self.space), "rationale": {"type": "string"}},
            "required": ["params", "rationale"],
            "additionalProperties": False,
        }
        asked = self._ask("propose", TASK, schema, accept)
        if asked.value is None:
            return None, asked.error
        checked: Checked = asked.value
        rationale = asked.rationale or "(no rationale given)"
        meta = {
            "source": "llm",
            "rationale": rationale,
            "call_id": asked.call_id,
            "attempts": asked.attempts,
            "history_in_prompt": asked.history_in_prompt,
        }
        if checked.clamped:
            meta["clamped"] = checked.clamped
        if checked.filled:
            meta["filled"] = checked.filled
        return Proposal(params=checked.params, note=rationale[:200], meta=meta), None
