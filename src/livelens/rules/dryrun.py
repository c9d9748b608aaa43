"""Dry run: evaluate one ``Function`` over a whole transcript and explain it.

Used by ``livelens rules test`` (locally, on a JSON turn list) and by the
native ``POST /livelens/v1/instances/{InstanceId}/rules/test`` (on a stored
contact or a given transcript). The transcript is taken as complete, so
"not said" and "in last N" conditions are decided after its last turn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from livelens.rules.engine import CompiledRule, Embed, Evaluation, TurnFacts
from livelens.rules.parser import Function, parse

Sentiment = Callable[[str, str], str | None]  # (role, text) -> POSITIVE/NEUTRAL/NEGATIVE


def _get(turn: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in turn and turn[name] is not None:
            return turn[name]
    return None


def turn_facts(turns: Sequence[Mapping[str, Any]], sentiment: Sentiment | None = None) -> list[TurnFacts]:
    """Turns given as ``{"ParticipantRole", "Content", "Sentiment"?, "BeginOffsetMillis"?, ...}``."""
    facts = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, Mapping):
            raise ValueError(f"turn {i + 1} must be a JSON object")
        role = _get(turn, "ParticipantRole", "role", "Role")
        text = _get(turn, "Content", "content", "text")
        if not isinstance(role, str) or not isinstance(text, str):
            raise ValueError(f"turn {i + 1} needs ParticipantRole and Content strings")
        level = _get(turn, "Sentiment", "sentiment")
        if level is None and sentiment is not None:
            level = sentiment(role.upper(), text)
        facts.append(
            TurnFacts(
                id=str(_get(turn, "Id", "id") or f"turn-{i + 1}"),
                role=role.upper(),
                text=text,
                sentiment=level.upper() if isinstance(level, str) else None,
                begin_ms=_get(turn, "BeginOffsetMillis", "begin_ms"),
                end_ms=_get(turn, "EndOffsetMillis", "end_ms"),
            )
        )
    return facts


def _evaluate(
    function: Function, root: Any, facts: Sequence[TurnFacts], attributes: Mapping[str, str], embed: Embed | None
) -> tuple[int | None, bool, list[dict[str, Any]]]:
    rule = CompiledRule("dry-run", "dry-run", Function(function.source, root, function.leaves))
    evaluation = Evaluation([rule], attributes=attributes, embed=embed)
    for index, turn in enumerate(facts, 1):
        for firing in evaluation.on_turn(turn):
            return index, False, firing.explain()
    for firing in evaluation.on_end():
        return None, True, firing.explain()
    return None, False, []


def dry_run(
    source: str | Function,
    facts: Sequence[TurnFacts],
    *,
    attributes: Mapping[str, str] | None = None,
    embed: Embed | None = None,
) -> dict[str, Any]:
    """The rule's verdict over ``facts`` and, per condition, where it held."""
    function = parse(source) if isinstance(source, str) else source
    attributes = attributes or {}
    turn, at_end, explanation = _evaluate(function, function.root, facts, attributes, embed)
    conditions = []
    for leaf in function.leaves:
        leaf_turn, leaf_end, matches = _evaluate(function, leaf, facts, attributes, embed)
        conditions.append(
            {
                "Condition": function.text_of(leaf),
                "Holds": leaf_turn is not None or leaf_end,
                "Turn": leaf_turn,
                "AtContactEnd": leaf_end,
                "Matches": matches,
            }
        )
    return {
        "Function": function.source,
        "Turns": len(facts),
        "Matched": turn is not None or at_end,
        "Turn": turn,
        "AtContactEnd": at_end,
        "Explanation": explanation,
        "Conditions": conditions,
    }


def format_report(report: Mapping[str, Any]) -> str:
    """A human-readable dry-run report (for the CLI)."""
    lines = [f"Function: {report['Function']}"]
    if report["Matched"]:
        where = "at contact end" if report["AtContactEnd"] else f"on turn {report['Turn']} of {report['Turns']}"
        lines.append(f"MATCHED {where}")
    else:
        lines.append(f"no match in {report['Turns']} turns")
    for match in report["Explanation"]:
        lines.append(_describe(match))
    lines.append("Conditions:")
    for condition in report["Conditions"]:
        if condition["Holds"]:
            where = "at contact end" if condition["AtContactEnd"] else f"from turn {condition['Turn']}"
            lines.append(f"  [holds {where}] {condition['Condition']}")
            lines.extend("    " + _describe(m).strip() for m in condition["Matches"])
        else:
            lines.append(f"  [does not hold] {condition['Condition']}")
    return "\n".join(lines)


def _describe(match: Mapping[str, Any]) -> str:
    offsets = match.get("raw") or match.get("redacted")
    extra = ""
    if match.get("ms"):
        extra += f" at {match['ms'][0]}-{match['ms'][1]} ms"
    if match.get("score") is not None:
        extra += f" (similarity {match['score']}, closest example {match.get('phrase')!r})"
    elif match.get("phrase") is not None:
        extra += f" (phrase {match['phrase']!r})"
    if match.get("sentiment"):
        extra += f" sentiment {match['sentiment']}"
    span = f" chars {offsets[0]}-{offsets[1]}" if offsets else ""
    return (
        f"  turn {match['turn']} {match['role']} [{match['item']}]{span}: {match['text']!r}{extra}"
        f" <- {match['condition']}"
    )
