"""Per-turn sentiment: POSITIVE / NEUTRAL / NEGATIVE.

Two models, chosen by measurement (``docs/analysis.md``, ``livelens eval
--only sentiment``):

* ``vader`` – VADER tuned for contact-centre language: "like" used as a verb
  ("I'd like to…") is not praise, phrases such as "on hold", "charged twice"
  or "still waiting" carry the negative weight they have in a support
  conversation, and the POSITIVE/NEGATIVE cut-offs on the compound score are
  tuned on development data. Microseconds per turn.
* ``minilm`` – multinomial logistic regression on the MiniLM sentence
  embedding of the turn, the tuned VADER scores and hashed word/character
  n-grams of the text (:func:`lexical_features`). The weights (0.8 MB in
  ``data/``) are trained only on development splits by
  ``scripts/train_sentiment.py``; at run time it is one matrix product plus a
  gather of the hashed buckets in numpy on top of the embedding (~6 ms).

Besides the label, the component stores ``extras["sentiment_score"]``
(P(positive) − P(negative), in [-1, 1]) and ``extras["sentiment_probabilities"]``,
which :func:`sentiment_trend` plots over the contact.
"""

from __future__ import annotations

import json
import re
import warnings
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from livelens.analysis._loading import load_once
from livelens.analysis.context import TurnContext
from livelens.analysis.registry import ComponentFn, component
from livelens.analysis.types import AnalysedTurn, Sentiment

LABELS: tuple[Sentiment, ...] = ("NEGATIVE", "NEUTRAL", "POSITIVE")
MODELS = ("minilm", "vader")
DATA_DIR = Path(__file__).parent / "data"
WEIGHTS_FILE = DATA_DIR / "sentiment_minilm.npy"
META_FILE = DATA_DIR / "sentiment_minilm.json"
LEXICAL_FILE = DATA_DIR / "sentiment_lexical.npy"


#: Logit shift per unit of contact-centre phrase valence (see LinearSentimentModel.probabilities).
DOMAIN_PRIOR = 1.5

