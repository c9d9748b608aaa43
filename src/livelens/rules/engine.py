"""Incremental rule evaluation, one contact at a time.

Every condition (a leaf of the parsed ``Function``) is three-valued: UNKNOWN
until the turns seen so far decide it, then TRUE or FALSE for good. ``and``,
``or`` and ``not`` combine them with Kleene logic, so a rule's value is
monotone too: it fires on the first turn where it is TRUE, and never again
for that contact. "Not said" is ``not`` of a ``said`` condition, which turns
FALSE → TRUE only when the ``said`` is decided FALSE: when its window closes
(``in first N ...``) or at contact end (:meth:`Evaluation.on_end`).

The state of a rule is a small JSON record: per leaf, at most one occurrence
per phrase (or the last ``N`` turns of a sentiment run). It never holds the
transcript, so evaluating a turn costs O(rules × conditions), whatever the
length of the contact; a decided rule's state shrinks to ``{"fired": ...}``.

Points of interest are records::

    {"leaf": 0, "item": "<transcript item id>", "role": "CUSTOMER", "turn": 3,
     "ms": [4800, 9100] | None,          # voice offsets
     "raw": [10, 16] | None,             # char span in the original text
     "redacted": [10, 16] | None,        # char span in the redacted text
     "text": "refund", "sentiment": "NEGATIVE"}

``text`` is taken from the redacted text whenever the contact redacts, so
nothing built from a point of interest (alerts, explanations) carries PII the
redacted output hides.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from livelens.analysis.types import Redaction
from livelens.rules.parser import (
    And,
    Attribute,
    Function,
    Leaf,
    Means,
    Node,
    Not,
    Or,
    Said,
    SentimentChange,
    SentimentRun,
    Window,
    parse,
)
from livelens.rules.text import Word, find, words

State = dict[str, Any]
Value = bool | None  # None: not decided yet
Embed = Callable[[Sequence[str]], np.ndarray]

CATEGORY, EVENT, NOTIFICATION, TASK = (
    "ASSIGN_CONTACT_CATEGORY",
    "GENERATE_EVENTBRIDGE_EVENT",
    "SEND_NOTIFICATION",
    "CREATE_TASK",
)
CONTEXT = "*"  # the key of the contact-wide counters in a contact's state map


@dataclass(frozen=True)
class CompiledRule:
    id: str
    name: str
    function: Function
    actions: tuple[Mapping[str, Any], ...] = ()
    arn: str = ""

    @functools.cached_property
    def version(self) -> str:
        return hashlib.sha256(self.function.source.encode()).hexdigest()[:16]

    @property
    def assigns_category(self) -> bool:
        return any(a.get("ActionType") == CATEGORY for a in self.actions)

    @classmethod
    def from_source(
        cls, rule_id: str, name: str, source: str, actions: Sequence[Mapping[str, Any]] = ()
    ) -> CompiledRule:
        return cls(rule_id, name, parse(source), tuple(actions))


@dataclass
class TurnFacts:
    """What the rules see of one turn.

    ``text`` is the text matched against: the original, or under RedactedOnly
    the redacted text (``text_is_redacted``). ``redaction`` maps offsets of an
    original ``text`` into the redacted one when the contact redacts.
    """

    id: str
    role: str
    text: str
    sentiment: str | None = None
    begin_ms: int | None = None
    end_ms: int | None = None
    redaction: Redaction | None = None
    text_is_redacted: bool = False
    embedding: np.ndarray | None = None
    _words: list[Word] | None = field(default=None, repr=False)
    _stems: frozenset[str] | None = field(default=None, repr=False)

    @property
    def words(self) -> list[Word]:
        if self._words is None:
            self._words = words(self.text)
        return self._words

    @property
    def stems(self) -> frozenset[str]:
        """The turn's distinct stems: a phrase whose first stem is not among them cannot occur."""
        if self._stems is None:
            self._stems = frozenset(word.stem for word in self.words)
        return self._stems


