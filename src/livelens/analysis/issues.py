"""Issue detection: the span of a customer turn that says why they are contacting.

Two signals per sentence of the turn:

* cue rules, run with spaCy's ``Matcher`` on the tokenised turn (no tagger or
  parser needed): "calling about/because", "I want/need to", "not working",
  "charged twice", "haven't received", "how do I", "where is my" …
* semantic similarity of the sentence's MiniLM embedding to hand-written
  prototypes of issue statements versus small talk, greetings and agent-style
  replies (``_ISSUE_PROTOTYPES`` / ``_OTHER_PROTOTYPES``; written for livelens,
  not taken from any data set).

A sentence is an issue when ``cue_weight * cue + similarity margin`` clears
``threshold``; both weights were tuned on development splits only (BANKING77
train, TwACS dev, MELD train/dev). The reported span is the sentence, without
a leading greeting and trailing punctuation, as character offsets into
``Turn.content``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from livelens.analysis._loading import load_once
from livelens.analysis.context import TurnContext
from livelens.analysis.embeddings import load_embedder
from livelens.analysis.nlp import load_spacy
from livelens.analysis.pii_names import is_english_word
from livelens.analysis.registry import ComponentFn, batched, component
from livelens.analysis.types import Issue

_ISSUE_PROTOTYPES = (
    "I was charged twice for the same order.",
    "My card was declined when I tried to pay.",
    "I haven't received my refund yet.",
    "My package never arrived.",
    "I can't log into my account.",
    "I forgot my password and need to reset it.",
    "The app keeps crashing when I open it.",
    "My internet connection is not working.",
    "I want to cancel my subscription.",
    "I need to change my flight to tomorrow.",
    "My flight was delayed and I missed my connection.",
    "My bag didn't arrive with my flight.",
    "I'd like to dispute a transaction on my statement.",
    "There is a charge on my account I don't recognise.",
    "How do I transfer money to another account?",
    "Why is my balance lower than it should be?",
    "I lost my card, can you block it?",
    "My phone bill is higher than usual this month.",
    "The item I received is damaged.",
    "I ordered the wrong size and want to return it.",
    "When will my new card be delivered?",
    "I'm calling about a problem with my order.",
    "I need help updating my address.",
    "The wifi on the plane did not work at all.",
    "My seat was changed without any notice.",
    "I was overcharged for my last bill.",
    "Where is my order? It's been two weeks.",
    "I'm having trouble paying my bill online.",
    "Can you tell me why my transfer is still pending?",
    "I need to add my wife to my account.",
    "The entertainment system on my flight was broken.",
    "I've been waiting an hour at the gate with no information.",
    "How can I get a refund for my cancelled flight?",
    "My promo code isn't being accepted.",
    "I want to upgrade my plan.",
    "I got an error message when I tried to check in.",
)
_OTHER_PROTOTYPES = (
    "Hello, how are you today?",
    "Thank you so much, have a great day!",
    "Thanks, that's all I needed.",
    "Okay, sounds good.",
    "Yes, that's right.",
    "No problem at all.",
    "Good morning!",
    "Let me check that for you.",
    "Is there anything else I can help you with?",
    "Please send us a direct message with your confirmation number.",
    "I'm sorry to hear that, we'll look into it.",
    "Thank you for your patience.",
    "We appreciate your feedback.",
    "Could you please verify your date of birth?",
    "One moment please while I pull up your account.",
    "I have issued a refund to your card.",
    "You're welcome, enjoy your flight!",
    "That's great news, I'm so happy for you.",
    "What are you doing tonight?",
    "Oh my god, that's hilarious.",
    "I love you guys.",
    "Where were you last night?",
    "Who's coming to the party?",
    "Great flight today, the crew was wonderful.",
    "See you later.",
    "I don't know what you're talking about.",
)

# Cue patterns for spaCy's Matcher (token LOWER attributes only, so the
# tokenizer is enough). Weight = how strongly the cue alone signals an issue.
_CUES: dict[str, tuple[float, list[list[dict[str, Any]]]]] = {
    "CONTACT_REASON": (
        1.0,
        [
            [
                {"LOWER": {"IN": ["calling", "contacting", "writing", "messaging", "reaching", "emailing", "ringing"]}},
                {"LOWER": {"IN": ["out", "you", "in"]}, "OP": "?"},
                {"LOWER": {"IN": ["about", "because", "regarding", "re", "since", "as"]}},
            ],
            [
                {
                    "LOWER": {
                        "IN": ["problem", "issue", "trouble", "question", "query", "complaint", "problems", "issues"]
                    }
                },
                {"LOWER": {"IN": ["with", "about", "regarding", "on", "paying", "logging", "getting", "using"]}},
            ],
            [{"LOWER": {"IN": ["help", "assistance"]}}, {"LOWER": {"IN": ["with", "me", "us"]}}],
        ],
    ),
    "WANT": (
        0.8,
        [
            [
                {"LOWER": {"IN": ["i", "we"]}},
                {"LOWER": {"IN": ["'d", "would", "really"]}, "OP": "?"},
                {
                    "LOWER": {
                        "IN": ["want", "need", "wanted", "needed", "like", "wish", "hope", "trying", "tried", "try"]
                    }
                },
                {"LOWER": "to"},
            ],
            [
                {"LOWER": {"IN": ["i", "we"]}},
                {"LOWER": {"IN": ["am", "'m", "was", "were", "are", "'ve", "have"]}},
                {"LOWER": "been", "OP": "?"},
                {"LOWER": "trying"},
                {"LOWER": "to"},
            ],
            [
                {"LOWER": {"IN": ["can", "could", "would", "will"]}},
                {"LOWER": "you"},
                {"LOWER": {"IN": ["please", "pls", "plz"]}, "OP": "?"},
                {
                    "LOWER": {
                        "IN": [
                            "help",
                            "cancel",
                            "change",
                            "refund",
                            "check",
                            "tell",
                            "explain",
                            "fix",
                            "reset",
                            "send",
                            "update",
                            "remove",
                            "add",
                            "block",
                            "unblock",
                            "reverse",
                        ]
                    }
                },
            ],
        ],
    ),
    "QUESTION": (
        0.6,
        [
            [
                {"LOWER": {"IN": ["how", "where", "when", "why", "what", "which"]}},
                {
                    "LOWER": {
                        "IN": [
                            "do",
                            "can",
                            "does",
                            "did",
                            "is",
                            "was",
                            "are",
                            "were",
                            "has",
                            "have",
                            "should",
                            "would",
                            "'s",
                            "will",
                            "am",
                        ]
                    }
                },
            ],
            [{"LOWER": {"IN": ["can", "could", "may"]}}, {"LOWER": {"IN": ["i", "we"]}}],
            [{"LOWER": {"IN": ["is", "are"]}}, {"LOWER": "there"}, {"LOWER": {"IN": ["a", "any"]}}],
        ],
    ),
    "PROBLEM": (
        1.0,
        [
            [
                {"LOWER": {"IN": ["not", "n't", "never", "stopped", "nt"]}},
                {
                    "LOWER": {
                        "IN": [
                            "working",
                            "work",
                            "loading",
                            "arrived",
                            "received",
                            "showing",
                            "responding",
                            "connecting",
                            "going",
                            "accepted",
                            "charging",
                            "refunded",
                            "delivered",
                            "updated",
                        ]
                    }
                },
            ],
            [
                {"LOWER": {"IN": ["ca", "can", "could", "cannot", "unable", "wo", "won't", "couldnt", "cant"]}},
                {"LOWER": {"IN": ["n't", "not", "to", "t"]}, "OP": "?"},
                {
                    "LOWER": {
                        "IN": [
                            "log",
                            "login",
                            "access",
                            "find",
                            "get",
                            "pay",
                            "use",
                            "see",
                            "open",
                            "connect",
                            "check",
                            "book",
                            "change",
                            "transfer",
                            "withdraw",
                            "sign",
                            "make",
                            "receive",
                            "activate",
                            "verify",
                            "load",
                            "top",
                            "cancel",
                            "reach",
                            "print",
                        ]
                    }
                },
            ],
            [
                {"LOWER": {"IN": ["charged", "billed", "debited"]}},
                {"LOWER": {"IN": ["twice", "double", "two", "wrong", "incorrectly", "more", "again", "extra", "for"]}},
            ],
            [
                {
                    "LOWER": {
                        "IN": [
                            "double",
                            "over",
                            "overcharged",
                            "declined",
                            "rejected",
                            "stolen",
                            "lost",
                            "missing",
                            "delayed",
                            "cancelled",
                            "canceled",
                            "broken",
                            "damaged",
                            "stuck",
                            "locked",
                            "frozen",
                            "blocked",
                            "failed",
                            "pending",
                            "wrong",
                            "incorrect",
                            "error",
                            "refund",
                            "dispute",
                            "fraud",
                            "fraudulent",
                            "unauthorized",
                            "unauthorised",
                            "crashing",
                            "crashed",
                            "missed",
                            "late",
                            "delay",
                            "lost",
                        ]
                    }
                }
            ],
            [
                {"LOWER": {"IN": ["still", "yet"]}},
                {"LOWER": {"IN": ["waiting", "have", "has", "haven't", "not", "no", "nothing", "pending"]}},
            ],
            [
                {"LOWER": {"IN": ["have", "has", "did", "do", "does"]}},
                {"LOWER": {"IN": ["n't", "not"]}},
                {
                    "LOWER": {
                        "IN": ["received", "arrived", "got", "get", "come", "work", "gone", "been", "heard", "shown"]
                    }
                },
            ],
        ],
    ),
}
_GREETING = re.compile(
    r"^(?:(?:hi|hello|hey|good (?:morning|afternoon|evening)|dear \w+|yes|yeah|ok(?:ay)?|so|um+|uh+|well|"
    r"thanks?(?: you)?)[\s,.!:;-]*)+",
    re.I,
)
#: A sentence ends at ``.``/``!``/``?`` followed by a space or the end of the text, or at a newline; a dot
#: inside a token (``a.b@example.com``, ``example.com/help``, ``3.50``) does not end one.
_SENTENCE = re.compile(r"(?:[^.!?\n]|[.!?]+(?=[^\s.!?]))+(?:[.!?]+|\n|$)")
#: Tokens a sentence's leading-punctuation trim must not cut into: placeholders (``[PII]``), phone numbers.
_KEEP_START = re.compile(r"\[[A-Z_]+\]|[+(]\d")


def _merge_kept(matches: Iterator[re.Match[str]], keep: Sequence[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Sentence matches as spans, joining neighbours that a ``keep`` span straddles."""
    pending: tuple[int, int] | None = None
    for m in matches:
        if pending is not None and any(b < pending[1] < e for b, e in keep):
            pending = (pending[0], m.end())
            continue
        if pending is not None:
            yield pending
        pending = (m.start(), m.end())
    if pending is not None:
        yield pending


