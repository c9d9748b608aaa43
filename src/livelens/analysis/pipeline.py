"""The public entry point of the analysis package.

``load_pipeline(components, config)`` resolves the config against the
registry, checks the component order and builds the components. Models are
loaded by cached loaders (``load_spacy``, ``load_embedder``,
``load_detector`` …), so they load once per process and building another
pipeline with other components or config is cheap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from livelens.analysis.context import TurnContext
from livelens.analysis.redaction import Redactor
from livelens.analysis.registry import BatchedComponent, ComponentFn, check_order, get_spec, resolve_config
from livelens.analysis.summary import is_supported_language
from livelens.analysis.summary import summarize as _summarize
from livelens.analysis.summary import supported_languages as _supported_languages
from livelens.analysis.types import AnalysedTurn, Redaction, Summary, Turn, TurnAnalysis

DEFAULT_COMPONENTS: tuple[str, ...] = ("redaction", "sentiment", "issues")

#: Components that understand only English; they are skipped for other languages.
_ENGLISH_ONLY = frozenset({"sentiment", "issues"})
#: Components that read MiniLM embeddings (``TurnContext.embedding``, ``text_vectors``).
_EMBEDDING_USERS = frozenset({"sentiment", "issues"})


class Pipeline:
    """Runs the per-turn components in order; also redacts and summarises."""

    def __init__(self, components: Sequence[str], config: Mapping[str, Mapping[str, Any]]) -> None:
        check_order(components)
        self.components: tuple[str, ...] = tuple(components)
        self.config: dict[str, dict[str, Any]] = resolve_config(config)
        self._steps: list[tuple[str, ComponentFn]] = []
        for name in self.components:
            factory = get_spec(name).factory
            assert factory is not None
            self._steps.append((name, factory(self.config[name])))
        self._redactor: Redactor | None = None
        summary_factory = get_spec("summary").factory
        assert summary_factory is not None
        self._summarizer = summary_factory(self.config["summary"])

    def __repr__(self) -> str:
        return f"Pipeline(components={self.components!r})"

    def analyze(self, turn: Turn, redaction: Redaction | None = None) -> TurnAnalysis:
        """Run the components over ``turn``.

        If ``redaction`` is given (the server already redacted the turn on the
        request path), the redaction component keeps it instead of
        recomputing. Sentiment and issues read ``turn.content``; issues only
        look at CUSTOMER turns. For a language other than English the
        English-only components are skipped and listed in
        ``extras["skipped"]``.
        """
        ctx = TurnContext(turn, TurnAnalysis(redaction=redaction))
        english = is_supported_language(turn.language)
        skipped = []
        for name, step in self._steps:
            if name in _ENGLISH_ONLY and not english:
                skipped.append(name)
                continue
            step(ctx)
        if skipped:
            ctx.analysis.extras["skipped"] = skipped
        if redaction is not None and "redaction" not in self.components:
            ctx.analysis.redaction = redaction
        return ctx.analysis

    def analyze_many(
        self,
        turns: Sequence[Turn],
        redactions: Sequence[Redaction | None] | None = None,
        observe: Callable[[str, float], None] | None = None,
    ) -> list[TurnAnalysis]:
        """:meth:`analyze` over a batch of turns (of any contacts), each component over the whole batch.

        The MiniLM embeddings that sentiment and issues share are computed for
        the batch in one padded ONNX run; then each component runs over every
        turn before the next component starts (its models stay hot in the
        caches). ``observe(component, seconds)`` receives each component's time
        for the batch, and ``embedding``'s.
        """
        given = list(redactions) if redactions is not None else [None] * len(turns)
        contexts = [TurnContext(turn, TurnAnalysis(redaction=r)) for turn, r in zip(turns, given, strict=True)]
        english = [is_supported_language(ctx.turn.language) for ctx in contexts]
        embedded = not (self._needs_embedding and any(english))
        skipped: list[list[str]] = [[] for _ in contexts]
        for position, (name, step) in enumerate(self._steps):
            if not embedded and name in _EMBEDDING_USERS:
                self._embed_batch(contexts, english, position, observe)
                embedded = True
            started = time.perf_counter()
            eligible = []
            for index, ctx in enumerate(contexts):
                if name in _ENGLISH_ONLY and not english[index]:
                    skipped[index].append(name)
                else:
                    eligible.append(ctx)
            pipe = step.pipe if isinstance(step, BatchedComponent) else None
            if pipe is not None and len(eligible) > 1:
                pipe(eligible)
            else:
                for ctx in eligible:
                    step(ctx)
            if observe is not None:
                observe(name, time.perf_counter() - started)
        for ctx, names, redaction in zip(contexts, skipped, given, strict=True):
            if names:
                ctx.analysis.extras["skipped"] = names
            if redaction is not None and "redaction" not in self.components:
                ctx.analysis.redaction = redaction
        return [ctx.analysis for ctx in contexts]

    def _embed_batch(
        self,
        contexts: Sequence[TurnContext],
        english: Sequence[bool],
        position: int,
        observe: Callable[[str, float], None] | None,
    ) -> None:
        """One padded ONNX run for the batch: every English turn, and the sentences the steps from
        ``position`` on will embed (components' ``embedding_texts``), run just before the first step
        that reads an embedding, so the redaction before it has already run."""
        started = time.perf_counter()
        from livelens.analysis.embeddings import load_embedder

        wanted = [ctx for ctx, ok in zip(contexts, english, strict=True) if ok]
        extra: list[list[str]] = []
        for ctx in wanted:
            texts: list[str] = []
            for name, step in self._steps[position:]:
                ask = getattr(step, "embedding_texts", None)
                if ask is not None and name in _ENGLISH_ONLY:
                    texts += ask(ctx)
            extra.append(texts)
        unique = list(dict.fromkeys([ctx.turn.content for ctx in wanted] + [t for texts in extra for t in texts]))
        row = {text: index for index, text in enumerate(unique)}
        vectors = load_embedder().embed(unique)
        for ctx, texts in zip(wanted, extra, strict=True):
            vector = vectors[row[ctx.turn.content]]
            ctx._embedding = vector
            # Shared with later consumers of the same text (semantic rules) instead of recomputed.
            ctx.analysis.extras["embedding"] = vector
            if texts:
                ctx.text_vectors = {text: vectors[row[text]] for text in texts}
        if observe is not None:
            observe("embedding", time.perf_counter() - started)

    @property
    def _needs_embedding(self) -> bool:
        return "issues" in self.components or (
            "sentiment" in self.components and self.config["sentiment"].get("model") == "minilm"
        )

    def redact(self, turn: Turn) -> Redaction:
        """PII redaction alone, with this pipeline's ``redaction`` config."""
        if self._redactor is None:
            self._redactor = Redactor(self.config["redaction"])
        return self._redactor(turn)

    def summarize(self, turns: Sequence[AnalysedTurn], *, max_chars: int, language: str = "en-US") -> Summary:
        """The post-contact summary (see :mod:`livelens.analysis.summary`)."""
        return _summarize(self._summarizer, turns, max_chars=max_chars, language=language)


_warmed: set[str] = set()
_warm_lock = threading.Lock()


#: Throwaway turns for :func:`_warm_up`, one kind of finding each: what a recogniser loads lazily
#: (``phonenumbers`` reads a region's metadata the first time it parses a number of that region:
#: ~300 ms for the first turn with a phone-like number) is paid at start-up, not by a real turn.
WARM_UP_TEXTS = (
    "Hi, I was charged twice, my email is a@b.co.",
    "My number is (415) 555-0134, or 1764512345 at work.",
    "Call +44 20 7946 0958, +49 30 901820, +33 1 42 68 53 00 or +91 98765 43210.",
    "Try +61 2 9374 4000, +353 1 234 5678 or +1 604 555 0199.",
    "Card 4539 1488 0343 6467, SSN 123-45-6789, IBAN GB82 WEST 1234 5698 7654 32, IP 192.168.0.1.",
    "It should be under Rosa Ferreira at 221B Baker Street, London NW1 6XE.",
    "Thank you so much!",
)


def _warm_up(pipeline: Pipeline) -> None:
    """Run each component on throwaway turns, the first time it is built.

    The first call into onnxruntime, spaCy and presidio costs ~150 ms more
    than later ones (allocations, lazy imports), and each phone region's
    metadata ~40 ms more; paying it here keeps it off the first real turns.
    """
    with _warm_lock:
        cold = [name for name in (*pipeline.components, "redact") if name not in _warmed]
        if not cold:
            return
        turns = [Turn("warm-up", f"warm-up-{i}", "CHAT", "warm-up", "CUSTOMER", text)
                 for i, text in enumerate(WARM_UP_TEXTS)]
        pipeline.analyze(turns[0])
        pipeline.analyze_many(turns, [None] * len(turns))
        for turn in turns:
            pipeline.redact(turn)
        _warmed.update(cold)


def load_pipeline(
    components: Sequence[str] = DEFAULT_COMPONENTS,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> Pipeline:
    """Build a pipeline; raises ``ValueError`` for an unknown component or config key."""
    pipeline = Pipeline(components, config or {})
    _warm_up(pipeline)
    return pipeline


def supported_languages() -> frozenset[str]:
    """Language tags the analysers are documented for (any ``en-*`` is accepted)."""
    return _supported_languages()
