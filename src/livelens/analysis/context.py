"""The per-turn working state that components share.

Like a spaCy ``Doc`` it carries the input and what earlier components found,
plus lazily computed values that more than one component needs (the MiniLM
embedding of the turn), so each is computed at most once per turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from livelens.analysis.types import Turn, TurnAnalysis


@dataclass
class TurnContext:
    turn: Turn
    analysis: TurnAnalysis = field(default_factory=TurnAnalysis)
    _embedding: np.ndarray | None = field(default=None, repr=False)
    #: MiniLM embeddings of other texts of the turn (its sentences), computed with the batch's turns.
    text_vectors: dict[str, np.ndarray] | None = field(default=None, repr=False)

    @property
    def embedding(self) -> np.ndarray:
        """MiniLM embedding of ``turn.content`` (computed on first use)."""
        if self._embedding is None:
            from livelens.analysis.embeddings import load_embedder

            self._embedding = load_embedder().embed_one(self.turn.content)
        return self._embedding