# Sentences that state no reason for contact however similar they look to one: thanks and closings
# ("Thank you, that fixed it!") and turns that only hand over details ("The order number is 7916676427",
# "It's [PII] and my phone is [PII]"). Written for livelens, tuned on tests/data/turn_cases/dev.jsonl.
_PROBLEM_WORD = re.compile(
    r"\b(?:not|no|never|cannot|can't|won't|still|problem|issue|wrong|broken|error|fail\w*|missing|lost|"
    r"damaged|late|charged|declined|refund\w*|cancel\w*|help|why|how|what|when|need|want|would like|'d like|"
    r"trying|tried|keeps?|stopped|again|but|however|though|close|change|update|remove)\b|n't\b|\?",
    re.I,
)
_CLOSING = re.compile(
    r"^\W*(?:thanks?|thank you|thx|cheers|ta|appreciate|bye|goodbye|have a)\b|"
    r"\b(?:(?:that|it|this)(?:'s| has| is)? (?:fixed|sorted|solved|worked|done it)|works? (?:now|again|fine)|"
    r"working (?:now|again|fine)|(?:that's|that is|thats) (?:all|everything|it)|nothing else|sounds good|"
    r"(?:have|has) a (?:good|great|nice|lovely) (?:day|evening|night|one|weekend))\b",
    re.I,
)
_CLOSING_PROBLEM = re.compile(
    r"\b(?:not|never|cannot|still|problem|issue|wrong|broken|error|missing|but|however|though|another|also|"
    r"one more|else i|delay\w*|los[tei]\w*|waiting|wait(?:ed)? for|cancel\w*|worst|bad|terrible|awful|"
    r"ridiculous|disappoint\w*|missed|stuck|hours?|minutes)\b|n't\b|\?|#",
    re.I,
)
_VALUE = re.compile(
    r"\[[A-Z_]+\]|\S*\d\S*|\S+@\S+|\b(?:jan(?:uary)?|feb(?:ruary)?|march|april|may|june|july|aug(?:ust)?|"
    r"sep(?:tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|monday|tuesday|wednesday|thursday|friday|saturday|"
    r"sunday|yesterday|today)\b",
    re.I,
)
_DETAIL_WORDS = frozenset(
    """yes yeah yep sure ok okay it it's its is was are were my the our your a an and or also same one
    that this under in on at to for of from by with as its ends ending end last first four digits digit
    order number account id reference ref tracking card credit debit phone mobile email e-mail mail name
    username user surname postcode post code zip address date birth dob house flat street plan premium basic
    billed monthly yearly annually bought ordered purchased paid delivered sent shipped placed made
    i i'm we he she they them him her me called named spelled spelt week month year ago last th st nd rd
    just around about before""".split()
)