# Contact-centre phrases VADER does not know, each rewritten to one token
# that the lexicon below scores. Valences are on VADER's -4..4 scale.
_PHRASES: tuple[tuple[str, str, float], ...] = (
    (r"on hold", "xxonhold", -1.6),
    (r"(?:charged|billed) (?:me )?(?:twice|two times|double)|double[- ]charged", "xxdoublecharged", -2.2),
    (r"still (?:waiting|have not|haven't|not)", "xxstillwaiting", -1.8),
    (
        r"(?:isn't|is not|isnt|not|doesn't|does not|won't|will not|wont|stopped) (?:working|work|loading|load)",
        "xxbroken",
        -1.9,
    ),
    (
        r"(?:never|not|haven't|have not|hasn't|has not|didn't|did not) "
        r"(?:arrived|received|got|gotten|come|came|shown up|showed up)",
        "xxnotreceived",
        -1.7,
    ),
    (r"(?:no|zero) (?:one|response|reply|answer|help)", "xxnoresponse", -1.6),
    (
        r"(?:nobody|no one|no-one)(?: (?:can|could|will|would|is able to|has|ever))? "
        r"(?:help|helped|answer|answers|answered|respond|responds|responded|call(?:ed)? (?:me )?back)",
        "xxnoresponse",
        -1.6,
    ),
    (r"(?:locked|kicked|logged) out", "xxlockedout", -1.4),
    (r"(?:keeps?|kept) (?:crashing|failing|declining|dropping)", "xxkeepsfailing", -2.0),
    (r"(?:was |got |been )?declined", "xxdeclined", -1.3),
    (r"(?:was |got |been )?cancell?ed (?:on me|without)", "xxcancelledonme", -1.8),
    (r"(?:waste|wasted) (?:of )?(?:my )?time", "xxwastedtime", -2.2),
    (r"(?:that|this|it) (?:worked|works|fixed it|solved it)", "xxresolved", 1.8),
    (r"(?:all|you're all|you are all) set", "xxallset", 1.0),
    (r"problem solved|issue (?:is )?resolved", "xxresolved", 1.8),
)
_PHRASE_RE = [(re.compile(r"\b" + p + r"\b", re.I), tok) for p, tok, _ in _PHRASES]
# Turn-level cues the public training sets do not teach, with a valence on VADER's scale. They only
# move the classifier's logits (through ``domain_valence`` and ``DOMAIN_PRIOR``), never VADER's input,
# so the shipped weights stay reproducible. Written for contact-centre turns, tuned on
# tests/data/turn_cases/dev.jsonl only.
_PRAISE = r"(?:great|perfect|wonderful|fantastic|brilliant|lovely|excellent|awesome|amazing|terrific|super|nice)"
_EVENT = (
    r"(?:another|again|outage|is down|went down|down again|broken|late|delay(?:ed)?|dropped|crash\w*|locked out|"
    r"doubled|on hold|won't|doesn't|can't|isn't|not working|charged|cancell?ed|lost|missing|wrong|declined)"
)
_FIXED = (
    r"(?:escalated|refunded|credited|reset|reversed|processed|fixed|resolved|unlocked|corrected|waived|shipped|"
    r"booked|sent|issued|replaced|cancell?ed|restored|reconnected|updated|removed|applied|arranged|scheduled|"
    r"approved|released|reactivated|sorted)"
)
_AGENT_FIX = (
    rf"\b(?:i've|i have|we've|we have|i just|we just|i'll|we'll)\s+(?:\w+ly\s+|now\s+|also\s+)?{_FIXED}\b|"
    r"\b(?:refund|credit|charge|payment|replacement|order|account|password|fee|parcel|package|duplicate \w+)\s+"
    rf"(?:has been|have been|is now|was|is|will be|has|have)\s+(?:\w+ly\s+|now\s+)?{_FIXED}\b"
)
_CUES: tuple[tuple[re.Pattern[str], float], ...] = tuple(
    (re.compile(pattern, re.I), valence)
    for pattern, valence in (
        # Being made to repeat oneself, not being listened to.
        (r"\b(?:(?:this is|that's|that is|it's|it is) the (?:second|third|fourth|fifth|sixth|\d+(?:st|nd|rd|th)|"
         r"umpteenth) time (?:i|i've|i'm|we|you|that|this)|how many times (?:do|have|must|will)|"
         r"(?:told|explained|asked|gave|given) (?:you |this |that |it |the same thing |(?:that|this|your) \w+ )?"
         r"(?:people )?(?:twice|three times|\w+ times already|already|before|again)|keep (?:repeating|telling|asking)|"
         r"(?:nobody|no one|no-one) (?:listens|cares)|you people|not what i (?:asked|wanted|ordered)|"
         r"(?:that's|that is) (?:wrong|not right)|still (?:broken|wrong|nothing))\b", -2.2),
        # Having to chase: repeated contacts, details already given, asking for a manager.
        (r"\b(?:(?:called|phoned|rang|rung|emailed|written|messaged|chatted)(?: (?:you|in|about this|about it))? "
         r"(?:two|three|four|five|six|several|multiple|many|so many|\d+) times|"
         r"(?:i|i've|we|we've) already (?:sent|gave|given|told|explained|provided|emailed) "
         r"(?:you|this|that|them|it to you)|(?:told|gave|sent|explained to) (?:you|them) "
         r"(?:\w+ ){0,3}(?:last (?:week|month|time)|yesterday|(?:\w+ )?(?:minutes|hours|days|weeks) ago)|"
         r"are you (?:even )?listening|why (?:is|are|does|do|has|have) (?:it|this|that|they|you|my \w+) still|"
         r"(?:get|put|transfer) me (?:through )?to (?:a|your|the) (?:manager|supervisor)|"
         r"(?:get|give) me (?:a|your|the) (?:manager|supervisor)|stop (?:transferring|passing) me)\b", -2.2),
        (r"^\W*(?:unbelievable|unacceptable|ridiculous)\b", -2.0),
        # Praise words opening a sentence about a bad event: sarcasm.
        (rf"(?:^|[.!?]\s+)\W*(?:(?:oh|yeah|wow|well|just),?\s+)?{_PRAISE}\b(?:,?\s+just\s+{_PRAISE})?[,.!]?\s+"
         rf"(?:now\s+|and\s+)?[^.!?]{{0,30}}\b{_EVENT}\b", -3.2),
        (rf"\b{_EVENT}\b[^.!?]{{0,30}}[.!,]\s*(?:just |simply |oh )?(?:{_PRAISE}|love (?:that|it))\W*$", -3.2),
        (r"\bthanks? (?:you )?(?:a lot |so much |very much )?for nothing\b", -3.0),
        # An agent's fix, with or without an apology ("I've escalated it and the refund is processed").
        (_AGENT_FIX, 1.4),
        (rf"\b(?:sorry|apologi[sz]e|apologies)\b(?=.*(?:{_AGENT_FIX}))", 1.4),
    )
)
_LEXICON = {tok: val for _, tok, val in _PHRASES}
_LIKE_VERB = re.compile(r"\b(would|'d|i|we|you|they|do|does|did|don't|didn't|if)( really)? like\b", re.I)
# Polite formulas that VADER scores as praise but that carry no feeling in a
# support conversation ("please" +0.32, "help" +0.4, "thank you" stays).
_NEUTRALISED = {"please": 0.0, "help": 0.0, "helpful": 1.0, "sure": 0.2, "ok": 0.0, "okay": 0.0, "yes": 0.3}


