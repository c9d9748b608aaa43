"""Rule-state rows and bytes a turn writes back: benchmark 5's 50 rules over the corpus conversations.

    python bench/rule_state_rows.py                    # this tree
    PYTHONPATH=/tmp/base/src python bench/rule_state_rows.py   # a baseline (``git archive REF src``)

Each conversation's turns go through the default pipeline (for the sentiment and the embedding the rules
read), then through a fresh ``Evaluation`` per turn built from the states written so far, as the analysis
worker does; what the turn marks changed is what the worker writes. Deterministic: a count, not a timing.
"""

from __future__ import annotations

import json

from analysis_cost import rule_sources
from corpus import CONVERSATIONS


def run() -> dict[str, float]:
    from livelens.analysis import load_pipeline
    from livelens.analysis.embeddings import load_embedder
    from livelens.analysis.types import Turn
    from livelens.rules.engine import CompiledRule, Evaluation, TurnFacts

    rules = [CompiledRule.from_source(f"rule-{i}", f"rule {i}", source, [{"ActionType": "ASSIGN_CONTACT_CATEGORY"}])
             for i, source in enumerate(rule_sources())]
    pipeline = load_pipeline(("redaction", "sentiment", "issues"))
    embed = load_embedder().embed
    rows = size = turns = 0
    for c, conversation in enumerate(CONVERSATIONS):
        stored: dict[str, str] = {}
        for i, (role, text) in enumerate(conversation):
            analysis = pipeline.analyze(Turn(id=f"{c}-{i}", contact_id=str(c), channel="CHAT",
                                             participant_id=role.lower(), participant_role=role, content=text,
                                             language="en-US"))
            evaluation = Evaluation(rules, {k: json.loads(v) for k, v in stored.items()}, embed=embed)
            evaluation.on_turn(TurnFacts(f"{c}-{i}", role, text, analysis.sentiment, None, None,
                                         embedding=analysis.extras.get("embedding")))  # type: ignore[arg-type]
            written = {k: json.dumps(v) for k, v in evaluation.changed.items()}
            rows += len(written)
            size += sum(map(len, written.values()))
            turns += 1
            stored.update(written)
    return {"turns": turns, "rules": len(rules), "rows_per_turn": round(rows / turns, 1),
            "bytes_per_turn": round(size / turns)}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
