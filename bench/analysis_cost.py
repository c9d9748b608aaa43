"""Benchmark 5: what analysis costs.

In one process and one thread, the server's per-turn pipeline (the default
analysers: redaction, sentiment, issues) runs over the corpus turns, and then
category rules: 50 rules evaluated by livelens' rule engine
(``livelens.rules.engine.Evaluation``, as the analysis worker's RuleRunner
does) over the analysed turns. CPU time (``time.process_time``) per analyser
gives turns analysed per second per core and each analyser's share.

Memory per live contact is measured in benchmark 1 (the server's peak RSS
with 1,000 live contacts, over its RSS once warm) and reported here.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any

from corpus import TURNS

COMPONENTS = ("redaction", "sentiment", "issues")


def rule_sources() -> list[str]:
    """50 category rules of the kinds a contact centre writes: phrases, sentiment, meaning, mixtures."""
    said = [
        ("refund", "customer said ('refund', 'money back', 'reimburse')"),
        ("cancel", "customer said any ('cancel', 'close my account', 'terminate')"),
        ("charged-twice", "customer said ('charged twice', 'double charge', 'duplicate payment')"),
        ("outage", "customer said ('down', 'outage', 'no connection', 'not working')"),
        ("crash", "customer said ('crash', 'crashing', 'freezes')"),
        ("delivery", "customer said ('never arrived', 'not delivered', 'tracking')"),
        ("declined", "customer said ('declined', 'rejected')"),
        ("frustrated", "customer said ('frustrating', 'frustrated', 'annoyed', 'terrible')"),
        ("thanks", "customer said ('thank you', 'thanks', 'appreciate')"),
        ("greeting", "agent said ('hello', 'hi', 'good morning') in first 2 turns"),
        ("apology", "agent said ('sorry', 'apologise', 'apologize')"),
        ("verify-email", "agent said ('email address', 'e-mail')"),
        ("verify-name", "agent said ('name', 'account holder')"),
        ("closing", "agent said ('anything else', 'have a nice day', 'wonderful evening')"),
        ("credit", "agent said ('credit', 'discount', 'waive')"),
        ("escalate", "anyone said ('supervisor', 'manager', 'escalate')"),
        ("legal", "customer said ('lawyer', 'legal action', 'sue')"),
        ("competitor", "customer said ('switch provider', 'competitor', 'other company')"),
        ("card", "anyone said ('card', 'credit card', 'debit card')"),
        ("address", "anyone said ('address', 'street', 'apartment')"),
        ("app-update", "agent said ('update', 'version')"),
        ("no-apology", "agent did not say ('sorry', 'apologise')"),
        ("no-greeting", "agent never said ('hello', 'hi') in first 2 turns"),
        ("order", "customer said ('order', 'purchase')"),
        ("bill", "anyone said ('bill', 'invoice', 'statement')"),
        ("work-impact", "customer said ('work from home', 'lost a full day', 'business')"),
        ("reship", "agent said ('reship', 'replacement', 'send a new')"),
        ("investigation", "agent said ('investigation', 'look into', 'check')"),
        ("pending", "agent said ('pending', 'authorisation', 'authorization')"),
        ("relief", "customer said ('relief', 'great', 'good')"),
    ]
    sentiment = [
        ("neg-run", "customer sentiment NEGATIVE for 2 consecutive turns"),
        ("neg-any", "customer sentiment is NEGATIVE"),
        ("pos-end", "customer sentiment POSITIVE in last 2 turns"),
        ("recovered", "customer sentiment from NEGATIVE to POSITIVE"),
        ("agent-neg", "agent sentiment is NEGATIVE"),
        ("neutral-start", "customer sentiment NEUTRAL in first 2 turns"),
        ("angry-refund", "customer sentiment is NEGATIVE and customer said ('refund', 'money back')"),
        ("thanks-pos", "customer said 'thank' and customer sentiment is POSITIVE"),
    ]
    mixed = [
        ("churn-risk", "customer said any ('cancel', 'switch') and not agent said ('credit', 'discount')"),
        ("good-close", "agent said ('anything else') and customer said ('thank', 'great')"),
        ("pii-shared", "customer said ('email', 'phone', 'card', 'address') or agent said ('confirm')"),
        ("vip", "attribute 'tier' = 'gold' and customer said 'refund'"),
        ("repeat", "customer said ('second time', 'again', 'keeps')"),
        ("urgent", "customer said ('urgent', 'right now', 'immediately') within first 3 turns"),
        ("wait", "customer said ('how long', 'wait', 'waiting')"),
        ("fixed", "agent said ('fixed', 'resolved', 'sorted') or customer said 'sorted'"),
    ]
    means = [
        ("means-refund", "customer means ('I want my money back', 'please refund me')"),
        ("means-cancel", "customer means ('I want to cancel my subscription')"),
        ("means-outage", "customer means ('my internet connection is not working')"),
        ("means-delivery", "customer means ('my package did not arrive')"),
    ]
    rules = [source for _, source in said + sentiment + mixed + means]
    assert len(rules) == 50, len(rules)
    return rules


def _time_rules(analysed: list[tuple[str, str, str, Any]], passes: int) -> dict[str, Any]:
    """CPU seconds per turn for 50 rules over the analysed turns (one Evaluation per conversation)."""
    try:
        from livelens.rules.engine import CompiledRule, Evaluation, TurnFacts, needs_embedding
    except ImportError as exc:
        return {"available": False, "reason": f"livelens.rules is not importable: {exc}"}
    try:
        rules = [CompiledRule.from_source(f"rule-{i}", f"rule {i}", source,
                                          [{"ActionType": "ASSIGN_CONTACT_CATEGORY"}])
                 for i, source in enumerate(rule_sources())]
        embed = None
        if needs_embedding(rules):
            from livelens.analysis.embeddings import load_embedder
            embed = load_embedder().embed
        warm = Evaluation(rules, {}, attributes={"tier": "gold"}, embed=embed)
        warm.on_turn(TurnFacts(id="warm", role="CUSTOMER", text="warming up the example vectors"))
        used = 0.0
        turns = fired = 0
        for _ in range(passes):
            evaluation = Evaluation(rules, {}, attributes={"tier": "gold"}, embed=embed)
            for index, (role, text, sentiment, redaction) in enumerate(analysed):
                if index and index % 7 == 0:  # a new conversation every few turns: fresh rule state
                    evaluation = Evaluation(rules, {}, attributes={"tier": "gold"}, embed=embed)
                facts = TurnFacts(id=str(uuid.uuid4()), role=role, text=text, sentiment=sentiment, redaction=redaction)
                started = time.process_time()
                fired += len(evaluation.on_turn(facts))
                used += time.process_time() - started
                turns += 1
        return {"available": True, "rules": len(rules), "semantic_rules": sum(1 for r in rules if r.function.semantic),
                "cpu_seconds": used, "turns": turns, "firings": fired}
    except Exception as exc:  # the rules engine is young; report, do not hide, a failure
        return {"available": False, "reason": f"{type(exc).__name__}: {exc}"}


def run(quick: bool = False) -> dict[str, Any]:
    from livelens.analysis import load_pipeline
    from livelens.analysis.context import TurnContext
    from livelens.analysis.types import Turn, TurnAnalysis

    passes = 1 if quick else 4
    began = time.perf_counter()
    pipeline = load_pipeline(COMPONENTS)
    steps = getattr(pipeline, "_steps", None)
    if steps is None:
        raise RuntimeError("livelens.analysis.Pipeline no longer exposes its steps; update bench/analysis_cost.py")
    turns = [Turn(id=f"t{i}", contact_id="bench", channel="CHAT", participant_id=role.lower(),
                  participant_role=role, content=text, language="en-US")
             for i, (role, text) in enumerate(TURNS)]
    for turn in turns[:8]:  # warm-up: models loaded, caches primed
        pipeline.analyze(turn)
    load_seconds = time.perf_counter() - began

    shares: dict[str, float] = {name: 0.0 for name, _ in steps}
    analysed = []
    count = 0
    wall_started = time.perf_counter()
    for p in range(passes):
        for turn in turns:
            # A distinct text per pass, so no analyser can answer from a cache of earlier turns.
            varied = dataclasses.replace(turn, id=f"{turn.id}-{p}", content=f"{turn.content} ({p})")
            ctx = TurnContext(varied, TurnAnalysis())
            for name, step in steps:
                started = time.process_time()
                step(ctx)
                shares[name] += time.process_time() - started
            analysed.append((varied.participant_role, varied.content, ctx.analysis.sentiment, ctx.analysis.redaction))
            count += 1
    wall = time.perf_counter() - wall_started
    rules = _time_rules(analysed, 1)
    pipeline_cpu = sum(shares.values())
    if rules.get("available"):
        shares["categories (50 rules)"] = rules["cpu_seconds"] * count / max(rules["turns"], 1)
    total = sum(shares.values())
    return {
        "turns": count,
        "load_seconds": round(load_seconds, 2),
        "pipeline_turns_per_core_s": round(count / pipeline_cpu, 1),
        "turns_per_core_s": round(count / total, 1),
        "cpu_ms_per_turn": round(total / count * 1000, 2),
        "wall_turns_per_s": round(count / wall, 1),
        "shares": {name: round(seconds / total, 3) for name, seconds in shares.items()},
        "ms_per_turn": {name: round(seconds / count * 1000, 2) for name, seconds in shares.items()},
        "rules": {k: v for k, v in rules.items() if k != "cpu_seconds"},
    }