class TunedVader:
    """VADER with the contact-centre rewrites and lexicon above."""

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()
        self._analyzer.lexicon.update(_LEXICON)
        self._analyzer.lexicon.update(_NEUTRALISED)

    @staticmethod
    def rewrite(text: str) -> str:
        text = _LIKE_VERB.sub(lambda m: m.group(0)[: -len("like")] + "want", text)
        for pattern, token in _PHRASE_RE:
            text = pattern.sub(token, text)
        return text

    def scores(self, text: str) -> dict[str, float]:
        """VADER's ``neg``/``neu``/``pos``/``compound`` for the rewritten text."""
        scores: dict[str, float] = self._analyzer.polarity_scores(self.rewrite(text))
        return scores

    @staticmethod
    def domain_valence(text: str) -> float:
        """Summed valence of the contact-centre phrases and turn cues in ``text`` (0.0 if none)."""
        total = 0.0
        for pattern, token in _PHRASE_RE:
            total += _LEXICON[token] * len(pattern.findall(text))
        for cue, valence in _CUES:
            if cue.search(text):
                total += valence
        return total

    def features(self, text: str) -> np.ndarray:
        s = self.scores(text)
        return np.array([s["compound"], s["pos"], s["neg"], s["neu"]], dtype=np.float32)

    @staticmethod
    def label(compound: float, positive: float | None = None, negative: float | None = None) -> Sentiment:
        """POSITIVE/NEUTRAL/NEGATIVE by the cut-offs (default: the tuned ones)."""
        if positive is None or negative is None:
            tuned_positive, tuned_negative = vader_cutoffs()
            positive = tuned_positive if positive is None else positive
            negative = tuned_negative if negative is None else negative
        if compound >= positive:
            return "POSITIVE"
        if compound <= negative:
            return "NEGATIVE"
        return "NEUTRAL"


