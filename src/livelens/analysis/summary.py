"""Post-contact summaries.

``extractive`` (default, offline): the customer's reason for contact (the
first detected issue), what the agent did (agent sentences such as "I have
issued…", "I've reset…", "your refund has been processed"), the outcome (a
decision the customer states at the end, "I'll take it"; how the customer left)
and any follow-up the agent promised ("you will receive…", "within 5 business
days"), in that order, cut to ``max_chars``. Every sentence is retold in the
third person and names its party ("The customer …", "The agent says …").

``openai``: any OpenAI-compatible chat-completions endpoint
(``POST {url}/chat/completions``). HTTP 429 maps to ``QUOTA_EXCEEDED``, a
content-filter refusal to ``FAILED_SAFETY_GUIDELINES``, anything else that
goes wrong (timeout, 5xx, malformed answer) to ``INTERNAL_ERROR``.

Summaries are built from the redacted text of a turn whenever the turn was
redacted, so a summary never carries PII that the transcript does not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from livelens.analysis.llm import ChatCompletions
from livelens.analysis.registry import component
from livelens.analysis.types import AnalysedTurn, Summary

GENERATORS = ("extractive", "openai")

_ENGLISH_LOCALES = frozenset(
    {"en-US", "en-GB", "en-AU", "en-CA", "en-IE", "en-IN", "en-NZ", "en-ZA", "en-SG", "en-AB", "en-WL"}
)


def supported_languages() -> frozenset[str]:
    """The English locales Contact Lens names; any other ``en``/``en-*`` tag is accepted too."""
    return _ENGLISH_LOCALES


def is_supported_language(language: str) -> bool:
    tag = language.strip().lower()
    return tag == "en" or tag.startswith("en-") or tag.startswith("en_")


_ACTION = re.compile(
    r"\b(?:i|we)(?:'ve| have|'ll| will| just| already| can| did|'m going to| am going to)?"
    r"(?: just| also| now)?(?: (?:gone|went) ahead and)? "
    r"(?:issued|issue|reset|refunded|refund|cancell?ed|cancel|updated|update|changed|change|sent|send|"
    r"processed|process|booked|rebooked|rebook|added|add|removed|remove|credited|credit|escalated|escalate|"
    r"scheduled|schedule|applied|apply|waived|waive|reversed|reverse|blocked|block|unblocked|unblock|"
    r"replaced|replace|ordered|reissued|reissue|submitted|submit|opened|open|created|raised|filed|"
    r"arranged|transferred|unlocked|unlock|activated|activate|upgraded|upgrade|extended|fixed|fix|"
    r"resolved|corrected|correct|confirmed|verified|located|found|moved|switched|restored|restore|"
    r"re-?sent|emailed|notified|flagged|placed|put)\b"
    r"|\b(?:has|have) been (?:issued|reset|refunded|cancell?ed|updated|changed|sent|processed|booked|"
    r"rebooked|credited|escalated|scheduled|applied|waived|reversed|blocked|unblocked|replaced|"
    r"reissued|submitted|fixed|resolved|restored|approved|activated|unlocked)\b",
    re.I,
)
_FOLLOW_UP = re.compile(
    r"\b(?:within|in) (?:the next )?(?:\d+|one|two|three|four|five|seven|ten|a few|24|48)[- ]"
    r"(?:business |working )?(?:days?|hours?|weeks?)\b|\byou(?:'ll| will| should) (?:receive|get|see|be)\b|"
    r"\b(?:follow up|call you back|email you|get back to you|reach out to you|next week|tomorrow)\b",
    re.I,
)
_RESOLVED = re.compile(
    r"\b(?:thanks?|thank you|perfect|great|that worked|it works|works now|all set|sorted|awesome|"
    r"appreciate|brilliant|excellent|problem solved|that helps|helpful)\b",
    re.I,
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


def _text(turn: AnalysedTurn) -> str:
    redaction = turn.analysis.redaction
    return redaction.content if redaction is not None else turn.turn.content


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if len(s.strip()) > 2]


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    if limit <= 1:
        return text[:limit]
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"


def _sentence(text: str) -> str:
    text = text.strip()
    if text and text[-1] not in ".!?…":
        text += "."
    return text[0].upper() + text[1:] if text else text


def _reason(turns: Sequence[AnalysedTurn]) -> tuple[str, int] | None:
    """The customer's reason for contact and the index of the turn that states it."""
    for index, t in enumerate(turns):
        if t.turn.participant_role == "CUSTOMER" and t.analysis.issues:
            issue = t.analysis.issues[0]
            redaction = t.analysis.redaction
            if redaction is None or not redaction.original_spans:
                return issue.text, index
            # Never quote the raw text of a redacted turn: map the issue onto
            # the redacted content instead.
            return _redacted_slice(t, issue.begin, issue.end), index
    from livelens.analysis.issues import DEFAULT_CUE_WEIGHT, load_issue_detector

    detector = load_issue_detector()
    best: tuple[float, str, int] | None = None
    customer_turns = [(i, t) for i, t in enumerate(turns) if t.turn.participant_role == "CUSTOMER"]
    for index, t in customer_turns[:4]:
        text = _text(t)
        for s in detector.score(text, DEFAULT_CUE_WEIGHT):
            if best is None or s.score > best[0]:
                best = (s.score, text[s.begin : s.end], index)
    return (best[1], best[2]) if best else None


