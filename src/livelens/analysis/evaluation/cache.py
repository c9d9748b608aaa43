"""An on-disk cache of sentence embeddings for training and evaluation runs.

Embedding the ~35,000 sentiment sentences takes minutes on two cores; the
cache keeps them under ``/tmp`` (or ``$LIVELENS_EMBED_CACHE``) keyed by the
model file and the exact texts, never inside the repository.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from livelens.analysis.embeddings import load_embedder, model_file
from livelens.analysis.encoder_build import file_sha256


def cache_dir() -> Path:
    return Path(os.environ.get("LIVELENS_EMBED_CACHE", "/tmp/livelens-embeddings"))


def _key(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    digest.update(file_sha256(model_file()).encode())
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def embed_cached(texts: Sequence[str], use_cache: bool = True) -> np.ndarray:
    """Embeddings of ``texts``, read from or written to the cache."""
    if not use_cache:
        return load_embedder().embed(list(texts))
    path = cache_dir() / f"{_key(texts)}.npy"
    if path.exists():
        cached: np.ndarray = np.load(path)
        return cached
    vectors = load_embedder().embed(list(texts))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors
