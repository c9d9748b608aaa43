"""Amazon Connect's own Rules Function language (JSON), translated to and from livelens' readable one.

A rule copied from ``aws connect describe-rule`` or a CloudFormation template
has a ``Function`` such as::

    {"Version": "2022-11-25",
     "RuleFunction": {"Operator": "AND", "Operands": [
        {"Operator": "CONTAINS_ANY", "Operands": ["refund"],
         "ComparisonValue": "$.ContactLens.RealTimeCall.ExactMatch.Transcript",
         "FilterClause": {"LogicOperator": "AND",
                          "Filters": [{"Type": "ParticipantRole", "Data": "CUSTOMER"}]},
         "Negate": false}]}}

livelens evaluates it by translating it into its readable language
(:func:`to_readable`) and compiling that; the rule keeps the JSON exactly as
given. The conditions of the AWS reference for the real-time event sources
(``OnRealTimeCallAnalysisAvailable``; ``OnRealTimeChatAnalysisAvailable`` the
same under ``$.ContactLens.RealTimeChat``):

=====================================  ==================================================
ComparisonValue                        livelens
=====================================  ==================================================
``….ExactMatch.Transcript``            ``<role> said any (…)`` (``Negate``: ``not``)
``….PatternMatch.Transcript``          PLAIN and LIST objects: the phrases they spell;
                                       PROXIMITY and NUMERICAL: InvalidRequestException
``….ContactAttribute.<key>``           ``attribute "<key>" = "<value>"`` (``Negate``: ``!=``)
``….Sentiment.State``                  ``<role> sentiment is <LEVEL> [in last N seconds]``
``….Agent.AgentId``,                   InvalidRequestException: livelens has no agents
``….Queue.QueueId``                    or queues to compare with
=====================================  ==================================================

:func:`to_aws` goes the other way for the readable conditions that have a JSON
form (``livelens rules convert``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from itertools import product
from typing import Any

from livelens.rules.parser import (
    MAX_PHRASES,
    And,
    Attribute,
    Function,
    Means,
    Node,
    Not,
    Or,
    Said,
    SentimentChange,
    SentimentRun,
    parse,
)

VERSION = "2022-11-25"
PREFIXES = {"VOICE": "$.ContactLens.RealTimeCall", "CHAT": "$.ContactLens.RealTimeChat"}
_ROLES = {"CUSTOMER": "customer", "AGENT": "agent", "ANY": "anyone"}
_LEVELS = ("POSITIVE", "NEGATIVE", "NEUTRAL")


class AwsFunctionError(ValueError):
    """A Function in AWS's JSON language that livelens cannot accept; the message names where and why."""


def looks_like_json(source: str) -> bool:
    return source.lstrip().startswith("{")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _phrases(values: Sequence[str]) -> str:
    return "(" + ", ".join(_quote(v) for v in values) + ")"


def _strings(value: Any, where: str, *, exactly_one: bool = False) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise AwsFunctionError(f"{where} must be a non-empty list of strings.")
    if exactly_one and len(value) != 1:
        raise AwsFunctionError(f"{where} must hold exactly one value.")
    return list(value)


class _Translator:
    def __init__(self, channel: str | None) -> None:
        self.channel = channel

    def condition_path(self, value: Any, where: str) -> tuple[str, str]:
        """(channel, the part after ``$.ContactLens.RealTimeCall.`` / ``…RealTimeChat.``)."""
        if not isinstance(value, str):
            raise AwsFunctionError(f"{where}.ComparisonValue is required (a JSON path such as "
                                   f"$.ContactLens.RealTimeCall.ExactMatch.Transcript).")
        for channel, prefix in PREFIXES.items():
            if value.startswith(prefix + "."):
                if self.channel is not None and channel != self.channel:
                    source = "OnRealTimeCallAnalysisAvailable" if self.channel == "VOICE" else (
                        "OnRealTimeChatAnalysisAvailable")
                    raise AwsFunctionError(
                        f"{where}.ComparisonValue {value} is not a condition of {source}; use "
                        f"{PREFIXES[self.channel]}.…"
                    )
                return channel, value[len(prefix) + 1 :]
        raise AwsFunctionError(
            f"{where}.ComparisonValue {value} is not a real-time condition livelens evaluates "
            f"(it evaluates {PREFIXES['VOICE']}.… and {PREFIXES['CHAT']}.… conditions)."
        )

    def filters(self, clause: Any, where: str, allowed: Sequence[str]) -> dict[str, Any]:
        if clause is None:
            return {}
        if not isinstance(clause, Mapping):
            raise AwsFunctionError(f"{where}.FilterClause must be an object with LogicOperator and Filters.")
        if clause.get("LogicOperator", "AND") != "AND":
            raise AwsFunctionError(f"{where}.FilterClause.LogicOperator must be AND (the only one AWS supports).")
        found: dict[str, Any] = {}
        for i, item in enumerate(clause.get("Filters") or [], 1):
            kind = item.get("Type") if isinstance(item, Mapping) else None
            if kind not in allowed:
                raise AwsFunctionError(
                    f"{where}.FilterClause.Filters[{i}].Type {kind} is not a filter of this condition"
                    + (f" (livelens accepts {', '.join(allowed)})." if allowed else ".")
                )
            found[str(kind)] = item.get("Data")
        return found

    def speaker(self, filters: Mapping[str, Any], where: str) -> str:
        role = filters.get("ParticipantRole", "ANY")
        if role not in _ROLES:
            raise AwsFunctionError(f"{where}: ParticipantRole filter Data must be CUSTOMER, AGENT or ANY.")
        return _ROLES[role]

    def node(self, node: Any, where: str, *, top: bool = False) -> str:
        if not isinstance(node, Mapping):
            raise AwsFunctionError(f"{where} must be an object.")
        operator = node.get("Operator")
        if operator in ("AND", "OR") and "ComparisonValue" not in node:
            operands = node.get("Operands")
            if not isinstance(operands, list) or not operands:
                raise AwsFunctionError(f"{where}.Operands must list at least one condition.")
            parts = [self.node(child, f"{where}.Operands[{i}]") for i, child in enumerate(operands, 1)]
            joined = f" {operator.lower()} ".join(parts)
            return joined if top or len(parts) == 1 else f"({joined})"
        if top:
            raise AwsFunctionError(f"{where}.Operator must be AND or OR (a rule function starts with one).")
        text = self.condition(node, where)
        negate = node.get("Negate", False)
        if not isinstance(negate, bool):
            raise AwsFunctionError(f"{where}.Negate must be true or false.")
        return f"not ({text})" if negate else text

    def condition(self, node: Mapping[str, Any], where: str) -> str:
        _, path = self.condition_path(node.get("ComparisonValue"), where)
        operator = node.get("Operator")
        operands = node.get("Operands")
        if path in ("ExactMatch.Transcript", "PatternMatch.Transcript"):
            self.expect(operator, "CONTAINS_ANY", where)
            allowed = ["ParticipantRole"] + (["PatternMatchLanguageFilter"] if path.startswith("Pattern") else [])
            filters = self.filters(node.get("FilterClause"), where, allowed)
            language = filters.get("PatternMatchLanguageFilter")
            if language not in (None, "EN"):
                raise AwsFunctionError(
                    f"{where}: PatternMatchLanguageFilter {language}: livelens matches English (EN)."
                )
            if path.startswith("Exact"):
                phrases = _strings(operands, f"{where}.Operands")
            else:
                phrases = self.patterns(operands, f"{where}.Operands")
            if len(phrases) > MAX_PHRASES:
                raise AwsFunctionError(f"{where}.Operands: at most {MAX_PHRASES} phrases per condition.")
            return f"{self.speaker(filters, where)} said any {_phrases(phrases)}"
        if path.startswith("ContactAttribute."):
            self.expect(operator, "EQUALS", where)
            self.filters(node.get("FilterClause"), where, [])
            (value,) = _strings(operands, f"{where}.Operands", exactly_one=True)
            return f"attribute {_quote(path[len('ContactAttribute.'):])} = {_quote(value)}"
        if path == "Sentiment.State":
            self.expect(operator, "EQUALS", where)
            period = "RealTimeCallContactPeriodSeconds"
            filters = self.filters(node.get("FilterClause"), where,
                                   ["ParticipantRole", period] if self.channel != "CHAT" else ["ParticipantRole"])
            (level,) = _strings(operands, f"{where}.Operands", exactly_one=True)
            if level not in _LEVELS:
                raise AwsFunctionError(f"{where}.Operands: the sentiment must be POSITIVE, NEGATIVE or NEUTRAL.")
            text = f"{self.speaker(filters, where)} sentiment is {level}"
            if period in filters:
                past = (filters[period] or {}).get("Past") if isinstance(filters[period], Mapping) else None
                if not isinstance(past, int) or isinstance(past, bool) or past < 1:
                    raise AwsFunctionError(f"{where}: {period} Data must be {{\"Past\": seconds}}.")
                text += f" in last {past} seconds"
            return text
        if path in ("Agent.AgentId", "Queue.QueueId"):
            raise AwsFunctionError(
                f"{where}: the condition {node.get('ComparisonValue')} is documented by AWS but livelens cannot "
                f"evaluate it: livelens has no {'agents' if path.startswith('Agent') else 'queues'}. Test a contact "
                f"attribute instead ($.ContactLens.RealTime….ContactAttribute.<key>)."
            )
        raise AwsFunctionError(f"{where}.ComparisonValue {node.get('ComparisonValue')} is not a real-time condition "
                               "documented for this event source.")

    @staticmethod
    def expect(operator: Any, wanted: str, where: str) -> None:
        if operator != wanted:
            raise AwsFunctionError(f"{where}.Operator must be {wanted} for this condition, got {operator!r}.")

    @staticmethod
    def patterns(operands: Any, where: str) -> list[str]:
        """PatternMatch operands: each an array of pattern objects, spelled out as phrases."""
        if not isinstance(operands, list) or not operands:
            raise AwsFunctionError(f"{where} must be a non-empty list of pattern match arrays.")
        phrases: list[str] = []
        for i, sequence in enumerate(operands, 1):
            if not isinstance(sequence, list) or not sequence:
                raise AwsFunctionError(f"{where}[{i}] must be a non-empty array of pattern match objects.")
            choices: list[list[str]] = []
            for j, obj in enumerate(sequence, 1):
                at = f"{where}[{i}][{j}]"
                kind = obj.get("Type") if isinstance(obj, Mapping) else None
                value = obj.get("Value") if isinstance(obj, Mapping) else None
                if kind == "PLAIN" and isinstance(value, str):
                    choices.append([value])
                elif kind == "LIST" and isinstance(value, list) and value:
                    words = [v.get("Value") for v in value if isinstance(v, Mapping) and v.get("Type") == "PLAIN"]
                    if len(words) != len(value) or not all(isinstance(w, str) for w in words):
                        raise AwsFunctionError(f"{at}: a LIST holds PLAIN pattern match objects.")
                    choices.append([str(w) for w in words])
                elif kind in ("PROXIMITY", "NUMERICAL"):
                    raise AwsFunctionError(
                        f"{at}: PatternMatch {kind} objects are documented by AWS but livelens cannot evaluate them; "
                        "use PLAIN and LIST objects (or livelens' readable language)."
                    )
                else:
                    raise AwsFunctionError(f"{at} must be a pattern match object of Type PLAIN, LIST, PROXIMITY or "
                                           "NUMERICAL with its Value.")
            for combination in product(*choices):
                phrases.append(" ".join(combination))
                if len(phrases) > MAX_PHRASES:
                    raise AwsFunctionError(f"{where}: the patterns spell more than {MAX_PHRASES} phrases.")
        return phrases


def to_readable(source: str, channel: str | None = None) -> str:
    """The readable form of an AWS JSON ``Function`` (``channel``: VOICE or CHAT to check the event source)."""
    try:
        document = json.loads(source)
    except ValueError as exc:
        raise AwsFunctionError(f"the Function is not valid JSON: {exc}") from None
    if not isinstance(document, Mapping):
        raise AwsFunctionError("the Function must be a JSON object with Version and RuleFunction.")
    if document.get("Version") != VERSION:
        raise AwsFunctionError(f"Version must be {VERSION!r} (the only version of the Rules Function language).")
    unknown = [k for k in document if k not in ("Version", "RuleFunction")]
    if unknown:
        raise AwsFunctionError(f"{unknown[0]} is not a member of a rule function (Version, RuleFunction).")
    return _Translator(channel).node(document.get("RuleFunction"), "RuleFunction", top=True)


# --- readable -> JSON -------------------------------------------------------------


def _condition(value: str, operator: str, operands: list[Any], negate: bool,
               filters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"Operator": operator, "Operands": operands, "ComparisonValue": value}
    if filters:
        node["FilterClause"] = {"LogicOperator": "AND", "Filters": filters}
    node["Negate"] = negate
    return node


def to_aws(function: Function, channel: str) -> dict[str, Any]:
    """The JSON form of a readable ``Function``; :class:`AwsFunctionError` names a condition it cannot express."""
    prefix = PREFIXES[channel]
    roles = {"CUSTOMER": "CUSTOMER", "AGENT": "AGENT", "ANYONE": "ANY"}

    def fail(node: Node, why: str) -> AwsFunctionError:
        text = function.text_of(node) if not isinstance(node, (And, Or, Not)) else "a condition"
        return AwsFunctionError(f"{text!r} has no form in AWS's Rules Function language: {why}.")

    def convert(node: Node, negate: bool) -> dict[str, Any]:
        if isinstance(node, Not):
            return convert(node.child, not negate)
        if isinstance(node, (And, Or)):
            operator = "AND" if isinstance(node, And) else "OR"
            if negate:  # De Morgan: Negate exists on conditions only
                operator = "OR" if operator == "AND" else "AND"
            return {"Operator": operator, "Operands": [convert(c, negate) for c in node.children]}
        if isinstance(node, Said):
            if node.window is not None:
                raise fail(node, "windows of turns or seconds on spoken words are livelens' own")
            role = [{"Type": "ParticipantRole", "Data": roles[node.speaker]}]
            value = f"{prefix}.ExactMatch.Transcript"
            if node.quantifier == "all" and len(node.phrases) > 1:
                parts = [_condition(value, "CONTAINS_ANY", [p], negate, role) for p in node.phrases]
                return {"Operator": "OR" if negate else "AND", "Operands": parts}
            return _condition(value, "CONTAINS_ANY", list(node.phrases), negate, role)
        if isinstance(node, Attribute):
            negated = negate != (not node.equal)
            return _condition(f"{prefix}.ContactAttribute.{node.key}", "EQUALS", [node.value], negated)
        if isinstance(node, SentimentRun):
            if node.count != 1:
                raise fail(node, "runs of several turns are livelens' own")
            filters: list[dict[str, Any]] = [{"Type": "ParticipantRole", "Data": roles[node.speaker]}]
            if node.window is not None:
                if channel != "VOICE" or node.window.edge != "last" or node.window.unit != "seconds":
                    raise fail(node, "AWS's sentiment condition looks at the last N seconds of a call only")
                filters.append({"Type": "RealTimeCallContactPeriodSeconds", "Data": {"Past": node.window.amount}})
            return _condition(f"{prefix}.Sentiment.State", "EQUALS", [node.level], negate, filters)
        if isinstance(node, SentimentChange):
            raise fail(node, "sentiment changes are livelens' own")
        if isinstance(node, Means):
            raise fail(node, "semantic matching is not a real-time condition in AWS")
        raise fail(node, "unknown condition")

    root = convert(function.root, False)
    if "ComparisonValue" in root:
        root = {"Operator": "AND", "Operands": [root]}
    return {"Version": VERSION, "RuleFunction": root}


def parse_function(source: str, channel: str | None = None) -> Function:
    """A ``Function`` in either language: AWS's JSON (``{...}``) or livelens' readable one.

    Raises :class:`AwsFunctionError` or :class:`~livelens.rules.parser.RuleSyntaxError` (both ``ValueError``).
    """
    if looks_like_json(source):
        return parse(to_readable(source, channel))
    return parse(source)