def _redacted_slice(turn: AnalysedTurn, begin: int, end: int) -> str:
    """The redacted text corresponding to ``content[begin:end]``."""
    redaction = turn.analysis.redaction
    assert redaction is not None
    return redaction.content[redaction.to_redacted(begin, end=False) : redaction.to_redacted(end, end=True)]


#: How the summary names the parties when it rewrites their sentences in the third person.
CUSTOMER_LABEL = "the customer"
AGENT_LABEL = "the agent"
#: Word budget of the selected sentences (the outcome line is not counted). Tuned on DialogSum dev,
#: whose reference summaries are 15-40 words long: longer summaries lose precision faster than
#: they gain recall.
WORD_BUDGET = 36
#: Agent sentences chosen when the agent states no explicit action.
AGENT_SENTENCES = 2

_VERB_S = {
    "have": "has",
    "do": "does",
    "go": "goes",
    "want": "wants",
    "need": "needs",
    "think": "thinks",
    "know": "knows",
    "like": "likes",
    "hope": "hopes",
    "feel": "feels",
    "see": "sees",
    "guess": "guesses",
    "mean": "means",
    "get": "gets",
    "love": "loves",
    "work": "works",
    "live": "lives",
    "wish": "wishes",
    "believe": "believes",
    "agree": "agrees",
    "suggest": "suggests",
    "plan": "plans",
    "prefer": "prefers",
    "understand": "understands",
    "remember": "remembers",
    "forgot": "forgot",
    "found": "found",
    "recommend": "recommends",
    "promise": "promises",
    "call": "calls",
    "take": "takes",
    "buy": "buys",
    "bought": "bought",
    "said": "said",
    "told": "told",
    "got": "got",
    "went": "went",
    "made": "made",
}
# Regular verbs often said after "I"/"you": third person by spelling rule ("tend" -> "tends", "try" -> "tries").
for _verb in (
    "tend eat leave say come make look seem try use play pay help ask tell give find keep start stay run drink "
    "sleep read watch speak walk drive travel study enjoy hate visit spend sound expect wonder worry mind care "
    "doubt miss owe own fix check cook teach learn write send bring carry move change open close"
).split():
    _VERB_S.setdefault(
        _verb,
        _verb[:-1] + "ies" if _verb.endswith("y") and _verb[-2] not in "aeiou"
        else _verb + "es" if _verb.endswith(("s", "sh", "ch", "x", "o")) else _verb + "s",
    )
_FIRST_PERSON = [
    (r"\bI(?:'m| am)\b", "{s} is"),
    (r"\bI(?:'ve| have)\b", "{s} has"),
    (r"\bI(?:'ll| will)\b", "{s} will"),
    (r"\bI'd\b", "{s} would"),
    (r"\bI was\b", "{s} was"),
    (r"\bmyself\b", "{s}"),
    (r"\bmy\b", "{s}'s"),
    (r"\bmine\b", "{s}'s"),
    (r"\bme\b", "{s}"),
    (r"\byou(?:'re| are)\b", "{l} is"),
    (r"\byou(?:'ve| have)\b", "{l} has"),
    (r"\byou(?:'ll| will)\b", "{l} will"),
    (r"\byou'd\b", "{l} would"),
    (r"\byou were\b", "{l} was"),
    (r"\byourself\b", "{l}"),
    (r"\byours?\b", "{l}'s"),
    (r"\byou\b", "{l}"),
]
_FIRST_PERSON_RE = [(re.compile(p, re.I), r) for p, r in _FIRST_PERSON]
_I_VERB = re.compile(r"\bI (\w+)\b")
_I = re.compile(r"\bI\b")
_LOOSE_APOSTROPHE = re.compile(r"(\w) ' (\w)")
_GREETING = re.compile(
    r"^(?:hi|hello|hey|good (?:morning|afternoon|evening)|thanks?|thank you|bye|goodbye|ok(?:ay)?|yes|yeah|no|"
    r"sure|alright|all right|welcome|you're welcome|right|well|oh|uh|um|really|great|fine)\b[\s,.!?]*$",
    re.I,
)