def _sentence_start(ends: Sequence[int], begin: int) -> int:
    """Where the sentence holding ``begin`` starts: after the previous sentence (``ends``: where the
    splitter's sentences end), so before any greeting the splitter trimmed, and never at a dot inside
    an email, a URL or a number."""
    return max((end for end in ends if end <= begin), default=0)


_DETAIL_NOUN = re.compile(
    r"\b(?:order|account|reference|tracking|card|phone|mobile|email|e-mail|postcode|zip|name|username|surname|"
    r"address|date of birth|plan)\b",
    re.I,
)


def is_routine_sentence(sentence: str) -> bool:
    """Thanks, closings and details handed over: sentences that state no reason for contact."""
    if _CLOSING.search(sentence) and not _CLOSING_PROBLEM.search(sentence):
        return True
    if _PROBLEM_WORD.search(sentence) or not (_VALUE.search(sentence) or _DETAIL_NOUN.search(sentence)):
        return False
    rest = _VALUE.sub(" ", sentence)
    words = re.findall(r"[A-Za-z][A-Za-z'’-]*", rest)
    # Capitalised words are values (names, streets) unless they open the sentence ("Close my account").
    return all(
        w.lower().replace("’", "'") in _DETAIL_WORDS or (w[0].isupper() and (i > 0 or not is_english_word(w)))
        for i, w in enumerate(words)
    )