_URL = re.compile(r"https?://\S+|www\.\S+")
_USER = re.compile(r"@\w+")
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?]+|[:;=][-']?[()dpo/\\|]|[^\sa-z0-9]")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def lexical_features(text: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashed word 1–2-gram and character 3–5-gram features of ``text``.

    Returns ``(indices, values)`` of a sparse ``dim``-vector: each distinct
    n-gram sets its CRC-32 bucket; the word block and the character block are
    each scaled to unit L2 norm. Lower-cased, typographic quotes folded,
    ``@handles`` and URLs replaced by placeholders.
    """
    t = " ".join(_USER.sub(" @user ", _URL.sub(" xurl ", text.lower().translate(_QUOTES))).split())
    tokens = _TOKEN.findall(t)
    words = {"w" + tok for tok in tokens} | {"w" + a + " " + b for a, b in zip(tokens, tokens[1:], strict=False)}
    padded = " " + t + " "
    chars = {"c" + padded[i : i + n] for n in (3, 4, 5) for i in range(len(padded) - n + 1)}
    indices: list[int] = []
    values: list[float] = []
    for block in (words, chars):
        if not block:
            continue
        buckets = sorted({zlib.crc32(g.encode("utf-8")) % dim for g in block})
        indices.extend(buckets)
        values.extend([1.0 / float(np.sqrt(len(buckets)))] * len(buckets))
    return np.array(indices, dtype=np.int64), np.array(values, dtype=np.float64)


@load_once
def vader_cutoffs() -> tuple[float, float]:
    """VADER's POSITIVE and NEGATIVE cut-offs on the compound score.

    Tuned on the development splits by ``scripts/train_sentiment.py`` and
    stored beside the classifier weights (VADER's authors use ±0.05).
    """
    meta = json.loads(META_FILE.read_text(encoding="utf-8"))["vader_cutoffs"]
    return float(meta["positive"]), float(meta["negative"])


@load_once
def load_vader() -> TunedVader:
    return TunedVader()


@dataclass(frozen=True)
class LinearSentimentModel:
    """Multinomial logistic regression over ``[embedding, vader features, 1]``."""

    weights: np.ndarray  # (3, features + 1), rows in LABELS order
    meta: Mapping[str, Any]
    lexical: np.ndarray | None = None  # (hash buckets, 3): weights of lexical_features

    @classmethod
    def load(
        cls, weights: Path = WEIGHTS_FILE, meta: Path = META_FILE, lexical: Path = LEXICAL_FILE
    ) -> LinearSentimentModel:
        w = np.load(weights, allow_pickle=False)
        info = json.loads(meta.read_text(encoding="utf-8"))
        if tuple(info["labels"]) != LABELS:
            raise ValueError(f"{meta} has labels {info['labels']}, expected {LABELS}")
        lex = np.load(lexical, allow_pickle=False).astype(np.float32) if lexical.exists() else None
        return cls(w.astype(np.float32), info, lex)

    def lexical_logits(self, texts: str | Sequence[str]) -> np.ndarray:
        """The hashed n-gram part of the logits, ``(N, 3)`` (zeros without lexical weights)."""
        batch = [texts] if isinstance(texts, str) else list(texts)
        out = np.zeros((len(batch), len(LABELS)), dtype=np.float32)
        if self.lexical is None:
            return out
        for i, text in enumerate(batch):
            idx, val = lexical_features(text, self.lexical.shape[0])
            out[i] = val.astype(np.float32) @ self.lexical[idx]
        return out

    def probabilities(
        self,
        features: np.ndarray,
        domain_valence: float | np.ndarray = 0.0,
        texts: str | Sequence[str] | None = None,
    ) -> np.ndarray:
        """Class probabilities for one ``(F,)`` or many ``(N, F)`` feature rows.

        ``texts`` (one per row) adds the hashed n-gram logits; the shipped
        weights were trained with them, so callers should pass the texts.

        ``domain_valence`` (see :meth:`TunedVader.domain_valence`) moves the
        NEGATIVE and POSITIVE logits by ``DOMAIN_PRIOR`` per unit of valence.
        The public training sets (reviews, tweets, a sitcom) hardly contain
        support phrases such as "on hold" or "charged twice", so the fitted
        weights cannot know them; this hand-set prior is the one place where
        contact-centre knowledge enters the classifier.
        """
        x = np.atleast_2d(features).astype(np.float32)
        logits = x @ self.weights[:, :-1].T + self.weights[:, -1]
        if texts is not None:
            logits += self.lexical_logits(texts)
        elif self.lexical is not None:
            warnings.warn(
                "LinearSentimentModel.probabilities called without texts: the hashed n-gram part of the "
                "model is left out, so the result is not the shipped classifier's",
                stacklevel=2,
            )
        shift = DOMAIN_PRIOR * np.atleast_1d(np.asarray(domain_valence, dtype=np.float32))
        logits[:, 0] -= shift
        logits[:, 2] += shift
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        result: np.ndarray = p[0] if features.ndim == 1 else p
        return result


@load_once
def load_linear_model() -> LinearSentimentModel:
    return LinearSentimentModel.load()


def minilm_features(embeddings: np.ndarray, vader_features: np.ndarray) -> np.ndarray:
    """The classifier's input: embedding(s) beside the tuned VADER scores."""
    return np.concatenate([np.atleast_2d(embeddings), np.atleast_2d(vader_features)], axis=1)


def _validate(cfg: Mapping[str, Any]) -> None:
    if cfg["model"] not in MODELS:
        raise ValueError(f"sentiment.model must be one of {', '.join(MODELS)}, got {cfg['model']!r}")
    for key in ("positive_threshold", "negative_threshold"):
        if cfg[key] is not None and not isinstance(cfg[key], (int, float)):
            raise ValueError(f"sentiment.{key} must be a number or null")


@component(
    "sentiment",
    default_config={"model": "minilm", "positive_threshold": None, "negative_threshold": None},
    assigns=("sentiment",),
    validate=_validate,
)
def make_sentiment(cfg: Mapping[str, Any]) -> ComponentFn:
    """Label each turn POSITIVE / NEUTRAL / NEGATIVE."""
    vader = load_vader()
    model = load_linear_model() if cfg["model"] == "minilm" else None
    pos_cut = cfg["positive_threshold"]
    neg_cut = cfg["negative_threshold"]

    def sentiment(ctx: TurnContext) -> None:
        text = ctx.turn.content
        vader_scores = vader.features(text)
        if model is None:
            compound = float(vader_scores[0])
            ctx.analysis.sentiment = TunedVader.label(compound, pos_cut, neg_cut)
            ctx.analysis.extras["sentiment_score"] = round(compound, 4)
            return
        probs = model.probabilities(minilm_features(ctx.embedding, vader_scores)[0], vader.domain_valence(text), text)
        ctx.analysis.sentiment = LABELS[int(np.argmax(probs))]
        ctx.analysis.extras["sentiment_score"] = round(float(probs[2] - probs[0]), 4)
        ctx.analysis.extras["sentiment_probabilities"] = {
            label: round(float(p), 4) for label, p in zip(LABELS, probs, strict=True)
        }

    return sentiment


@dataclass(frozen=True)
class TrendPoint:
    turn_id: str
    at: float  # milliseconds from the contact's start (voice) or from the first turn (chat); else the turn index
    score: float  # this turn's score in [-1, 1]
    smoothed: float  # exponential moving average of the participant's scores so far


_LABEL_SCORE = {"POSITIVE": 1.0, "NEUTRAL": 0.0, "NEGATIVE": -1.0}


def turn_score(analysed: AnalysedTurn) -> float | None:
    """A turn's sentiment in [-1, 1], or ``None`` if it was not analysed."""
    score = analysed.analysis.extras.get("sentiment_score")
    if isinstance(score, (int, float)):
        return max(-1.0, min(1.0, float(score)))
    if analysed.analysis.sentiment is None:
        return None
    return _LABEL_SCORE[analysed.analysis.sentiment]


def sentiment_trend(turns: Sequence[AnalysedTurn], alpha: float = 0.5) -> dict[str, list[TrendPoint]]:
    """Each participant role's sentiment over the contact, for charts.

    ``smoothed`` is an exponential moving average (weight ``alpha`` on the new
    turn), which keeps one curt reply from flipping the curve. Turns without a
    sentiment are skipped.
    """
    if not 0 < alpha <= 1:
        raise ValueError("alpha must be in (0, 1]")
    start = None
    for t in turns:
        if t.turn.absolute_time is not None:
            start = t.turn.absolute_time if start is None else min(start, t.turn.absolute_time)
    out: dict[str, list[TrendPoint]] = {}
    for index, analysed in enumerate(turns):
        score = turn_score(analysed)
        if score is None:
            continue
        turn = analysed.turn
        if turn.begin_offset_millis is not None:
            at = float(turn.begin_offset_millis)
        elif turn.absolute_time is not None and start is not None:
            at = (turn.absolute_time - start).total_seconds() * 1000.0
        else:
            at = float(index)
        points = out.setdefault(turn.participant_role, [])
        previous = points[-1].smoothed if points else score
        smoothed = score if not points else alpha * score + (1 - alpha) * previous
        points.append(TrendPoint(turn.id, at, round(score, 4), round(smoothed, 4)))
    return out