_ADVERB = r"(?:really|just|also|still|never|always|usually|only|actually|often|already|even|probably|definitely)"
# "I really want" -> "the customer really wants"; "you don't" -> "the agent doesn't" where "you" is a subject.
_SUBJECT_VERB = re.compile(
    rf"(^|[,;:]\s+|\b(?:if|that|when|because|so|and|but|as|what|where)\s+)(I|you)((?:\s+{_ADVERB})?)\s+"
    r"(don't|do not|haven't|have not|\w+)\b",
    re.I,
)
_NEGATIVE_S = {"don't": "doesn't", "do not": "does not", "haven't": "hasn't", "have not": "has not"}
_WANT = re.compile(r"\bI(?:'d| would) like\b")


def _agree_subject(match: re.Match[str], speaker: str, listener: str) -> str:
    lead, subject, adverb, verb = match.groups()
    conjugated = _NEGATIVE_S.get(verb.lower()) or _VERB_S.get(verb.lower())
    if conjugated is None:
        return match.group(0)
    if subject == "I" and not adverb and verb.lower() in _VERB_S:
        return match.group(0)  # the general rule below handles "I want"
    party = speaker if subject == "I" else listener
    return f"{lead}{party}{adverb} {conjugated}"


def third_person(sentence: str, speaker: str, listener: str) -> str:
    """``sentence`` as said by ``speaker`` to ``listener``, retold: "I was charged" -> "the customer was charged"."""
    text = _LOOSE_APOSTROPHE.sub(r"\1'\2", sentence)
    text = _WANT.sub(f"{speaker} wants", text)  # "I'd like to buy" -> "the customer wants to buy"
    text = _SUBJECT_VERB.sub(lambda m: _agree_subject(m, speaker, listener), text)
    for pattern, replacement in _FIRST_PERSON_RE:
        text = pattern.sub(replacement.format(s=speaker, l=listener), text)

    def _agree(match: re.Match[str]) -> str:
        verb = match.group(1)
        return f"{speaker} {_VERB_S.get(verb.lower(), verb)}"

    text = _I_VERB.sub(_agree, text)
    text = _I.sub(speaker, text)
    # "the customer was charged twice for their order", not "... for the customer's order".
    possessive = f"{speaker}'s"
    first = text.find(speaker)
    if first >= 0:
        head, tail = text[: first + len(speaker)], text[first + len(speaker) :]
        text = head + tail.replace(possessive, "their")
    return text


_DISCOURSE = re.compile(
    r"^(?:(?:well|oh|ah|so|yes|yeah|no|ok(?:ay)?|alright|all right|of course|sure|now|and|but|um|uh|"
    r"i see|i think|you know|i mean)\b[\s,.!]*)+",
    re.I,
)


def _retold(sentence: str, speaker: str, listener: str) -> str:
    """``sentence`` without a leading "Well,", "Oh," …, in the third person, as a sentence naming its party.

    A sentence that does not start with either party is attributed to its speaker ("The agent says …").
    """
    core = _DISCOURSE.sub("", sentence.strip()) or sentence.strip()
    text = third_person(core, speaker, listener)
    lowered = text.lower()
    if not (lowered.startswith(speaker) or lowered.startswith(listener)):
        first = text.split(maxsplit=1)[0] if text.split() else ""
        # "It happens", not "American men" or "Karen"
        if re.split(r"['’]", first.strip(",."))[0].lower() in _function_words():
            text = text[:1].lower() + text[1:]
        verb = "asks" if text.rstrip().endswith("?") else "says"
        text = f"{speaker} {verb} {text}"
    return _sentence(text)