@dataclass(frozen=True)
class Firing:
    """A rule that holds now, with the points of interest that made it hold."""

    rule: CompiledRule
    points: list[dict[str, Any]]
    at_end: bool = False

    def explain(self) -> list[dict[str, Any]]:
        """Which condition matched which turn, and which words."""
        out = []
        for point in self.points:
            leaf = self.rule.function.leaves[point["leaf"]]
            out.append(
                {"condition": self.rule.function.text_of(leaf), **{k: v for k, v in point.items() if k != "leaf"}}
            )
        return out


# --- offsets -------------------------------------------------------------------


def point(turn: TurnFacts, index: int, leaf: int, span: tuple[int, int] | None, **extra: Any) -> dict[str, Any]:
    begin, end = span if span is not None else (0, len(turn.text))
    raw: list[int] | None = [begin, end]
    redacted: list[int] | None = None
    text = turn.text[begin:end]
    if turn.text_is_redacted:
        raw, redacted = None, [begin, end]
    elif turn.redaction is not None:
        redacted = [turn.redaction.to_redacted(begin, end=False), turn.redaction.to_redacted(end, end=True)]
        text = turn.redaction.content[redacted[0] : redacted[1]]
    ms = [turn.begin_ms, turn.end_ms] if turn.begin_ms is not None and turn.end_ms is not None else None
    return {
        "leaf": leaf,
        "item": turn.id,
        "role": turn.role,
        "turn": index,
        "ms": ms,
        "raw": raw,
        "redacted": redacted,
        "text": text,
        "sentiment": turn.sentiment,
        **extra,
    }


# --- semantic examples ---------------------------------------------------------

_examples: dict[tuple[str, ...], np.ndarray] = {}
_examples_lock = threading.Lock()


def example_vectors(phrases: tuple[str, ...], embed: Embed) -> np.ndarray:
    """The embeddings of a ``means`` condition's examples, computed once per process."""
    with _examples_lock:
        found = _examples.get(phrases)
    if found is None:
        found = embed(list(phrases))
        with _examples_lock:
            if len(_examples) > 4096:
                _examples.clear()
            _examples[phrases] = found
    return found


# --- leaves ----------------------------------------------------------------------


def _speaks(leaf: Any, turn: TurnFacts) -> bool:
    return bool(leaf.speaker == "ANYONE" or leaf.speaker == turn.role)


def _keys(leaf: Leaf) -> list[str]:
    if isinstance(leaf, Said):
        return [str(i) for i in range(len(leaf.phrases))]
    return ["0"]


def _needed(leaf: Leaf) -> int:
    return len(leaf.phrases) if isinstance(leaf, Said) and leaf.quantifier == "all" else 1


