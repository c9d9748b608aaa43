"""Small, dependency-free metrics: macro-F1, span precision/recall, ROUGE-N/L."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


def macro_f1(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None) -> float:
    """Unweighted mean of per-class F1 over ``labels`` (default: the gold labels)."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    classes = sorted(set(gold)) if labels is None else list(labels)
    scores = []
    for c in classes:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == c and p == c)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if g != c and p == c)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == c and p != c)
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores) if scores else 0.0


@dataclass
class PRF:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


_TOKEN = re.compile(r"[a-z0-9]+")


def rouge_tokens(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens, as rouge-score's default tokenizer (no stemming)."""
    return _TOKEN.findall(text.lower())


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _f(overlap: int, cand: int, ref: int) -> float:
    if overlap == 0 or cand == 0 or ref == 0:
        return 0.0
    p, r = overlap / cand, overlap / ref
    return 2 * p * r / (p + r)


def rouge_n(candidate: str, reference: str, n: int) -> float:
    c, r = _ngrams(rouge_tokens(candidate), n), _ngrams(rouge_tokens(reference), n)
    return _f(sum((c & r).values()), sum(c.values()), sum(r.values()))


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(candidate: str, reference: str) -> float:
    c, r = rouge_tokens(candidate), rouge_tokens(reference)
    return _f(_lcs(c, r), len(c), len(r))


def rouge_multi(candidate: str, references: Sequence[str]) -> dict[str, float]:
    """ROUGE-1/2/L F1 against several references: the mean over references (DialogSum's protocol)."""
    scores = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for ref in references:
        scores["rouge1"] += rouge_n(candidate, ref, 1)
        scores["rouge2"] += rouge_n(candidate, ref, 2)
        scores["rougeL"] += rouge_l(candidate, ref)
    return {k: v / len(references) for k, v in scores.items()}


# ------------------------------------------------------------ confidence intervals

BOOTSTRAP_ROUNDS = 1000


def bootstrap_ratio(numerators: Sequence[float], denominators: Sequence[float], seed: int = 0) -> tuple[float, float]:
    """95 % percentile bootstrap interval of sum(num)/sum(den), resampling items (e.g. sentences)."""
    import numpy as np

    num, den = np.asarray(numerators, dtype=float), np.asarray(denominators, dtype=float)
    if len(num) == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(num), size=(BOOTSTRAP_ROUNDS, len(num)))
    d = den[idx].sum(axis=1)
    ratios = num[idx].sum(axis=1)[d > 0] / d[d > 0]  # resamples without any gold item say nothing
    if len(ratios) == 0:
        return 0.0, 0.0
    low, high = np.percentile(ratios, [2.5, 97.5])
    return float(low), float(high)


def bootstrap_mean(values: Sequence[float], seed: int = 0) -> tuple[float, float]:
    """95 % percentile bootstrap interval of the mean."""
    return bootstrap_ratio(values, [1.0] * len(values), seed)


def bootstrap_macro_f1(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str], seed: int = 0
) -> tuple[float, float]:
    """95 % percentile bootstrap interval of macro-F1, resampling items."""
    import numpy as np

    index = {label: i for i, label in enumerate(labels)}
    g = np.array([index[x] for x in gold])
    p = np.array([index.get(x, -1) for x in predicted])
    if len(g) == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    scores = np.empty(BOOTSTRAP_ROUNDS)
    for r in range(BOOTSTRAP_ROUNDS):
        sample = rng.integers(0, len(g), size=len(g))
        gs, ps = g[sample], p[sample]
        f1s = []
        for c in range(len(labels)):
            tp = np.sum((gs == c) & (ps == c))
            fp = np.sum((gs != c) & (ps == c))
            fn = np.sum((gs == c) & (ps != c))
            f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
        scores[r] = float(np.mean(f1s))
    low, high = np.percentile(scores, [2.5, 97.5])
    return float(low), float(high)


def ci(value: float, interval: tuple[float, float], percent: bool = False) -> str:
    """``0.912 [0.90, 0.93]`` (or in per cent)."""
    if percent:
        return f"{value:.1%} [{interval[0]:.1%}, {interval[1]:.1%}]"
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


# ------------------------------------------------------------------ redaction


@dataclass
class RedactionCounts:
    """Per-item counts behind span recall (a gold span counts when ≥ 80 % of its characters are
    redacted) and character precision (redacted characters that belong to a gold span)."""

    gold: dict[str, list[int]]  # type -> per-item number of gold spans
    found: dict[str, list[int]]  # type -> per-item number of those redacted
    redacted_chars: list[int]
    correct_chars: list[int]


COVERED = 0.8


def count_redaction(
    items: Sequence[tuple[Sequence[tuple[int, int, str | None]], Sequence[tuple[int, int]]]],
) -> RedactionCounts:
    """``items``: (gold spans with livelens type or None for untargeted, predicted spans) per item.

    Redacted characters inside an untargeted gold span (an organisation, a city) count neither
    way, as do the gold spans themselves.
    """
    counts = RedactionCounts({}, {}, [], [])
    types = sorted({t for gold, _ in items for _, _, t in gold if t is not None})
    for t in types:
        counts.gold[t], counts.found[t] = [], []
    for gold, predicted in items:
        redacted: set[int] = set()
        for b, e in predicted:
            redacted.update(range(b, e))
        per_gold = dict.fromkeys(types, 0)
        per_found = dict.fromkeys(types, 0)
        targeted: set[int] = set()
        untargeted: set[int] = set()
        for b, e, kind in gold:
            chars = set(range(b, e))
            if kind is None:
                untargeted |= chars
                continue
            targeted |= chars
            per_gold[kind] += 1
            if e > b and len(chars & redacted) >= COVERED * (e - b):
                per_found[kind] += 1
        for t in types:
            counts.gold[t].append(per_gold[t])
            counts.found[t].append(per_found[t])
        scored = redacted - (untargeted - targeted)
        counts.redacted_chars.append(len(scored))
        counts.correct_chars.append(len(scored & targeted))
    return counts
