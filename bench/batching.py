"""Benchmark 7: CPU per analysed turn at batch 1, 8 and 32 (issue 12), the figure K is chosen from.

In one process and one thread, the default per-turn pipeline (redaction, sentiment, issues) runs
through ``Pipeline.analyze_many`` over the corpus turns in batches of 1, 8 and 32 (a distinct text
per pass, after a warm-up), and the 50 category rules of benchmark 5 are evaluated over the analysed
turns. CPU time (``time.process_time``) per turn at each batch size, each stage's share, and the
ratio of each batch size's cost to batch 1's, all measured in the same run and interleaved. Each pass
makes every text distinct (a made-up word in its last sentence) and empties the embedder's cache of
short texts, so no analyser answers from a cache of an earlier pass.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections import defaultdict
from typing import Any

from analysis_cost import COMPONENTS, rule_sources
from corpus import TURNS

BATCHES = (1, 8, 32)


def _vary(text: str, marker: str) -> str:
    """``text`` made distinct by a made-up word inside its last sentence.

    Not appended after it: a suffix such as " (0.8)" would be a sentence of its own (and bring digits),
    making every turn a multi-sentence, number-bearing turn, which the corpus' turns mostly are not.
    """
    body = text.rstrip(".!?")
    return f"{body} {marker}{text[len(body):]}"


def run(quick: bool = False) -> dict[str, Any]:
    from livelens.analysis import load_pipeline
    from livelens.analysis.types import Turn
    from livelens.rules.engine import CompiledRule, Evaluation, TurnFacts, needs_embedding

    passes = 1 if quick else 3
    pipeline = load_pipeline(COMPONENTS)
    base = [Turn(id=f"t{i}", contact_id="bench", channel="CHAT", participant_id=role.lower(),
                 participant_role=role, content=text, language="en-US") for i, (role, text) in enumerate(TURNS)]
    if quick:
        base = base[:32]
    pipeline.analyze_many(base[:32])  # warm-up at every shape the batches will have
    rules = [CompiledRule.from_source(f"rule-{i}", f"rule {i}", source, [{"ActionType": "ASSIGN_CONTACT_CATEGORY"}])
             for i, source in enumerate(rule_sources())]
    from livelens.analysis.embeddings import load_embedder

    embedder = load_embedder()
    embed = embedder.embed if needs_embedding(rules) else None
    stages: dict[int, dict[str, float]] = {b: defaultdict(float) for b in BATCHES}
    turns_done: dict[int, int] = {b: 0 for b in BATCHES}
    for p in range(passes):
        for batch in BATCHES:  # interleaved: a slow moment of the machine hits every batch size alike
            marker = f"zz{chr(97 + p)}{chr(97 + BATCHES.index(batch))}"
            varied = [dataclasses.replace(t, id=f"{t.id}-{p}-{batch}", content=_vary(t.content, marker))
                      for t in base]

            mark = [0.0]

            def observe(name: str, seconds: float, batch: int = batch, mark: list[float] = mark) -> None:
                # Stages run one after another, so a stage's CPU is the process time since the last mark.
                now = time.process_time()
                stages[batch][name] += now - mark[0]
                mark[0] = now

            clear = getattr(embedder, "clear_cache", None)
            if clear is not None:
                clear()  # measure the model, not the cache of short repeated texts
            cpu = 0.0
            analysed = []
            for start in range(0, len(varied), batch):
                chunk = varied[start:start + batch]
                began = time.process_time()
                mark[0] = began
                analysed += pipeline.analyze_many(chunk, None, observe)
                cpu += time.process_time() - began
            stages[batch]["pipeline (cpu)"] += cpu
            evaluation = Evaluation(rules, {}, attributes={"tier": "gold"}, embed=embed)
            began = time.process_time()
            for index, (turn, analysis) in enumerate(zip(varied, analysed, strict=True)):
                if index and index % 7 == 0:
                    evaluation = Evaluation(rules, {}, attributes={"tier": "gold"}, embed=embed)
                evaluation.on_turn(TurnFacts(id=str(uuid.uuid4()), role=turn.participant_role, text=turn.content,
                                             sentiment=analysis.sentiment, redaction=analysis.redaction,
                                             embedding=analysis.extras.get("embedding")))
            stages[batch]["rules (cpu)"] += time.process_time() - began
            turns_done[batch] += len(varied)
    result: dict[str, Any] = {"turns_per_batch_size": turns_done[1], "batches": {}}
    for batch in BATCHES:
        n = turns_done[batch]
        pipeline_ms = stages[batch]["pipeline (cpu)"] / n * 1000
        rules_ms = stages[batch]["rules (cpu)"] / n * 1000
        result["batches"][str(batch)] = {
            "cpu_ms_per_turn": round(pipeline_ms + rules_ms, 2),
            "pipeline_cpu_ms_per_turn": round(pipeline_ms, 2),
            "rules_cpu_ms_per_turn": round(rules_ms, 2),
            "turns_per_core_s": round(1000 / (pipeline_ms + rules_ms), 1),
            "stage_cpu_ms_per_turn": {k: round(v / n * 1000, 2) for k, v in stages[batch].items()
                                      if "(cpu)" not in k},
        }
    one = result["batches"]["1"]["cpu_ms_per_turn"]
    result["ratio_to_batch_1"] = {b: round(result["batches"][str(b)]["cpu_ms_per_turn"] / one, 3) for b in BATCHES}
    return result


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=2))