class Evaluation:
    """The rules of one contact, advanced turn by turn.

    ``states`` maps rule ids to their state records (as last persisted) plus
    :data:`CONTEXT` for the contact's counters; :attr:`changed` lists the
    records to persist after a step.
    """

    def __init__(
        self,
        rules: Sequence[CompiledRule],
        states: Mapping[str, State] | None = None,
        *,
        attributes: Mapping[str, str] | None = None,
        embed: Embed | None = None,
    ) -> None:
        self.rules = list(rules)
        self.states: dict[str, State] = {k: dict(v) for k, v in (states or {}).items()}
        self.attributes = dict(attributes or {})
        self.embed = embed
        self.changed: dict[str, State] = {}
        self.work = 0  # leaf steps taken (for tests of cost per turn)
        context = self.states.setdefault(CONTEXT, {"turns": 0, "max_end": 0})
        self.context = context

    # state -----------------------------------------------------------------
    def state_of(self, rule: CompiledRule) -> State:
        state = self.states.get(rule.id)
        if state is None or (state.get("v") != rule.version and not state.get("fired")):
            # New rule, or its Function changed before it fired: start afresh. Not marked changed:
            # a fresh state that no turn moved is what the next evaluation would start from anyway.
            state = {"v": rule.version, "fired": False, "leaves": [{} for _ in rule.function.leaves]}
            self.states[rule.id] = state
        return state

    # steps -----------------------------------------------------------------
    def on_turn(self, turn: TurnFacts) -> list[Firing]:
        """Advance every rule by one turn; the rules that hold now for the first time."""
        self.context["turns"] = index = int(self.context.get("turns", 0)) + 1
        if turn.end_ms is not None:
            self.context["max_end"] = max(int(self.context.get("max_end", 0)), turn.end_ms)
        self.changed[CONTEXT] = self.context
        fired = []
        for rule in self.rules:
            state = self.state_of(rule)
            if state.get("fired") or state.get("done"):
                continue
            moved = False
            for leaf in rule.function.leaves:
                slot = state["leaves"][leaf.index]
                if slot.get("v") is None:
                    self.work += 1
                    moved |= self._step(leaf, slot, turn, index)
            if moved:  # a rule whose state this turn left as it was is not written again
                self.changed[rule.id] = state
            firing = self._decide(rule, state, at_end=False)
            if firing is not None:
                fired.append(firing)
        return fired

    def on_end(self) -> list[Firing]:
        """The contact ended: decide every open condition ("not said", "in last N")."""
        fired = []
        for rule in self.rules:
            state = self.state_of(rule)
            if state.get("fired") or state.get("done"):
                continue
            for leaf in rule.function.leaves:
                slot = state["leaves"][leaf.index]
                if slot.get("v") is None:
                    self.work += 1
                    slot["v"] = self._end(leaf, slot)
            self.changed[rule.id] = state
            firing = self._decide(rule, state, at_end=True)
            if firing is not None:
                fired.append(firing)
        return fired

    def _decide(self, rule: CompiledRule, state: State, *, at_end: bool) -> Firing | None:
        value = self._value(rule.function.root, state["leaves"])
        if value is True:
            points = self._points(rule.function.root, state["leaves"])
            self.states[rule.id] = self.changed[rule.id] = {"v": rule.version, "fired": True}
            return Firing(rule, points, at_end)
        if value is False or at_end:
            self.states[rule.id] = self.changed[rule.id] = {"v": rule.version, "fired": False, "done": True}
        return None

    # three-valued logic -----------------------------------------------------
    def _value(self, node: Node, leaves: list[State]) -> Value:
        if isinstance(node, Not):
            inner = self._value(node.child, leaves)
            return None if inner is None else not inner
        if isinstance(node, And):
            values = [self._value(c, leaves) for c in node.children]
            if any(v is False for v in values):
                return False
            return True if all(v is True for v in values) else None
        if isinstance(node, Or):
            values = [self._value(c, leaves) for c in node.children]
            if any(v is True for v in values):
                return True
            return False if all(v is False for v in values) else None
        return leaves[node.index].get("v")

    def _points(self, node: Node, leaves: list[State]) -> list[dict[str, Any]]:
        """The evidence of a TRUE node: its TRUE positive leaves' points of interest."""
        if isinstance(node, Not):
            return []
        if isinstance(node, (And, Or)):
            points: list[dict[str, Any]] = []
            seen: set[tuple[Any, ...]] = set()
            for child in node.children:
                if self._value(child, leaves) is True:
                    for p in self._points(child, leaves):
                        key = (p["item"], tuple(p["raw"] or ()), tuple(p["redacted"] or ()))
                        if key not in seen:
                            seen.add(key)
                            points.append(p)
            return points
        return list(leaves[node.index].get("points", []))

    # one leaf -----------------------------------------------------------------
    def _in_first(self, window: Window, turn: TurnFacts, index: int) -> bool:
        if window.unit == "turns":
            return index <= window.amount
        return turn.begin_ms is not None and turn.begin_ms < window.amount * 1000

    def _first_closed(self, window: Window, turn: TurnFacts, index: int) -> bool:
        if window.unit == "turns":
            return index >= window.amount
        return turn.begin_ms is not None and turn.begin_ms >= window.amount * 1000

    def _step(self, leaf: Leaf, slot: State, turn: TurnFacts, index: int) -> bool:
        """Advance one open condition by one turn; whether its slot may have changed.

        Conservative: a sentiment run or change keeps per-turn history in its slot, so a turn of
        its speaker counts as a change even when the history ends up as it was.
        """
        if isinstance(leaf, Attribute):
            slot["v"] = (self.attributes.get(leaf.key) == leaf.value) == leaf.equal
            return True
        window: Window | None = getattr(leaf, "window", None)
        if window is not None and window.edge == "first" and not self._in_first(window, turn, index):
            if self._first_closed(window, turn, index):
                slot["v"] = False
                return True
            return False
        moved = isinstance(leaf, (SentimentRun, SentimentChange)) and _speaks(leaf, turn)
        for key, points in self._occurrences(leaf, slot, turn, index):
            found = slot.setdefault("found", {})
            if window is not None and window.edge == "last":
                found[key] = points  # keep the latest: the best candidate for the final window
            else:
                found.setdefault(key, points)
            moved = True
        if window is None or window.edge == "first":
            found = slot.get("found", {})
            if len(found) >= _needed(leaf):
                slot["v"] = True
                slot["points"] = [p for key in sorted(found, key=int) for p in found[key]]
                slot.pop("found", None)
                slot.pop("run", None)
                slot.pop("prev", None)
                return True
            if window is not None and self._first_closed(window, turn, index):
                slot["v"] = False
                return True
        return moved

    def _end(self, leaf: Leaf, slot: State) -> bool:
        if isinstance(leaf, Attribute):
            return (self.attributes.get(leaf.key) == leaf.value) == leaf.equal
        window: Window | None = getattr(leaf, "window", None)
        if window is None or window.edge == "first":
            return False
        found = slot.get("found", {})
        if window.unit == "turns":
            start = int(self.context["turns"]) - window.amount
            inside = {k: v for k, v in found.items() if v and v[0]["turn"] > start}
        else:
            start_ms = int(self.context.get("max_end", 0)) - window.amount * 1000
            inside = {k: v for k, v in found.items() if v and v[0]["ms"] is not None and v[0]["ms"][1] > start_ms}
        if len(inside) >= _needed(leaf):
            slot["points"] = [p for key in sorted(inside, key=int) for p in inside[key]]
            return True
        return False

    def _occurrences(
        self, leaf: Leaf, slot: State, turn: TurnFacts, index: int
    ) -> list[tuple[str, list[dict[str, Any]]]]:
        if isinstance(leaf, Said):
            if not _speaks(leaf, turn):
                return []
            out = []
            present = turn.stems
            for i, stems in enumerate(leaf.stems):
                span = find(stems, turn.words) if stems and stems[0] in present else None
                if span is not None:
                    out.append((str(i), [point(turn, index, leaf.index, span, phrase=leaf.phrases[i])]))
            return out
        if isinstance(leaf, SentimentRun):
            if not _speaks(leaf, turn):
                return []
            run = slot.setdefault("run", [])
            if turn.sentiment != leaf.level:
                run.clear()
                return []
            run.append(point(turn, index, leaf.index, None))
            del run[: -leaf.count]
            return [("0", list(run))] if len(run) >= leaf.count else []
        if isinstance(leaf, SentimentChange):
            if not _speaks(leaf, turn) or turn.sentiment is None:
                return []
            ignore_neutral = "NEUTRAL" not in (leaf.before, leaf.after)
            if ignore_neutral and turn.sentiment == "NEUTRAL":
                return []
            previous = slot.get("prev")
            slot["prev"] = point(turn, index, leaf.index, None)
            if previous is not None and previous["sentiment"] == leaf.before and turn.sentiment == leaf.after:
                return [("0", [previous, slot["prev"]])]
            return []
        if isinstance(leaf, Means):
            if not _speaks(leaf, turn) or self.embed is None or not turn.text.strip():
                return []
            if turn.embedding is None:
                turn.embedding = self.embed([turn.text])[0]
            examples = example_vectors(leaf.phrases, self.embed)
            scores = examples @ turn.embedding
            best = int(np.argmax(scores))
            score = float(scores[best])
            if score >= leaf.threshold:
                return [("0", [point(turn, index, leaf.index, None, phrase=leaf.phrases[best], score=round(score, 3))])]
            return []
        return []


def needs_embedding(rules: Sequence[CompiledRule]) -> bool:
    return any(rule.function.semantic for rule in rules)