@cache
def _function_words() -> frozenset[str]:
    from livelens.analysis.pii_names import function_words

    return function_words()


def _labels(role: str) -> tuple[str, str]:
    return (CUSTOMER_LABEL, AGENT_LABEL) if role == "CUSTOMER" else (AGENT_LABEL, CUSTOMER_LABEL)


def _words(text: str) -> int:
    return len(text.split())


def _central(sentences: Sequence[str], context: Sequence[str], count: int) -> list[str]:
    """The ``count`` sentences closest (MiniLM cosine) to the mean of the whole conversation, in spoken order."""
    if len(sentences) <= count:
        return list(sentences)
    from livelens.analysis.embeddings import load_embedder

    embedder = load_embedder()
    vectors = embedder.embed(list(sentences))
    centre = embedder.embed(list(context)).mean(axis=0)
    scores = vectors @ centre
    best = sorted(sorted(range(len(sentences)), key=lambda i: -float(scores[i]))[:count])
    return [sentences[i] for i in best]


#: Words a customer's closing decision may add beyond the budget ("The customer will take it.").
DECISION_WORDS = 12
_DECISION = re.compile(
    r"\b(?:I(?:'ll| will| would like to| want to|'d like to)|let's|let us) "
    r"(?:take|buy|have|get|book|try|pay|order|go|come|call|keep|accept|cancel|return|wait|think|do|sign|choose|rent)\b",
    re.I,
)


def _decision(closing: Sequence[AnalysedTurn]) -> str | None:
    """What the customer decided at the end ("Maybe you are right. I'll take it." -> "The customer will take it.")."""
    for t in reversed(closing):
        for s in reversed(_sentences(_text(t))):
            if _DECISION.search(s) and not s.endswith("?"):
                speaker, listener = _labels("CUSTOMER")
                return _retold(s[_DECISION.search(s).start() :], speaker, listener)  # type: ignore[union-attr]
    return None


def extractive_summary(turns: Sequence[AnalysedTurn], max_chars: int, word_budget: int | None = None) -> str:
    """The default summary text (see the module docstring).

    Parts, in order: the reason for contact, what the agent did, the customer's closing decision and
    how they left, what was promised. Sentences are retold in the third person, each naming its party,
    and together kept within ``word_budget`` words (default :data:`WORD_BUDGET`; a closing decision may
    add :data:`DECISION_WORDS`).
    """
    budget = WORD_BUDGET if word_budget is None else word_budget
    parts: list[str] = []
    used = 0
    reason = _reason(turns)
    reason_index = 0
    if reason:
        speaker, listener = _labels("CUSTOMER")
        text = _retold(reason[0], speaker, listener)
        parts.append(text)
        used += _words(text)
        reason_index = reason[1]
    actions: list[str] = []
    follow_ups: list[str] = []
    replies: list[str] = []
    for index, t in enumerate(turns):
        if t.turn.participant_role != "AGENT":
            continue
        for s in _sentences(_text(t)):
            if s.endswith("?") or _GREETING.match(s):
                continue
            if _FOLLOW_UP.search(s) and s not in follow_ups:
                follow_ups.append(s)
            elif _ACTION.search(s) and s not in actions:
                actions.append(s)
            elif index >= reason_index and len(s.split()) >= 5:
                replies.append(s)
    # Without an explicit action, the agent's most central substantive answer says what they did.
    done = actions[:3]
    if not done and replies:
        done = _central(replies, [_text(t) for t in turns], AGENT_SENTENCES)
    speaker, listener = _labels("AGENT")
    agent: list[str] = []
    for sentence in done:
        text = _retold(sentence, speaker, listener)
        if agent and used + _words(text) > budget:
            break
        agent.append(text)
        used += _words(text)
    if agent:
        parts.append(" ".join(agent))
    customer = [t for t in turns if t.turn.participant_role == "CUSTOMER"]
    after_reason = [t for i, t in enumerate(turns) if t.turn.participant_role == "CUSTOMER" and i > reason_index]
    decision = _decision(after_reason[-3:])
    if decision and used + _words(decision) <= budget + DECISION_WORDS:
        parts.append(decision)
        used += _words(decision)
    if customer:
        last = customer[-1]
        closing = " ".join(_text(t) for t in customer[-2:])
        if last.analysis.sentiment == "NEGATIVE":
            parts.append("The customer was still dissatisfied at the end.")
        elif (actions or follow_ups) and (_RESOLVED.search(closing) or last.analysis.sentiment == "POSITIVE"):
            # Only a contact in which the agent did or promised something has a resolution to accept.
            parts.append("The customer accepted the resolution.")
    promised: list[str] = []
    for sentence in follow_ups[:2]:
        text = _retold(sentence, speaker, listener)
        if used + _words(text) > budget and (promised or agent):
            break
        promised.append(text)
        used += _words(text)
    if promised:
        parts.append(" ".join(promised))
    return _clip(" ".join(parts), max_chars)