@dataclass(frozen=True)
class ScoredSentence:
    begin: int
    end: int
    cue: float
    similarity: float
    score: float


class IssueDetector:
    """Scores the sentences of a turn; see the module docstring."""

    def __init__(self) -> None:
        from spacy.matcher import Matcher

        self._nlp = load_spacy()
        self._matcher = Matcher(self._nlp.vocab)
        self._cue_weight: dict[int, float] = {}
        for label, (weight, patterns) in _CUES.items():
            self._matcher.add(label, patterns)
            self._cue_weight[self._nlp.vocab.strings[label]] = weight
        embedder = load_embedder()
        self._issue_protos = embedder.embed(list(_ISSUE_PROTOTYPES))
        self._other_protos = embedder.embed(list(_OTHER_PROTOTYPES))

    @staticmethod
    def sentences(text: str, keep: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
        """Sentence spans with leading greetings and trailing punctuation trimmed.

        No sentence boundary or trim falls inside a token (emails, URLs, numbers, placeholders) or
        inside a ``keep`` span (the PII the redactor found), so an issue span maps onto the redacted
        text as whole placeholders: Raw and Redacted output mark the same words.
        """
        spans = []
        for m in _merge_kept(_SENTENCE.finditer(text), keep):
            begin, end = m
            g = _GREETING.match(text, begin, end)
            if g and not any(b < g.end() < e for b, e in keep):
                begin = g.end()
            while (begin < end and not text[begin].isalnum() and text[begin] not in "'\"#@$"
                   and not _KEEP_START.match(text, begin) and not any(b == begin for b, _ in keep)):
                begin += 1
            while (end > begin and (text[end - 1].isspace() or text[end - 1] in ".!,;:-")
                   and not any(e == end for _, e in keep)):
                end -= 1
            if end - begin >= 3:
                spans.append((begin, end))
        return spans

    def cue_scores(self, text: str, spans: Sequence[tuple[int, int]]) -> list[float]:
        """Strongest cue weight inside each sentence span (0 if none)."""
        doc = self._nlp.make_doc(text)
        best = [0.0] * len(spans)
        for match_id, start, end in self._matcher(doc):
            char_begin = doc[start].idx
            char_end = doc[end - 1].idx + len(doc[end - 1])
            for i, (b, e) in enumerate(spans):
                if b <= char_begin and char_end <= e:
                    best[i] = max(best[i], self._cue_weight[match_id])
        return best

    def similarity_margins(self, vectors: np.ndarray) -> np.ndarray:
        """Mean top-3 similarity to issue prototypes minus that to the others."""
        issue = np.sort(vectors @ self._issue_protos.T, axis=1)[:, -3:].mean(axis=1)
        other = np.sort(vectors @ self._other_protos.T, axis=1)[:, -3:].mean(axis=1)
        margins: np.ndarray = issue - other
        return margins

    def score(
        self, text: str, cue_weight: float, whole_text_vector: np.ndarray | None = None, max_sentences: int = 8,
        keep: Sequence[tuple[int, int]] = (),
    ) -> list[ScoredSentence]:
        """Every sentence (up to ``max_sentences``) of ``text`` with its cue, similarity and score."""
        spans = self.sentences(text, keep)
        return self._score(text, spans, spans[:max_sentences], cue_weight, whole_text_vector, None)

    def embedding_texts(self, text: str, keep: Sequence[tuple[int, int]] = (), max_sentences: int = 8) -> list[str]:
        """The sentences :meth:`detect` will embed for ``text`` (none when the turn's own vector serves).

        The pipeline embeds them together with the batch's turns in one ONNX run (``known`` of
        :meth:`detect`) instead of one more run per turn.
        """
        spans = self.sentences(text, keep)
        candidates = self._candidates(text, spans, max_sentences)
        if not candidates or self._whole_turn(text, spans):
            return []
        return [text[b:e] for b, e in candidates]

    def _candidates(self, text: str, spans: Sequence[tuple[int, int]], max_sentences: int) -> list[tuple[int, int]]:
        """The sentences that can be reported: routine ones (thanks, details handed over) never are."""
        ends = [end for _, end in spans]
        return [(b, e) for b, e in spans[:max_sentences]
                if not is_routine_sentence(text[_sentence_start(ends, b) : e])]

    @staticmethod
    def _whole_turn(text: str, spans: Sequence[tuple[int, int]]) -> bool:
        """One sentence that is (nearly) the whole turn: the turn's embedding is the sentence's."""
        return len(spans) == 1 and spans[0][1] - spans[0][0] >= 0.9 * len(text.strip())

    def _score(
        self,
        text: str,
        spans: Sequence[tuple[int, int]],
        chosen: Sequence[tuple[int, int]],
        cue_weight: float,
        whole_text_vector: np.ndarray | None,
        known: Mapping[str, np.ndarray] | None,
    ) -> list[ScoredSentence]:
        if not chosen:
            return []
        cues = self.cue_scores(text, chosen)
        pieces = [text[b:e] for b, e in chosen]
        if whole_text_vector is not None and self._whole_turn(text, spans):
            vectors = whole_text_vector[None, :]
        elif known is not None and all(piece in known for piece in pieces):
            vectors = np.stack([known[piece] for piece in pieces])
        else:
            vectors = load_embedder().embed(pieces)
        margins = self.similarity_margins(vectors)
        return [
            ScoredSentence(b, e, c, float(m), cue_weight * c + float(m))
            for (b, e), c, m in zip(chosen, cues, margins, strict=True)
        ]

    def detect(
        self,
        text: str,
        threshold: float,
        cue_weight: float,
        max_issues: int = 1,
        whole_text_vector: np.ndarray | None = None,
        keep: Sequence[tuple[int, int]] = (),
        known: Mapping[str, np.ndarray] | None = None,
    ) -> list[Issue]:
        """Up to ``max_issues`` issue spans of ``text``, in order.

        Routine sentences (:func:`is_routine_sentence`) are never reported, so they are dropped
        before anything is embedded. ``known`` maps sentence texts to embeddings computed
        beforehand (see :meth:`embedding_texts`).
        """
        spans = self.sentences(text, keep)
        candidates = self._candidates(text, spans, 8)
        scored = [s for s in self._score(text, spans, candidates, cue_weight, whole_text_vector, known)
                  if s.score >= threshold]
        scored.sort(key=lambda s: -s.score)
        chosen = sorted(scored[:max_issues], key=lambda s: s.begin)
        return [Issue(s.begin, s.end, text[s.begin : s.end]) for s in chosen]


def pii_spans(ctx: TurnContext) -> list[tuple[int, int]]:
    """Where the redactor found PII in ``ctx.turn.content`` (none if it redacted another text)."""
    redaction = ctx.analysis.redaction
    if redaction is None or redaction.content == ctx.turn.content:
        return []  # nothing found, or the turn is already the redacted text (RedactedOnly)
    return [(span.begin, span.end) for span in redaction.original_spans]


@load_once
def load_issue_detector() -> IssueDetector:
    return IssueDetector()


#: Tuned on development splits by scripts/tune_issues.py (see docs/analysis.md).
DEFAULT_THRESHOLD = 0.075
DEFAULT_CUE_WEIGHT = 0.05


def _validate(cfg: Mapping[str, Any]) -> None:
    for key in ("threshold", "cue_weight"):
        if not isinstance(cfg[key], (int, float)):
            raise ValueError(f"issues.{key} must be a number")
    if not isinstance(cfg["max_issues"], int) or cfg["max_issues"] < 1:
        raise ValueError("issues.max_issues must be a positive integer")
    if not isinstance(cfg["roles"], (list, tuple)) or not all(isinstance(r, str) for r in cfg["roles"]):
        raise ValueError("issues.roles must be a list of participant roles")


@component(
    "issues",
    default_config={
        "threshold": DEFAULT_THRESHOLD,
        "cue_weight": DEFAULT_CUE_WEIGHT,
        "max_issues": 1,
        "roles": ["CUSTOMER"],
    },
    assigns=("issues",),
    validate=_validate,
)
def make_issues(cfg: Mapping[str, Any]) -> ComponentFn:
    """Find the span stating the customer's reason for contact."""
    detector = load_issue_detector()
    roles = frozenset(cfg["roles"])
    threshold = float(cfg["threshold"])
    cue_weight = float(cfg["cue_weight"])
    max_issues = int(cfg["max_issues"])

    def wanted(ctx: TurnContext) -> bool:
        return ctx.turn.participant_role in roles and bool(ctx.turn.content.strip())

    def issues(ctx: TurnContext) -> None:
        if not wanted(ctx):
            return
        ctx.analysis.issues = detector.detect(
            ctx.turn.content, threshold, cue_weight, max_issues, whole_text_vector=ctx.embedding,
            keep=pii_spans(ctx), known=ctx.text_vectors,
        )

    def pipe(contexts: Sequence[TurnContext]) -> None:
        for ctx in contexts:
            issues(ctx)

    def embedding_texts(ctx: TurnContext) -> list[str]:
        return detector.embedding_texts(ctx.turn.content, pii_spans(ctx)) if wanted(ctx) else []

    return batched(issues, pipe, embedding_texts)