def _role_label(role: str) -> str:
    return {"CUSTOMER": "Customer", "AGENT": "Agent"}.get(role, role.title())


_SYSTEM_PROMPT = (
    "You summarise customer-service contacts for a contact-centre supervisor. Write at most {max_chars} "
    "characters of plain text covering: the reason for contact, what the agent did, the outcome, and any "
    "follow-up. Do not invent details and do not repeat personal data."
)


class ChatCompletionsSummarizer:
    """Calls an OpenAI-compatible ``/chat/completions`` endpoint (:mod:`livelens.analysis.llm`)."""

    def __init__(self, url: str, model: str, api_key: str | None = None, timeout: float = 20.0) -> None:
        self.client = ChatCompletions(url, model, api_key, timeout)

    def __call__(self, turns: Sequence[AnalysedTurn], max_chars: int) -> Summary:
        transcript = "\n".join(f"{_role_label(t.turn.participant_role)}: {_text(t)}" for t in turns)
        answer = self.client.complete(_SYSTEM_PROMPT.format(max_chars=max_chars), transcript)
        if answer.content is None:
            return Summary("FAILED", failure_code=answer.failure_code or "INTERNAL_ERROR")
        return Summary("COMPLETED", content=_clip(" ".join(answer.content.split()), max_chars))


def _validate(cfg: Mapping[str, Any]) -> None:
    if cfg["generator"] not in GENERATORS:
        raise ValueError(f"summary.generator must be one of {', '.join(GENERATORS)}, got {cfg['generator']!r}")
    if cfg["generator"] == "openai":
        for key in ("url", "model"):
            if not isinstance(cfg[key], str) or not cfg[key]:
                raise ValueError(f"summary.{key} is required when summary.generator is 'openai'")
        if not cfg["url"].startswith(("http://", "https://")):
            raise ValueError("summary.url must be an http(s) URL")
    if cfg["api_key"] is not None and not isinstance(cfg["api_key"], str):
        raise ValueError("summary.api_key must be a string")
    if not isinstance(cfg["timeout"], (int, float)) or cfg["timeout"] <= 0:
        raise ValueError("summary.timeout must be a positive number of seconds")


@component(
    "summary",
    default_config={"generator": "extractive", "url": None, "model": None, "api_key": None, "timeout": 20.0},
    per_turn=False,
    validate=_validate,
)
def make_summary(cfg: Mapping[str, Any]) -> Any:
    """Write the post-contact summary (runs once per contact, not per turn)."""
    if cfg["generator"] == "openai":
        return ChatCompletionsSummarizer(cfg["url"], cfg["model"], cfg["api_key"], float(cfg["timeout"]))
    return lambda turns, max_chars: Summary("COMPLETED", content=extractive_summary(turns, max_chars))


def summarize(generator: Any, turns: Sequence[AnalysedTurn], *, max_chars: int, language: str = "en-US") -> Summary:
    """Apply the failure rules, then ``generator``."""
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    if not is_supported_language(language):
        return Summary("FAILED", failure_code="INVALID_ANALYSIS_CONFIGURATION")
    roles = {t.turn.participant_role for t in turns if t.turn.content.strip()}
    if not {"CUSTOMER", "AGENT"} <= roles:
        return Summary("FAILED", failure_code="INSUFFICIENT_CONVERSATION_CONTENT")
    try:
        result: Summary = generator(turns, max_chars)
    except Exception:  # noqa: BLE001 - a summary failure must not fail the contact
        return Summary("FAILED", failure_code="INTERNAL_ERROR")
    if result.status == "COMPLETED" and not (result.content or "").strip():
        return Summary("FAILED", failure_code="INSUFFICIENT_CONVERSATION_CONTENT")
    return result
